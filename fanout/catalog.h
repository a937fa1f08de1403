// The catalog zone xfrproxy produces (RFC 9432, schema version 2): one
// member per zone it serves, so that secondaries which consume catalogs
// (Knot `catalog-role: interpret`, BIND `catalog-zones`) provision and drop
// those zones by themselves. Building it is pure: the caller hands in the
// member names and the previous version, and publishes what comes back
// like any other zone version (journal, IXFR, NOTIFY, state-dir).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "core/name.h"
#include "core/serial.h"
#include "core/zone.h"

namespace xfr {

// RFC 9432 §4.1: a member's record lives at <unique-N>.zones.<catalog>,
// and its label must stay the same for as long as the member does (a new
// label means "a different zone" to a consumer, which resets it). The
// label is the first 8 bytes of SHA-256 over the member's lowercased wire
// name, in hex: the same across restarts and reloads, and independent of
// the order or the case in which zones are configured.
std::string CatalogMemberId(const Name& member);

// The SOA timers of a produced catalog. Consumers poll at REFRESH when a
// NOTIFY is lost; EXPIRE is long because an expired catalog makes a
// consumer drop every member zone at once.
struct CatalogSoa {
  uint32_t refresh = 3600;
  uint32_t retry = 600;
  uint32_t expire = 2419200;  // four weeks
  uint32_t minimum = 0;
};

// The catalog `catalog` listing `members` at `serial`: SOA and NS at the
// apex (both naming "invalid.", RFC 9432 §4.1: the zone is never resolved),
// `version` TXT "2" (§4.2.1) and a PTR per member (§4.3). Members are
// written lowercased, so that a change of case in the configuration is not
// a change of the catalog. The catalog itself, if listed, is left out: it
// is not one of the zones it provisions. Fails on a name too long to sit
// under zones.<catalog>.
absl::StatusOr<std::shared_ptr<const ZoneVersion>> BuildCatalogVersion(
    const Name& catalog, const std::vector<Name>& members, Serial serial,
    const CatalogSoa& soa = {});

// The serial of a new catalog version after `current`: the Unix time when
// that is an increase (RFC 1982), else current + 1. Time-based serials tell
// an operator when membership last changed, and stay increasing across a
// loss of state-dir as long as the clock does.
Serial NextCatalogSerial(Serial current, absl::Time now);

// The catalog to serve for `members`: `current` itself when it already
// lists exactly them (a reload that changed nothing in membership must not
// make every consumer transfer the catalog), else a new version at
// NextCatalogSerial (the Unix time when there is no current version).
absl::StatusOr<std::shared_ptr<const ZoneVersion>> UpdateCatalog(
    const Name& catalog, const std::vector<Name>& members,
    std::shared_ptr<const ZoneVersion> current, absl::Time now,
    const CatalogSoa& soa = {});

}  // namespace xfr
