// /status.json rendered from hand-made zone states: the whole document for
// a followed zone with a lagging peer, names and messages that need JSON
// escaping, a zone without secondaries, an expired zone and one with no
// data; the serial lag in RFC 1982 arithmetic; and the per-minute ring the
// transfers plot reads.
#include "proxy/status_json.h"

#include <string>

#include "gtest/gtest.h"
#include "tests/proxy/json_checker.h"

namespace xfr {
namespace {

const absl::Time kNow = absl::FromUnixSeconds(1'700'000'000);  // 2023-11-14T22:13:20Z

ZoneStatusReport Followed() {
  ZoneStatusReport r;
  ZoneStatus& z = r.status;
  z.name = "example.com.";
  z.source = "primaries 192.0.2.1:53";
  z.serial = 7;
  z.records = 120;
  z.health = "ok";
  z.last_refresh = kNow - absl::Seconds(30);
  z.last_transfer_kind = "IXFR";
  z.last_transfer_from = "192.0.2.1:53";
  z.last_transfer_at = kNow - absl::Seconds(90);
  z.next_refresh = kNow + absl::Seconds(3570);
  z.expire_seconds = 86000;
  z.journal = 3;
  z.peers_total = 2;
  z.peers_in_sync = 1;
  r.loaded_at = kNow - absl::Seconds(90);
  PeerReport in_sync;
  in_sync.address = "198.51.100.7:53";
  in_sync.state = "in-sync";
  in_sync.serial = Serial(7);
  in_sync.last_seen = kNow - absl::Seconds(80);
  PeerReport lagging;
  lagging.address = "198.51.100.8:53";
  lagging.state = "lagging";
  lagging.serial = Serial(5);
  lagging.seconds_behind = 90;
  lagging.last_notify = kNow - absl::Seconds(90);
  lagging.last_seen = kNow - absl::Seconds(600);
  lagging.last_error = "NOTIFY answered REFUSED";
  r.peers = {in_sync, lagging};
  return r;
}

StatusDocument Doc(std::vector<ZoneStatusReport> zones) {
  StatusDocument d;
  d.version = "1.2.3";
  d.now = kNow;
  d.started = kNow - absl::Seconds(3600);
  d.zones = std::move(zones);
  d.transfers_per_minute[PerMinute::kMinutes - 1] = 4;
  d.transfers_per_minute[0] = 1;
  return d;
}

TEST(StatusJsonTest, FollowedZoneWithPeersExact) {
  std::string json = RenderStatusDocument(Doc({Followed()}));
  std::string minutes = "1";
  for (size_t i = 1; i + 1 < PerMinute::kMinutes; ++i) minutes += ",0";
  minutes += ",4";
  EXPECT_EQ(
      json,
      "{\"version\":\"1.2.3\",\"now\":\"2023-11-14T22:13:20Z\","
      "\"started\":\"2023-11-14T21:13:20Z\",\"uptime_seconds\":3600,"
      "\"transfers_per_minute\":[" + minutes + "],\"zones\":["
      "{\"name\":\"example.com.\",\"source\":\"primaries 192.0.2.1:53\",\"file\":false,"
      "\"serial\":7,\"records\":120,\"health\":\"ok\",\"loaded_at\":\"2023-11-14T22:11:50Z\","
      "\"age_seconds\":90,\"last_refresh\":\"2023-11-14T22:12:50Z\","
      "\"last_transfer\":{\"kind\":\"IXFR\",\"from\":\"192.0.2.1:53\","
      "\"at\":\"2023-11-14T22:11:50Z\",\"seconds_ago\":90},"
      "\"next_refresh\":\"2023-11-14T23:12:50Z\",\"expire_seconds_remaining\":86000,"
      "\"journal_diffs\":3,\"peers_total\":2,\"peers_in_sync\":1,\"last_error\":null,"
      "\"peers\":["
      "{\"address\":\"198.51.100.7:53\",\"state\":\"in-sync\",\"serial\":7,"
      "\"serials_behind\":0,\"seconds_behind\":0,\"last_notify\":null,"
      "\"last_seen\":\"2023-11-14T22:12:00Z\",\"seen_seconds_ago\":80,\"last_error\":null,"
      "\"shared_address\":false},"
      "{\"address\":\"198.51.100.8:53\",\"state\":\"lagging\",\"serial\":5,"
      "\"serials_behind\":2,\"seconds_behind\":90,\"last_notify\":\"2023-11-14T22:11:50Z\","
      "\"last_seen\":\"2023-11-14T22:03:20Z\",\"seen_seconds_ago\":600,"
      "\"last_error\":\"NOTIFY answered REFUSED\",\"shared_address\":false}]}]}\n");
  EXPECT_TRUE(JsonChecker(json).Valid()) << json;
}

// A zone name may hold any octet (RFC 2181 §11), and errors quote what a
// primary sent: both must come out as JSON strings, never break the
// document or smuggle markup into the page.
TEST(StatusJsonTest, NamesAndMessagesAreEscaped) {
  ZoneStatusReport r = Followed();
  r.status.name = "q\"b\\s\x01<script>.\xff.example.";
  r.status.last_error = "line one\nline \"two\"\t\x7f";
  r.peers[1].last_error = "peer \\ said \"no\"";
  std::string json = RenderStatusDocument(Doc({r}));
  EXPECT_TRUE(JsonChecker(json).Valid()) << json;
  EXPECT_NE(json.find(R"("name":"q\"b\\s\u0001<script>.\ufffd.example.")"), std::string::npos)
      << json;
  EXPECT_NE(json.find(R"("last_error":"line one\nline \"two\"\t\u007f")"), std::string::npos)
      << json;
  EXPECT_NE(json.find(R"("last_error":"peer \\ said \"no\"")"), std::string::npos) << json;
}

TEST(StatusJsonTest, ZoneWithoutPeers) {
  ZoneStatusReport r;
  r.status.name = "file.example.";
  r.status.source = "file /etc/xfrproxy/file.example.zone";
  r.status.file = true;
  r.status.serial = 2026120601;
  r.status.records = 10;
  r.status.health = "ok";
  r.status.last_refresh = kNow - absl::Seconds(5);
  r.loaded_at = kNow - absl::Seconds(5);
  std::string json = RenderStatusDocument(Doc({r}));
  EXPECT_TRUE(JsonChecker(json).Valid()) << json;
  EXPECT_NE(json.find("\"file\":true,\"serial\":2026120601,"), std::string::npos) << json;
  EXPECT_NE(json.find("\"last_transfer\":null,\"next_refresh\":null,"
                      "\"expire_seconds_remaining\":null,\"journal_diffs\":0,"
                      "\"peers_total\":0,\"peers_in_sync\":0,\"last_error\":null,\"peers\":[]}"),
            std::string::npos)
      << json;
}

TEST(StatusJsonTest, ExpiredAndEmptyZones) {
  ZoneStatusReport expired = Followed();
  expired.status.name = "expired.example.";
  expired.status.expire_seconds = 0;
  // The refresh machine may not have said so yet; the countdown decides.
  expired.status.health = "degraded";
  expired.status.last_error = "no usable SOA answer from any primary";

  ZoneStatusReport empty;
  empty.status.name = "empty.example.";
  empty.status.source = "primaries 192.0.2.9:53";
  empty.status.health = "no-data";

  std::string json = RenderStatusDocument(Doc({expired, empty}));
  EXPECT_TRUE(JsonChecker(json).Valid()) << json;
  EXPECT_NE(json.find("\"name\":\"expired.example.\""), std::string::npos);
  EXPECT_NE(json.find("\"health\":\"expired\""), std::string::npos) << json;
  EXPECT_NE(json.find("\"expire_seconds_remaining\":0,"), std::string::npos) << json;
  EXPECT_NE(json.find("{\"name\":\"empty.example.\",\"source\":\"primaries 192.0.2.9:53\","
                      "\"file\":false,\"serial\":null,\"records\":null,\"health\":\"no-data\","
                      "\"loaded_at\":null,\"age_seconds\":null,"),
            std::string::npos)
      << json;
}

TEST(StatusJsonTest, HealthWord) {
  ZoneStatus z;
  z.health = "ok";
  EXPECT_EQ(ZoneHealthWord(z), "no-data");  // nothing served, whatever else
  z.serial = 1;
  EXPECT_EQ(ZoneHealthWord(z), "ok");
  z.health = "degraded";
  EXPECT_EQ(ZoneHealthWord(z), "degraded");
  z.expire_seconds = 10;
  EXPECT_EQ(ZoneHealthWord(z), "degraded");
  z.expire_seconds = 0;
  EXPECT_EQ(ZoneHealthWord(z), "expired");
  ZoneStatus file;
  file.file = true;
  file.serial = 1;
  file.health = "ok";
  EXPECT_EQ(ZoneHealthWord(file), "ok");  // no countdown: never expires
}

TEST(StatusJsonTest, SerialsBehind) {
  struct Case {
    const char* name;
    std::optional<Serial> held;
    std::optional<uint32_t> served;
    std::optional<uint32_t> want;
  } cases[] = {
      {"in sync", Serial(7), 7, 0},
      {"two behind", Serial(5), 7, 2},
      {"across the wrap", Serial(0xfffffffeu), 1, 3},
      {"ahead of us", Serial(9), 7, std::nullopt},
      {"2^31 apart: undefined", Serial(7), 7u + 0x80000000u, std::nullopt},
      {"peer serial unknown", std::nullopt, 7, std::nullopt},
      {"nothing served", Serial(7), std::nullopt, std::nullopt},
  };
  for (const Case& c : cases) EXPECT_EQ(SerialsBehind(c.held, c.served), c.want) << c.name;
}

TEST(PerMinuteTest, CountsTheLastHourByMinute) {
  PerMinute ring;
  const absl::Time t0 = absl::FromUnixSeconds(60 * 1000);  // the start of a minute
  EXPECT_EQ(ring.Last(t0), (std::array<uint64_t, PerMinute::kMinutes>{}));
  ring.Add(t0);
  ring.Add(t0 + absl::Seconds(59));
  ring.Add(t0 + absl::Seconds(60));
  for (int i = 0; i < 5; ++i) ring.Add(t0 + absl::Minutes(3) + absl::Seconds(i));

  auto at = ring.Last(t0 + absl::Minutes(3) + absl::Seconds(30));
  const size_t last = PerMinute::kMinutes - 1;
  EXPECT_EQ(at[last], 5u);
  EXPECT_EQ(at[last - 1], 0u);
  EXPECT_EQ(at[last - 2], 1u);
  EXPECT_EQ(at[last - 3], 2u);
  uint64_t total = 0;
  for (uint64_t c : at) total += c;
  EXPECT_EQ(total, 8u);

  // 59 minutes on, t0's minute is the oldest shown; one more and it is gone.
  EXPECT_EQ(ring.Last(t0 + absl::Minutes(59))[0], 2u);
  EXPECT_EQ(ring.Last(t0 + absl::Minutes(60))[0], 1u);
  // An hour later the slot of t0 is reused: the old count does not leak in.
  ring.Add(t0 + absl::Minutes(60));
  auto later = ring.Last(t0 + absl::Minutes(60));
  EXPECT_EQ(later[last], 1u);
  EXPECT_EQ(later[0], 1u);  // t0 + 1 min
}

}  // namespace
}  // namespace xfr
