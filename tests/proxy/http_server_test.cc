// The HTTP endpoint's transport: request-head parsing as byte literals
// (limits, malformed lines, versions), the serialized answer, and the server
// on 127.0.0.1 port 0 driven with raw sockets: routing, 404/405/431, HEAD,
// idle and over-limit clients, and Stop() with clients still connected.
#include "proxy/http_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

#include "fmt/format.h"
#include "gtest/gtest.h"
#include "proxy/config.h"
#include "proxy/metrics.h"

namespace xfr {
namespace {

using State = HeadParse::State;

TEST(ParseRequestHeadTest, Cases) {
  struct Case {
    const char* name;
    std::string in;
    State state;
    int error = 0;
    std::string path = "";
    std::string query = "";
  } cases[] = {
      {"simple", "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n", State::kComplete, 0, "/metrics"},
      {"no headers, HTTP/1.0", "GET /healthz HTTP/1.0\r\n\r\n", State::kComplete, 0, "/healthz"},
      {"bare LF line ends", "GET /peers HTTP/1.1\nHost: x\n\n", State::kComplete, 0, "/peers"},
      {"leading empty line ignored", "\r\nGET / HTTP/1.1\r\n\r\n", State::kComplete, 0, "/"},
      {"query split off", "GET /metrics?name[]=x HTTP/1.1\r\n\r\n", State::kComplete, 0,
       "/metrics", "name[]=x"},
      {"absolute-form", "GET http://127.0.0.1:9153/metrics HTTP/1.1\r\n\r\n", State::kComplete,
       0, "/metrics"},
      {"absolute-form without path", "GET HTTP://h HTTP/1.1\r\n\r\n", State::kComplete, 0, "/"},
      {"body after head ignored", "GET / HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc",
       State::kComplete, 0, "/"},
      {"other method parsed", "POST /metrics HTTP/1.1\r\n\r\n", State::kComplete, 0, "/metrics"},
      {"empty", "", State::kIncomplete},
      {"request line only", "GET /metrics HTTP/1.1\r\n", State::kIncomplete},
      {"half a line", "GET /met", State::kIncomplete},
      {"head not ended", "GET / HTTP/1.1\r\nHost: x\r\n", State::kIncomplete},
      {"double space", "GET  /metrics HTTP/1.1\r\n\r\n", State::kError, 400},
      {"trailing space", "GET /metrics HTTP/1.1 \r\n\r\n", State::kError, 400},
      {"two fields", "GET /metrics\r\n\r\n", State::kError, 400},
      {"method not a token", "G(T / HTTP/1.1\r\n\r\n", State::kError, 400},
      {"relative target", "GET metrics HTTP/1.1\r\n\r\n", State::kError, 400},
      {"asterisk target", "GET * HTTP/1.1\r\n\r\n", State::kError, 400},
      {"other scheme", "GET ftp://h/metrics HTTP/1.1\r\n\r\n", State::kError, 400},
      {"control in target", "GET /a\x01 HTTP/1.1\r\n\r\n", State::kError, 400},
      {"not HTTP", "GET / FOO/1.1\r\n\r\n", State::kError, 400},
      {"lowercase http", "GET / http/1.1\r\n\r\n", State::kError, 400},
      {"HTTP/2.0", "GET / HTTP/2.0\r\n\r\n", State::kError, 505},
      {"HTTP/0.9 style", "GET / HTTP/0.9\r\n\r\n", State::kError, 505},
      {"space before colon", "GET / HTTP/1.1\r\nHost : x\r\n\r\n", State::kError, 400},
      {"no colon", "GET / HTTP/1.1\r\nHost\r\n\r\n", State::kError, 400},
      {"empty field name", "GET / HTTP/1.1\r\n: x\r\n\r\n", State::kError, 400},
      {"obs-fold", "GET / HTTP/1.1\r\nX: a\r\n b\r\n\r\n", State::kError, 400},
      {"NUL in value", std::string("GET / HTTP/1.1\r\nX: a") + '\0' + "b\r\n\r\n", State::kError,
       400},
      {"bare CR in value", "GET / HTTP/1.1\r\nX: a\rb\r\n\r\n", State::kError, 400},
  };
  for (const Case& c : cases) {
    HeadParse p = ParseRequestHead(c.in);
    EXPECT_EQ(p.state, c.state) << c.name;
    if (c.state == State::kError) {
      EXPECT_EQ(p.error_status, c.error) << c.name;
    }
    if (c.state == State::kComplete) {
      EXPECT_EQ(p.request.path, c.path) << c.name;
      EXPECT_EQ(p.request.query, c.query) << c.name;
    }
  }
}

TEST(ParseRequestHeadTest, FieldsAndVersion) {
  HeadParse p = ParseRequestHead(
      "HEAD /metrics HTTP/1.0\r\nHOST:  127.0.0.1:9153 \r\nAccept: text/plain\r\n\r\n");
  ASSERT_EQ(p.state, State::kComplete);
  EXPECT_EQ(p.request.method, "HEAD");
  EXPECT_EQ(p.request.target, "/metrics");
  EXPECT_EQ(p.request.minor_version, 0);
  ASSERT_NE(p.request.Header("host"), nullptr);
  EXPECT_EQ(*p.request.Header("host"), "127.0.0.1:9153");  // OWS trimmed
  EXPECT_EQ(*p.request.Header("accept"), "text/plain");
  EXPECT_EQ(p.request.Header("Host"), nullptr);  // names are stored lowercased
}

// The cap is on the head including its final empty line: a head of exactly
// the cap is served, one byte more is 431, and so is an endless header.
TEST(ParseRequestHeadTest, SizeCap) {
  const std::string start = "GET / HTTP/1.1\r\nX: ";
  auto head_of = [&](size_t total) {
    return start + std::string(total - start.size() - 4, 'a') + "\r\n\r\n";
  };
  EXPECT_EQ(ParseRequestHead(head_of(kMaxHttpHeadBytes)).state, State::kComplete);
  HeadParse over = ParseRequestHead(head_of(kMaxHttpHeadBytes + 1));
  EXPECT_EQ(over.state, State::kError);
  EXPECT_EQ(over.error_status, 431);
  HeadParse endless = ParseRequestHead(start + std::string(kMaxHttpHeadBytes, 'a'));
  EXPECT_EQ(endless.state, State::kError);
  EXPECT_EQ(endless.error_status, 431);
  // Just under the cap without an end: more may still come.
  EXPECT_EQ(ParseRequestHead(start + std::string(100, 'a'), 200).state, State::kIncomplete);
  EXPECT_EQ(ParseRequestHead(start + std::string(200, 'a'), 200).error_status, 431);
}

TEST(SerializeResponseTest, GetAndHead) {
  HttpResponse r;
  r.status = 405;
  r.body = "no\n";
  r.headers.emplace_back("Allow", "GET, HEAD");
  const std::string head =
      "HTTP/1.1 405 Method Not Allowed\r\nContent-Type: text/plain; charset=utf-8\r\n"
      "Content-Length: 3\r\nConnection: close\r\nAllow: GET, HEAD\r\n\r\n";
  EXPECT_EQ(SerializeResponse(r, false), head + "no\n");
  EXPECT_EQ(SerializeResponse(r, true), head);
}

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

// --- The server over real sockets. ---

// A client socket with a receive timeout, so a server bug fails the test
// instead of hanging it.
class Client {
 public:
  explicit Client(uint16_t port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    timeval tv{10, 0};
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0;
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

  void StartServer(HttpServerOptions options = {}) {
    auto ip = IpAddress::Parse("127.0.0.1");
    ASSERT_TRUE(ip.ok());
    auto s = HttpServer::Start(SocketAddress(*ip, 0), pages_->AsHandler(), options);
    ASSERT_TRUE(s.ok()) << s.status();
    server_ = std::move(*s);
    ASSERT_NE(server_->port(), 0);
  }

  // One request on a fresh connection; the server must close after it.
  Parsed Exchange(std::string_view request) {
    Client c(server_->port());
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
  EXPECT_NE(p.headers.find("Connection: close\r\n"), std::string::npos);
  EXPECT_NE(p.headers.find(fmt::format("Content-Length: {}\r\n", p.body.size())),
            std::string::npos);
  EXPECT_NE(p.body.find("\nxfrproxy_udp_queries_total 42\n"), std::string::npos) << p.body;
}

TEST_F(HttpServerTest, HealthzAndPeers) {
  StartServer();
  Parsed h = Exchange("GET /healthz HTTP/1.1\r\n\r\n");
  EXPECT_EQ(h.status_line, "HTTP/1.1 503 Service Unavailable");
  EXPECT_EQ(h.body, "example.com. not loaded\n");
  Parsed p = Exchange("GET /peers HTTP/1.1\r\n\r\n");
  EXPECT_EQ(p.status_line, "HTTP/1.1 200 OK");
  EXPECT_NE(p.headers.find("Content-Type: application/json"), std::string::npos);
  EXPECT_EQ(p.body.rfind("{\"zones\":[", 0), 0u) << p.body;
}

TEST_F(HttpServerTest, UnknownPathIs404) {
  StartServer();
  EXPECT_EQ(Exchange("GET /admin HTTP/1.1\r\n\r\n").status_line, "HTTP/1.1 404 Not Found");
}

TEST_F(HttpServerTest, PostIs405WithAllow) {
  StartServer();
  Parsed p = Exchange("POST /metrics HTTP/1.1\r\nContent-Length: 4\r\n\r\nquit");
  EXPECT_EQ(p.status_line, "HTTP/1.1 405 Method Not Allowed");
  EXPECT_NE(p.headers.find("Allow: GET, HEAD\r\n"), std::string::npos);
}

TEST_F(HttpServerTest, HeadHasLengthButNoBody) {
  StartServer();
  Parsed p = Exchange("HEAD /metrics HTTP/1.1\r\n\r\n");
  EXPECT_EQ(p.status_line, "HTTP/1.1 200 OK");
  EXPECT_EQ(p.body, "");
  EXPECT_EQ(p.headers.find("Content-Length: 0\r\n"), std::string::npos) << p.headers;
  EXPECT_NE(p.headers.find("Content-Length: "), std::string::npos);
}

TEST_F(HttpServerTest, MalformedRequestIs400) {
  StartServer();
  EXPECT_EQ(Exchange("GET /metrics HTTP/1.1\r\nBad Header\r\n\r\n").status_line,
            "HTTP/1.1 400 Bad Request");
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

// An endless header: the answer is 431 and the connection is closed
// cleanly (EOF, not a reset that could swallow the answer).
TEST_F(HttpServerTest, OversizedHeaderIs431AndClosed) {
  StartServer();
  Client c(server_->port());
  ASSERT_TRUE(c.connected());
  ASSERT_TRUE(c.Send("GET /metrics HTTP/1.1\r\nX-Big: " + std::string(64 * 1024, 'a')));
  bool eof = false;
  Parsed p = SplitResponse(c.ReadAll(&eof));
  EXPECT_EQ(p.status_line, "HTTP/1.1 431 Request Header Fields Too Large");
  EXPECT_TRUE(eof);
}

// A client that connects and says nothing holds no one up: a second client
// is served meanwhile, and the idle one is closed at the read timeout.
TEST_F(HttpServerTest, IdleClientDoesNotBlockOthersAndIsClosed) {
  HttpServerOptions options;
  options.io_timeout = absl::Milliseconds(300);
  StartServer(options);
  Client idle(server_->port());
  ASSERT_TRUE(idle.connected());
  Client half(server_->port());
  ASSERT_TRUE(half.connected());
  ASSERT_TRUE(half.Send("GET /metrics HTTP/1.1\r\n"));  // never ends its head

  Parsed p = Exchange("GET /healthz HTTP/1.1\r\n\r\n");
  EXPECT_EQ(p.status_line, "HTTP/1.1 503 Service Unavailable");

  bool eof = false;
  EXPECT_EQ(idle.ReadAll(&eof), "");
  EXPECT_TRUE(eof) << "idle client not closed by the server";
  eof = false;
  EXPECT_EQ(half.ReadAll(&eof), "");
  EXPECT_TRUE(eof) << "half-sent client not closed by the server";
}

TEST_F(HttpServerTest, ConnectionsOverTheLimitAreClosedAtOnce) {
  HttpServerOptions options;
  options.max_connections = 1;
  StartServer(options);
  Client first(server_->port());
  ASSERT_TRUE(first.connected());
  ASSERT_TRUE(first.Send("GET /metrics HTTP/1.1\r\n"));
  // The backlog is first in, first out: `first` is accepted before `second`
  // whenever the server gets to them.
  Client second(server_->port());
  ASSERT_TRUE(second.connected());
  bool eof = false;
  EXPECT_EQ(second.ReadAll(&eof), "");
  EXPECT_TRUE(eof);
  // The held connection is still served.
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
  EXPECT_EQ(Exchange("GET / HTTP/1.1\r\n\r\n").status_line, "HTTP/1.1 200 OK");
  server_->Stop();
  bool eof = false, timed_out = false;
  idle.ReadAll(&eof, &timed_out);
  EXPECT_TRUE(eof);
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
  EXPECT_FALSE(second.ok());
}

}  // namespace
}  // namespace xfr
