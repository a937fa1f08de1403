// From a version of the primary's zone (a transfer, or a master file) to
// the snapshot that is served: the zone's `proxied` policy applied
// (README "Proxied names"), the served diff from the current snapshot
// computed between the rewritten views, and everything encoded.
//
// Under an unchanged policy a new version costs work proportional to the
// change (fanout/rewrite.h RewriteChange); the first version, a policy
// change on SIGHUP, and a view whose primary version is unknown (restored
// from state-dir) are rewritten from scratch and diffed against what was
// served, so secondaries still get an exact IXFR.
#pragma once

#include <memory>
#include <optional>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "core/zone.h"
#include "fanout/rewrite.h"
#include "fanout/served_zone.h"
#include "proxy/config.h"

namespace xfr {

// The policy of a zone's `proxied` setting; null without one.
std::shared_ptr<const RewritePolicy> MakeRewritePolicy(
    const std::optional<ProxiedConfig>& proxied);

struct ServedView {
  std::shared_ptr<const ServedZone> served;
  // The served diff from the current snapshot (what the journal gained);
  // null for a first version.
  std::shared_ptr<const ZoneDiff> diff;
};

// The snapshot serving `upstream` under `policy`, continuing `current`
// (may be null). The caller has checked that upstream's serial is newer
// than current's.
absl::StatusOr<ServedView> MakeServedView(
    const Name& zone, std::shared_ptr<const ZoneVersion> upstream,
    const ServedZone* current, std::shared_ptr<const RewritePolicy> policy,
    absl::Time now, const PublishOptions& publish, const BuildOptions& build);

// For a version at the SAME serial as `current` (a master file re-read, or
// read after a restart): `current` itself when it was made from exactly
// this data, null when the data differs (changed without a serial
// increase). A rewritten view restored from state-dir does not know its
// primary data: it gets a copy that does, and is served as it is until the
// next serial (a policy changed across the restart, like one changed on
// SIGHUP, takes effect with the next version).
std::shared_ptr<const ServedZone> SameSerialView(
    std::shared_ptr<const ServedZone> current,
    std::shared_ptr<const ZoneVersion> upstream,
    std::shared_ptr<const RewritePolicy> policy, const BuildOptions& build);

}  // namespace xfr
