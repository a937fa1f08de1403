// Zones whose primary is xfrproxy itself (`file:` in the config): the master
// file is read at start and on SIGHUP, and the difference between the old
// and the new file becomes the next journal entry.
#pragma once

#include <memory>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "fanout/served_zone.h"
#include "proxy/config.h"

namespace xfr {

// Reads the zone's file. Returns `current` itself when the content did not
// change, a new snapshot (with the diff journalled) when it changed and the
// SOA serial increased (RFC 1982), and an error otherwise: an unreadable or
// invalid file, or a changed zone whose serial did not increase. On error
// the caller keeps serving `current`.
absl::StatusOr<std::shared_ptr<const ServedZone>> LoadFileZone(
    const ZoneConfig& zone, std::shared_ptr<const ServedZone> current,
    absl::Time now);

}  // namespace xfr
