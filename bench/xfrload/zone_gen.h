// The zone of xfrload's synthetic primary: generated from a seed, with the
// mix of a real zone (hosts with A/AAAA, CNAMEs to a CDN, www children,
// mail domains with MX and their exchangers, delegations with glue, TXT
// verification strings), and changed a few records per version.
//
// Generation is fast because the records are produced already in canonical
// order (RFC 4034 §6.1) and appended straight to a ZoneVersionBuilder: no
// Record objects, no sort. Every first-level name is a kind prefix and a
// fixed-width number ("host-00000042"), so the order of the numbers is the
// canonical order within a kind, the kinds are emitted in the order of their
// prefixes, and a name's children ("www.host-00000042") follow it directly.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "core/diff.h"
#include "core/name.h"
#include "core/serial.h"
#include "core/zone.h"

namespace xfr::load {

struct ZoneGenOptions {
  Name origin;
  // Records of the zone, SOA included; at least kMinGeneratedRecords.
  uint64_t records = 1000;
  Serial serial{1};
  uint64_t seed = 1;
  // SOA timers (RFC 1035 §3.3.13). A short refresh keeps a secondary that
  // missed a NOTIFY close behind a fast-changing zone.
  uint32_t refresh = 60;
  uint32_t retry = 10;
  uint32_t expire = 1209600;
  uint32_t minimum = 300;
};

// The apex and its fixed names (SOA, NS, MX, TXT; ns1/ns2 with glue; www).
inline constexpr uint64_t kMinGeneratedRecords = 10;

// The same options always give the same zone, record for record.
absl::StatusOr<std::shared_ptr<const ZoneVersion>> GenerateZone(
    const ZoneGenOptions& options);

struct ChangeCounts {
  uint32_t added = 0;
  uint32_t removed = 0;
  uint32_t modified = 0;
};

// Makes the diffs of a changing zone: each version, K record changes, each
// one an addition (a new name), a removal, or a modification of an existing
// record (new RDATA, or a new TTL for a record alone in its RRset), and the
// SOA serial + 1. The diffs are consistent with the version they apply to
// (every removed record is present, every added one absent, no RRset
// touched twice), so the journal condenses exactly (core/diff.h Condense).
// The apex is never touched: a zone without its NS would be refused by
// real secondaries. Deterministic from the seed and the serials.
class ZoneChanger {
 public:
  explicit ZoneChanger(uint64_t seed) : seed_(seed) {}

  ZoneDiff Next(const ZoneVersion& current, uint32_t changes,
                ChangeCounts* counts = nullptr);

 private:
  uint64_t seed_;
};

}  // namespace xfr::load
