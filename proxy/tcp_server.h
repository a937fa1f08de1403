// Serves DNS over TCP (RFC 7766) on one listening socket: multishot accept,
// per-connection receives, pipelined queries answered in order, transfers
// streamed as vectored sends of shared pre-encoded messages. A slow or
// stalled reader holds only its own connection: each connection's output is
// bounded (it stops reading while its replies wait), and idle and write
// timeouts close it. Connections over their address's cap are accepted and
// left unread until ConnectionLimiter admits them (proxy/connection_limiter.h).
#pragma once

#include <deque>
#include <functional>
#include <list>
#include <memory>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "proxy/connection_limiter.h"
#include "proxy/event_loop.h"
#include "proxy/net_address.h"
#include "proxy/responder.h"
#include "proxy/socket.h"
#include "proxy/stats.h"

namespace xfr {

// Called on the serving thread when a transfer's last bytes were written.
using TransferSentHook =
    std::function<void(const TransferStream&, const SocketAddress& peer, absl::Time now)>;

class TcpServer : private CompletionTarget, private ConnectionLimiter::Owner {
 public:
  static absl::StatusOr<std::unique_ptr<TcpServer>> Start(
      EventLoop& loop, ScopedFd listener, Responder& responder,
      ServerStats& stats, ConnectionLimiter& limiter);
  ~TcpServer();

  size_t connection_count() const { return connections_.size(); }
  // Stops accepting; open connections finish what they are sending.
  void StopAccepting();
  // Closes every connection with nothing queued or in flight (shutdown).
  void CloseIdle();
  // A zone published a new version: requests waiting for newer data than
  // we had (Reply::kDeferred) are asked again.
  void ZoneChanged();
  // The upstream check that requests for `zone` waited on has ended: they
  // are answered now, from a new version or with the SOA we have.
  void ReleaseWaiting(const Name& zone);
  // Set before the loop runs.
  void OnTransferSent(TransferSentHook hook) { on_transfer_sent_ = std::move(hook); }

 private:
  class Connection;
  friend class Connection;
  TcpServer(EventLoop& loop, ScopedFd fd, Responder& r, ServerStats& s,
            ConnectionLimiter& l);
  void OnCompletion(const Event& e) override;
  void Sweep();
  void Destroy(Connection* c);
  void WaitForTransferSlot(Connection* c);
  void TransferSlotFreed();
  // Called from any thread: runs the admission on this server's thread.
  void SlotGranted(uint64_t ticket) override;
  void ReleaseSlot(const IpAddress& ip);

  EventLoop& loop_;
  ScopedFd listener_;
  Responder& responder_;
  ServerStats& stats_;
  ConnectionLimiter& limiter_;
  bool accepting_ = true;
  std::list<std::unique_ptr<Connection>> connections_;
  std::deque<Connection*> waiting_transfer_;
  // Accepted, unread, queued in the limiter behind their address's cap.
  absl::flat_hash_map<uint64_t, Connection*> waiting_admission_;
  uint64_t next_ticket_ = 1;
  TimerQueue::Id sweep_timer_ = 0;
  TransferSentHook on_transfer_sent_;
};

}  // namespace xfr
