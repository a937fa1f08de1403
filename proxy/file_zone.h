// Zones whose primary is xfrproxy itself (`file:` in the config): the master
// file is read at start and on SIGHUP, and the difference between the old
// and the new file becomes the next journal entry.
#pragma once

#include <memory>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "core/zone_check.h"
#include "fanout/served_zone.h"
#include "proxy/config.h"

namespace xfr {

// Reads the zone's file and checks its content (core/zone_check.h).
// Returns `current` itself when the content did not change, a new snapshot
// (with the diff journalled) when it changed and the SOA serial increased
// (RFC 1982), and an error otherwise: an unreadable file, one the checks
// refuse, or a changed zone whose serial did not increase. On error the
// caller keeps serving `current`.
absl::StatusOr<std::shared_ptr<const ServedZone>> LoadFileZone(
    const ZoneConfig& zone, std::shared_ptr<const ServedZone> current,
    absl::Time now);

// The catalog `zone` (`catalog: produce`) listing `members`: `current`
// itself when membership did not change, else a new snapshot whose journal
// gains the added and removed members (fanout/catalog.h UpdateCatalog).
absl::StatusOr<std::shared_ptr<const ServedZone>> ProduceCatalogZone(
    const ZoneConfig& zone, const std::vector<Name>& members,
    std::shared_ptr<const ServedZone> current, absl::Time now);

// The problems CheckZoneContent found, as one error (the first few named).
absl::Status ZoneProblemsError(const std::vector<ZoneProblem>& problems);

}  // namespace xfr
