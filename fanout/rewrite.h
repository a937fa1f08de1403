// Rewrite: proxied records (README "Proxied names"). The way a
// CDN's DNS hands its edge addresses to secondaries instead of the origin's:
// at a proxied owner name the A, AAAA and CNAME RRsets of the upstream zone
// are replaced by A = the edge v4 addresses and AAAA = the edge v6 addresses,
// with the policy's TTL (a CNAME is flattened: the name gets the edge
// addresses). Everything else passes unchanged, the SOA always.
//
// The served zone is the rewritten view, and IXFR diffs are computed between
// rewritten views, never by rewriting upstream diff records one by one: a
// change of an origin address at a proxied name then changes nothing
// downstream but the SOA, and a name entering or leaving the policy's reach
// gets exactly the deletions and additions it needs.
//
// Cost: the rule is per owner name (the rewrite of a name depends only on the
// records of that name), so a full rewrite locates the proxied names by
// binary search and copies the runs in between wholesale, and a new version
// costs O(k log n) lookups for a k-record upstream change plus ApplyDiff's
// copy of the arena. No per-record walk of the zone happens in either.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "core/diff.h"
#include "core/name.h"
#include "core/zone.h"

namespace xfr {

struct RewritePolicy {
  // An exact owner name, or (below = true, written "*.name") every name
  // strictly below `name`, whatever its depth; `name` itself is not
  // included. A literal wildcard owner ("*.cdn.example.com.") is a name like
  // any other here.
  struct Pattern {
    Name name;
    bool below = false;
  };
  std::vector<Pattern> names;
  std::vector<std::array<uint8_t, 4>> edge_v4;
  std::vector<std::array<uint8_t, 16>> edge_v6;
  uint32_t ttl = 300;

  bool empty() const { return names.empty(); }
  // Whether `owner` is proxied; names compare ignoring ASCII case (RFC 4343).
  bool Matches(NameView owner) const;
  // Same effect: the same patterns and addresses as sets (order and
  // repeats do not matter, name case neither) and the same TTL. A policy
  // change on reload is detected with this.
  friend bool operator==(const RewritePolicy&, const RewritePolicy&);
};

// The served view of `upstream` under `policy`, from scratch. Errors are
// those of building a version (max_records in `options`).
absl::StatusOr<std::shared_ptr<const ZoneVersion>> RewriteZone(
    const ZoneVersion& upstream, const RewritePolicy& policy,
    const BuildOptions& options = {});

struct RewriteResult {
  // Equal to RewriteZone(upstream_new, policy).
  std::shared_ptr<const ZoneVersion> served;
  // Exactly ComputeDiff(served_old, *served), in canonical order.
  ZoneDiff diff;
};

// The next served version, incrementally. `served_old` must be
// RewriteZone(upstream_old, policy) for the SAME policy, and `upstream_diff`
// a diff that turns upstream_old into upstream_new. Only the owners named in
// upstream_diff are looked at, and each is rewritten afresh from
// upstream_new, so a lenient diff (RFC 1995 as primaries send it: deleting a
// record that is not there, adding one that is) gives the same result as the
// exact one. FailedPrecondition when the serials do not chain (served_old is
// not at upstream_diff.from(), upstream_new not at upstream_diff.to()).
absl::StatusOr<RewriteResult> RewriteChange(
    const ZoneVersion& served_old, const ZoneVersion& upstream_new,
    const ZoneDiff& upstream_diff, const RewritePolicy& policy,
    const BuildOptions& options = {});

// True when the zone carries DNSSEC: a DNSKEY or an RRSIG at the apex. A
// signed zone has both (RFC 4035 §2.1, §2.2: the apex SOA and DNSKEY RRsets
// are signed), so two O(log n) lookups stand in for a walk of the zone. A
// rewrite drops the RRSIGs of the RRsets it replaces and cannot sign the new
// ones, so validators see them as bogus; the caller logs that at load.
bool IsSigned(const ZoneVersion& zone);

// Number of owner names of `zone` that `policy` matches (whether or not they
// have anything to rewrite), for a metric or a log line. Costs a binary
// search per pattern plus a walk of the names below each "*.name" pattern,
// which the rewrite visits anyway.
size_t CountProxiedNames(const ZoneVersion& zone, const RewritePolicy& policy);

}  // namespace xfr
