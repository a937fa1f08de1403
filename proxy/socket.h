// Opening the sockets the engine listens on. Each serving thread opens its
// own with SO_REUSEPORT, so the kernel spreads clients across rings.
#pragma once

#include "absl/status/statusor.h"
#include "proxy/net_address.h"

namespace xfr {

class ScopedFd {
 public:
  ScopedFd() = default;
  explicit ScopedFd(int fd) : fd_(fd) {}
  ScopedFd(ScopedFd&& o) noexcept : fd_(o.release()) {}
  ScopedFd& operator=(ScopedFd&& o) noexcept;
  ~ScopedFd();
  int get() const { return fd_; }
  int release() {
    int f = fd_;
    fd_ = -1;
    return f;
  }

 private:
  int fd_ = -1;
};

// Fails when another socket already holds addr (TCP or UDP). SO_REUSEPORT
// would otherwise let a second xfrproxy, or any process of the same user,
// silently share the port and take half of the clients.
absl::Status CheckAddressFree(const SocketAddress& addr);

absl::StatusOr<ScopedFd> OpenUdpSocket(const SocketAddress& addr, bool reuse_port);
// The default backlog asks for as much as the kernel allows (it caps the
// value at net.core.somaxconn, 4096 on current kernels): a NOTIFY to
// thousands of secondaries brings their connections in one burst, and an
// overflowing accept queue costs each dropped client a 1 s SYN retransmit.
absl::StatusOr<ScopedFd> OpenTcpListener(const SocketAddress& addr, bool reuse_port,
                                         int backlog = 65535);
// A non-blocking UDP socket for sending (NOTIFY, SOA checks), bound to the
// wildcard of the peer's family.
absl::StatusOr<ScopedFd> OpenUdpClientSocket(bool v6);

}  // namespace xfr
