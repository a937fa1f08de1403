// The content of the HTTP endpoint without sockets: /metrics lines for a
// small store (exact lines, and every line well-formed per the Prometheus
// text format 0.0.4), label and JSON escaping, /healthz and /peers for
// loaded, missing and expired zones, and the routing of StatusPages.
#include "proxy/metrics.h"

#include <memory>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "core/diff.h"
#include "core/zonefile.h"
#include "fanout/served_zone.h"
#include "gtest/gtest.h"
#include "proxy/config.h"
#include "proxy/http_routes.h"
#include "tests/proxy/json_checker.h"

namespace xfr {
namespace {

// The second zone's name holds a double quote and a backslash (\" and \\ in
// presentation format), which both escapings must handle.
constexpr char kConfig[] = R"(listen: ["127.0.0.1:5300"]
zones:
  - name: example.com.
    file: example.com.zone
  - name: 'q\"b\\s.example.'
    file: odd.zone
)";

constexpr char kZoneV1[] = R"($TTL 3600
@ IN SOA ns1 hostmaster 1 7200 900 1209600 300
@ IN NS ns1
ns1 IN A 192.0.2.1
www IN A 192.0.2.80
)";

constexpr char kZoneV2[] = R"($TTL 3600
@ IN SOA ns1 hostmaster 2 7200 900 1209600 300
@ IN NS ns1
ns1 IN A 192.0.2.1
www IN A 192.0.2.80
new IN AAAA 2001:db8::1
)";

const absl::Time kLoaded = absl::FromUnixSeconds(1'700'000'000);
const absl::Time kNow = kLoaded + absl::Seconds(100);
constexpr uint32_t kExpire = 1209600;

Name N(std::string_view t) { return *Name::FromText(t); }

std::shared_ptr<const ZoneVersion> Version(const Name& origin, const char* text) {
  auto records = ReadZoneText(text, origin, "test.zone");
  EXPECT_TRUE(records.ok()) << records.status();
  auto v = ZoneVersion::Build(origin, std::move(*records));
  EXPECT_TRUE(v.ok()) << v.status();
  return *v;
}

class MetricsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto config = LoadConfigText(kConfig, "x.yaml", "/nonexistent");
    ASSERT_TRUE(config.ok()) << config.status();
    auto store = ZoneStore::FromConfig(*config, nullptr);
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = *store;
    ASSERT_EQ(odd_.ToText(), "q\\\"b\\\\s.example.");
    ASSERT_NE(store_->Find(odd_), nullptr);
  }

  // example.com. at serial 2 with one diff (from 1) in its journal.
  void PublishExample(const PublishOptions& options = {}) {
    auto v1 = Version(N("example.com."), kZoneV1);
    auto v2 = Version(N("example.com."), kZoneV2);
    auto z1 = BuildServedZone(v1, nullptr, nullptr, kLoaded, options);
    ASSERT_TRUE(z1.ok()) << z1.status();
    auto diff = std::make_shared<const ZoneDiff>(ComputeDiff(*v1, *v2));
    auto z2 = BuildServedZone(v2, z1->get(), diff, kLoaded, options);
    ASSERT_TRUE(z2.ok()) << z2.status();
    store_->Find(N("example.com."))->Publish(*z2);
  }

  void PublishOdd() {
    auto v = Version(odd_, kZoneV1);
    auto z = BuildServedZone(v, nullptr, nullptr, kLoaded);
    ASSERT_TRUE(z.ok()) << z.status();
    store_->Find(odd_)->Publish(*z);
  }

  Name odd_ = N("q\\\"b\\\\s.example.");
  ServerStats stats_;
  std::shared_ptr<ZoneStore> store_;
};

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

bool HasLine(const std::string& text, const std::string& line) {
  for (const std::string& l : Lines(text)) {
    if (l == line) return true;
  }
  return false;
}

// Checks the text format 0.0.4 rules a scraper relies on: every sample
// line is `name{label="value",...} value` with escaped label values, belongs
// to a family announced by one TYPE line before it, counters end in _total,
// and the text ends with a line feed.
void ExpectValidExposition(const std::string& text) {
  ASSERT_FALSE(text.empty());
  EXPECT_EQ(text.back(), '\n');
  static const std::regex kSample(
      R"re(([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*"(?:,[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*")*\})? (-?[0-9]+))re");
  static const std::regex kHelp(R"re(# HELP ([a-zA-Z_:][a-zA-Z0-9_:]*) [^\n]*)re");
  static const std::regex kType(R"re(# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge))re");
  std::set<std::string> typed, helped;
  std::string current_type;
  for (const std::string& line : Lines(text)) {
    std::smatch m;
    if (std::regex_match(line, m, kHelp)) {
      EXPECT_TRUE(helped.insert(m[1]).second) << "second HELP: " << line;
    } else if (std::regex_match(line, m, kType)) {
      EXPECT_TRUE(typed.insert(m[1]).second) << "second TYPE: " << line;
      EXPECT_TRUE(helped.count(m[1])) << "TYPE without HELP: " << line;
      current_type = m[2];
      if (current_type == "counter") {
        EXPECT_TRUE(std::string(m[1]).ends_with("_total")) << line;
      }
    } else {
      ASSERT_TRUE(std::regex_match(line, m, kSample)) << "not a sample: " << line;
      EXPECT_TRUE(typed.count(m[1])) << "sample before its TYPE: " << line;
    }
  }
}

TEST_F(MetricsTest, CountersAndZoneGaugesExactLines) {
  PublishExample();
  stats_.udp_queries.Add(7);
  stats_.tcp_queries.Add(3);
  stats_.formerr.Add(2);
  stats_.refused.Add(1);
  stats_.tcp_idle_closed.Add(4);
  stats_.transfer_bytes.Add(123456789012ULL);
  std::string text = RenderMetrics(stats_, *store_, kNow);
  ExpectValidExposition(text);
  for (const char* line : {
           "# TYPE xfrproxy_udp_queries_total counter",
           "xfrproxy_udp_queries_total 7",
           "xfrproxy_tcp_queries_total 3",
           "xfrproxy_responses_total 0",
           "# TYPE xfrproxy_error_responses_total counter",
           "xfrproxy_error_responses_total{rcode=\"FORMERR\"} 2",
           "xfrproxy_error_responses_total{rcode=\"REFUSED\"} 1",
           "xfrproxy_error_responses_total{rcode=\"SERVFAIL\"} 0",
           "xfrproxy_tcp_connections_closed_total{reason=\"idle\"} 4",
           "xfrproxy_tcp_connections_closed_total{reason=\"over_limit\"} 0",
           "xfrproxy_transfer_bytes_total 123456789012",
           "xfrproxy_zones 2",
           "# TYPE xfrproxy_zone_serial gauge",
           "xfrproxy_zone_loaded{zone=\"example.com.\"} 1",
           "xfrproxy_zone_serial{zone=\"example.com.\"} 2",
           "xfrproxy_zone_records{zone=\"example.com.\"} 5",
           "xfrproxy_zone_journal_diffs{zone=\"example.com.\"} 1",
           "xfrproxy_zone_expire_seconds_remaining{zone=\"example.com.\"} 1209500",
           "xfrproxy_zone_expired{zone=\"example.com.\"} 0",
           "xfrproxy_zone_published_timestamp_seconds{zone=\"example.com.\"} 1700000000",
       }) {
    EXPECT_TRUE(HasLine(text, line)) << "missing: " << line << "\n" << text;
  }
}

TEST_F(MetricsTest, ZoneWithoutDataHasOnlyLoadedZero) {
  PublishExample();
  std::string text = RenderMetrics(stats_, *store_, kNow);
  const std::string label = "{zone=\"q\\\\\\\"b\\\\\\\\s.example.\"}";
  EXPECT_TRUE(HasLine(text, "xfrproxy_zone_loaded" + label + " 0")) << text;
  for (const std::string& line : Lines(text)) {
    if (line.starts_with("xfrproxy_zone_loaded")) continue;
    EXPECT_EQ(line.find("s.example."), std::string::npos) << line;
  }
}

TEST_F(MetricsTest, ZoneNameWithQuoteAndBackslashIsEscapedInLabel) {
  PublishExample();
  PublishOdd();
  std::string text = RenderMetrics(stats_, *store_, kNow);
  ExpectValidExposition(text);
  // Presentation q\"b\\s.example. is the label value q\\\"b\\\\s.example.
  EXPECT_TRUE(HasLine(text, R"(xfrproxy_zone_serial{zone="q\\\"b\\\\s.example."} 1)"))
      << text;
  // Canonical order: example.com. (com) before the .example. zone.
  EXPECT_LT(text.find("xfrproxy_zone_serial{zone=\"example.com.\"}"),
            text.find("xfrproxy_zone_serial{zone=\"q"));
}

TEST_F(MetricsTest, ExpiredZoneCountsDown) {
  PublishExample();
  std::string text = RenderMetrics(stats_, *store_, kLoaded + absl::Seconds(kExpire));
  EXPECT_TRUE(HasLine(text, "xfrproxy_zone_expire_seconds_remaining{zone=\"example.com.\"} 0"));
  EXPECT_TRUE(HasLine(text, "xfrproxy_zone_expired{zone=\"example.com.\"} 1"));
}

// An SOA check that finds the serial unchanged refreshes the zone without a
// new snapshot: the countdown follows the LiveZone, not the snapshot.
TEST_F(MetricsTest, RefreshWithoutNewVersionRestartsExpire) {
  PublishExample();
  PublishOdd();
  store_->Find(N("example.com."))->MarkRefreshed(kLoaded + absl::Seconds(1000), kExpire);
  absl::Time at = kLoaded + absl::Seconds(kExpire);
  std::string text = RenderMetrics(stats_, *store_, at);
  EXPECT_TRUE(HasLine(text, "xfrproxy_zone_expire_seconds_remaining{zone=\"example.com.\"} 1000"))
      << text;
  EXPECT_TRUE(HasLine(text, "xfrproxy_zone_expired{zone=\"example.com.\"} 0"));
  EXPECT_EQ(RenderHealth(*store_, at).text, "q\\\"b\\\\s.example. expired\n");
  EXPECT_NE(RenderPeersJson(*store_, at).find("\"expired\":false,\"expire_seconds_remaining\":1000,"),
            std::string::npos);
}

TEST(EscapeLabelValueTest, Cases) {
  struct Case {
    const char* name;
    std::string in;
    std::string want;
  } cases[] = {
      {"plain", "example.com.", "example.com."},
      {"quote", "a\"b", "a\\\"b"},
      {"backslash", "a\\b", "a\\\\b"},
      {"line feed", "a\nb", "a\\nb"},
      {"escaped quote in name text", "q\\\"b.", "q\\\\\\\"b."},
      {"utf8 untouched", "\xc3\xa9", "\xc3\xa9"},
      {"empty", "", ""},
  };
  for (const Case& c : cases) EXPECT_EQ(EscapeLabelValue(c.in), c.want) << c.name;
}

TEST(JsonStringTest, Cases) {
  struct Case {
    const char* name;
    std::string in;
    std::string want;
  } cases[] = {
      {"plain", "example.com.", R"("example.com.")"},
      {"empty", "", R"("")"},
      {"quote", "a\"b", R"("a\"b")"},
      {"backslash", "a\\b", R"("a\\b")"},
      {"named controls", "\n\r\t", R"("\n\r\t")"},
      {"other controls", std::string("\x00\x01\x1f\x7f", 4), R"("\u0000\u0001\u001f\u007f")"},
      {"valid utf8 kept", "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", "\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\""},
      {"invalid byte", "a\xff" "b", R"("a\ufffdb")"},
      {"truncated sequence", "\xc3", R"("\ufffd")"},
      {"overlong slash", "\xc0\xaf", R"("\ufffd\ufffd")"},
      {"surrogate", "\xed\xa0\x80", R"("\ufffd\ufffd\ufffd")"},
      {"past U+10FFFF", "\xf4\x90\x80\x80", R"("\ufffd\ufffd\ufffd\ufffd")"},
      {"lone continuation", "\x80", R"("\ufffd")"},
  };
  for (const Case& c : cases) EXPECT_EQ(JsonString(c.in), c.want) << c.name;
}

TEST(JsonCheckerTest, RejectsBrokenDocuments) {
  for (const char* bad : {"{", "{\"a\"}", "[1,]", "\"a\nb\"", "{\"a\":tru}", "[01]", "\"\\x\""}) {
    EXPECT_FALSE(JsonChecker(bad).Valid()) << bad;
  }
  EXPECT_TRUE(JsonChecker(R"({"a":[1,-2,true,null,"\u00e9"]})").Valid());
}

TEST_F(MetricsTest, PeersJsonExact) {
  PublishExample();
  std::string json = RenderPeersJson(*store_, kNow);
  EXPECT_TRUE(JsonChecker(json).Valid()) << json;
  EXPECT_EQ(json,
            "{\"zones\":[\n"
            "{\"name\":\"example.com.\",\"loaded\":true,\"serial\":2,\"records\":5,"
            "\"expired\":false,\"expire_seconds_remaining\":1209500,"
            "\"published_at\":\"2023-11-14T22:13:20Z\",\"journal_serials\":[1],"
            "\"peers\":[]},\n"
            "{\"name\":\"q\\\\\\\"b\\\\\\\\s.example.\",\"loaded\":false,\"serial\":null,"
            "\"records\":null,\"expired\":null,\"expire_seconds_remaining\":null,"
            "\"published_at\":null,\"journal_serials\":[],\"peers\":[]}\n"
            "]}\n");
}

TEST_F(MetricsTest, PeersJsonCarriesPeerSourceEntriesEscaped) {
  PublishExample();
  PeerSource peers = [](const LiveZone& z) {
    std::vector<PeerReport> out;
    if (z.name() != N("example.com.")) return out;
    PeerReport a;
    a.address = "198.51.100.7:53";
    a.state = "in-sync";
    a.serial = Serial(2);
    a.last_notify = kLoaded;
    out.push_back(a);
    PeerReport b;
    b.address = "[2001:db8::8]:53";
    b.state = "unreachable";
    b.seconds_behind = 42;
    b.last_error = "timed out \"twice\"\n";
    b.shared_address = true;
    out.push_back(b);
    return out;
  };
  std::string json = RenderPeersJson(*store_, kNow, peers);
  EXPECT_TRUE(JsonChecker(json).Valid()) << json;
  EXPECT_NE(json.find("\"peers\":[{\"address\":\"198.51.100.7:53\",\"state\":\"in-sync\","
                      "\"serial\":2,\"seconds_behind\":0,"
                      "\"last_notify\":\"2023-11-14T22:13:20Z\","
                      "\"last_seen\":null,\"last_error\":null,\"shared_address\":false},"
                      "{\"address\":\"[2001:db8::8]:53\",\"state\":\"unreachable\",\"serial\":null,"
                      "\"seconds_behind\":42,\"last_notify\":null,\"last_seen\":null,"
                      "\"last_error\":\"timed out \\\"twice\\\"\\n\",\"shared_address\":true}]"),
            std::string::npos)
      << json;
}

TEST_F(MetricsTest, PeerGaugesCountInSyncPeersPerZoneWithSecondaries) {
  PublishExample();
  PeerState one;
  one.address = PeerAddress::V4({198, 51, 100, 7}, 53);
  PeerState two = one;
  two.address = PeerAddress::V4({198, 51, 100, 8}, 53);
  store_->Find(N("example.com."))
      ->SetPeers(std::make_shared<PeerTable>(std::vector<PeerState>{one, two}, kNow));
  PeerSource peers = [](const LiveZone&) {
    std::vector<PeerReport> out(2);
    out[0].state = "in-sync";
    out[1].state = "lagging";
    return out;
  };
  std::string text = RenderMetrics(stats_, *store_, kNow, peers);
  EXPECT_NE(text.find("# TYPE xfrproxy_peers_in_sync gauge\n"
                      "xfrproxy_peers_in_sync{zone=\"example.com.\"} 1\n"),
            std::string::npos) << text;
  EXPECT_NE(text.find("xfrproxy_peers{zone=\"example.com.\"} 2\n"), std::string::npos) << text;
  // Zones without secondaries have no peer samples.
  EXPECT_EQ(text.find("xfrproxy_peers{zone=\"other"), std::string::npos) << text;
  // Without a source (unit tests, no fan-out) the families are left out.
  EXPECT_EQ(RenderMetrics(stats_, *store_, kNow).find("xfrproxy_peers_in_sync"),
            std::string::npos);
}

TEST(PeersJsonTest, EmptyStoreIsValid) {
  auto config = LoadConfigText("listen: [\"127.0.0.1:5300\"]\nzones: []\n", "x.yaml", "/");
  if (!config.ok()) GTEST_SKIP() << "config without zones refused: " << config.status();
  auto store = ZoneStore::FromConfig(*config, nullptr);
  ASSERT_TRUE(store.ok());
  std::string json = RenderPeersJson(**store, kNow);
  EXPECT_EQ(json, "{\"zones\":[]}\n");
  EXPECT_TRUE(JsonChecker(json).Valid());
  HealthReport h = RenderHealth(**store, kNow);
  EXPECT_TRUE(h.healthy);
}

TEST_F(MetricsTest, HealthListsMissingThenExpiredZones) {
  HealthReport none = RenderHealth(*store_, kNow);
  EXPECT_FALSE(none.healthy);
  EXPECT_EQ(none.text, "example.com. not loaded\nq\\\"b\\\\s.example. not loaded\n");

  PublishExample();
  PublishOdd();
  HealthReport ok = RenderHealth(*store_, kNow);
  EXPECT_TRUE(ok.healthy);
  EXPECT_EQ(ok.text, "ok\n");

  HealthReport expired = RenderHealth(*store_, kLoaded + absl::Seconds(kExpire));
  EXPECT_FALSE(expired.healthy);
  EXPECT_EQ(expired.text, "example.com. expired\nq\\\"b\\\\s.example. expired\n");
  // One second before EXPIRE runs out the data is still served.
  EXPECT_TRUE(RenderHealth(*store_, kLoaded + absl::Seconds(kExpire - 1)).healthy);
}

TEST_F(MetricsTest, FileZoneNeverExpires) {
  PublishOptions file;
  file.never_expires = true;
  PublishExample(file);
  PublishOdd();
  absl::Time later = kLoaded + absl::Hours(24 * 365);
  std::string text = RenderMetrics(stats_, *store_, later);
  EXPECT_TRUE(HasLine(text, "xfrproxy_zone_expired{zone=\"example.com.\"} 0"));
  EXPECT_TRUE(HasLine(
      text, "xfrproxy_zone_expire_seconds_remaining{zone=\"example.com.\"} 1209600"));
  HealthReport h = RenderHealth(*store_, later);
  EXPECT_EQ(h.text, "q\\\"b\\\\s.example. expired\n");
}

TEST_F(MetricsTest, StatusPagesRoutes) {
  PublishExample();
  StatusPages pages(stats_, store_, [] { return kNow; });
  HttpRequest req;
  req.method = "GET";

  req.path = "/metrics";
  HttpResponse m = pages.Handle(req);
  EXPECT_EQ(m.status, 200);
  EXPECT_EQ(m.content_type, "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_TRUE(HasLine(m.body, "xfrproxy_zone_serial{zone=\"example.com.\"} 2"));

  req.path = "/healthz";
  HttpResponse h = pages.Handle(req);
  EXPECT_EQ(h.status, 503);  // the odd zone has no data
  EXPECT_EQ(h.body, "q\\\"b\\\\s.example. not loaded\n");

  req.path = "/peers";
  HttpResponse p = pages.Handle(req);
  EXPECT_EQ(p.status, 200);
  EXPECT_EQ(p.content_type, "application/json");
  EXPECT_TRUE(JsonChecker(p.body).Valid());

  req.path = "/metrics/";
  EXPECT_EQ(pages.Handle(req).status, 404);
  req.path = "/nope";
  EXPECT_EQ(pages.Handle(req).status, 404);

  // A reload swaps the store: the new one is what the next request sees.
  PublishOdd();
  auto config = LoadConfigText("listen: [\"127.0.0.1:5300\"]\nzones:\n  - name: other.\n    file: o.zone\n",
                               "x.yaml", "/nonexistent");
  ASSERT_TRUE(config.ok()) << config.status();
  auto next = ZoneStore::FromConfig(*config, store_.get());
  ASSERT_TRUE(next.ok());
  pages.SetStore(*next);
  req.path = "/healthz";
  HttpResponse after = pages.Handle(req);
  EXPECT_EQ(after.status, 503);
  EXPECT_EQ(after.body, "other. not loaded\n");
}

// What an operator alerts on with per-zone series off: counts of zones
// loaded, expired and degraded, there in every mode.
TEST_F(MetricsTest, ZoneTotalsCountLoadedExpiredAndDegraded) {
  std::string none = RenderMetrics(stats_, *store_, kNow);
  EXPECT_TRUE(HasLine(none, "xfrproxy_zones_loaded 0")) << none;

  PublishExample();
  PublishOdd();
  std::string fresh = RenderMetrics(stats_, *store_, kNow);
  ExpectValidExposition(fresh);
  EXPECT_TRUE(HasLine(fresh, "xfrproxy_zones_loaded 2")) << fresh;
  EXPECT_TRUE(HasLine(fresh, "xfrproxy_zones_expired_now 0")) << fresh;
  EXPECT_TRUE(HasLine(fresh, "xfrproxy_zones_degraded 0")) << fresh;

  RefreshHealth failing;
  failing.state = RefreshHealth::kOk;
  failing.degraded_at = kNow;
  store_->Find(odd_)->SetRefreshHealth(failing);
  store_->Find(N("example.com."))->MarkRefreshed(kLoaded + absl::Seconds(1000), kExpire);
  std::string later = RenderMetrics(stats_, *store_, kLoaded + absl::Seconds(kExpire));
  EXPECT_TRUE(HasLine(later, "xfrproxy_zones_loaded 2")) << later;
  // The odd zone ran out; example.com. was refreshed later and has not.
  EXPECT_TRUE(HasLine(later, "xfrproxy_zones_expired_now 1")) << later;
  EXPECT_TRUE(HasLine(later, "xfrproxy_zones_degraded 1")) << later;
}

struct SeriesCase {
  const char* name;
  bool per_zone;
  uint32_t max_zone_series;
  bool expect_per_zone;  // the store has 2 zones
};

class MetricsSeriesTest : public MetricsTest,
                          public ::testing::WithParamInterface<SeriesCase> {};

TEST_P(MetricsSeriesTest, PerZoneSeriesOnlyWhereTheOptionsAllow) {
  const SeriesCase& c = GetParam();
  PublishExample();
  PeerState one;
  one.address = PeerAddress::V4({198, 51, 100, 7}, 53);
  PeerState two = one;
  two.address = PeerAddress::V4({198, 51, 100, 8}, 53);
  store_->Find(N("example.com."))
      ->SetPeers(std::make_shared<PeerTable>(std::vector<PeerState>{one, two}, kNow));
  PeerSource peers = [](const LiveZone&) {
    std::vector<PeerReport> out(2);
    out[0].state = "in-sync";
    out[1].state = "lagging";
    return out;
  };
  MetricsOptions options;
  options.per_zone = c.per_zone;
  options.max_zone_series = c.max_zone_series;
  std::string text = RenderMetrics(stats_, *store_, kNow, peers, options);
  ExpectValidExposition(text);
  bool any_zone_label = text.find("{zone=") != std::string::npos;
  EXPECT_EQ(any_zone_label, c.expect_per_zone) << text;
  EXPECT_EQ(HasLine(text, "xfrproxy_zone_serial{zone=\"example.com.\"} 2"), c.expect_per_zone);
  EXPECT_EQ(HasLine(text, "xfrproxy_peers_in_sync{zone=\"example.com.\"} 1"),
            c.expect_per_zone);
  // The totals stay in every mode.
  for (const char* line : {"xfrproxy_zones 2", "xfrproxy_zones_loaded 1",
                           "xfrproxy_zones_expired_now 0", "xfrproxy_zones_degraded 0",
                           "xfrproxy_peers_all_zones 2", "xfrproxy_peers_in_sync_all_zones 1"}) {
    EXPECT_TRUE(HasLine(text, line)) << "missing: " << line << "\n" << text;
  }
}

INSTANTIATE_TEST_SUITE_P(
    Cases, MetricsSeriesTest,
    ::testing::Values(SeriesCase{"DefaultsKeepThemForAFewZones", true, 1000, true},
                      SeriesCase{"SwitchedOff", false, 1000, false},
                      SeriesCase{"MoreZonesThanTheBound", true, 1, false},
                      SeriesCase{"AsManyZonesAsTheBound", true, 2, true},
                      SeriesCase{"ZeroIsNoBound", true, 0, true},
                      SeriesCase{"OffWinsOverNoBound", false, 0, false}),
    [](const ::testing::TestParamInfo<SeriesCase>& i) { return std::string(i.param.name); });

TEST(MetricsConfigTest, MetricsSectionIsReadAndChecked) {
  const std::string base = "listen: [\"127.0.0.1:5300\"]\nzones: []\n";
  auto defaults = LoadConfigText(base, "x.yaml", "/");
  ASSERT_TRUE(defaults.ok()) << defaults.status();
  EXPECT_EQ(defaults->metrics, MetricsOptions{});
  EXPECT_TRUE(defaults->metrics.per_zone);
  EXPECT_EQ(defaults->metrics.max_zone_series, 1000u);

  auto set = LoadConfigText(base + "metrics:\n  per-zone: false\n  max-zone-series: 50\n",
                            "x.yaml", "/");
  ASSERT_TRUE(set.ok()) << set.status();
  EXPECT_FALSE(set->metrics.per_zone);
  EXPECT_EQ(set->metrics.max_zone_series, 50u);

  for (const char* bad : {"metrics:\n  per-zone: maybe\n", "metrics:\n  max-zone-series: -1\n",
                          "metrics:\n  per-zones: false\n", "metrics: [1]\n"}) {
    auto c = LoadConfigText(base + bad, "x.yaml", "/");
    EXPECT_FALSE(c.ok()) << bad;
    if (!c.ok()) {
      EXPECT_NE(c.status().message().find("metrics"), std::string::npos) << c.status();
    }
  }
}

TEST_F(MetricsTest, StatusPagesFollowTheMetricsOptions) {
  PublishExample();
  StatusPages pages(stats_, store_, [] { return kNow; });
  HttpRequest req;
  req.method = "GET";
  req.path = "/metrics";
  EXPECT_TRUE(HasLine(pages.Handle(req).body, "xfrproxy_zone_serial{zone=\"example.com.\"} 2"));
  MetricsOptions off;
  off.per_zone = false;
  pages.SetMetricsOptions(off);
  std::string body = pages.Handle(req).body;
  EXPECT_EQ(body.find("{zone="), std::string::npos) << body;
  EXPECT_TRUE(HasLine(body, "xfrproxy_zones_loaded 1")) << body;
}

TEST(StatusPagesTest, NoStoreYetIsUnavailable) {
  ServerStats stats;
  StatusPages pages(stats, nullptr);
  HttpRequest req;
  req.method = "GET";
  req.path = "/metrics";
  EXPECT_EQ(pages.Handle(req).status, 503);
  req.path = "/nope";
  EXPECT_EQ(pages.Handle(req).status, 404);
}

}  // namespace
}  // namespace xfr
