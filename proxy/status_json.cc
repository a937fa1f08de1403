#include "proxy/status_json.h"

#include <algorithm>

#include "absl/strings/str_join.h"
#include "fmt/format.h"

namespace xfr {
namespace {

std::string Time(std::optional<absl::Time> t) {
  if (!t) return "null";
  return JsonString(absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", *t, absl::UTCTimeZone()));
}

// Whole seconds from `t` to `now`, never negative (a time a moment in the
// future, from another thread's clock read, is "0 seconds ago").
std::string SecondsAgo(std::optional<absl::Time> t, absl::Time now) {
  if (!t) return "null";
  return fmt::format("{}", std::max<int64_t>(0, absl::ToInt64Seconds(now - *t)));
}

std::string Text(std::string_view s) { return s.empty() ? std::string("null") : JsonString(s); }

template <typename T>
std::string Number(const std::optional<T>& v) {
  return v ? fmt::format("{}", *v) : std::string("null");
}

std::string PeerJson(const PeerReport& p, std::optional<uint32_t> served, absl::Time now) {
  return fmt::format(
      "{{\"address\":{},\"state\":{},\"serial\":{},\"serials_behind\":{},"
      "\"seconds_behind\":{},\"last_notify\":{},\"last_seen\":{},\"seen_seconds_ago\":{},"
      "\"last_error\":{},\"shared_address\":{}}}",
      JsonString(p.address), JsonString(p.state),
      p.serial ? fmt::format("{}", p.serial->value()) : std::string("null"),
      Number(SerialsBehind(p.serial, served)), p.seconds_behind, Time(p.last_notify),
      Time(p.last_seen), SecondsAgo(p.last_seen, now), Text(p.last_error), p.shared_address);
}

std::string ZoneJson(const ZoneStatusReport& r, absl::Time now) {
  const ZoneStatus& z = r.status;
  std::string last_transfer = "null";
  if (z.last_transfer_at) {
    last_transfer = fmt::format("{{\"kind\":{},\"from\":{},\"at\":{},\"seconds_ago\":{}}}",
                                JsonString(z.last_transfer_kind),
                                JsonString(z.last_transfer_from), Time(z.last_transfer_at),
                                SecondsAgo(z.last_transfer_at, now));
  }
  std::vector<std::string> peers;
  peers.reserve(r.peers.size());
  for (const PeerReport& p : r.peers) peers.push_back(PeerJson(p, z.serial, now));
  return fmt::format(
      "{{\"name\":{},\"source\":{},\"file\":{},\"serial\":{},\"records\":{},\"health\":{},"
      "\"loaded_at\":{},\"age_seconds\":{},\"last_refresh\":{},\"last_transfer\":{},"
      "\"next_refresh\":{},\"expire_seconds_remaining\":{},\"journal_diffs\":{},"
      "\"peers_total\":{},\"peers_in_sync\":{},\"last_error\":{},\"peers\":[{}]}}",
      JsonString(z.name), JsonString(z.source), z.file, Number(z.serial),
      z.serial ? fmt::format("{}", z.records) : std::string("null"),
      JsonString(ZoneHealthWord(z)), Time(r.loaded_at), SecondsAgo(r.loaded_at, now),
      Time(z.last_refresh), last_transfer, Time(z.next_refresh), Number(z.expire_seconds),
      z.journal, z.peers_total, z.peers_in_sync, Text(z.last_error), absl::StrJoin(peers, ","));
}

}  // namespace

std::string_view ZoneHealthWord(const ZoneStatus& zone) {
  if (!zone.serial) return "no-data";
  // The countdown is what SERVFAIL downstream follows, whatever the
  // refresh machine last said (it may not have woken up yet).
  if (zone.expire_seconds && *zone.expire_seconds == 0) return "expired";
  if (zone.health.empty()) return "ok";
  return zone.health;
}

std::optional<uint32_t> SerialsBehind(std::optional<Serial> held,
                                      std::optional<uint32_t> served) {
  if (!held || !served) return std::nullopt;
  Serial current(*served);
  if (*held == current) return 0;
  if (*held < current) return current.value() - held->value();  // modulo 2^32
  return std::nullopt;
}

std::string RenderStatusDocument(const StatusDocument& doc) {
  std::vector<std::string> zones;
  zones.reserve(doc.zones.size());
  for (const ZoneStatusReport& z : doc.zones) zones.push_back(ZoneJson(z, doc.now));
  return fmt::format(
      "{{\"version\":{},\"now\":{},\"started\":{},\"uptime_seconds\":{},"
      "\"transfers_per_minute\":[{}],\"zones\":[{}]}}\n",
      JsonString(doc.version), Time(doc.now), Time(doc.started),
      SecondsAgo(doc.started, doc.now), absl::StrJoin(doc.transfers_per_minute, ","),
      absl::StrJoin(zones, ",\n"));
}

}  // namespace xfr
