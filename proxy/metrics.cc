#include "proxy/metrics.h"

#include <algorithm>
#include <cstdint>

#include "fmt/format.h"
#include "proxy/log.h"

namespace xfr {

namespace {

// Zones in canonical order (RFC 4034 §6.1), so every page lists them the
// same way whatever the hash map's order is.
std::vector<const LiveZone*> SortedZones(const ZoneStore& store) {
  std::vector<LiveZone*> entries = store.entries();
  std::vector<const LiveZone*> zones(entries.begin(), entries.end());
  std::sort(zones.begin(), zones.end(), [](const LiveZone* a, const LiveZone* b) {
    return CompareCanonical(a->name(), b->name()) < 0;
  });
  return zones;
}

// The refresh state lives beside the snapshot (a refresh changes no data),
// so the countdown is the LiveZone's, not the snapshot's.
bool Expired(const LiveZone& lz, const ServedZone& z, absl::Time now) {
  return !z.never_expires && lz.ExpireRemaining(z, now) == 0;
}

// One metric family: the HELP and TYPE lines (format 0.0.4), then samples.
// The help texts here are constants without backslashes or line feeds, so
// they need no escaping.
void Family(std::string& out, std::string_view name, std::string_view type,
            std::string_view help) {
  out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
}

void Sample(std::string& out, std::string_view name, uint64_t value) {
  out += fmt::format("{} {}\n", name, value);
}

void Sample(std::string& out, std::string_view name, std::string_view label,
            std::string_view label_value, uint64_t value) {
  out += fmt::format("{}{{{}=\"{}\"}} {}\n", name, label, EscapeLabelValue(label_value),
                     value);
}

// A family with one unlabelled sample.
void Single(std::string& out, std::string_view name, std::string_view type,
            std::string_view help, uint64_t value) {
  Family(out, name, type, help);
  Sample(out, name, value);
}

void CounterMetric(std::string& out, std::string_view name, std::string_view help,
                   const Counter& c) {
  Single(out, name, "counter", help, c.Get());
}

std::string Rfc3339(absl::Time t) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", t, absl::UTCTimeZone());
}

// Length of the valid UTF-8 sequence at s[i] (RFC 3629 §4), 0 if invalid.
size_t Utf8Length(std::string_view s, size_t i) {
  auto b = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  unsigned char c = b(i);
  size_t len;
  uint32_t min;
  if (c < 0x80) return 1;
  if ((c & 0xe0) == 0xc0) {
    len = 2;
    min = 0x80;
  } else if ((c & 0xf0) == 0xe0) {
    len = 3;
    min = 0x800;
  } else if ((c & 0xf8) == 0xf0) {
    len = 4;
    min = 0x10000;
  } else {
    return 0;
  }
  if (i + len > s.size()) return 0;
  uint32_t cp = c & (0x7f >> len);
  for (size_t k = 1; k < len; ++k) {
    if ((b(i + k) & 0xc0) != 0x80) return 0;
    cp = (cp << 6) | (b(i + k) & 0x3f);
  }
  // Overlong forms, surrogates and values past U+10FFFF are not UTF-8.
  if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return 0;
  return len;
}

}  // namespace

std::string EscapeLabelValue(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    switch (c) {
      case '\\': out += "\\\\"; break;
      case '"': out += "\\\""; break;
      case '\n': out += "\\n"; break;
      default: out += c;
    }
  }
  return out;
}

std::string JsonString(std::string_view value) {
  std::string out = "\"";
  for (size_t i = 0; i < value.size();) {
    char c = value[i];
    auto u = static_cast<unsigned char>(c);
    if (u >= 0x80) {
      size_t len = Utf8Length(value, i);
      if (len == 0) {
        out += "\\ufffd";
        ++i;
      } else {
        out.append(value.substr(i, len));
        i += len;
      }
      continue;
    }
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (u < 0x20 || u == 0x7f) {
          out += fmt::format("\\u{:04x}", u);
        } else {
          out += c;
        }
    }
    ++i;
  }
  out += '"';
  return out;
}

std::string RenderMetrics(const ServerStats& stats, const ZoneStore& store,
                          absl::Time now, const PeerSource& peers,
                          const MetricsOptions& options) {
  std::string out;
  CounterMetric(out, "xfrproxy_udp_queries_total", "DNS messages received over UDP.",
                stats.udp_queries);
  CounterMetric(out, "xfrproxy_udp_dropped_total",
                "UDP messages dropped unanswered (malformed beyond answering, or "
                "truncated reads).",
                stats.udp_dropped);
  CounterMetric(out, "xfrproxy_tcp_queries_total", "DNS messages received over TCP.",
                stats.tcp_queries);
  CounterMetric(out, "xfrproxy_tcp_connections_accepted_total",
                "TCP connections accepted.", stats.tcp_accepted);

  // One family with a reason label: the sum is "connections the server cut".
  constexpr std::string_view kClosed = "xfrproxy_tcp_connections_closed_total";
  Family(out, kClosed, "counter",
         "TCP connections closed by the server: over a connection limit (at once), "
         "idle (RFC 7766 section 6.2.3), a client not reading its answer, or "
         "waiting too long behind the per-address limit.");
  Sample(out, kClosed, "reason", "over_limit", stats.tcp_refused_cap.Get());
  Sample(out, kClosed, "reason", "idle", stats.tcp_idle_closed.Get());
  Sample(out, kClosed, "reason", "write_timeout", stats.tcp_write_timeouts.Get());
  Sample(out, kClosed, "reason", "wait_timeout", stats.tcp_wait_timeouts.Get());
  CounterMetric(out, "xfrproxy_tcp_connection_waits_total",
                "TCP connections that waited, unread, behind tcp-connections-per-ip.",
                stats.tcp_waits);
  CounterMetric(out, "xfrproxy_tcp_connection_wait_timeouts_total",
                "TCP connections closed after waiting tcp-idle-timeout behind "
                "tcp-connections-per-ip.",
                stats.tcp_wait_timeouts);
  Single(out, "xfrproxy_tcp_connections_waiting", "gauge",
         "TCP connections waiting now behind tcp-connections-per-ip.",
         static_cast<uint64_t>(std::max<int64_t>(0, stats.tcp_waiting.Get())));
  CounterMetric(out, "xfrproxy_tcp_errors_total",
                "TCP socket errors other than resets by the client.", stats.tcp_errors);

  CounterMetric(out, "xfrproxy_responses_total", "DNS responses sent.", stats.responses);
  // NOERROR is not counted on its own, so the rcode label covers the error
  // answers only; it is a separate family from responses_total rather than a
  // label on it, which would make sum() count answers twice.
  constexpr std::string_view kRcode = "xfrproxy_error_responses_total";
  Family(out, kRcode, "counter", "Responses with an error RCODE, by RCODE.");
  Sample(out, kRcode, "rcode", "FORMERR", stats.formerr.Get());
  Sample(out, kRcode, "rcode", "SERVFAIL", stats.servfail.Get());
  Sample(out, kRcode, "rcode", "NOTIMP", stats.notimp.Get());
  Sample(out, kRcode, "rcode", "REFUSED", stats.refused.Get());
  Sample(out, kRcode, "rcode", "NOTAUTH", stats.notauth.Get());

  CounterMetric(out, "xfrproxy_transfers_started_total",
                "Zone transfers (AXFR and IXFR) started to secondaries.",
                stats.transfers_started);
  CounterMetric(out, "xfrproxy_transfers_completed_total",
                "Zone transfers whose last message was sent.", stats.transfers_done);
  CounterMetric(out, "xfrproxy_transfer_messages_total",
                "DNS messages sent in zone transfers.", stats.transfer_messages);
  CounterMetric(out, "xfrproxy_transfer_bytes_total",
                "Bytes sent in zone transfers, length prefixes included.",
                stats.transfer_bytes);

  CounterMetric(out, "xfrproxy_notify_received_total",
                "NOTIFY messages accepted for zones that follow a primary.",
                stats.notify_received);
  CounterMetric(out, "xfrproxy_notify_refused_total",
                "NOTIFY messages refused (unknown zone, source or key).",
                stats.notify_refused);
  CounterMetric(out, "xfrproxy_ixfr_ahead_of_us_total",
                "IXFR requests from a serial newer than ours (taken as a refresh hint).",
                stats.ahead_of_us);
  CounterMetric(out, "xfrproxy_deferred_requests_total",
                "Requests that waited on an upstream transfer (single flight).",
                stats.deferred);
  CounterMetric(out, "xfrproxy_upstream_soa_queries_total",
                "SOA checks sent to primaries.", stats.upstream_soa_queries);
  CounterMetric(out, "xfrproxy_upstream_soa_failures_total",
                "SOA checks that failed (timeout, refusal, bad answer).",
                stats.upstream_soa_failures);
  constexpr std::string_view kUp = "xfrproxy_upstream_transfers_total";
  Family(out, kUp, "counter",
         "Transfers from primaries that produced a new version, by how it came.");
  Sample(out, kUp, "kind", "ixfr", stats.upstream_ixfr.Get());
  Sample(out, kUp, "kind", "axfr", stats.upstream_axfr.Get());
  CounterMetric(out, "xfrproxy_upstream_up_to_date_total",
                "Transfers answered with our own serial (nothing to do).",
                stats.upstream_up_to_date);
  CounterMetric(out, "xfrproxy_upstream_transfer_failures_total",
                "Transfers from primaries dropped as broken; the old version stayed.",
                stats.upstream_transfer_failures);
  CounterMetric(out, "xfrproxy_upstream_axfr_fallbacks_total",
                "IXFR attempts that fell back to AXFR.", stats.upstream_axfr_fallbacks);
  CounterMetric(out, "xfrproxy_upstream_refresh_failures_total",
                "Refreshes (SOA check and transfer) that ended without success, "
                "including those that could not start.",
                stats.upstream_refresh_failures);
  CounterMetric(out, "xfrproxy_zones_expired_total",
                "Times a zone passed its EXPIRE without contact with a primary.",
                stats.zones_expired);
  CounterMetric(out, "xfrproxy_zone_file_refusals_total",
                "Zone files not served (unreadable, syntax, zone checks, serial not "
                "increased); the zone kept its last good version.",
                stats.zone_file_refusals);
  Single(out, "xfrproxy_log_lines_suppressed_total", "counter",
         "Log lines held back by the rate limit on messages peers can cause.",
         LogLinesSuppressed());

  std::vector<const LiveZone*> zones = SortedZones(store);
  Single(out, "xfrproxy_zones", "gauge", "Zones configured.", zones.size());

  // A zone without data has only zone_loaded 0: a serial or record count of
  // 0 would read as real data.
  struct Row {
    std::string name;
    const LiveZone* lz;
    std::shared_ptr<const ServedZone> z;  // null: no data yet
  };
  // Names are only rendered for the series that need them.
  const bool per_zone_series = options.PerZone(zones.size());
  std::vector<Row> rows;
  uint64_t loaded = 0;
  uint64_t expired = 0;
  uint64_t degraded = 0;
  for (const LiveZone* lz : zones) {
    std::shared_ptr<const ServedZone> z = lz->Current();
    if (z) {
      ++loaded;
      if (Expired(*lz, *z, now)) ++expired;
      auto h = lz->refresh_health(now);
      if (h && h->state == RefreshHealth::kDegraded) ++degraded;
    }
    if (per_zone_series) rows.push_back({lz->name().ToText(), lz, std::move(z)});
  }
  // The totals an operator alerts on, there whether per-zone series are or not.
  Single(out, "xfrproxy_zones_loaded", "gauge", "Zones with data to serve.", loaded);
  Single(out, "xfrproxy_zones_expired_now", "gauge",
         "Zones whose data has expired and is answered SERVFAIL.", expired);
  Single(out, "xfrproxy_zones_degraded", "gauge",
         "Zones whose refresh has failed for longer than their SOA REFRESH.", degraded);

  if (per_zone_series) {
    constexpr std::string_view kLoadedName = "xfrproxy_zone_loaded";
    Family(out, kLoadedName, "gauge", "1 when the zone has data to serve, else 0.");
    for (const Row& r : rows) Sample(out, kLoadedName, "zone", r.name, r.z ? 1 : 0);
  }
  auto per_zone = [&](std::string_view metric, std::string_view help, auto value) {
    if (!per_zone_series) return;
    Family(out, metric, "gauge", help);
    for (const Row& r : rows) {
      if (r.z) Sample(out, metric, "zone", r.name, value(*r.lz, *r.z));
    }
  };
  per_zone("xfrproxy_zone_serial", "SOA serial of the version being served.",
           [](const LiveZone&, const ServedZone& z) -> uint64_t { return z.serial().value(); });
  per_zone("xfrproxy_zone_records", "Records in the version being served.",
           [](const LiveZone&, const ServedZone& z) -> uint64_t { return z.version->size(); });
  per_zone("xfrproxy_zone_journal_diffs",
           "Diffs kept for IXFR (RFC 1995): serials a secondary can update from.",
           [](const LiveZone&, const ServedZone& z) -> uint64_t { return z.journal.size(); });
  per_zone("xfrproxy_zone_expire_seconds_remaining",
           "Seconds until the data expires without contact with a primary "
           "(RFC 7314); the full SOA EXPIRE for a zone loaded from a file, which "
           "never expires.",
           [now](const LiveZone& lz, const ServedZone& z) -> uint64_t {
             return lz.ExpireRemaining(z, now);
           });
  per_zone("xfrproxy_zone_expired", "1 when the data has expired and is answered SERVFAIL.",
           [now](const LiveZone& lz, const ServedZone& z) -> uint64_t {
             return Expired(lz, z, now) ? 1 : 0;
           });
  per_zone("xfrproxy_zone_refresh_degraded",
           "1 when the zone's refresh from its primaries has failed for longer than "
           "its SOA REFRESH.",
           [now](const LiveZone& lz, const ServedZone&) -> uint64_t {
             auto h = lz.refresh_health(now);
             return h && h->state == RefreshHealth::kDegraded ? 1 : 0;
           });
  per_zone("xfrproxy_zone_refresh_failures",
           "Refreshes in a row that failed (0 after a good contact).",
           [now](const LiveZone& lz, const ServedZone&) -> uint64_t {
             auto h = lz.refresh_health(now);
             return h ? h->failures : 0;
           });
  per_zone("xfrproxy_zone_published_timestamp_seconds",
           "Unix time the version being served was published.",
           [](const LiveZone&, const ServedZone& z) -> uint64_t {
             int64_t s = absl::ToUnixSeconds(z.refreshed_at);
             return s < 0 ? 0 : static_cast<uint64_t>(s);
           });
  if (peers) {
    // One PeerSource call per zone with secondaries; zones without any are
    // left out rather than shown as 0 of 0.
    struct Counts {
      std::string name;
      uint64_t total = 0;
      uint64_t in_sync = 0;
    };
    std::vector<Counts> counts;
    for (const LiveZone* lz : zones) {
      if (!lz->peers()) continue;
      Counts c{lz->name().ToText()};
      for (const PeerReport& p : peers(*lz)) {
        ++c.total;
        if (p.state == "in-sync") ++c.in_sync;
      }
      counts.push_back(std::move(c));
    }
    uint64_t total = 0;
    uint64_t in_sync = 0;
    for (const Counts& c : counts) {
      total += c.total;
      in_sync += c.in_sync;
    }
    Single(out, "xfrproxy_peers_all_zones", "gauge",
           "Secondaries configured, summed over every zone.", total);
    Single(out, "xfrproxy_peers_in_sync_all_zones", "gauge",
           "Secondaries holding the served serial (or a newer one), summed over every zone.",
           in_sync);
    if (per_zone_series) {
      Family(out, "xfrproxy_peers", "gauge", "Secondaries configured for the zone.");
      for (const Counts& c : counts) Sample(out, "xfrproxy_peers", "zone", c.name, c.total);
      Family(out, "xfrproxy_peers_in_sync", "gauge",
             "Secondaries known to hold the served serial (or a newer one).");
      for (const Counts& c : counts) {
        Sample(out, "xfrproxy_peers_in_sync", "zone", c.name, c.in_sync);
      }
    }
  }
  return out;
}

HealthReport RenderHealth(const ZoneStore& store, absl::Time now) {
  HealthReport r;
  for (const LiveZone* lz : SortedZones(store)) {
    std::shared_ptr<const ServedZone> z = lz->Current();
    auto h = lz->refresh_health(now);
    bool degraded = z && h && h->state == RefreshHealth::kDegraded;
    if (z && !Expired(*lz, *z, now) && !degraded) continue;
    r.healthy = false;
    if (degraded) {
      // Still served, but the secondaries behind us may be missing changes.
      r.text += fmt::format("{} degraded: refresh failing since {}: {}\n", lz->name().ToText(),
                            Rfc3339(*h->failing_since), h->last_error);
      continue;
    }
    r.text += fmt::format("{} {}\n", lz->name().ToText(), z ? "expired" : "not loaded");
  }
  if (r.healthy) r.text = "ok\n";
  return r;
}

std::string PeerReportJson(const PeerReport& p) {
  auto opt_time = [](const std::optional<absl::Time>& t) {
    return t ? JsonString(Rfc3339(*t)) : std::string("null");
  };
  return fmt::format(
      "{{\"address\":{},\"state\":{},\"serial\":{},\"seconds_behind\":{},"
      "\"last_notify\":{},\"last_seen\":{},\"last_error\":{},\"shared_address\":{}}}",
      JsonString(p.address), JsonString(p.state),
      p.serial ? fmt::format("{}", p.serial->value()) : std::string("null"), p.seconds_behind,
      opt_time(p.last_notify), opt_time(p.last_seen),
      p.last_error.empty() ? std::string("null") : JsonString(p.last_error), p.shared_address);
}

std::string RenderPeersJson(const ZoneStore& store, absl::Time now,
                            const PeerSource& peers) {
  std::string out = "{\"zones\":[";
  bool first = true;
  for (const LiveZone* lz : SortedZones(store)) {
    out += first ? "\n" : ",\n";
    first = false;
    std::shared_ptr<const ServedZone> z = lz->Current();
    out += fmt::format("{{\"name\":{},\"loaded\":{}", JsonString(lz->name().ToText()),
                       z ? "true" : "false");
    if (z) {
      out += fmt::format(
          ",\"serial\":{},\"records\":{},\"expired\":{},\"expire_seconds_remaining\":{},"
          "\"published_at\":{},\"journal_serials\":[",
          z->serial().value(), z->version->size(), Expired(*lz, *z, now) ? "true" : "false",
          lz->ExpireRemaining(*z, now), JsonString(Rfc3339(z->refreshed_at)));
      // The serials a secondary can ask an IXFR from, oldest first.
      for (size_t i = 0; i < z->journal.size(); ++i) {
        out += fmt::format("{}{}", i ? "," : "", z->journal[i]->from().value());
      }
      out += "]";
      if (auto h = lz->refresh_health(now)) {
        out += fmt::format(",\"refresh\":{{\"state\":{},\"failures\":{},\"last_error\":{}}}",
                           JsonString(RefreshHealthName(h->state)), h->failures,
                           h->last_error.empty() ? std::string("null") : JsonString(h->last_error));
      }
    } else {
      out +=
          ",\"serial\":null,\"records\":null,\"expired\":null,"
          "\"expire_seconds_remaining\":null,\"published_at\":null,\"journal_serials\":[]";
    }
    // Extension point: per-secondary NOTIFY state from the fan-out piece.
    out += ",\"peers\":[";
    if (peers) {
      std::vector<PeerReport> list = peers(*lz);
      for (size_t i = 0; i < list.size(); ++i) {
        if (i) out += ',';
        out += PeerReportJson(list[i]);
      }
    }
    out += "]}";
  }
  out += first ? "]}\n" : "\n]}\n";
  return out;
}

}  // namespace xfr
