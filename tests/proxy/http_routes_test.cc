// The endpoint's routes without sockets: the status page at / (its
// Content-Security-Policy matches the inline code it carries, and it loads
// nothing from elsewhere) and /status.json from a fake StatusSource,
// including an owner that does not answer. /metrics, /healthz and /peers
// are pinned in metrics_test.cc.
#include "proxy/http_routes.h"

#include <openssl/evp.h>

#include <string>

#include "core/text_codecs.h"
#include "gtest/gtest.h"
#include "proxy/config.h"
#include "proxy/status_page.h"
#include "tests/proxy/json_checker.h"

namespace xfr {
namespace {

const absl::Time kStart = absl::FromUnixSeconds(1'700'000'000);

const std::string* Header(const HttpResponse& r, std::string_view name) {
  for (const auto& [n, v] : r.headers) {
    if (n == name) return &v;
  }
  return nullptr;
}

// The text between the first `open` tag and its closing tag.
std::string Between(std::string_view page, std::string_view open, std::string_view close) {
  size_t a = page.find(open);
  if (a == std::string_view::npos) return "";
  a += open.size();
  size_t b = page.find(close, a);
  if (b == std::string_view::npos) return "";
  return std::string(page.substr(a, b - a));
}

std::string Sha256Base64(std::string_view text) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EXPECT_EQ(EVP_Digest(text.data(), text.size(), md, &len, EVP_sha256(), nullptr), 1);
  std::string out;
  AppendBase64(Bytes(md, len), out);
  return out;
}

class HttpRoutesTest : public ::testing::Test {
 protected:
  HttpRoutesTest() : pages_(stats_, nullptr, [this] { return now_; }) {}

  HttpResponse Get(std::string path) {
    HttpRequest req;
    req.method = "GET";
    req.path = std::move(path);
    return pages_.Handle(req);
  }

  ServerStats stats_;
  absl::Time now_ = kStart;
  StatusPages pages_;
};

TEST_F(HttpRoutesTest, StatusPageIsSelfContained) {
  HttpResponse r = Get("/");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.content_type, "text/html; charset=utf-8");
  EXPECT_EQ(r.body, StatusPageHtml());
  EXPECT_EQ(r.body.rfind("<!DOCTYPE html>", 0), 0u);
  // Nothing is loaded from anywhere: no src or stylesheet link, and the
  // only fetch is the relative status.json.
  EXPECT_EQ(r.body.find("src="), std::string::npos);
  EXPECT_EQ(r.body.find("<link"), std::string::npos);
  EXPECT_EQ(r.body.find("https://"), std::string::npos);
  EXPECT_NE(r.body.find("fetch('status.json'"), std::string::npos);
  // Values go in as text, never as markup.
  EXPECT_EQ(r.body.find("innerHTML"), std::string::npos);
  EXPECT_EQ(r.body.find("outerHTML"), std::string::npos);
  EXPECT_EQ(r.body.find("insertAdjacentHTML"), std::string::npos);
  EXPECT_EQ(r.body.find("document.write"), std::string::npos);
  EXPECT_NE(r.body.find("textContent"), std::string::npos);
}

// The policy names the hashes of exactly the inline style and script the
// page holds: a browser runs them and nothing else.
TEST_F(HttpRoutesTest, ContentSecurityPolicyMatchesTheInlineCode) {
  HttpResponse r = Get("/");
  const std::string* csp = Header(r, "Content-Security-Policy");
  ASSERT_NE(csp, nullptr);
  EXPECT_EQ(*csp, StatusPageCsp());
  std::string script = Between(r.body, "<script>", "</script>");
  std::string style = Between(r.body, "<style>", "</style>");
  ASSERT_FALSE(script.empty());
  ASSERT_FALSE(style.empty());
  EXPECT_EQ(*csp, "default-src 'none'; style-src 'sha256-" + Sha256Base64(style) +
                      "'; script-src 'sha256-" + Sha256Base64(script) +
                      "'; connect-src 'self'; base-uri 'none'; form-action 'none'; "
                      "frame-ancestors 'none'");
  // One of each: a second inline block would be blocked by the policy.
  EXPECT_EQ(r.body.find("<script", r.body.find("</script>")), std::string::npos);
  EXPECT_EQ(r.body.find("<style", r.body.find("</style>")), std::string::npos);
  ASSERT_NE(Header(r, "X-Content-Type-Options"), nullptr);
  EXPECT_EQ(*Header(r, "X-Content-Type-Options"), "nosniff");
}

TEST_F(HttpRoutesTest, StatusJsonFromTheSource) {
  int calls = 0;
  pages_.SetStatusSource([&]() -> std::optional<std::vector<ZoneStatusReport>> {
    ++calls;
    ZoneStatusReport z;
    z.status.name = "example.com.";
    z.status.serial = 42;
    z.status.health = "ok";
    z.loaded_at = now_ - absl::Seconds(7);
    return std::vector<ZoneStatusReport>{z};
  });
  stats_.transfers_per_minute.Add(kStart);
  now_ = kStart + absl::Seconds(125);
  stats_.transfers_per_minute.Add(now_);
  stats_.transfers_per_minute.Add(now_);

  HttpResponse r = Get("/status.json");
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.content_type, "application/json");
  ASSERT_NE(Header(r, "Cache-Control"), nullptr);
  EXPECT_EQ(*Header(r, "Cache-Control"), "no-store");
  EXPECT_TRUE(JsonChecker(r.body).Valid()) << r.body;
  EXPECT_NE(r.body.find("\"uptime_seconds\":125,"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find("\"name\":\"example.com.\""), std::string::npos);
  EXPECT_NE(r.body.find("\"serial\":42,"), std::string::npos);
  EXPECT_NE(r.body.find("\"age_seconds\":7,"), std::string::npos);
  // Two minutes apart: ...,1,0,2] at the end of the hour's counts.
  EXPECT_NE(r.body.find(",1,0,2],\"zones\":"), std::string::npos) << r.body;
}

// A zone owner busy building a large version does not answer in time: the
// page gets a 503 with the reason, as JSON, and keeps what it showed.
TEST_F(HttpRoutesTest, StatusJsonWhenTheOwnerIsBusy) {
  HttpResponse none = Get("/status.json");
  EXPECT_EQ(none.status, 503);
  EXPECT_TRUE(JsonChecker(none.body).Valid()) << none.body;

  pages_.SetStatusSource([] { return std::nullopt; });
  HttpResponse busy = Get("/status.json");
  EXPECT_EQ(busy.status, 503);
  EXPECT_EQ(busy.content_type, "application/json");
  EXPECT_TRUE(JsonChecker(busy.body).Valid()) << busy.body;
  EXPECT_NE(busy.body.find("\"error\":\"the zone owner did not answer in time"),
            std::string::npos)
      << busy.body;
}

// /peers asks for every zone's peers once, not once per zone: each ask is
// a bounded wait on the zone owner.
TEST_F(HttpRoutesTest, PeersAreGatheredOncePerRequest) {
  auto config = LoadConfigText(
      "listen: [\"127.0.0.1:5300\"]\nzones:\n  - name: a.example.\n    file: a.zone\n"
      "  - name: b.example.\n    file: b.zone\n",
      "x.yaml", "/nonexistent");
  ASSERT_TRUE(config.ok()) << config.status();
  auto store = ZoneStore::FromConfig(*config, nullptr);
  ASSERT_TRUE(store.ok()) << store.status();
  pages_.SetStore(*store);
  int calls = 0;
  pages_.SetPeerSource([&] {
    ++calls;
    PeerReport p;
    p.address = "192.0.2.7:53";
    p.state = "unknown";
    absl::flat_hash_map<Name, std::vector<PeerReport>> all;
    all[*Name::FromText("b.example.")] = {p};
    return all;
  });
  HttpResponse r = Get("/peers");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(calls, 1);
  EXPECT_TRUE(JsonChecker(r.body).Valid()) << r.body;
  EXPECT_NE(r.body.find("\"name\":\"a.example.\""), std::string::npos);
  EXPECT_EQ(r.body.find("\"address\":\"192.0.2.7:53\""),
            r.body.rfind("\"address\":\"192.0.2.7:53\""));  // b.example.'s only
  EXPECT_NE(r.body.find("\"address\":\"192.0.2.7:53\""), std::string::npos) << r.body;
  EXPECT_EQ(Get("/metrics").status, 200);
  EXPECT_EQ(calls, 2);
}

TEST_F(HttpRoutesTest, UnknownPathsAndMethods) {
  EXPECT_EQ(Get("/status").status, 404);
  EXPECT_EQ(Get("/status.json/").status, 404);
  EXPECT_EQ(Get("/index.html").status, 404);
  HttpRequest post;
  post.method = "POST";
  post.path = "/status.json";
  HttpResponse r = Dispatch(post, pages_.AsHandler());
  EXPECT_EQ(r.status, 405);
  ASSERT_NE(Header(r, "Allow"), nullptr);
  EXPECT_EQ(*Header(r, "Allow"), "GET, HEAD");
}

}  // namespace
}  // namespace xfr
