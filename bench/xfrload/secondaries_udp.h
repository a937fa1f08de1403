// The UDP side of the polling modes: SOA queries of many secondaries share
// a few sockets connected to the target, each with one multishot receive
// on provided buffers, and answers are matched to requests by message ID.
// (In kNotify mode each secondary queries from its own NOTIFY socket
// instead: notify_listener.h.)
#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "core/wire.h"
#include "proxy/net_address.h"
#include "proxy/ring.h"

namespace xfr::load {

class Shard;
struct Request;

class UdpChannel : public CompletionTarget {
 public:
  // IDs in flight per socket: fewer than 2^16 so that a free one is found.
  static constexpr uint32_t kMaxInFlight = 32768;

  // Opens a socket connected to `target` (from `source` when given) and
  // arms its receive on buffer group `group` of the shard's ring.
  static absl::StatusOr<std::unique_ptr<UdpChannel>> Open(
      Shard& shard, const SocketAddress& target, const IpAddress* source,
      uint16_t group);
  ~UdpChannel() override;

  // Gives `r` a free ID on this socket; then BuildQuery, then Submit.
  void Assign(Request* r);
  void Submit(Request* r);
  void Forget(Request* r);
  // Cancels the receive; idle() once its last completion has come, so the
  // socket is released when closed rather than when the ring goes.
  void Cancel();
  bool idle() const { return !armed_; }

 private:
  UdpChannel(Shard& shard, int fd, std::unique_ptr<BufferRing> buffers);
  void Arm();
  void OnCompletion(const Event& e) override;
  void OnAnswer(Bytes msg);

  Shard& shard_;
  int fd_;
  std::unique_ptr<BufferRing> buffers_;
  msghdr recv_msg_{};
  std::vector<Request*> pending_;  // by ID
  uint16_t next_id_ = 1;
  bool armed_ = false;
  bool cancelled_ = false;
};

}  // namespace xfr::load
