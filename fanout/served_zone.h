// What the serving threads read for one zone: an immutable snapshot of the
// current version, its journal, and every answer already encoded (the AXFR
// and one condensed IXFR per serial in the journal). A new snapshot is built
// by the zone's single owner and published by swapping a pointer; a transfer
// in progress pins the snapshot it started with.
#pragma once

#include <memory>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "core/diff.h"
#include "core/serial.h"
#include "core/transfer.h"
#include "core/zone.h"

namespace xfr {

struct RewritePolicy;  // fanout/rewrite.h

struct ServedZone {
  // What is served: the primary's data, rewritten when the zone has a
  // `proxied` policy (README "Proxied names").
  std::shared_ptr<const ZoneVersion> version;
  // The primary's version `version` was made from: `version` itself without
  // a policy. Null when unknown (a rewritten view restored from state-dir):
  // the next transfer from the primary is then an AXFR, since an IXFR needs
  // the primary's records as its base.
  std::shared_ptr<const ZoneVersion> upstream;
  // The policy `version` was rewritten with; null without one. A new version
  // is rewritten incrementally only under the same policy.
  std::shared_ptr<const RewritePolicy> policy;
  // The AXFR answer (also sent, with the client's IXFR question, as the
  // AXFR-style answer to an IXFR from an unknown serial: RFC 1995 §4).
  std::vector<EncodedMessage> axfr;
  // Diffs oldest first; journal.back().to() == version->serial().
  std::vector<std::shared_ptr<const ZoneDiff>> journal;
  // The condensed IXFR answer from each serial in the journal to the current
  // version, keyed by the client's serial.
  absl::flat_hash_map<uint32_t, std::vector<EncodedMessage>> ixfr;
  // When the data was last confirmed fresh (loaded, or the primary said it
  // is current); RFC 7314 EXPIRE counts down from here.
  absl::Time refreshed_at;
  // The EXPIRE interval counted from refreshed_at: the SOA EXPIRE, or less
  // when the primary's EDNS EXPIRE said so. A zone loaded from a master file
  // is its own primary and never expires (RFC 7314 §4: it answers SOA
  // EXPIRE).
  uint32_t expire_seconds = 0;
  bool never_expires = false;

  // Seconds left before the data expires at `now` (RFC 7314 §3), 0 when
  // expired.
  uint32_t ExpireRemaining(absl::Time now) const;

  Serial serial() const { return version->serial(); }
  // The encoded IXFR from `from`, or null when it is not in the journal.
  const std::vector<EncodedMessage>* FindIxfr(Serial from) const;
};

// Where a view comes from (see ServedZone::upstream and ::policy). By
// default the served version is the primary's data itself.
struct ViewSource {
  bool rewritten = false;
  std::shared_ptr<const ZoneVersion> upstream;  // when rewritten; may be null
  std::shared_ptr<const RewritePolicy> policy;  // when rewritten
};

struct PublishOptions {
  size_t max_diffs = 100;
  size_t max_message_size = kDefaultTransferMessageSize;
  bool never_expires = false;  // the zone comes from a master file
};

// Builds the snapshot for `version`. With a previous snapshot and the diff
// from its version, the journal carries over (trimmed to max_diffs) and the
// IXFR answers are encoded anew; without, the journal is empty.
absl::StatusOr<std::shared_ptr<const ServedZone>> BuildServedZone(
    std::shared_ptr<const ZoneVersion> version, const ServedZone* previous,
    std::shared_ptr<const ZoneDiff> diff, absl::Time now,
    const PublishOptions& options = {}, const ViewSource& source = {});

// Builds the snapshot for a version and journal read back from state-dir
// (proxy/state_store.h), so IXFR from persisted serials works at once after
// a restart. The diffs must chain into `version`.
absl::StatusOr<std::shared_ptr<const ServedZone>> RestoreServedZone(
    std::shared_ptr<const ZoneVersion> version,
    std::vector<std::shared_ptr<const ZoneDiff>> journal, absl::Time now,
    const PublishOptions& options = {}, const ViewSource& source = {});

// The records of a condensed IXFR answer (RFC 1995 §4): current SOA, then
// the old SOA and the deletions, the new SOA and the additions, and the
// current SOA again.
absl::StatusOr<std::vector<EncodedMessage>> EncodeIxfr(
    const Question& question, const ZoneDiff& diff,
    size_t max_message_size = kDefaultTransferMessageSize);
absl::StatusOr<std::vector<EncodedMessage>> EncodeAxfr(
    const Question& question, const ZoneVersion& version,
    size_t max_message_size = kDefaultTransferMessageSize);

}  // namespace xfr
