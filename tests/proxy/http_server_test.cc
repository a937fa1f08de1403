// The HTTP endpoint's transport: the I/O-free dispatch (405 with Allow,
// 404 without a handler), and the libmicrohttpd server on loopback port 0
// driven with raw sockets: routing, query arguments, 400/404/405/431, HEAD,
// IPv6, idle and over-limit clients, and Stop() with clients connected.
#include "proxy/http_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <future>
#include <string>
#include <vector>

#include "fmt/format.h"
#include "gtest/gtest.h"
#include "proxy/config.h"
#include "proxy/http_routes.h"
#include "proxy/metrics.h"

namespace xfr {
namespace {

TEST(DispatchTest, OnlyGetAndHeadReachTheHandler) {
  int calls = 0;
  HttpHandler h = [&](const HttpRequest&) {
    ++calls;
    HttpResponse r;
    r.body = "hi";
    return r;
  };
  for (const char* m : {"POST", "PUT", "DELETE", "OPTIONS", "get"}) {
    HttpRequest req;
    req.method = m;
    req.path = "/metrics";
    HttpResponse r = Dispatch(req, h);
    EXPECT_EQ(r.status, 405) << m;
    ASSERT_EQ(r.headers.size(), 1u);
    EXPECT_EQ(r.headers[0].second, "GET, HEAD");
  }
  EXPECT_EQ(calls, 0);
  for (const char* m : {"GET", "HEAD"}) {
    HttpRequest req;
    req.method = m;
    EXPECT_EQ(Dispatch(req, h).status, 200) << m;
  }
  EXPECT_EQ(calls, 2);
}

TEST(DispatchTest, NoHandlerIs404) {
  HttpRequest req;
  req.method = "GET";
  req.path = "/";
  EXPECT_EQ(Dispatch(req, nullptr).status, 404);
}

// --- The server over real sockets. ---

// A client socket with a receive timeout, so a server bug fails the test
// instead of hanging it.
class Client {
 public:
  explicit Client(uint16_t port, bool v6 = false) {
    fd_ = ::socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    timeval tv{10, 0};
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    if (v6) {
      sockaddr_in6 sa{};
      sa.sin6_family = AF_INET6;
      sa.sin6_port = htons(port);
      sa.sin6_addr = in6addr_loopback;
      connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0;
    } else {
      sockaddr_in sa{};
      sa.sin_family = AF_INET;
      sa.sin_port = htons(port);
      sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0;
    }
  }
  ~Client() { ::close(fd_); }
  bool connected() const { return connected_; }

  bool Send(std::string_view data) {
    while (!data.empty()) {
      ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
      if (n <= 0) return false;
      data.remove_prefix(static_cast<size_t>(n));
    }
    return true;
  }
  // Everything until the server closes; `eof` says whether it did (rather
  // than a reset or the 10 s safety timeout).
  std::string ReadAll(bool* eof, bool* timed_out = nullptr) {
    std::string out;
    char buf[4096];
    for (;;) {
      ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n == 0) {
        *eof = true;
        return out;
      }
      if (n < 0) {
        if (errno == EINTR) continue;
        *eof = false;
        if (timed_out) *timed_out = errno == EAGAIN || errno == EWOULDBLOCK;
        return out;
      }
      out.append(buf, static_cast<size_t>(n));
    }
  }

 private:
  int fd_ = -1;
  bool connected_ = false;
};

struct Parsed {
  std::string status_line;
  std::string headers;
  std::string body;
};

Parsed SplitResponse(const std::string& raw) {
  Parsed p;
  size_t eol = raw.find("\r\n");
  size_t end = raw.find("\r\n\r\n");
  if (eol == std::string::npos || end == std::string::npos) return p;
  p.status_line = raw.substr(0, eol);
  p.headers = raw.substr(eol + 2, end - eol);
  p.body = raw.substr(end + 4);
  return p;
}

class HttpServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto config = LoadConfigText(
        "listen: [\"127.0.0.1:5300\"]\nzones:\n  - name: example.com.\n    file: e.zone\n",
        "x.yaml", "/nonexistent");
    ASSERT_TRUE(config.ok()) << config.status();
    auto store = ZoneStore::FromConfig(*config, nullptr);
    ASSERT_TRUE(store.ok()) << store.status();
    stats_.udp_queries.Add(42);
    pages_ = std::make_unique<StatusPages>(stats_, *store);
  }

  void StartServer(HttpServerOptions options = {}, HttpHandler handler = nullptr,
                   const char* ip_text = "127.0.0.1") {
    auto ip = IpAddress::Parse(ip_text);
    ASSERT_TRUE(ip.ok());
    auto s = HttpServer::Start(SocketAddress(*ip, 0),
                               handler ? std::move(handler) : pages_->AsHandler(), options);
    ASSERT_TRUE(s.ok()) << s.status();
    server_ = std::move(*s);
    ASSERT_NE(server_->port(), 0);
  }

  // One request on a fresh connection; the server must close after it.
  Parsed Exchange(std::string_view request, bool v6 = false) {
    Client c(server_->port(), v6);
    EXPECT_TRUE(c.connected());
    EXPECT_TRUE(c.Send(request));
    bool eof = false;
    std::string raw = c.ReadAll(&eof);
    EXPECT_TRUE(eof) << "server did not close cleanly";
    return SplitResponse(raw);
  }

  ServerStats stats_;
  std::unique_ptr<StatusPages> pages_;
  std::unique_ptr<HttpServer> server_;
};

TEST_F(HttpServerTest, PortZeroBindsAFreePort) {
  StartServer();
  EXPECT_EQ(server_->address().ToString(), fmt::format("127.0.0.1:{}", server_->port()));
}

TEST_F(HttpServerTest, GetMetrics) {
  StartServer();
  Parsed p = Exchange("GET /metrics HTTP/1.1\r\nHost: localhost\r\n\r\n");
  EXPECT_EQ(p.status_line, "HTTP/1.1 200 OK");
  EXPECT_NE(p.headers.find("Content-Type: text/plain; version=0.0.4"), std::string::npos)
      << p.headers;
  EXPECT_NE(p.headers.find("Connection: close\r\n"), std::string::npos) << p.headers;
  EXPECT_NE(p.headers.find(fmt::format("Content-Length: {}\r\n", p.body.size())),
            std::string::npos);
  EXPECT_NE(p.body.find("\nxfrproxy_udp_queries_total 42\n"), std::string::npos) << p.body;
}

TEST_F(HttpServerTest, Http10RequestIsServed) {
  StartServer();
  Parsed p = Exchange("GET /metrics HTTP/1.0\r\n\r\n");
  EXPECT_NE(p.status_line.find(" 200 OK"), std::string::npos) << p.status_line;
  EXPECT_NE(p.body.find("\nxfrproxy_udp_queries_total 42\n"), std::string::npos);
}

TEST_F(HttpServerTest, HealthzAndPeers) {
  StartServer();
  Parsed h = Exchange("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(h.status_line, "HTTP/1.1 503 Service Unavailable");
  EXPECT_EQ(h.body, "example.com. not loaded\n");
  Parsed p = Exchange("GET /peers HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(p.status_line, "HTTP/1.1 200 OK");
  EXPECT_NE(p.headers.find("Content-Type: application/json"), std::string::npos);
  EXPECT_EQ(p.body.rfind("{\"zones\":[", 0), 0u) << p.body;
}

// The handler sees the path and the query arguments decoded and apart.
TEST_F(HttpServerTest, PathAndQueryReachTheHandler) {
  HttpRequest seen;
  StartServer({}, [&](const HttpRequest& r) {
    seen = r;
    return HttpResponse{};
  });
  Parsed p = Exchange("GET /a%20b?x=1&name=%2Fy&flag HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(p.status_line, "HTTP/1.1 200 OK");
  EXPECT_EQ(seen.method, "GET");
  EXPECT_EQ(seen.path, "/a b");
  std::vector<std::pair<std::string, std::string>> want = {
      {"x", "1"}, {"name", "/y"}, {"flag", ""}};
  EXPECT_EQ(seen.query, want);
}

TEST_F(HttpServerTest, UnknownPathIs404) {
  StartServer();
  EXPECT_EQ(Exchange("GET /admin HTTP/1.1\r\nHost: x\r\n\r\n").status_line,
            "HTTP/1.1 404 Not Found");
}

TEST_F(HttpServerTest, PostIs405WithAllow) {
  StartServer();
  Parsed p = Exchange("POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\nquit");
  EXPECT_EQ(p.status_line, "HTTP/1.1 405 Method Not Allowed");
  EXPECT_NE(p.headers.find("Allow: GET, HEAD\r\n"), std::string::npos);
}

TEST_F(HttpServerTest, HeadHasLengthButNoBody) {
  StartServer();
  Parsed p = Exchange("HEAD /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(p.status_line, "HTTP/1.1 200 OK");
  EXPECT_EQ(p.body, "");
  EXPECT_EQ(p.headers.find("Content-Length: 0\r\n"), std::string::npos) << p.headers;
  EXPECT_NE(p.headers.find("Content-Length: "), std::string::npos);
}

// The library parses strictly: what could be read two ways by two parsers
// is refused rather than guessed at.
TEST_F(HttpServerTest, MalformedRequestsAreRefused) {
  StartServer();
  struct Case {
    const char* name;
    const char* request;
    const char* status_line;
  } cases[] = {
      {"field without colon", "GET /metrics HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n",
       "HTTP/1.1 400 Bad Request"},
      {"space before colon", "GET /metrics HTTP/1.1\r\nHost : x\r\n\r\n",
       "HTTP/1.1 400 Bad Request"},
      {"HTTP/1.1 without Host", "GET /metrics HTTP/1.1\r\n\r\n", "HTTP/1.1 400 Bad Request"},
      {"no version", "GET /metrics\r\n\r\n", "HTTP/1.1 400 Bad Request"},
      {"HTTP/2.0 over plain text", "GET /metrics HTTP/2.0\r\nHost: x\r\n\r\n",
       "HTTP/1.1 505 HTTP Version Not Supported"},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(Exchange(c.request).status_line, c.status_line) << c.name;
  }
}

TEST_F(HttpServerTest, RequestInPiecesIsReassembled) {
  StartServer();
  Client c(server_->port());
  ASSERT_TRUE(c.connected());
  for (std::string_view piece : {"GET /met", "rics HTTP/1.1\r", "\nHost: x\r\n", "\r\n"}) {
    ASSERT_TRUE(c.Send(piece));
    usleep(1000);  // separate segments; the result does not depend on it
  }
  bool eof = false;
  Parsed p = SplitResponse(c.ReadAll(&eof));
  EXPECT_TRUE(eof);
  EXPECT_EQ(p.status_line, "HTTP/1.1 200 OK");
}

// A head larger than the connection's memory: the answer is 431 and the
// connection is closed cleanly (EOF, not a reset that could swallow it).
TEST_F(HttpServerTest, OversizedHeaderIs431AndClosed) {
  StartServer();
  Client c(server_->port());
  ASSERT_TRUE(c.connected());
  ASSERT_TRUE(c.Send("GET /metrics HTTP/1.1\r\nHost: x\r\nX-Big: " +
                     std::string(64 * 1024, 'a')));
  bool eof = false;
  Parsed p = SplitResponse(c.ReadAll(&eof));
  EXPECT_EQ(p.status_line, "HTTP/1.1 431 Request Header Fields Too Large");
  EXPECT_TRUE(eof);
}

TEST_F(HttpServerTest, ServesOnIpv6) {
  StartServer({}, nullptr, "::1");
  EXPECT_EQ(server_->address().ToString(), fmt::format("[::1]:{}", server_->port()));
  Parsed p = Exchange("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n", /*v6=*/true);
  EXPECT_EQ(p.status_line, "HTTP/1.1 200 OK");
}

// A client that connects and says nothing holds no one up: a second client
// is served meanwhile, and the idle one is closed at the idle timeout.
TEST_F(HttpServerTest, IdleClientDoesNotBlockOthersAndIsClosed) {
  HttpServerOptions options;
  options.idle_timeout = absl::Seconds(1);
  StartServer(options);
  Client idle(server_->port());
  ASSERT_TRUE(idle.connected());
  Client half(server_->port());
  ASSERT_TRUE(half.connected());
  ASSERT_TRUE(half.Send("GET /metrics HTTP/1.1\r\n"));  // never ends its head

  Parsed p = Exchange("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(p.status_line, "HTTP/1.1 503 Service Unavailable");

  bool eof = false;
  EXPECT_EQ(idle.ReadAll(&eof), "");
  EXPECT_TRUE(eof) << "idle client not closed by the server";
  eof = false;
  std::string rest = half.ReadAll(&eof);
  EXPECT_TRUE(eof) << "half-sent client not closed by the server";
  EXPECT_EQ(rest.find(" 200 "), std::string::npos) << rest;
}

// With two threads, a request whose handler waits (for the zone owner, in
// the server) does not hold up another one.
TEST_F(HttpServerTest, WaitingHandlerDoesNotBlockOthersWithTwoThreads) {
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  std::promise<void> entered;
  HttpServerOptions options;
  options.threads = 2;
  StartServer(options, [&](const HttpRequest& r) {
    HttpResponse out;
    if (r.path == "/slow") {
      entered.set_value();
      // Bounded, so a broken server fails the test instead of hanging it.
      released.wait_for(std::chrono::seconds(20));
      out.body = "slow\n";
    } else {
      out.body = "fast\n";
    }
    return out;
  });
  Client slow(server_->port());
  ASSERT_TRUE(slow.connected());
  ASSERT_TRUE(slow.Send("GET /slow HTTP/1.1\r\nHost: x\r\n\r\n"));
  ASSERT_EQ(entered.get_future().wait_for(std::chrono::seconds(20)), std::future_status::ready);

  Parsed fast = Exchange("GET /fast HTTP/1.1\r\nHost: x\r\n\r\n");
  // Answered while /slow is still held (one thread would time out here).
  EXPECT_EQ(fast.body, "fast\n");
  release.set_value();
  bool eof = false;
  EXPECT_EQ(SplitResponse(slow.ReadAll(&eof)).body, "slow\n");
}

// Over the per-address limit, a connection gets no answer and is closed;
// the ones held are still served.
TEST_F(HttpServerTest, ConnectionsOverThePerAddressLimitAreClosed) {
  HttpServerOptions options;
  options.max_connections_per_ip = 1;
  StartServer(options);
  Client first(server_->port());
  ASSERT_TRUE(first.connected());
  ASSERT_TRUE(first.Send("GET /metrics HTTP/1.1\r\nHost: x\r\n"));
  Client second(server_->port());
  ASSERT_TRUE(second.connected());
  bool eof = false;
  EXPECT_EQ(second.ReadAll(&eof), "");
  EXPECT_TRUE(eof);
  ASSERT_TRUE(first.Send("\r\n"));
  eof = false;
  Parsed p = SplitResponse(first.ReadAll(&eof));
  EXPECT_EQ(p.status_line, "HTTP/1.1 200 OK");
  EXPECT_TRUE(eof);
}

TEST_F(HttpServerTest, StopClosesClientsAndListener) {
  StartServer();
  uint16_t port = server_->port();
  Client idle(port);
  ASSERT_TRUE(idle.connected());
  // The idle client was accepted before this one was served (FIFO backlog).
  EXPECT_EQ(Exchange("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n").status_line,
            "HTTP/1.1 200 OK");
  server_->Stop();
  bool eof = false, timed_out = false;
  idle.ReadAll(&eof, &timed_out);
  EXPECT_FALSE(timed_out) << "Stop() left a client connected";
  Client after(port);
  EXPECT_FALSE(after.connected());
  server_->Stop();  // idempotent
}

TEST(HttpServerStartTest, AddressInUseFails) {
  auto ip = IpAddress::Parse("127.0.0.1");
  ASSERT_TRUE(ip.ok());
  auto first = HttpServer::Start(SocketAddress(*ip, 0), nullptr);
  ASSERT_TRUE(first.ok()) << first.status();
  auto second = HttpServer::Start((*first)->address(), nullptr);
  ASSERT_FALSE(second.ok());
  EXPECT_NE(second.status().message().find("bind"), std::string_view::npos)
      << second.status();
}

}  // namespace
}  // namespace xfr
