// A small HTTP/1.1 server for the operator endpoint (/metrics, /healthz,
// /peers: DESIGN.md "Configuration"). It is deliberately not on the serving
// rings: one thread of its own multiplexes a handful of connections with
// poll(), so a slow scraper or an idle client can never delay a DNS answer,
// and a DNS load spike cannot starve the scraper either.
//
// One request per connection (the answer says `Connection: close`), GET and
// HEAD only, the request head capped at 8 KiB and read within 2 s. The
// request parsing is I/O-free (ParseRequestHead) and the content comes from a
// Handler, so both are unit-testable without sockets.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "proxy/net_address.h"
#include "proxy/socket.h"

namespace xfr {

struct HttpRequest {
  std::string method;   // as sent: methods are case-sensitive (RFC 9110 §9.1)
  std::string target;   // the request-target as sent: "/metrics?x=1"
  std::string path;     // target up to '?': "/metrics"
  std::string query;    // after '?', without it; empty when none
  int minor_version = 1;  // HTTP/1.<minor_version>
  std::vector<std::pair<std::string, std::string>> headers;  // names lowercased

  // The first header named `name` (lowercase), or null.
  const std::string* Header(std::string_view name) const;
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
  // Extra header lines, e.g. {"Allow", "GET, HEAD"}.
  std::vector<std::pair<std::string, std::string>> headers;
};

using HttpHandler = std::function<HttpResponse(const HttpRequest&)>;

inline constexpr size_t kMaxHttpHeadBytes = 8 * 1024;

struct HeadParse {
  enum class State { kIncomplete, kComplete, kError };
  State state = State::kIncomplete;
  HttpRequest request;    // kComplete
  int error_status = 0;   // kError: 400, 431 or 505
};

// Looks at the bytes received so far on a connection. kIncomplete while the
// head (request line and header fields, RFC 9112 §2.1) has not ended and is
// within `max_head_bytes`; 431 when it has not ended within the cap
// (RFC 6585 §5). Anything after the head (a body) is ignored: a GET has none
// that matters and the connection closes after the answer.
HeadParse ParseRequestHead(std::string_view data,
                           size_t max_head_bytes = kMaxHttpHeadBytes);

// The reason phrase for the status codes this server sends.
std::string_view HttpReason(int status);

// The bytes on the wire: status line, Content-Type, Content-Length,
// Connection: close, the extra headers, and the body unless `head_only`
// (a HEAD answer has the GET's headers and no body: RFC 9110 §9.3.2).
std::string SerializeResponse(const HttpResponse& response, bool head_only);

// What the server answers to one complete request: 405 for a method other
// than GET or HEAD, else whatever `handler` says.
HttpResponse Dispatch(const HttpRequest& request, const HttpHandler& handler);

struct HttpServerOptions {
  size_t max_head_bytes = kMaxHttpHeadBytes;
  // From accept to the end of the request head; also the limit for writing
  // the answer out.
  absl::Duration io_timeout = absl::Seconds(2);
  // Connections held at once; more are closed as soon as accepted. A scrape
  // endpoint has a few clients; this bounds what a flood of them can take.
  size_t max_connections = 64;
};

class HttpServer {
 public:
  // Listens on `addr` (port 0 picks a free port: see port()) and serves on a
  // thread of its own until Stop(). `handler` runs on that thread.
  static absl::StatusOr<std::unique_ptr<HttpServer>> Start(
      const SocketAddress& addr, HttpHandler handler,
      const HttpServerOptions& options = {});
  ~HttpServer();  // Stop()s

  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Closes the listener and every open connection and joins the thread;
  // returns within one poll round. Idempotent.
  void Stop();

  // The bound address, with the port the kernel chose for port 0.
  const SocketAddress& address() const { return address_; }
  uint16_t port() const { return address_.port(); }

 private:
  // Timeouts follow the monotonic clock: a wall-clock step must not cut
  // every open connection or keep one open for hours.
  using Clock = std::chrono::steady_clock;
  struct Connection;
  HttpServer(ScopedFd listener, ScopedFd wake, SocketAddress address,
             HttpHandler handler, const HttpServerOptions& options);
  void Loop();
  void Accept(Clock::time_point now);
  // Advance one connection on readiness; false when it is done with.
  bool OnReadable(Connection& c, Clock::time_point now);
  bool OnWritable(Connection& c, Clock::time_point now);
  bool Drain(Connection& c);

  ScopedFd listener_;
  ScopedFd wake_;  // eventfd: Stop() writes it to end the poll
  SocketAddress address_;
  HttpHandler handler_;
  HttpServerOptions options_;
  std::vector<std::unique_ptr<Connection>> connections_;
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

}  // namespace xfr
