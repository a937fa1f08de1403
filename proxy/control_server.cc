#include "proxy/control_server.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "core/ascii.h"
#include "fmt/format.h"
#include "proxy/log.h"

namespace xfr {
namespace {

absl::Status Errno(std::string_view what, const std::string& path, int err) {
  return absl::FailedPreconditionError(
      fmt::format("control socket {}: {}: {}", path, what, std::strerror(err)));
}

bool FillAddress(const std::string& path, sockaddr_un& sun) {
  if (path.empty() || path.size() > kMaxUnixSocketPath) return false;
  sun = sockaddr_un{};
  sun.sun_family = AF_UNIX;
  std::memcpy(sun.sun_path, path.data(), path.size());
  return true;
}

// A socket file already at `path`: removed when nobody answers on it (left
// by a crash or a kill -9), an error when a live daemon does, or when it is
// something else than a socket (never delete an operator's file).
absl::Status ClearStale(const std::string& path, const sockaddr_un& sun) {
  struct stat st;
  if (::lstat(path.c_str(), &st) != 0) {
    return errno == ENOENT ? absl::OkStatus() : Errno("stat", path, errno);
  }
  if (!S_ISSOCK(st.st_mode)) {
    return absl::FailedPreconditionError(
        fmt::format("control socket {}: exists and is not a socket", path));
  }
  ScopedFd probe(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (probe.get() < 0) return Errno("socket", path, errno);
  if (::connect(probe.get(), reinterpret_cast<const sockaddr*>(&sun), sizeof sun) == 0) {
    return absl::FailedPreconditionError(fmt::format(
        "control socket {}: another xfrproxy is answering on it (stop it, or set `control:` to "
        "another path)",
        path));
  }
  if (errno != ECONNREFUSED) return Errno("probe", path, errno);
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) return Errno("remove stale", path, errno);
  LogInfo("control: removed the stale socket {} of a previous run", path);
  return absl::OkStatus();
}

}  // namespace

struct ControlServer::Connection {
  ScopedFd fd;
  bool writing = false;
  std::string in;
  std::string out;
  size_t sent = 0;
  Clock::time_point deadline;
};

absl::StatusOr<std::unique_ptr<ControlServer>> ControlServer::Start(
    const std::string& path, Handler handler, const ControlServerOptions& options) {
  sockaddr_un sun;
  if (!FillAddress(path, sun)) {
    return absl::InvalidArgumentError(fmt::format(
        "control socket {}: a Unix socket path is 1 to {} bytes", path, kMaxUnixSocketPath));
  }
  if (absl::Status st = ClearStale(path, sun); !st.ok()) return st;
  ScopedFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (fd.get() < 0) return Errno("socket", path, errno);
  if (::bind(fd.get(), reinterpret_cast<const sockaddr*>(&sun), sizeof sun) != 0) {
    return Errno("bind", path, errno);
  }
  // bind() made the file with the umask's mode; the mode is the access
  // control, so it is set, not left to the environment. Until chmod, a
  // umask of 022 leaves others without write, so nobody slips in.
  struct stat st;
  if (::chmod(path.c_str(), kControlSocketMode) != 0 || ::stat(path.c_str(), &st) != 0) {
    int err = errno;
    ::unlink(path.c_str());
    return Errno("chmod", path, err);
  }
  if (::listen(fd.get(), 16) != 0) {
    int err = errno;
    ::unlink(path.c_str());
    return Errno("listen", path, err);
  }
  ScopedFd wake(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
  if (wake.get() < 0) {
    int err = errno;
    ::unlink(path.c_str());
    return Errno("eventfd", path, err);
  }
  std::unique_ptr<ControlServer> s(new ControlServer(std::move(fd), std::move(wake), path,
                                                     st.st_ino, std::move(handler), options));
  s->thread_ = std::thread([raw = s.get()] { raw->Loop(); });
  return s;
}

ControlServer::ControlServer(ScopedFd listener, ScopedFd wake, std::string path, ino_t inode,
                             Handler handler, const ControlServerOptions& options)
    : listener_(std::move(listener)),
      wake_(std::move(wake)),
      path_(std::move(path)),
      inode_(inode),
      handler_(std::move(handler)),
      options_(options) {}

ControlServer::~ControlServer() { Stop(); }

void ControlServer::Stop() {
  if (!thread_.joinable()) return;
  stopping_.store(true, std::memory_order_release);
  uint64_t one = 1;
  [[maybe_unused]] ssize_t n = ::write(wake_.get(), &one, sizeof one);
  thread_.join();
  listener_ = ScopedFd();
  // Only our own file: a second daemon started by mistake may have
  // replaced it after we started, and its socket is not ours to remove.
  struct stat st;
  if (::lstat(path_.c_str(), &st) == 0 && st.st_ino == inode_) ::unlink(path_.c_str());
}

void ControlServer::Loop() {
  std::vector<pollfd> fds;
  while (!stopping_.load(std::memory_order_acquire)) {
    Clock::time_point now = Clock::now();
    auto wait = std::chrono::milliseconds(500);
    for (const auto& c : connections_) {
      auto left = std::chrono::ceil<std::chrono::milliseconds>(c->deadline - now);
      wait = std::clamp(left, std::chrono::milliseconds(0), wait);
    }
    fds.clear();
    fds.push_back({wake_.get(), POLLIN, 0});
    fds.push_back({listener_.get(), POLLIN, 0});
    for (const auto& c : connections_) {
      fds.push_back({c->fd.get(), static_cast<short>(c->writing ? POLLOUT : POLLIN), 0});
    }
    int n = ::poll(fds.data(), fds.size(), static_cast<int>(wait.count()));
    if (n < 0 && errno != EINTR) {
      LogError("control: poll: {}", std::strerror(errno));
      break;
    }
    if (stopping_.load(std::memory_order_acquire)) break;
    now = Clock::now();
    std::vector<std::unique_ptr<Connection>> kept;
    for (size_t i = 0; i < connections_.size(); ++i) {
      Connection& c = *connections_[i];
      short re = n > 0 ? fds[i + 2].revents : 0;
      bool alive = true;
      if (re != 0) alive = c.writing ? OnWritable(c) : OnReadable(c);
      // A client that sends nothing, or reads nothing, is cut off.
      if (alive && Clock::now() >= c.deadline) alive = false;
      if (alive) kept.push_back(std::move(connections_[i]));
    }
    connections_ = std::move(kept);
    if (n > 0 && (fds[1].revents & POLLIN)) Accept(now);
  }
  connections_.clear();
}

void ControlServer::Accept(Clock::time_point now) {
  for (int i = 0; i < 16; ++i) {
    ScopedFd fd(::accept4(listener_.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC));
    if (fd.get() < 0) {
      if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR && errno != ECONNABORTED) {
        LogWarning("control: accept: {}", std::strerror(errno));
      }
      return;
    }
    if (connections_.size() >= options_.max_connections) continue;  // closed
    auto c = std::make_unique<Connection>();
    c->fd = std::move(fd);
    c->deadline = now + absl::ToChronoMilliseconds(options_.io_timeout);
    connections_.push_back(std::move(c));
  }
}

bool ControlServer::OnReadable(Connection& c) {
  char buf[512];
  size_t nl = std::string::npos;
  while (nl == std::string::npos && c.in.size() <= kMaxControlRequestBytes) {
    ssize_t n = ::recv(c.fd.get(), buf, sizeof buf, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      return false;
    }
    if (n == 0) {
      // The client closed its side: what came is the whole request.
      if (c.in.empty()) return false;
      nl = c.in.size();
      break;
    }
    c.in.append(buf, static_cast<size_t>(n));
    nl = c.in.find('\n');
  }
  ControlResponse response;
  if (nl != std::string::npos && nl <= kMaxControlRequestBytes) {
    absl::StatusOr<ControlRequest> request = ParseControlRequest(c.in.substr(0, nl));
    // A bad request is answered in the format it asked for when that much
    // could be read, else as text.
    bool json = c.in.find(" json ") != std::string::npos;
    response = request.ok() ? handler_(*request)
                            : ControlMessage(json, false, ToStd(request.status().message()));
  } else if (c.in.size() > kMaxControlRequestBytes) {
    response = ControlMessage(false, false, "request too long");
  } else {
    return true;  // more to come
  }
  c.in.clear();
  c.out = SerializeControlResponse(response);
  c.writing = true;
  c.deadline = Clock::now() + absl::ToChronoMilliseconds(options_.io_timeout);
  return OnWritable(c);
}

bool ControlServer::OnWritable(Connection& c) {
  while (c.sent < c.out.size()) {
    ssize_t n = ::send(c.fd.get(), c.out.data() + c.sent, c.out.size() - c.sent, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno == EAGAIN || errno == EWOULDBLOCK;
    }
    c.sent += static_cast<size_t>(n);
  }
  return false;  // all sent: closing ends the answer
}

}  // namespace xfr
