#include "proxy/socket.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "fmt/format.h"

namespace xfr {

ScopedFd& ScopedFd::operator=(ScopedFd&& o) noexcept {
  if (this != &o) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = o.release();
  }
  return *this;
}

ScopedFd::~ScopedFd() {
  if (fd_ >= 0) ::close(fd_);
}

namespace {

absl::Status Errno(const char* what, const SocketAddress& addr) {
  return absl::UnavailableError(
      fmt::format("{} {}: {}", what, addr.ToString(), std::strerror(errno)));
}

absl::StatusOr<ScopedFd> OpenBound(const SocketAddress& addr, int type,
                                   bool reuse_port, bool reuse_addr = true) {
  sockaddr_storage ss;
  socklen_t len = addr.ToSockaddr(ss);
  ScopedFd fd(::socket(ss.ss_family, type | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (fd.get() < 0) return Errno("socket for", addr);
  int one = 1;
  if (reuse_addr) setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (reuse_port &&
      setsockopt(fd.get(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0) {
    return Errno("SO_REUSEPORT on", addr);
  }
  if (ss.ss_family == AF_INET6) {
    // A v6 listener serves v6 only; v4 has its own listener, so the same
    // port can be configured for both families.
    setsockopt(fd.get(), IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
  }
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&ss), len) != 0) {
    return Errno("bind", addr);
  }
  return fd;
}

}  // namespace

absl::Status CheckAddressFree(const SocketAddress& addr) {
  for (int type : {SOCK_STREAM, SOCK_DGRAM}) {
    auto fd = OpenBound(addr, type, /*reuse_port=*/false, /*reuse_addr=*/false);
    if (!fd.ok()) {
      return absl::UnavailableError(fmt::format(
          "{} ({} {} already in use by another process?)", std::string(fd.status().message()),
          type == SOCK_STREAM ? "TCP" : "UDP", addr.ToString()));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<ScopedFd> OpenUdpSocket(const SocketAddress& addr, bool reuse_port) {
  auto fd = OpenBound(addr, SOCK_DGRAM, reuse_port);
  if (!fd.ok()) return fd.status();
  // Transfers answer big zones over TCP; UDP carries small queries, but a
  // burst of thousands of SOA polls must not overflow the default buffer.
  int size = 4 << 20;
  setsockopt(fd->get(), SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
  setsockopt(fd->get(), SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
  return fd;
}

absl::StatusOr<ScopedFd> OpenTcpListener(const SocketAddress& addr, bool reuse_port,
                                         int backlog) {
  auto fd = OpenBound(addr, SOCK_STREAM, reuse_port);
  if (!fd.ok()) return fd.status();
  if (::listen(fd->get(), backlog) != 0) return Errno("listen on", addr);
  return fd;
}

absl::StatusOr<ScopedFd> OpenUdpClientSocket(bool v6) {
  ScopedFd fd(::socket(v6 ? AF_INET6 : AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (fd.get() < 0) {
    return absl::UnavailableError(fmt::format("UDP socket: {}", std::strerror(errno)));
  }
  int size = 4 << 20;
  setsockopt(fd.get(), SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
  setsockopt(fd.get(), SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
  return fd;
}

}  // namespace xfr
