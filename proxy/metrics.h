// What the HTTP endpoint serves at /metrics (the Prometheus text exposition
// format 0.0.4), /healthz, and /peers as JSON; proxy/http_routes.h routes
// requests here.
// Everything here only reads: relaxed counters (proxy/stats.h) and the
// published zone snapshots (LiveZone::Current()), so rendering on the HTTP
// thread takes no lock the serving threads could wait on.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/time/time.h"
#include "core/serial.h"
#include "proxy/metrics_options.h"
#include "proxy/stats.h"
#include "proxy/zone_store.h"

namespace xfr {

// The exposition format's escaping of a label value: backslash, double
// quote and line feed become \\, \" and \n.
std::string EscapeLabelValue(std::string_view value);

// A JSON string literal, quotes included (RFC 8259 §7): ", \ and the
// control characters escaped; bytes that are not valid UTF-8 (a zone name
// label may hold any octet) become U+FFFD so the document stays valid.
std::string JsonString(std::string_view value);

// Per-peer NOTIFY / transfer state of one zone's secondaries; see below.
struct PeerReport;
using PeerSource = std::function<std::vector<PeerReport>(const LiveZone&)>;

// With `peers`, also the peer gauges (xfrproxy_peers, xfrproxy_peers_in_sync)
// for zones that have secondaries. Per-zone series only as `options` allow
// for the store's number of zones; the zone and peer totals always.
std::string RenderMetrics(const ServerStats& stats, const ZoneStore& store,
                          absl::Time now, const PeerSource& peers = nullptr,
                          const MetricsOptions& options = {});

// Healthy when every configured zone has data and none has expired (an
// expired zone is answered SERVFAIL, as RFC 1035 §4.3.5 has it). The text is
// "ok\n", or one line per zone that is not served, e.g.
// "example.com. not loaded\n".
struct HealthReport {
  bool healthy = true;
  std::string text;
};
HealthReport RenderHealth(const ZoneStore& store, absl::Time now);

// Per-peer NOTIFY / transfer state of one zone's secondaries. The fan-out
// piece (fanout/) fills it through a PeerSource; until then /peers lists no
// peers.
struct PeerReport {
  std::string address;                 // "198.51.100.7:53"
  std::string state;                   // PeerSyncName(): "in-sync", "notified", ...
  std::optional<Serial> serial;        // the last serial the peer is known to have
  int64_t seconds_behind = 0;          // since the served serial was published; 0 in sync
  std::optional<absl::Time> last_notify;  // last NOTIFY sent to it
  std::optional<absl::Time> last_seen;    // last query or NOTIFY answer from it
  std::string last_error;              // empty when none
  // Another secondary of the zone has the same IP address: transfers from
  // that address are credited to both (fanout/peer_state.h).
  bool shared_address = false;
};
// One peer as a JSON object, as /peers and `xfrproxy ctl --json peers` give it.
std::string PeerReportJson(const PeerReport& p);
// PeerSource is called on the HTTP thread; it must be safe to call
// concurrently with the zone's owner (read atomics or a snapshot).

// {"zones":[{"name":..,"loaded":..,"serial":..,"records":..,"expired":..,
//  "expire_seconds_remaining":..,"published_at":..,"journal_serials":[..],
//  "peers":[..]}, ...]}, zones in canonical name order.
std::string RenderPeersJson(const ZoneStore& store, absl::Time now,
                            const PeerSource& peers = nullptr);

}  // namespace xfr
