#include "proxy/config.h"

#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include "absl/status/status.h"
#include "gtest/gtest.h"
#include "proxy/served_view.h"
#include "tests/proxy/config_test_util.h"

namespace xfr {
namespace {

Name N(std::string_view text) { return *Name::FromText(text, nullptr); }
IpAddress Ip(std::string_view s) { return *IpAddress::Parse(s); }

// Line numbers in the error tests below count from this first line.
constexpr std::string_view kFullConfig = R"(listen: ["127.0.0.1:5300", "[::1]:5300", "192.0.2.1"]
http: "127.0.0.1:9153"
state-dir: state
threads: 3
keys:
  - {name: up-key, algorithm: hmac-sha256, secret: "c2VjcmV0"}
  - name: oci-key.
    algorithm: HMAC-SHA512.
    secret: "AAEC/w=="
zones:
  - name: Example.COM
    primaries: ["192.0.2.10:53", "[2001:db8::10]", "192.0.2.11:5353"]
    primary-key: up-key
    notify-from: ["192.0.2.0/28", "2001:db8::/64"]
    allow-transfer: ["198.51.100.0/24"]
    secondaries:
      - {address: "198.51.100.7:53", key: oci-key}
      - {address: "198.51.100.8", notify: false}
    journal: {max-diffs: 7}
    max-records: 5_000_000
    proxied:
      names: ["www.example.com.", "*.cdn.example.com"]
      edge-v4: ["203.0.113.1", "203.0.113.2"]
      edge-v6: ["2001:db8:ed9e::1"]
      ttl: 60
  - name: example.net.
    file: zones/example.net.zone
    secondaries:
      - {address: "[2001:db8::7]:5301"}
limits:
  tcp-connections: 500
  tcp-connections-per-ip: 10
  tcp-idle-timeout: 1m30s
  tcp-write-timeout: 500ms
  max-concurrent-transfers: 20
  upstream-query-timeout: 2s
  upstream-connect-timeout: 4s
  upstream-idle-timeout: 1h
  upstream-transfer-timeout: 1d
)";

TEST(ConfigTest, FullConfigParsesToExactValues) {
  absl::StatusOr<Config> c = LoadConfigText(kFullConfig, "x.yaml", "/etc/xfr");
  ASSERT_TRUE(c.ok()) << c.status();
  ASSERT_EQ(c->listen.size(), 3u);
  EXPECT_EQ(c->listen[0].ToString(), "127.0.0.1:5300");
  EXPECT_EQ(c->listen[1].ToString(), "[::1]:5300");
  EXPECT_EQ(c->listen[2].ToString(), "192.0.2.1:53");
  ASSERT_TRUE(c->http.has_value());
  EXPECT_EQ(c->http->ToString(), "127.0.0.1:9153");
  EXPECT_EQ(c->state_dir, "/etc/xfr/state");
  EXPECT_EQ(c->threads, 3);

  ASSERT_EQ(c->keys.size(), 2u);
  EXPECT_EQ(c->keys[0].name, N("up-key."));
  EXPECT_EQ(c->keys[0].algorithm, "hmac-sha256");
  EXPECT_EQ(c->keys[0].secret, "secret");
  EXPECT_EQ(c->keys[1].name, N("oci-key."));
  EXPECT_EQ(c->keys[1].algorithm, "hmac-sha512");
  EXPECT_EQ(c->keys[1].secret, std::string("\x00\x01\x02\xff", 4));

  ASSERT_EQ(c->zones.size(), 2u);
  const ZoneConfig& z = c->zones[0];
  EXPECT_EQ(z.name, N("example.com."));
  EXPECT_EQ(z.name.ToText(), "Example.COM.");  // case kept
  EXPECT_FALSE(z.has_file());
  ASSERT_EQ(z.primaries.size(), 3u);
  EXPECT_EQ(z.primaries[0].ToString(), "192.0.2.10:53");
  EXPECT_EQ(z.primaries[1].ToString(), "[2001:db8::10]:53");
  EXPECT_EQ(z.primaries[2].ToString(), "192.0.2.11:5353");
  ASSERT_TRUE(z.primary_key.has_value());
  EXPECT_EQ(*z.primary_key, N("up-key."));
  EXPECT_EQ(z.notify_from.ToString(), "192.0.2.0/28 2001:db8::/64");
  EXPECT_TRUE(z.notify_from.Contains(Ip("::ffff:192.0.2.3")));
  EXPECT_FALSE(z.notify_from.Contains(Ip("192.0.2.16")));
  EXPECT_TRUE(z.allow_transfer_explicit);
  EXPECT_EQ(z.allow_transfer.ToString(), "198.51.100.0/24");
  ASSERT_EQ(z.secondaries.size(), 2u);
  EXPECT_EQ(z.secondaries[0].address.ToString(), "198.51.100.7:53");
  ASSERT_TRUE(z.secondaries[0].key.has_value());
  EXPECT_EQ(*z.secondaries[0].key, N("oci-key."));
  EXPECT_TRUE(z.secondaries[0].notify);
  EXPECT_EQ(z.secondaries[1].address.ToString(), "198.51.100.8:53");
  EXPECT_FALSE(z.secondaries[1].key.has_value());
  EXPECT_FALSE(z.secondaries[1].notify);
  EXPECT_EQ(z.journal_max_diffs, 7u);
  EXPECT_EQ(z.max_records, 5'000'000u);
  ASSERT_TRUE(z.proxied.has_value());
  ASSERT_EQ(z.proxied->names.size(), 2u);
  EXPECT_EQ(z.proxied->names[0].name, N("www.example.com."));
  EXPECT_FALSE(z.proxied->names[0].wildcard);
  EXPECT_EQ(z.proxied->names[1].name, N("cdn.example.com."));
  EXPECT_TRUE(z.proxied->names[1].wildcard);
  ASSERT_EQ(z.proxied->edge_v4.size(), 2u);
  EXPECT_EQ(z.proxied->edge_v4[1].ToString(), "203.0.113.2");
  ASSERT_EQ(z.proxied->edge_v6.size(), 1u);
  EXPECT_EQ(z.proxied->edge_v6[0].ToString(), "2001:db8:ed9e::1");
  EXPECT_EQ(z.proxied->ttl, 60u);
  EXPECT_EQ(z.origin, "x.yaml:11:5: zones[0]");

  const ZoneConfig& f = c->zones[1];
  EXPECT_EQ(f.name, N("example.net."));
  EXPECT_TRUE(f.has_file());
  EXPECT_EQ(f.file, "/etc/xfr/zones/example.net.zone");
  EXPECT_EQ(f.file_origin, "x.yaml:27:11: zones[1].file");
  EXPECT_TRUE(f.primaries.empty());
  EXPECT_TRUE(f.notify_from.empty());
  // No allow-transfer: the secondaries' addresses, whatever their port.
  EXPECT_FALSE(f.allow_transfer_explicit);
  EXPECT_EQ(f.allow_transfer.ToString(), "2001:db8::7/128");
  EXPECT_TRUE(f.allow_transfer.Contains(Ip("2001:db8::7")));
  EXPECT_FALSE(f.allow_transfer.Contains(Ip("2001:db8::8")));
  EXPECT_EQ(f.journal_max_diffs, 100u);
  EXPECT_EQ(f.max_records, 10'000'000u);
  EXPECT_FALSE(f.proxied.has_value());

  EXPECT_EQ(c->limits.tcp_connections, 500u);
  EXPECT_EQ(c->limits.tcp_connections_per_ip, 10u);
  EXPECT_EQ(c->limits.tcp_idle_timeout, absl::Seconds(90));
  EXPECT_EQ(c->limits.tcp_write_timeout, absl::Milliseconds(500));
  EXPECT_EQ(c->limits.max_concurrent_transfers, 20u);
  EXPECT_EQ(c->limits.upstream_query_timeout, absl::Seconds(2));
  EXPECT_EQ(c->limits.upstream_connect_timeout, absl::Seconds(4));
  EXPECT_EQ(c->limits.upstream_idle_timeout, absl::Hours(1));
  EXPECT_EQ(c->limits.upstream_transfer_timeout, absl::Hours(24));

  EXPECT_NE(c->FindKey(N("OCI-KEY.")), nullptr);
  EXPECT_EQ(c->FindKey(N("nope.")), nullptr);
  EXPECT_EQ(c->FindZone(N("example.NET.")), &c->zones[1]);
  EXPECT_EQ(c->FindZone(N("example.org.")), nullptr);
}

TEST(ConfigTest, MinimalConfigGetsDefaults) {
  absl::StatusOr<Config> c = LoadConfigText(
      "listen: [\"127.0.0.1:53\"]\n"
      "zones:\n"
      "  - {name: example.com, primaries: [\"192.0.2.10\", \"2001:db8::1\"]}\n",
      "m.yaml", "");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_FALSE(c->http.has_value());
  EXPECT_EQ(c->state_dir, "");
  EXPECT_GE(c->threads, 1);
  const ZoneConfig& z = c->zones[0];
  // NOTIFY from the primaries by default; transfers to nobody (no
  // secondaries, no allow-transfer).
  EXPECT_EQ(z.notify_from.ToString(), "192.0.2.10/32 2001:db8::1/128");
  EXPECT_TRUE(z.allow_transfer.empty());
  EXPECT_FALSE(z.allow_transfer.Contains(Ip("127.0.0.1")));
  EXPECT_FALSE(z.primary_key.has_value());
  LimitsConfig defaults;
  EXPECT_EQ(c->limits.tcp_connections, defaults.tcp_connections);
  // Over it connections wait; 256 keeps one busy transfer server from
  // waiting at all (issue 10).
  EXPECT_EQ(c->limits.tcp_connections_per_ip, 256u);
  EXPECT_EQ(c->limits.tcp_idle_timeout, absl::Seconds(30));
}

TEST(ConfigTest, EmptyAllowTransferRefusesEveryone) {
  absl::StatusOr<Config> c = LoadConfigText(
      "listen: [\"127.0.0.1:53\"]\n"
      "zones:\n"
      "  - name: example.com\n"
      "    file: /x\n"
      "    allow-transfer: []\n"
      "    secondaries: [{address: \"192.0.2.7\"}]\n",
      "m.yaml", "");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_TRUE(c->zones[0].allow_transfer_explicit);
  EXPECT_FALSE(c->zones[0].allow_transfer.Contains(Ip("192.0.2.7")));
}

TEST(ConfigTest, NotifyKeyIsOptionalUnlessRequired) {
  const struct {
    const char* line;
    bool required;
  } cases[] = {{"", false}, {"    notify-key: optional\n", false},
               {"    notify-key: required\n", true}};
  for (const auto& c : cases) {
    SCOPED_TRACE(c.line);
    absl::StatusOr<Config> cfg = LoadConfigText(
        std::string("listen: [\"127.0.0.1:53\"]\n"
                    "keys: [{name: k, algorithm: hmac-sha256, secret: \"c2VjcmV0\"}]\n"
                    "zones:\n"
                    "  - name: example.com\n"
                    "    primaries: [\"192.0.2.1\"]\n"
                    "    primary-key: k\n") + c.line,
        "n.yaml", "");
    ASSERT_TRUE(cfg.ok()) << cfg.status();
    EXPECT_EQ(cfg->zones[0].notify_key_required, c.required);
  }
}

constexpr std::string_view kHead =
    "listen: [\"127.0.0.1:5300\"]\n"        // 1
    "keys:\n"                               // 2
    "  - {name: k1, algorithm: hmac-sha256, secret: \"c2VjcmV0\"}\n"  // 3
    "zones:\n"                              // 4
    "  - name: example.com\n";              // 5

std::string WithHead(std::string_view rest) {
  return std::string(kHead) + std::string(rest);
}

TEST(ConfigTest, ErrorsNameFileLineAndField) {
  const ConfigErrorCase cases[] = {
      {"bad primary address",
       WithHead("    primaries: [\"192.0.2.10:53\", \"192.0.2.300:53\"]\n"),
       "t.yaml:6:34: zones[0].primaries[1]: bad address '192.0.2.300:53'"},
      {"hostname primary", WithHead("    primaries: [ns1.example.net]\n"),
       "t.yaml:6:17: zones[0].primaries[0]: bad address 'ns1.example.net'"},
      {"bad CIDR", WithHead("    primaries: [\"192.0.2.10\"]\n"
                            "    notify-from: [\"192.0.2.0/33\"]\n"),
       "t.yaml:7:19: zones[0].notify-from[0]: bad CIDR '192.0.2.0/33'"},
      {"CIDR host bits set", WithHead("    file: z\n"
                                      "    allow-transfer:\n"
                                      "      - 192.0.2.0/24\n"
                                      "      - 198.51.100.1/24\n"),
       "t.yaml:9:9: zones[0].allow-transfer[1]: bad CIDR '198.51.100.1/24': "
       "host bits set (the network is 198.51.100.0/24)"},
      {"unknown zone key", WithHead("    file: z\n    primary: x\n"),
       "t.yaml:7:5: zones[0].primary: unknown key 'primary'"},
      {"unknown top-level key",
       "listen: [\"127.0.0.1:53\"]\nzones: []\nlisten-on: [x]\n",
       "t.yaml:3:1: listen-on: unknown key 'listen-on'"},
      {"unknown key in secondary",
       WithHead("    file: z\n    secondaries:\n"
                "      - {address: \"192.0.2.1\", notfy: false}\n"),
       "t.yaml:8:32: zones[0].secondaries[0].notfy: unknown key 'notfy'"},
      {"duplicate key", WithHead("    file: z\n    file: y\n"),
       "t.yaml:7:5: zones[0].file: duplicate key 'file'"},
      {"undefined primary key",
       WithHead("    primaries: [\"192.0.2.1\"]\n    primary-key: k2\n"),
       "t.yaml:7:18: zones[0].primary-key: undefined key 'k2.'"},
      {"undefined secondary key",
       WithHead("    file: z\n    secondaries: [{address: \"192.0.2.1\", key: "
                "nokey}]\n"),
       "t.yaml:7:47: zones[0].secondaries[0].key: undefined key 'nokey.'"},
      {"both file and primaries",
       WithHead("    primaries: [\"192.0.2.1\"]\n    file: z\n"),
       "t.yaml:7:5: zones[0]: 'primaries' and 'file' are exclusive"},
      {"neither file nor primaries", WithHead("    max-records: 10\n"),
       "t.yaml:5:5: zones[0]: needs 'primaries'"},
      {"notify-key required without primary-key",
       WithHead("    primaries: [\"192.0.2.1\"]\n    notify-key: required\n"),
       "t.yaml:7:5: zones[0].notify-key: 'required' needs 'primary-key': NOTIFYs "
       "must be signed with the zone's primary-key"},
      {"notify-key neither value",
       WithHead("    primaries: [\"192.0.2.1\"]\n    primary-key: k1\n"
                "    notify-key: yes\n"),
       "t.yaml:8:17: zones[0].notify-key: 'yes' is neither 'required' nor 'optional'"},
      {"notify-key on a file zone", WithHead("    file: z\n    notify-key: optional\n"),
       "t.yaml:7:5: zones[0].notify-key: only applies to a zone with 'primaries'"},
      {"primary-key on a file zone",
       WithHead("    file: z\n    primary-key: k1\n"),
       "t.yaml:7:5: zones[0].primary-key: only applies to a zone with "
       "'primaries'"},
      {"duplicate zone",
       WithHead("    file: a\n  - name: other.com\n    file: b\n"
                "  - name: EXAMPLE.com.\n    file: c\n"),
       "t.yaml:9:11: zones[2].name: duplicate zone 'EXAMPLE.com.' (also "
       "zones[0])"},
      {"bad algorithm",
       "listen: [\"127.0.0.1:53\"]\nzones: []\nkeys:\n"
       "  - {name: k, algorithm: hmac-md5, secret: \"c2VjcmV0\"}\n",
       "t.yaml:4:26: keys[0].algorithm: unsupported algorithm 'hmac-md5'"},
      {"bad base64",
       "listen: [\"127.0.0.1:53\"]\nzones: []\nkeys:\n"
       "  - name: k\n    algorithm: hmac-sha1\n    secret: \"c2Vj*mV0\"\n",
       "t.yaml:6:13: keys[0].secret: bad secret: invalid base64 character"},
      {"base64 bad length",
       "listen: [\"127.0.0.1:53\"]\nzones: []\nkeys:\n"
       "  - {name: k, algorithm: hmac-sha1, secret: abc}\n",
       "t.yaml:4:45: keys[0].secret: bad secret: base64 length"},
      {"duplicate key name",
       "listen: [\"127.0.0.1:53\"]\nzones: []\nkeys:\n"
       "  - {name: k, algorithm: hmac-sha1, secret: abcd}\n"
       "  - {name: K., algorithm: hmac-sha1, secret: abcd}\n",
       "t.yaml:5:12: keys[1].name: duplicate key name 'K.'"},
      {"missing secret",
       "listen: [\"127.0.0.1:53\"]\nzones: []\nkeys:\n"
       "  - {name: k, algorithm: hmac-sha1}\n",
       "t.yaml:4:5: keys[0]: missing 'secret'"},
      {"proxied name outside the zone",
       WithHead("    file: z\n    proxied:\n"
                "      names: [\"www.example.com\", \"www.example.org.\"]\n"
                "      edge-v4: [\"203.0.113.1\"]\n"),
       "t.yaml:8:34: zones[0].proxied.names[1]: 'www.example.org.' is "
       "outside the zone example.com."},
      {"proxied wildcard suffix outside the zone",
       WithHead("    file: z\n    proxied:\n"
                "      names: [\"*.com\"]\n      edge-v4: [\"203.0.113.1\"]\n"),
       "t.yaml:8:15: zones[0].proxied.names[0]: '*.com' is outside the zone"},
      {"proxied star inside a name",
       WithHead("    file: z\n    proxied:\n"
                "      names: [\"a.*.example.com\"]\n"
                "      edge-v4: [\"203.0.113.1\"]\n"),
       "t.yaml:8:15: zones[0].proxied.names[0]: bad name 'a.*.example.com'"},
      {"proxied without edges",
       WithHead("    file: z\n    proxied:\n      names: [www.example.com]\n"),
       "t.yaml:8:7: zones[0].proxied: needs at least one edge address"},
      {"proxied v6 address in edge-v4",
       WithHead("    file: z\n    proxied:\n      names: [www.example.com]\n"
                "      edge-v4: [\"2001:db8::1\"]\n"),
       "t.yaml:9:17: zones[0].proxied.edge-v4[0]: '2001:db8::1' is not an "
       "IPv4 address"},
      {"proxied v4-mapped in edge-v6",
       WithHead("    file: z\n    proxied:\n      names: [www.example.com]\n"
                "      edge-v6: [\"::ffff:192.0.2.1\"]\n"),
       "zones[0].proxied.edge-v6[0]: '::ffff:192.0.2.1' is not an IPv6"},
      {"proxied ttl too big",
       WithHead("    file: z\n    proxied:\n      names: [www.example.com]\n"
                "      edge-v4: [\"203.0.113.1\"]\n      ttl: 2147483648\n"),
       "t.yaml:10:12: zones[0].proxied.ttl: expected an integer in "
       "0..2147483647, got '2147483648'"},
      {"bad duration unit",
       "listen: [\"127.0.0.1:53\"]\nzones: []\nlimits:\n"
       "  tcp-idle-timeout: 30 seconds\n",
       "t.yaml:4:21: limits.tcp-idle-timeout: bad duration '30 seconds'"},
      {"duration without unit",
       "listen: [\"127.0.0.1:53\"]\nzones: []\nlimits:\n"
       "  upstream-query-timeout: 30\n",
       "t.yaml:4:27: limits.upstream-query-timeout: bad duration '30': "
       "missing unit"},
      {"zero duration",
       "listen: [\"127.0.0.1:53\"]\nzones: []\nlimits:\n"
       "  tcp-write-timeout: 0s\n",
       "limits.tcp-write-timeout: bad duration '0s': must be more than zero"},
      {"per-ip over total",
       "listen: [\"127.0.0.1:53\"]\nzones: []\nlimits:\n"
       "  tcp-connections: 10\n  tcp-connections-per-ip: 11\n",
       "t.yaml:5:27: limits.tcp-connections-per-ip: 11 is more than "
       "tcp-connections (10)"},
      {"bad integer", WithHead("    file: z\n    max-records: 1e6\n"),
       "t.yaml:7:18: zones[0].max-records: expected an integer in "
       "1..4000000000, got '1e6'"},
      {"negative journal", WithHead("    file: z\n    journal: {max-diffs: -1}\n"),
       "t.yaml:7:26: zones[0].journal.max-diffs: expected an integer"},
      {"bad bool", WithHead("    file: z\n    secondaries: [{address: "
                            "\"192.0.2.1\", notify: maybe}]\n"),
       "t.yaml:7:50: zones[0].secondaries[0].notify: expected true or false"},
      {"list expected", WithHead("    primaries: \"192.0.2.1\"\n"),
       "t.yaml:6:16: zones[0].primaries: expected a list"},
      {"empty primaries", WithHead("    primaries: []\n"),
       "t.yaml:6:16: zones[0].primaries: empty list"},
      {"duplicate listen", "listen: [\"127.0.0.1:53\", \"127.0.0.1\"]\nzones: []\n",
       "t.yaml:1:26: listen[1]: duplicate address 127.0.0.1:53"},
      {"http needs a port", "listen: [\"::1\"]\nhttp: 127.0.0.1\nzones: []\n",
       "t.yaml:2:7: http: bad address '127.0.0.1': missing ':port'"},
      {"bad zone name", WithHead("    file: z\n  - name: a..b\n    file: y\n"),
       "t.yaml:7:11: zones[1].name: bad name 'a..b'"},
      {"missing listen", "zones: []\n", "t.yaml:1:1: missing 'listen'"},
      {"missing zones", "listen: [\"::1\"]\n", "t.yaml:1:1: missing 'zones'"},
      {"top level is a list", "- a\n- b\n",
       "t.yaml:1:1: expected a mapping"},
      {"threads zero", "listen: [\"::1\"]\nzones: []\nthreads: 0\n",
       "t.yaml:3:10: threads: expected an integer in 1..1024"},
      {"empty file", "", "t.yaml: empty configuration"},
      {"YAML syntax error", "listen: [\"127.0.0.1:53\"\nzones: []\n",
       "t.yaml:2:"},
      {"YAML bad indentation",
       "listen: [\"::1\"]\nzones:\n  - name: a\n   file: b\n",
       "t.yaml:4:4: YAML: end of sequence not found"},
  };
  ExpectConfigErrors(cases);
}

TEST(ConfigTest, SecretIsNotEchoedInErrors) {
  absl::StatusOr<Config> c = LoadConfigText(
      "listen: [\"::1\"]\nzones: []\nkeys:\n"
      "  - {name: k, algorithm: hmac-sha1, secret: \"topsecret!!!\"}\n",
      "t.yaml", "");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(std::string(c.status().message()).find("topsecret"),
            std::string::npos)
      << c.status();
}

TEST(ConfigTest, ProxiedMatches) {
  absl::StatusOr<Config> c = LoadConfigText(
      WithHead("    file: z\n    proxied:\n"
               "      names: [example.com, \"*.cdn.example.com\"]\n"
               "      edge-v6: [\"2001:db8::1\"]\n"),
      "t.yaml", "");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->zones[0].proxied->ttl, 300u);
  // What the config names is what the rewrite matches.
  std::shared_ptr<const RewritePolicy> policy = MakeRewritePolicy(c->zones[0].proxied);
  const RewritePolicy& p = *policy;
  EXPECT_TRUE(p.Matches(N("EXAMPLE.com.")));
  EXPECT_FALSE(p.Matches(N("www.example.com.")));
  EXPECT_TRUE(p.Matches(N("a.cdn.example.com.")));
  EXPECT_TRUE(p.Matches(N("b.a.CDN.example.com.")));
  EXPECT_FALSE(p.Matches(N("cdn.example.com.")));  // strictly below
  EXPECT_FALSE(p.Matches(N("xcdn.example.com.")));
}

TEST(ConfigTest, DurationsParseAndFormat) {
  const struct {
    const char* text;
    absl::Duration want;
    const char* formatted;
  } cases[] = {
      {"30s", absl::Seconds(30), "30s"},
      {"500ms", absl::Milliseconds(500), "500ms"},
      {"2m", absl::Minutes(2), "2m"},
      {"1h30m", absl::Minutes(90), "1h30m"},
      {"1d", absl::Hours(24), "24h"},
      {"1m5s", absl::Seconds(65), "1m5s"},
      {"1s500ms", absl::Milliseconds(1500), "1500ms"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.text);
    absl::StatusOr<absl::Duration> d = ParseConfigDuration(c.text);
    ASSERT_TRUE(d.ok()) << d.status();
    EXPECT_EQ(*d, c.want);
    EXPECT_EQ(FormatConfigDuration(*d), c.formatted);
  }
  for (const char* bad :
       {"", "30", "s", "-1s", "1.5s", "30 s", "30sec", "0ms", "400d",
        "9999999999s", "inf"}) {
    EXPECT_FALSE(ParseConfigDuration(bad).ok()) << bad;
  }
}

TEST(ConfigTest, Base64) {
  const struct {
    const char* text;
    std::string want;
  } good[] = {
      {"", ""},
      {"Zg==", "f"},
      {"Zm8=", "fo"},
      {"Zm9v", "foo"},
      {"Zm9vYmFy", "foobar"},
      {"+/8=", std::string("\xfb\xff", 2)},
  };
  for (const auto& c : good) {
    absl::StatusOr<std::string> d = DecodeBase64(c.text);
    ASSERT_TRUE(d.ok()) << c.text << ": " << d.status();
    EXPECT_EQ(*d, c.want) << c.text;
  }
  for (const char* bad : {"Zg", "Zg=", "Z===", "====", "Zg==Zg==", "Zm9v\n",
                          "Zm 9", "Zm-v", "Z=9v"}) {
    EXPECT_FALSE(DecodeBase64(bad).ok()) << bad;
  }
}

class ConfigFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("xfr-config-test-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string Write(const std::string& name, const std::string& text) {
    std::string p = (dir_ / name).string();
    std::ofstream(p) << text;
    return p;
  }
  std::filesystem::path dir_;
};

TEST_F(ConfigFileTest, RelativeZoneFileIsResolvedAndChecked) {
  std::string cfg =
      Write("c.yaml",
            "listen: [\"127.0.0.1:5300\"]\nzones:\n"
            "  - name: example.com\n    file: example.com.zone\n");
  absl::StatusOr<Config> c = LoadConfig(cfg);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->zones[0].file, (dir_ / "example.com.zone").string());
  absl::Status missing = CheckZoneFiles(*c);
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(std::string(missing.message()).find(cfg + ":4:11: zones[0].file"),
            std::string::npos)
      << missing;
  Write("example.com.zone", "@ 3600 IN SOA ns hostmaster 1 2 3 4 5\n");
  EXPECT_TRUE(CheckZoneFiles(*c).ok());
  // A directory is not a zone file.
  std::filesystem::remove(dir_ / "example.com.zone");
  std::filesystem::create_directory(dir_ / "example.com.zone");
  EXPECT_FALSE(CheckZoneFiles(*c).ok());
}

TEST_F(ConfigFileTest, MissingConfigFile) {
  absl::StatusOr<Config> c = LoadConfig((dir_ / "nope.yaml").string());
  ASSERT_FALSE(c.ok());
  EXPECT_NE(std::string(c.status().message()).find("nope.yaml: cannot open"),
            std::string::npos)
      << c.status();
}

TEST_F(ConfigFileTest, ExampleConfigLoads) {
  absl::StatusOr<Config> c =
      LoadConfig(std::string(XFR_SOURCE_DIR) + "/examples/xfrproxy.yaml");
  ASSERT_TRUE(c.ok()) << c.status();
  ASSERT_EQ(c->zones.size(), 1u);
  EXPECT_EQ(c->zones[0].name, N("example.com."));
  EXPECT_TRUE(c->zones[0].has_file());
  EXPECT_TRUE(c->zones[0].allow_transfer.Contains(Ip("127.0.0.1")));
  EXPECT_TRUE(c->zones[0].allow_transfer.Contains(Ip("::1")));
  EXPECT_FALSE(c->zones[0].allow_transfer.Contains(Ip("192.0.2.1")));
  ASSERT_EQ(c->listen.size(), 2u);
  EXPECT_EQ(c->listen[1].ToString(), "[::1]:5300");
  ASSERT_TRUE(c->http.has_value());
  EXPECT_EQ(c->http->ToString(), "127.0.0.1:9153");
}

}  // namespace
}  // namespace xfr

namespace xfr {
namespace {

std::string Sources(std::string_view head, std::string_view zones) {
  return std::string(head) + "zones:\n" + std::string(zones);
}

// notify-source / transfer-source / verify-peers: the zone's value, else
// the global one, else the single listen address of the family.
TEST(ConfigSourceTest, SourceForFollowsZoneThenGlobalThenTheOnlyListenAddress) {
  struct Row {
    const char* name;
    std::string yaml;
    SourceKind kind;
    bool v6;
    std::optional<std::string> want;  // SocketAddress text
  };
  const std::string one_each = "listen: [\"127.0.0.1:5300\", \"[::1]:5300\"]\n";
  const std::string two_v4 = "listen: [\"127.0.0.1:5300\", \"127.0.0.2:5300\"]\n";
  const std::string wildcard = "listen: [\"0.0.0.0:53\"]\n";
  const std::string plain = "  - {name: a., file: z}\n";
  std::vector<Row> rows = {
      {"default: the only v4 listen address, any port", Sources(one_each, plain),
       SourceKind::kNotify, false, "127.0.0.1:0"},
      {"default: the only v6 listen address", Sources(one_each, plain), SourceKind::kNotify,
       true, "[::1]:0"},
      {"default for transfers too", Sources(one_each, plain), SourceKind::kTransfer, false,
       "127.0.0.1:0"},
      {"two v4 listen addresses: the kernel chooses", Sources(two_v4, plain),
       SourceKind::kNotify, false, std::nullopt},
      {"no v6 listen address: the kernel chooses", Sources(two_v4, plain), SourceKind::kNotify,
       true, std::nullopt},
      {"a wildcard listener says nothing", Sources(wildcard, plain), SourceKind::kNotify,
       false, std::nullopt},
      {"global notify-source", Sources(two_v4 + "notify-source: 127.0.0.9\n", plain),
       SourceKind::kNotify, false, "127.0.0.9:0"},
      {"global notify-source does not set transfer-source",
       Sources(two_v4 + "notify-source: 127.0.0.9\n", plain), SourceKind::kTransfer, false,
       std::nullopt},
      {"global with a port", Sources(one_each + "notify-source: \"127.0.0.9:5353\"\n", plain),
       SourceKind::kNotify, false, "127.0.0.9:5353"},
      {"explicit port 0", Sources(one_each + "notify-source: \"[::2]:0\"\n", plain),
       SourceKind::kNotify, true, "[::2]:0"},
      {"zone overrides global",
       Sources(one_each + "notify-source: 127.0.0.9\n",
               "  - {name: a., file: z, notify-source: 127.0.0.7}\n"),
       SourceKind::kNotify, false, "127.0.0.7:0"},
      {"zone v4 override leaves v6 to the default",
       Sources(one_each, "  - {name: a., file: z, notify-source: 127.0.0.7}\n"),
       SourceKind::kNotify, true, "[::1]:0"},
      {"a list: one per family",
       Sources(two_v4, "  - {name: a., file: z, transfer-source: [\"192.0.2.1\", \"2001:db8::1\"]}\n"),
       SourceKind::kTransfer, true, "[2001:db8::1]:0"},
  };
  for (const Row& r : rows) {
    absl::StatusOr<Config> c = LoadConfigText(r.yaml, "s.yaml", "");
    ASSERT_TRUE(c.ok()) << r.name << ": " << c.status();
    std::optional<SocketAddress> got = c->SourceFor(c->zones[0], r.kind, r.v6);
    EXPECT_EQ(got ? std::optional<std::string>(got->ToString()) : std::nullopt, r.want)
        << r.name;
  }
}

TEST(ConfigSourceTest, BadSourcesAreErrors) {
  const std::string head = "listen: [\"127.0.0.1:53\"]\n";
  struct Row {
    std::string yaml;
    const char* want;
  } rows[] = {
      {Sources(head, "  - {name: a., file: z, transfer-source: \"127.0.0.1:99\"}\n"),
       "zones[0].transfer-source: '127.0.0.1:99' is not an IP address (no port here)"},
      {Sources(head + "notify-source: [\"127.0.0.1\", \"127.0.0.2\"]\n", ""),
       "notify-source[1]: a second IPv4 address; one per family"},
      {Sources(head + "notify-source: ns1.example.\n", ""), "notify-source: bad address"},
      {Sources(head + "verify-peers: maybe\n", ""), "verify-peers"},
  };
  for (const Row& r : rows) {
    absl::StatusOr<Config> c = LoadConfigText(r.yaml, "s.yaml", "");
    ASSERT_FALSE(c.ok()) << r.yaml;
    EXPECT_NE(c.status().message().find(r.want), std::string::npos) << c.status();
  }
}

TEST(ConfigSourceTest, VerifyPeersDefaultsOffAndZonesInheritTheGlobalValue) {
  const std::string head = "listen: [\"127.0.0.1:53\"]\n";
  auto c = LoadConfigText(Sources(head, "  - {name: a., file: z}\n"), "s.yaml", "");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_FALSE(c->verify_peers);
  EXPECT_FALSE(c->zones[0].verify_peers);
  c = LoadConfigText(Sources(head + "verify-peers: true\n",
                             "  - {name: a., file: z}\n"
                             "  - {name: b., file: z, verify-peers: false}\n"),
                     "s.yaml", "");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_TRUE(c->zones[0].verify_peers);
  EXPECT_FALSE(c->zones[1].verify_peers);
}

}  // namespace
}  // namespace xfr
