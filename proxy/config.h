// The xfrproxy configuration: the YAML file described in
// docs/configuration.md, parsed and checked into plain values.
//
// Loading is strict: an unknown key, a duplicate key or zone, a reference to
// an undefined TSIG key, a bad address or a malformed value is an error that
// names the file, the line and column, and the path of the field, e.g.
//   xfrproxy.yaml:14:7: zones[0].primaries[1]: bad address '192.0.2.300:53'
// and nothing starts. A typo must never be silently ignored in a file that
// controls who may read a zone.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "core/name.h"
#include "core/tsig_key.h"
#include "proxy/log.h"
#include "proxy/metrics_options.h"
#include "proxy/net_address.h"
#include "proxy/run_as.h"

namespace xfr {

// A TSIG key (RFC 8945 §4.2 / §6). The algorithm is kept as text so that the
// config does not depend on the TSIG implementation; it is one of
// kTsigAlgorithms, lower case, without a trailing dot.
struct TsigKeyConfig {
  Name name;
  std::string algorithm;  // "hmac-sha256"
  std::string secret;     // decoded bytes
};

inline constexpr std::string_view kTsigAlgorithms[] = {
    "hmac-sha1", "hmac-sha224", "hmac-sha256", "hmac-sha384", "hmac-sha512"};

// A downstream secondary of a zone: NOTIFY goes to `address` (RFC 1996).
struct SecondaryConfig {
  SocketAddress address;           // default port 53
  std::optional<Name> key;         // a key in Config::keys
  bool notify = true;
};

// One entry of proxied.names.
struct ProxiedName {
  Name name;              // the exact name, or the suffix of a wildcard
  bool wildcard = false;  // "*.suffix": every name strictly below `name`
};

// The rewrite policy of a zone (README "Proxied names").
struct ProxiedConfig {
  std::vector<ProxiedName> names;
  std::vector<IpAddress> edge_v4;
  std::vector<IpAddress> edge_v6;
  uint32_t ttl = 300;

};

// Where outgoing traffic leaves from (`notify-source`, `transfer-source`):
// at most one address per family. Port 0 means any port; transfer-source
// never has a port (each transfer is its own TCP connection).
struct SourceConfig {
  std::optional<SocketAddress> v4;
  std::optional<SocketAddress> v6;
  bool empty() const { return !v4 && !v6; }
  friend bool operator==(const SourceConfig&, const SourceConfig&) = default;
};

enum class SourceKind : uint8_t { kNotify, kTransfer };

struct ZoneConfig {
  Name name;
  // Exactly one of primaries / file is set.
  std::vector<SocketAddress> primaries;  // in order of preference
  std::optional<Name> primary_key;       // signs upstream requests
  std::string file;  // a master file, absolute or relative to the CWD
  // `catalog: produce` (or the top-level `produce-catalog:`): neither
  // primaries nor file; the zone is the RFC 9432 catalog of every other
  // zone configured, generated here (fanout/catalog.h).
  bool produce_catalog = false;

  // NOTIFY (opcode 4) is accepted from these. When the key is absent it is
  // the primaries' addresses: a primary notifying its secondary is the
  // normal case; other senders must be listed.
  CidrSet notify_from;
  // `notify-key: required`: only NOTIFYs signed with primary_key are
  // accepted. The default (`optional`) accepts an unsigned NOTIFY from
  // notify-from, as BIND and Knot do: it only triggers an SOA check, and
  // that check is signed with primary_key (RFC 1996 §3.11, RFC 8945 §5).
  // A signed NOTIFY must always carry primary_key. Requires primary_key.
  bool notify_key_required = false;
  // The address ACL for AXFR/IXFR, always applied, signed or not. When the
  // key is absent it is the addresses of the zone's `secondaries` (so nobody
  // when there are none): the peers the proxy notifies can come back for the
  // data, and nobody else can walk the zone by accident. `allow-transfer:
  // []` refuses everyone, and ["0.0.0.0/0", "::/0"] allows everyone. A
  // secondary's `key` adds a requirement at its address (requests from
  // there must be signed with it); it never admits an address this ACL
  // leaves out.
  CidrSet allow_transfer;
  bool allow_transfer_explicit = false;

  std::vector<SecondaryConfig> secondaries;
  uint32_t journal_max_diffs = 100;  // 0: no journal, IXFR falls back to AXFR
  uint64_t max_records = 10'000'000;  // larger transfers are dropped
  std::optional<ProxiedConfig> proxied;

  // Overrides of the global notify-source / transfer-source, per family.
  SourceConfig notify_source;
  SourceConfig transfer_source;
  // After a NOTIFY, query the SOA of secondaries that did not come for the
  // data (fanout/peer_verify.h). The zone's key, else the global one.
  bool verify_peers = false;

  // Where the zone was defined, "xfrproxy.yaml:12:5: zones[0]", for messages.
  std::string origin;
  // Where `file:` was given, for messages about the file.
  std::string file_origin;
  // The `templates:` entry the zone was layered on ("" for none), so that
  // `check` can say where a setting the zone does not write came from.
  std::string template_id;

  bool has_file() const { return !file.empty(); }
  // xfrproxy is the zone's primary: nothing to follow, nothing expires.
  bool is_local() const { return has_file() || produce_catalog; }
};

// A `templates:` entry: settings shared by the zones that name it (or by
// every zone naming none, for the one called `default`). `zone` holds them
// as parsed on their own: its name is the root, and `file` is empty; a file
// pattern is kept in `file_pattern`, with `%s` standing for the zone name
// (made absolute like every path, a '%' of the directory written '%%').
struct ZoneTemplateConfig {
  std::string id;
  ZoneConfig zone;
  std::string file_pattern;
  std::string origin;  // "xfrproxy.yaml:3:5: templates[0]"
};

// The configuration of zone `zone` made from template `t` alone, as for a
// zone added at run time (a catalog member whose group names a template):
// its name set, its file pattern expanded, its proxied names checked to be
// inside it. Without primaries or file in the template, the caller gives
// the zone its source. Errors name the template's line.
absl::StatusOr<ZoneConfig> ZoneFromTemplate(const ZoneTemplateConfig& t, const Name& zone);

// `file_pattern` with each `%s` replaced by `zone` in lower case without
// its final dot (the root zone as "root"), and `%%` by '%'. An error when
// the name holds a '/', which would put the file in another directory.
absl::StatusOr<std::string> ExpandZoneFilePattern(std::string_view file_pattern,
                                                  const Name& zone);

// Server limits; the defaults suit a few thousand secondaries on one host.
struct LimitsConfig {
  // RFC 7766 §6.2.2: servers should cap connections, per client too. Over
  // tcp-connections a new connection is closed at once. Over
  // tcp-connections-per-ip it waits, unread, until a connection of its
  // address closes (first come, first served), or is closed after
  // tcp-idle-timeout: closing it would lose the query of a busy client.
  // 256 per address, so that a provider's single transfer server pulling
  // hundreds of zones at once does not even wait (knotd has no per-address
  // cap by default; BIND has none either).
  uint32_t tcp_connections = 10000;
  uint32_t tcp_connections_per_ip = 256;
  // RFC 7766 §6.2.3: idle connections are closed; BIND and Knot use tens of
  // seconds. It also bounds how long a connection waits for its address's
  // turn.
  absl::Duration tcp_idle_timeout = absl::Seconds(30);
  // A peer that stops reading an AXFR is dropped after this.
  absl::Duration tcp_write_timeout = absl::Seconds(30);
  // Outgoing AXFR/IXFR answers in progress at once; more are refused
  // (RFC 5936 §4.2 allows a server to refuse for resource reasons).
  uint32_t max_concurrent_transfers = 1000;
  // Upstream: SOA queries over UDP, TCP connect, silence during a transfer,
  // and the whole transfer (BIND's max-transfer-time-in is 120 min).
  absl::Duration upstream_query_timeout = absl::Seconds(3);
  absl::Duration upstream_connect_timeout = absl::Seconds(5);
  absl::Duration upstream_idle_timeout = absl::Seconds(30);
  absl::Duration upstream_transfer_timeout = absl::Minutes(120);
};

struct Config {
  std::string path;  // the file it was read from, as given
  std::vector<SocketAddress> listen;       // UDP and TCP on each
  std::optional<SocketAddress> http;       // /metrics, /healthz, /peers
  std::string state_dir;                   // empty: nothing is persisted
  // The Unix socket of `xfrproxy ctl` (`control:`, else <state-dir>/control);
  // empty: no control socket.
  std::string control_socket;
  int threads = 1;                         // resolved: default is the cores
  std::vector<TsigKeyConfig> keys;
  std::vector<ZoneTemplateConfig> templates;
  std::vector<ZoneConfig> zones;
  LimitsConfig limits;
  LogSettings log;  // `log:`; level and target change on reload too
  MetricsOptions metrics;  // `metrics:`; changes on reload too
  // Defaults for every zone (a zone's own key overrides, per family).
  SourceConfig notify_source;
  SourceConfig transfer_source;
  bool verify_peers = false;
  // `user:` / `group:`: the account to switch to, started as root, once
  // the sockets are bound (proxy/run_as.h).
  std::optional<RunAsConfig> run_as;

  const TsigKeyConfig* FindKey(const Name& name) const;
  const ZoneConfig* FindZone(const Name& name) const;
  const ZoneTemplateConfig* FindTemplate(std::string_view id) const;
  // The local address `zone`'s NOTIFYs (kNotify) or upstream transfers
  // (kTransfer) to a peer of family `v6` leave from: the zone's
  // `*-source` for that family, else the global one, else, when `listen`
  // has exactly one address of that family and it is not the wildcard,
  // that address with port 0 (so that a peer's ACL on the proxy's address
  // also admits its NOTIFYs and transfers). nullopt: the kernel chooses.
  std::optional<SocketAddress> SourceFor(const ZoneConfig& zone, SourceKind kind,
                                         bool v6) const;
};

// The TSIG key a config entry describes (the loader has checked the
// algorithm, so this only fails on a Config built by hand).
std::optional<TsigKey> TsigKeyFromConfig(const TsigKeyConfig& k);
// The key `name` refers to, if any.
std::optional<TsigKey> FindTsigKeyConfig(const Config& config, const std::optional<Name>& name);

// Reads and checks the file. Relative paths in it (zone files, state-dir)
// are relative to the file's directory.
absl::StatusOr<Config> LoadConfig(const std::string& path);

// Parses `text`; messages name `display_name`, and relative paths are
// resolved against `base_dir`.
absl::StatusOr<Config> LoadConfigText(std::string_view text,
                                      std::string_view display_name,
                                      std::string_view base_dir);

// What `check` adds to loading: every `file:` zone's file exists, is a
// regular file and is readable. The error names the config line.
absl::Status CheckZoneFiles(const Config& config);

// Parses "30s", "500ms", "2m", "1h30m", "1d". A unit is required.
absl::StatusOr<absl::Duration> ParseConfigDuration(std::string_view text);
// The shortest of those forms: "30s", "1h30m", "500ms".
std::string FormatConfigDuration(absl::Duration d);

// Decodes standard base64 (RFC 4648 §4) with padding; whitespace is not
// allowed. An error for anything else.
absl::StatusOr<std::string> DecodeBase64(std::string_view text);

}  // namespace xfr
