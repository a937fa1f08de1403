#include "proxy/http_server.h"

#include <fcntl.h>
#include <microhttpd.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <algorithm>
#include <optional>

#include "fmt/format.h"
#include "proxy/log.h"
#include "proxy/socket.h"

namespace xfr {

HttpResponse Dispatch(const HttpRequest& request, const HttpHandler& handler) {
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

// The C callbacks the library calls, with access to the server.
struct HttpServerCallbacks {
  static MHD_Result OnRequest(void* cls, MHD_Connection* connection, const char* url,
                              const char* method, const char* /*version*/,
                              const char* /*upload_data*/, size_t* /*upload_data_size*/,
                              void** /*request_state*/) {
    return static_cast<HttpServer*>(cls)->Answer(connection, url, method) ? MHD_YES : MHD_NO;
  }

  static MHD_Result OnQueryArgument(void* cls, MHD_ValueKind /*kind*/, const char* key,
                                    const char* value) {
    auto* query = static_cast<std::vector<std::pair<std::string, std::string>>*>(cls);
    query->emplace_back(key ? key : "", value ? value : "");
    return MHD_YES;
  }

  // The library's own complaints (a client it cut off, a socket error) go
  // to our log, at its level and to its target, instead of straight to
  // stderr.
  static void OnLog(void* /*cls*/, const char* format, va_list args) {
    char line[512];
    int n = std::vsnprintf(line, sizeof line, format, args);
    if (n <= 0) return;
    std::string_view text(line, std::min(static_cast<size_t>(n), sizeof line - 1));
    while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.remove_suffix(1);
    LogWarning("http: {}", text);
  }
};

bool HttpServer::Answer(MHD_Connection* connection, const char* url, const char* method) {
  HttpRequest request;
  request.method = method ? method : "";
  request.path = url ? url : "";
  MHD_get_connection_values(connection, MHD_GET_ARGUMENT_KIND,
                            &HttpServerCallbacks::OnQueryArgument, &request.query);
  HttpResponse r = Dispatch(request, handler_);

  // The library copies the body; for a HEAD it sends the headers (with the
  // GET's Content-Length) and no body.
  MHD_Response* response = MHD_create_response_from_buffer(
      r.body.size(), r.body.data(), MHD_RESPMEM_MUST_COPY);
  if (response == nullptr) return false;  // out of memory: drop the connection
  bool ok = MHD_add_response_header(response, MHD_HTTP_HEADER_CONTENT_TYPE,
                                    r.content_type.c_str()) == MHD_YES;
  for (const auto& [name, value] : r.headers) {
    ok = ok && MHD_add_response_header(response, name.c_str(), value.c_str()) == MHD_YES;
  }
  // One request per connection, as before the library: a scraper or the
  // status page reconnects for the next one, and an idle keep-alive
  // connection never holds one of the few connection slots.
  ok = ok && MHD_add_response_header(response, MHD_HTTP_HEADER_CONNECTION, "close") == MHD_YES;
  if (ok) {
    ok = MHD_queue_response(connection, static_cast<unsigned>(r.status), response) == MHD_YES;
  }
  MHD_destroy_response(response);
  return ok;
}

absl::StatusOr<std::unique_ptr<HttpServer>> HttpServer::Start(
    const SocketAddress& addr, HttpHandler handler, const HttpServerOptions& options) {
  // Bound here rather than by the library so a busy port or a bad address
  // is reported in the same words as the DNS listeners'.
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

  std::unique_ptr<HttpServer> s(new HttpServer(*bound, std::move(handler)));
  // Its own threads (epoll inside each); errors to our log; no signals
  // (the library sends with MSG_NOSIGNAL on Linux).
  unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ERROR_LOG;
  if (!bound->ip().is_v4()) flags |= MHD_USE_IPv6;
  auto timeout = static_cast<unsigned>(
      std::max<int64_t>(1, absl::ToInt64Seconds(options.idle_timeout)));
  // The daemon closes the socket it was given when it stops, but whether it
  // does when it fails to start depends on where it failed. It gets a
  // duplicate: ours is closed either way, and the worst case is one
  // descriptor left open on a start-up error.
  int fd = ::fcntl(listener->get(), F_DUPFD_CLOEXEC, 0);
  if (fd < 0) return absl::InternalError(fmt::format("http: dup: {}", std::strerror(errno)));
  s->daemon_ = MHD_start_daemon(
      flags, /*port=*/0, /*apc=*/nullptr, nullptr, &HttpServerCallbacks::OnRequest, s.get(),
      MHD_OPTION_EXTERNAL_LOGGER, &HttpServerCallbacks::OnLog, nullptr,
      MHD_OPTION_LISTEN_SOCKET, fd,
      MHD_OPTION_CONNECTION_LIMIT, options.max_connections,
      MHD_OPTION_PER_IP_CONNECTION_LIMIT, options.max_connections_per_ip,
      MHD_OPTION_CONNECTION_TIMEOUT, timeout,
      MHD_OPTION_CONNECTION_MEMORY_LIMIT, options.connection_memory,
      // Strict parsing: white space before a field's colon and HTTP/1.1
      // without Host are refused with 400 rather than guessed at (RFC 9112
      // §5.1, §3.2): a lenient parser in front of another one is how
      // requests get smuggled.
      MHD_OPTION_STRICT_FOR_CLIENT, 1,
      // A pool of 1 is the daemon's own thread.
      MHD_OPTION_THREAD_POOL_SIZE, std::max(1u, options.threads),
      MHD_OPTION_END);
  if (s->daemon_ == nullptr) {
    return absl::InternalError(
        fmt::format("http: could not start the HTTP server on {}", bound->ToString()));
  }
  return s;
}

HttpServer::~HttpServer() { Stop(); }

void HttpServer::Stop() {
  if (daemon_ == nullptr) return;
  MHD_stop_daemon(daemon_);
  daemon_ = nullptr;
}

}  // namespace xfr
