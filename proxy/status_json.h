// /status.json: everything the status page shows, as one JSON document,
// rendered without I/O from state gathered elsewhere (the zone owner's
// thread gathers the zones and their peers in one pass: see
// Server::StatusReports).
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/time/time.h"
#include "proxy/control.h"
#include "proxy/metrics.h"
#include "proxy/stats.h"

namespace xfr {

// One zone: what `xfrproxy ctl status` says of it, when the version being
// served was built, and its secondaries as /peers lists them.
struct ZoneStatusReport {
  ZoneStatus status;
  std::optional<absl::Time> loaded_at;  // unset: nothing served yet
  std::vector<PeerReport> peers;
};

struct StatusDocument {
  std::string_view version;
  absl::Time now;
  absl::Time started;
  std::vector<ZoneStatusReport> zones;
  // Transfers served per minute, oldest first; the last is this minute.
  std::array<uint64_t, PerMinute::kMinutes> transfers_per_minute{};
};

// The health word for a zone, judged as /healthz and `ctl status` judge
// it: "no-data" before anything is served, "expired" once EXPIRE passed
// without contact with a primary, else the refresh state ("ok",
// "degraded").
std::string_view ZoneHealthWord(const ZoneStatus& zone);

// How many serials `held` is behind `served` (RFC 1982 arithmetic): 0 when
// equal, unset when the peer's serial is unknown, ahead, or not comparable.
std::optional<uint32_t> SerialsBehind(std::optional<Serial> held, std::optional<uint32_t> served);

// {"version":..,"now":..,"started":..,"uptime_seconds":..,
//  "transfers_per_minute":[60 counts, oldest first],
//  "zones":[{"name":..,"serial":..,"age_seconds":..,"health":..,
//            "last_transfer":{"kind":..,"from":..,"at":..,"seconds_ago":..}|null,
//            ...,"peers":[{"address":..,"state":..,"serial":..,"serials_behind":..,
//                          "seconds_behind":..,"seen_seconds_ago":..,...}]}]}
// Times are RFC 3339 UTC strings or null; every name and message is a JSON
// string escaped as JsonString() does.
std::string RenderStatusDocument(const StatusDocument& doc);

}  // namespace xfr
