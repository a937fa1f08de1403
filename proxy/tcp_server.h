// Serves DNS over TCP (RFC 7766) on one listening socket: multishot accept,
// per-connection receives, pipelined queries answered in order, transfers
// streamed as vectored sends of shared pre-encoded messages. A slow or
// stalled reader holds only its own connection: each connection's output is
// bounded (it stops reading while its replies wait), and idle and write
// timeouts close it.
#pragma once

#include <deque>
#include <functional>
#include <list>
#include <memory>
#include <mutex>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "proxy/event_loop.h"
#include "proxy/net_address.h"
#include "proxy/responder.h"
#include "proxy/socket.h"
#include "proxy/stats.h"

namespace xfr {

struct TcpLimits {
  size_t max_connections = 4096;
  size_t max_connections_per_ip = 64;
  absl::Duration idle_timeout = absl::Seconds(30);
  // A send that makes no progress for this long means the reader stalled.
  absl::Duration write_timeout = absl::Seconds(30);
  size_t max_concurrent_transfers = 1024;
  // Replies queued per connection before it stops reading more queries.
  size_t max_pending_replies = 16;
  // How long a request for data newer than ours waits for the upstream
  // transfer before it gets the answer we have.
  absl::Duration max_defer = absl::Seconds(10);
};

// Connection and transfer caps shared by every thread's TCP servers.
class ConnectionLimiter {
 public:
  explicit ConnectionLimiter(const TcpLimits& l) : limits_(l) {}
  bool TryAcquire(const IpAddress& ip);
  void Release(const IpAddress& ip);
  bool TryStartTransfer();
  void EndTransfer();
  const TcpLimits& limits() const { return limits_; }

 private:
  TcpLimits limits_;
  std::mutex mu_;
  size_t total_ = 0;
  absl::flat_hash_map<IpAddress, size_t> per_ip_;
  std::atomic<size_t> transfers_{0};
};

// Called on the serving thread when a transfer's last bytes were written.
using TransferSentHook =
    std::function<void(const TransferStream&, const SocketAddress& peer, absl::Time now)>;

class TcpServer : private CompletionTarget {
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

  EventLoop& loop_;
  ScopedFd listener_;
  Responder& responder_;
  ServerStats& stats_;
  ConnectionLimiter& limiter_;
  bool accepting_ = true;
  std::list<std::unique_ptr<Connection>> connections_;
  std::deque<Connection*> waiting_transfer_;
  TimerQueue::Id sweep_timer_ = 0;
  TransferSentHook on_transfer_sent_;
};

}  // namespace xfr
