#include "proxy/http_server.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <optional>

#include "core/ascii.h"
#include "fmt/format.h"
#include "proxy/log.h"

namespace xfr {

const std::string* HttpRequest::Header(std::string_view name) const {
  for (const auto& [n, v] : headers) {
    if (n == name) return &v;
  }
  return nullptr;
}

namespace {

// tchar (RFC 9110 §5.6.2): what a method or a field name is made of.
bool IsTokenChar(char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) {
    return true;
  }
  return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

bool IsToken(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), IsTokenChar);
}

// Visible ASCII: what a request-target is made of (RFC 3986 §2 characters
// are a subset; we only need to refuse spaces and controls).
bool IsVisible(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) {
    auto u = static_cast<unsigned char>(c);
    return u > 0x20 && u < 0x7f;
  });
}

std::string_view TrimOws(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c + 32);
  }
  return out;
}

HeadParse Error(int status) {
  HeadParse p;
  p.state = HeadParse::State::kError;
  p.error_status = status;
  return p;
}

// "HTTP/1.1" → 1. RFC 9112 §2.3: a version we do not speak is 505, a string
// that is no HTTP version at all is 400.
int ParseVersion(std::string_view v, int& minor) {
  if (v.size() != 8 || v.substr(0, 5) != "HTTP/" || v[6] != '.' || v[5] < '0' ||
      v[5] > '9' || v[7] < '0' || v[7] > '9') {
    return 400;
  }
  if (v[5] != '1') return 505;
  minor = v[7] - '0';
  return 0;
}

// Splits the request-target (RFC 9112 §3.2) into path and query. A proxy
// style absolute-form "http://host/path" is accepted as its path; "*" and
// authority-form belong to OPTIONS and CONNECT, which are not served.
bool SplitTarget(std::string_view target, HttpRequest& req) {
  std::string_view t = target;
  if (t.empty()) return false;
  if (t.front() != '/') {
    size_t scheme = t.find("://");
    if (scheme == std::string_view::npos || !EqualsIgnoreCase(t.substr(0, scheme), "http")) {
      return false;
    }
    t.remove_prefix(scheme + 3);
    size_t slash = t.find('/');
    t = slash == std::string_view::npos ? std::string_view("/") : t.substr(slash);
  }
  size_t q = t.find('?');
  req.path = std::string(t.substr(0, q));
  if (q != std::string_view::npos) req.query = std::string(t.substr(q + 1));
  size_t hash = req.path.find('#');  // a fragment is never sent, but be safe
  if (hash != std::string::npos) req.path.resize(hash);
  return true;
}

}  // namespace

HeadParse ParseRequestHead(std::string_view data, size_t max_head_bytes) {
  // RFC 9112 §2.2: a server SHOULD ignore empty lines before the request
  // line, and MAY accept a bare LF as the line terminator; both happen with
  // hand-typed requests (nc, telnet), so both are accepted.
  std::vector<std::string_view> lines;
  size_t pos = 0;
  bool ended = false;
  while (pos < data.size()) {
    size_t nl = data.find('\n', pos);
    if (nl == std::string_view::npos) break;
    std::string_view line = data.substr(pos, nl - pos);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    pos = nl + 1;
    if (pos > max_head_bytes) return Error(431);
    if (line.empty()) {
      if (lines.empty()) continue;
      ended = true;
      break;
    }
    lines.push_back(line);
  }
  if (!ended) {
    return data.size() >= max_head_bytes ? Error(431) : HeadParse{};
  }

  HeadParse out;
  HttpRequest& req = out.request;
  // request-line = method SP request-target SP HTTP-version (§3): exactly
  // two single spaces.
  std::string_view rl = lines[0];
  size_t sp1 = rl.find(' ');
  size_t sp2 = sp1 == std::string_view::npos ? sp1 : rl.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos || rl.find(' ', sp2 + 1) != std::string_view::npos) {
    return Error(400);
  }
  std::string_view method = rl.substr(0, sp1);
  std::string_view target = rl.substr(sp1 + 1, sp2 - sp1 - 1);
  if (!IsToken(method) || !IsVisible(target)) return Error(400);
  if (int err = ParseVersion(rl.substr(sp2 + 1), req.minor_version); err != 0) {
    return Error(err);
  }
  req.method = std::string(method);
  req.target = std::string(target);
  if (!SplitTarget(target, req)) return Error(400);

  for (size_t i = 1; i < lines.size(); ++i) {
    std::string_view line = lines[i];
    // §5.2: obsolete line folding is rejected with 400; §5.1: so is white
    // space between the field name and the colon (a smuggling vector).
    if (line.front() == ' ' || line.front() == '\t') return Error(400);
    size_t colon = line.find(':');
    if (colon == std::string_view::npos || !IsToken(line.substr(0, colon))) {
      return Error(400);
    }
    std::string_view value = TrimOws(line.substr(colon + 1));
    // §5.5: CR, LF and NUL are never valid in a field value.
    for (char c : value) {
      auto u = static_cast<unsigned char>(c);
      if ((u < 0x20 && c != '\t') || u == 0x7f) return Error(400);
    }
    req.headers.emplace_back(Lower(line.substr(0, colon)), std::string(value));
  }
  out.state = HeadParse::State::kComplete;
  return out;
}

std::string_view HttpReason(int status) {
  switch (status) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
    case 505: return "HTTP Version Not Supported";
    default: return "Unknown";
  }
}

std::string SerializeResponse(const HttpResponse& response, bool head_only) {
  std::string out = fmt::format(
      "HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\n"
      "Connection: close\r\n",
      response.status, HttpReason(response.status), response.content_type,
      response.body.size());
  for (const auto& [name, value] : response.headers) {
    out += fmt::format("{}: {}\r\n", name, value);
  }
  out += "\r\n";
  if (!head_only) out += response.body;
  return out;
}

HttpResponse Dispatch(const HttpRequest& request, const HttpHandler& handler) {
  // RFC 9110 §15.5.6: a 405 lists the methods that are allowed.
  if (request.method != "GET" && request.method != "HEAD") {
    HttpResponse r;
    r.status = 405;
    r.body = "method not allowed\n";
    r.headers.emplace_back("Allow", "GET, HEAD");
    return r;
  }
  if (!handler) {
    HttpResponse r;
    r.status = 404;
    r.body = "not found\n";
    return r;
  }
  return handler(request);
}

struct HttpServer::Connection {
  enum class State { kReading, kWriting, kDraining };
  ScopedFd fd;
  State state = State::kReading;
  std::string in;
  std::string out;
  size_t sent = 0;
  Clock::time_point deadline;
};

absl::StatusOr<std::unique_ptr<HttpServer>> HttpServer::Start(
    const SocketAddress& addr, HttpHandler handler, const HttpServerOptions& options) {
  auto listener = OpenTcpListener(addr, /*reuse_port=*/false, /*backlog=*/64);
  if (!listener.ok()) return listener.status();
  sockaddr_storage ss;
  socklen_t len = sizeof ss;
  if (::getsockname(listener->get(), reinterpret_cast<sockaddr*>(&ss), &len) != 0) {
    return absl::InternalError(fmt::format("http: getsockname: {}", std::strerror(errno)));
  }
  std::optional<SocketAddress> bound =
      SocketAddress::FromSockaddr(reinterpret_cast<sockaddr*>(&ss), len);
  if (!bound) return absl::InternalError("http: unexpected socket family");
  ScopedFd wake(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
  if (wake.get() < 0) {
    return absl::InternalError(fmt::format("http: eventfd: {}", std::strerror(errno)));
  }
  std::unique_ptr<HttpServer> s(new HttpServer(std::move(*listener), std::move(wake),
                                               *bound, std::move(handler), options));
  s->thread_ = std::thread([raw = s.get()] { raw->Loop(); });
  return s;
}

HttpServer::HttpServer(ScopedFd listener, ScopedFd wake, SocketAddress address,
                       HttpHandler handler, const HttpServerOptions& options)
    : listener_(std::move(listener)),
      wake_(std::move(wake)),
      address_(address),
      handler_(std::move(handler)),
      options_(options) {}

HttpServer::~HttpServer() { Stop(); }

void HttpServer::Stop() {
  if (!thread_.joinable()) return;
  stopping_.store(true, std::memory_order_release);
  uint64_t one = 1;
  // The eventfd counter cannot overflow from a few writes; a failure would
  // only delay the stop to the next poll timeout.
  [[maybe_unused]] ssize_t n = ::write(wake_.get(), &one, sizeof one);
  thread_.join();
  listener_ = ScopedFd();
}

void HttpServer::Loop() {
  std::vector<pollfd> fds;
  while (!stopping_.load(std::memory_order_acquire)) {
    Clock::time_point now = Clock::now();
    // Sleep until the nearest deadline, and at most half a second so a lost
    // wake-up cannot keep Stop() waiting for long.
    auto wait = std::chrono::milliseconds(500);
    for (const auto& c : connections_) {
      auto left = std::chrono::ceil<std::chrono::milliseconds>(c->deadline - now);
      wait = std::clamp(left, std::chrono::milliseconds(0), wait);
    }
    fds.clear();
    fds.push_back({wake_.get(), POLLIN, 0});
    fds.push_back({listener_.get(), POLLIN, 0});
    for (const auto& c : connections_) {
      short events = c->state == Connection::State::kWriting ? POLLOUT : POLLIN;
      fds.push_back({c->fd.get(), events, 0});
    }
    int n = ::poll(fds.data(), fds.size(), static_cast<int>(wait.count()));
    if (n < 0 && errno != EINTR) {
      LogError("http: poll: {}", std::strerror(errno));
      break;
    }
    if (stopping_.load(std::memory_order_acquire)) break;
    now = Clock::now();
    // Connections first, by index into the poll set built above; the ones
    // accepted below are polled from the next round.
    std::vector<std::unique_ptr<Connection>> kept;
    kept.reserve(connections_.size());
    for (size_t i = 0; i < connections_.size(); ++i) {
      Connection& c = *connections_[i];
      short re = n > 0 ? fds[i + 2].revents : 0;
      bool alive = true;
      if (re != 0) {
        alive = c.state == Connection::State::kWriting ? OnWritable(c, now)
                : c.state == Connection::State::kDraining ? Drain(c)
                                                          : OnReadable(c, now);
      }
      if (alive && now >= c.deadline) {
        // A client that sends nothing, or reads nothing, is cut off at the
        // deadline; it gets no 408 because it is not listening anyway.
        alive = false;
      }
      if (alive) kept.push_back(std::move(connections_[i]));
    }
    connections_ = std::move(kept);
    if (n > 0 && (fds[1].revents & POLLIN)) Accept(now);
  }
  connections_.clear();
}

void HttpServer::Accept(Clock::time_point now) {
  // Take what the backlog holds, a bounded batch per round so that a flood
  // of connects cannot keep the loop from serving the ones it has.
  for (int i = 0; i < 32; ++i) {
    int fd = ::accept4(listener_.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR &&
          errno != ECONNABORTED) {
        LogWarning("http: accept: {}", std::strerror(errno));
      }
      return;
    }
    ScopedFd conn(fd);
    if (connections_.size() >= options_.max_connections) continue;  // closed
    auto c = std::make_unique<Connection>();
    c->fd = std::move(conn);
    c->deadline = now + absl::ToChronoMilliseconds(options_.io_timeout);
    connections_.push_back(std::move(c));
  }
}

bool HttpServer::OnReadable(Connection& c, Clock::time_point now) {
  char buf[4096];
  // Never hold more than the cap plus one read: past the cap the answer is
  // 431 whatever follows.
  while (c.in.size() <= options_.max_head_bytes) {
    ssize_t n = ::recv(c.fd.get(), buf, sizeof buf, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      return false;
    }
    if (n == 0) return false;  // the client gave up before a full request
    c.in.append(buf, static_cast<size_t>(n));
  }
  HeadParse p = ParseRequestHead(c.in, options_.max_head_bytes);
  if (p.state == HeadParse::State::kIncomplete) return true;
  HttpResponse response;
  bool head_only = false;
  if (p.state == HeadParse::State::kError) {
    response.status = p.error_status;
    response.body = fmt::format("{}\n", HttpReason(p.error_status));
  } else {
    response = Dispatch(p.request, handler_);
    head_only = p.request.method == "HEAD";
  }
  c.in.clear();
  c.in.shrink_to_fit();
  c.out = SerializeResponse(response, head_only);
  c.sent = 0;
  c.state = Connection::State::kWriting;
  c.deadline = now + absl::ToChronoMilliseconds(options_.io_timeout);
  return OnWritable(c, now);
}

bool HttpServer::OnWritable(Connection& c, Clock::time_point now) {
  while (c.sent < c.out.size()) {
    ssize_t n = ::send(c.fd.get(), c.out.data() + c.sent, c.out.size() - c.sent,
                       MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return true;
      return false;
    }
    c.sent += static_cast<size_t>(n);
  }
  // Half-close, then read until the client closes. Closing with unread
  // request bytes in the socket (the rest of an oversized head, a body)
  // would make the kernel send a reset, and the client could lose the
  // answer it has not read yet (RFC 9112 §9.6, "tear-down").
  ::shutdown(c.fd.get(), SHUT_WR);
  c.out.clear();
  c.out.shrink_to_fit();
  c.state = Connection::State::kDraining;
  c.deadline = now + absl::ToChronoMilliseconds(options_.io_timeout);
  return Drain(c);
}

bool HttpServer::Drain(Connection& c) {
  char buf[4096];
  // Bounded per round; the deadline bounds the total.
  for (int i = 0; i < 16; ++i) {
    ssize_t n = ::recv(c.fd.get(), buf, sizeof buf, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno == EAGAIN || errno == EWOULDBLOCK;
    }
    if (n == 0) return false;
  }
  return true;
}

}  // namespace xfr
