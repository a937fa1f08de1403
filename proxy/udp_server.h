// Serves DNS over UDP on one socket: a multishot recvmsg with provided
// buffers receives every datagram; replies go out as sendmsg operations
// queued during the loop turn and submitted together.
#pragma once

#include <netinet/in.h>

#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "proxy/event_loop.h"
#include "proxy/responder.h"
#include "proxy/socket.h"
#include "proxy/stats.h"

namespace xfr {

class UdpServer : private CompletionTarget {
 public:
  // Takes ownership of `fd`. `group` must be unique per ring.
  static absl::StatusOr<std::unique_ptr<UdpServer>> Start(
      EventLoop& loop, ScopedFd fd, Responder& responder, ServerStats& stats,
      uint16_t group);
  ~UdpServer();
  // Stops receiving (shutdown). The object must outlive the loop's last
  // turn: the cancelled receive still completes on it.
  void Stop();

 private:
  struct Send;
  UdpServer(EventLoop& loop, ScopedFd fd, Responder& r, ServerStats& s);
  void Arm();
  void OnCompletion(const Event& e) override;
  void Reply(const sockaddr* to, socklen_t len, std::vector<uint8_t> data);
  void Done(Send* s);

  EventLoop& loop_;
  ScopedFd fd_;
  Responder& responder_;
  ServerStats& stats_;
  std::unique_ptr<BufferRing> buffers_;
  msghdr recv_msg_{};
  std::vector<std::unique_ptr<Send>> free_sends_;
  size_t sends_in_flight_ = 0;
  bool stopped_ = false;
};

}  // namespace xfr
