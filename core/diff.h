// Differences between zone versions, as IXFR carries them (RFC 1995 §4): the
// old SOA, the records removed, the new SOA, the records added. Computing,
// applying and condensing diffs all work on sorted runs, so the cost is one
// pass over the zone plus sorting the change itself.
//
// A record is identified by owner (ignoring case), TYPE, CLASS and RDATA
// bytes (zone.h). A TTL-only change is a change: the record appears in
// `removed` with its old TTL and in `added` with its new one, which every
// secondary applies correctly.
#pragma once

#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "core/record.h"
#include "core/serial.h"
#include "core/zone.h"

namespace xfr {

struct ZoneDiff {
  Record old_soa;
  Record new_soa;
  // Neither list holds an SOA. ComputeDiff and Condense produce them in
  // canonical order; ApplyDiff accepts any order (IXFR sends any order).
  std::vector<Record> removed;
  std::vector<Record> added;

  // Serials of old_soa and new_soa; Serial(0) when an SOA is malformed
  // (ApplyDiff rejects such a diff).
  Serial from() const;
  Serial to() const;
  bool empty() const { return removed.empty() && added.empty(); }

  friend bool operator==(const ZoneDiff&, const ZoneDiff&) = default;
};

// The diff that turns `older` into `newer`, by one merge walk over both.
ZoneDiff ComputeDiff(const ZoneVersion& older, const ZoneVersion& newer);

// Applies `diff` to `base`: every record of `removed` is deleted (matched by
// identity, whatever its TTL), then every record of `added` is inserted and
// the SOA replaced by new_soa. As BIND and Knot do (RFC 1995 leniency in
// practice), deleting a record that is absent and adding one that is present
// are not errors; an added record that is present takes the added TTL (of
// several equal added records, the last one wins, as later operations do).
// Errors mean the caller must fall back to AXFR: FailedPrecondition when
// old_soa's serial is not the base's serial; InvalidArgument for a malformed
// SOA, an SOA inside removed/added, or a result that Build would refuse
// (out-of-zone name, wrong class); ResourceExhausted over max_records.
// Cost for n base records and k changes: one copy of the base's arena (runs
// between changes are copied wholesale) plus O(k log k + k log n)
// comparisons.
absl::StatusOr<std::shared_ptr<const ZoneVersion>> ApplyDiff(
    const ZoneVersion& base, const ZoneDiff& diff,
    const BuildOptions& options = {});

// One diff equivalent to applying `chain` in order: each diff must start
// where the previous one ended (InvalidArgument otherwise, or for an empty
// chain). A record added and later removed disappears; a record removed and
// re-added with the same TTL disappears; removed and re-added with another
// TTL stays as remove (first TTL) + add (last TTL). The result is exact for
// diffs consistent with the versions they join (every removed record was
// present, every added one absent), which is what ComputeDiff produces and
// what the journal holds: ApplyDiff(v0, Condense(chain)) == the last version.
absl::StatusOr<ZoneDiff> Condense(absl::Span<const ZoneDiff> chain);

}  // namespace xfr
