// The operator's HTTP endpoint (/, /status.json, /metrics, /healthz,
// /peers), served by libmicrohttpd on a thread of its own: it is never on
// the serving rings, so a slow scraper or an idle browser tab can never
// delay a DNS answer, and a DNS load spike cannot starve the scraper.
//
// The HTTP protocol itself (request parsing, keep-alive, chunking, limits)
// is the library's; what is ours is I/O-free: a request (method, path,
// query) goes through Dispatch() to a Handler and comes back as a response
// (status, content type, body, headers), so routing and rendering are
// unit-tested without sockets.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "proxy/net_address.h"

struct MHD_Connection;
struct MHD_Daemon;

namespace xfr {

struct HttpRequest {
  std::string method;  // as sent: methods are case-sensitive (RFC 9110 §9.1)
  std::string path;    // percent-decoded, without the query: "/metrics"
  // The query arguments in the order sent, percent-decoded; a key without
  // '=' has an empty value.
  std::vector<std::pair<std::string, std::string>> query;
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
  // Extra header fields, e.g. {"Allow", "GET, HEAD"}.
  std::vector<std::pair<std::string, std::string>> headers;
};

using HttpHandler = std::function<HttpResponse(const HttpRequest&)>;

// What the server answers to one request: 405 with Allow for a method
// other than GET or HEAD (RFC 9110 §15.5.6), 404 without a handler, else
// whatever `handler` says. A HEAD answer carries the GET's headers and no
// body (RFC 9110 §9.3.2); the server drops the body, the handler need not.
HttpResponse Dispatch(const HttpRequest& request, const HttpHandler& handler);

struct HttpServerOptions {
  // Connections held at once, and per client address; more are refused.
  // An operator endpoint has a few clients; this bounds what a flood of
  // them can take.
  unsigned max_connections = 64;
  unsigned max_connections_per_ip = 16;
  // A connection that sends or reads nothing for this long is closed
  // (whole seconds: the library's granularity).
  absl::Duration idle_timeout = absl::Seconds(10);
  // Memory per connection for the request head and the library's buffers;
  // a request head that does not fit is answered 431. Answers are sent
  // from their own buffer, so this does not bound them.
  size_t connection_memory = 32 * 1024;
  // Threads answering requests. With more than one, a handler that waits
  // (for the zone owner) does not hold up the others, and the handler must
  // be safe to call concurrently. The connection limit is shared among
  // them.
  unsigned threads = 1;
};

class HttpServer {
 public:
  // Listens on `addr` (IPv4 or IPv6; port 0 picks a free port: see port())
  // and serves on threads of its own (options.threads) until Stop().
  // `handler` runs on those threads.
  static absl::StatusOr<std::unique_ptr<HttpServer>> Start(
      const SocketAddress& addr, HttpHandler handler,
      const HttpServerOptions& options = {});
  ~HttpServer();  // Stop()s

  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Closes the listener and every open connection and joins the thread.
  // Idempotent.
  void Stop();

  // The bound address, with the port the kernel chose for port 0.
  const SocketAddress& address() const { return address_; }
  uint16_t port() const { return address_.port(); }

 private:
  friend struct HttpServerCallbacks;
  HttpServer(SocketAddress address, HttpHandler handler)
      : address_(address), handler_(std::move(handler)) {}
  // Answers one request whose head has arrived; false makes the library
  // close the connection.
  bool Answer(MHD_Connection* connection, const char* url, const char* method);

  SocketAddress address_;
  HttpHandler handler_;
  MHD_Daemon* daemon_ = nullptr;
};

}  // namespace xfr
