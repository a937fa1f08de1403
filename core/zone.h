// An immutable version of one zone: every record, in canonical order, packed
// into one arena. Versions are shared as std::shared_ptr<const ZoneVersion>
// and published by a pointer swap: a transfer pins the
// version it started with, and serving threads never lock.
//
// Layout (memory-lean; a 1M-record zone is normal): each record is stored
// once, uncompressed, exactly as on the wire — owner, TYPE, CLASS, TTL,
// RDLENGTH, RDATA (RFC 1035 §4.1.3) — back to back in one byte arena, plus a
// 4-byte offset per record. The cost per record is its uncompressed wire size
// plus 4 bytes, and a RecordView points straight into the arena.
//
// Record identity (used for ordering, de-duplication and diffs): owner
// (ignoring ASCII case, RFC 4343), TYPE, CLASS and RDATA byte for byte (so a
// change of case inside RDATA is a change: secondaries must get it). The TTL is not part of
// identity, but a TTL-only change is still a change of the zone (see diff.h).
#pragma once

#include <cstddef>
#include <cstdint>
#include <iterator>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "core/name.h"
#include "core/record.h"
#include "core/serial.h"
#include "core/types.h"
#include "core/wire.h"

namespace xfr {

struct BuildOptions {
  // Upper bound on the number of distinct records of the zone (the
  // `max-records` setting): a transfer over it is hostile or broken.
  size_t max_records = std::numeric_limits<size_t>::max();
};

// The fixed fields of SOA RDATA (RFC 1035 §3.3.13) after MNAME and RNAME.
struct SoaFields {
  Serial serial;
  uint32_t refresh = 0;
  uint32_t retry = 0;
  uint32_t expire = 0;
  uint32_t minimum = 0;
};

// Parses uncompressed SOA RDATA (two names, then five 32-bit fields, nothing
// after); nullopt when malformed.
std::optional<SoaFields> ParseSoaRdata(Bytes rdata);

class ZoneVersion;

// A contiguous run of records of one version, by index. Cheap to copy.
class RecordRange {
 public:
  class Iterator {
   public:
    using iterator_category = std::forward_iterator_tag;
    using value_type = RecordView;
    using difference_type = std::ptrdiff_t;
    using pointer = void;
    using reference = RecordView;

    Iterator() = default;
    Iterator(const ZoneVersion* zone, size_t index) : zone_(zone), i_(index) {}
    RecordView operator*() const;
    Iterator& operator++() {
      ++i_;
      return *this;
    }
    Iterator operator++(int) {
      Iterator old = *this;
      ++i_;
      return old;
    }
    size_t index() const { return i_; }
    friend bool operator==(const Iterator& a, const Iterator& b) {
      return a.i_ == b.i_ && a.zone_ == b.zone_;
    }

   private:
    const ZoneVersion* zone_ = nullptr;
    size_t i_ = 0;
  };

  RecordRange() = default;
  RecordRange(const ZoneVersion* zone, size_t first, size_t last)
      : zone_(zone), first_(first), last_(last) {}

  Iterator begin() const { return Iterator(zone_, first_); }
  Iterator end() const { return Iterator(zone_, last_); }
  size_t size() const { return last_ - first_; }
  bool empty() const { return first_ == last_; }
  // Zone-wide index of the first record of the range.
  size_t first_index() const { return first_; }
  RecordView operator[](size_t i) const;

 private:
  const ZoneVersion* zone_ = nullptr;
  size_t first_ = 0;
  size_t last_ = 0;
};

class ZoneVersion {
 public:
  // Sorts `records` canonically (record.h CompareRecords), drops exact
  // duplicates and checks the zone. Of several records with the same
  // identity that differ only in TTL, the one that came FIRST in `records`
  // is kept, so the outcome does not depend on the sort (RFC 2181 §5.2
  // makes TTLs differing within an RRset questionable anyway).
  // Errors (InvalidArgument, naming owner and type): no SOA, more than one
  // SOA, SOA not at the origin, an owner outside the origin, records of more
  // than one class, a meta-type (RFC 6895 §3.1) or oversized RDATA; and
  // ResourceExhausted when the zone has more than options.max_records
  // records.
  static absl::StatusOr<std::shared_ptr<const ZoneVersion>> Build(
      Name origin, std::vector<Record> records,
      const BuildOptions& options = {});

  ZoneVersion(const ZoneVersion&) = delete;
  ZoneVersion& operator=(const ZoneVersion&) = delete;

  const Name& origin() const { return origin_; }
  RRClass rclass() const { return rclass_; }
  Serial serial() const { return soa_fields_.serial; }
  const SoaFields& soa_fields() const { return soa_fields_; }
  RecordView soa() const { return record(soa_index_); }
  size_t soa_index() const { return soa_index_; }

  // Number of records, the SOA included.
  size_t size() const { return offsets_.size(); }
  RecordView record(size_t i) const;
  // The record's uncompressed wire form (owner through RDATA), ready to be
  // copied into a message when no compression is wanted.
  Bytes record_wire(size_t i) const;

  RecordRange all() const { return RecordRange(this, 0, size()); }
  RecordRange::Iterator begin() const { return all().begin(); }
  RecordRange::Iterator end() const { return all().end(); }

  // The RRset (owner, type) of the zone's class; empty when absent.
  // O(log n).
  RecordRange FindRRset(NameView owner, RRType type) const;
  // Every record owned by `owner`, in type order; empty when absent.
  RecordRange FindName(NameView owner) const;

  // Bytes held by this version (arena, index, origin), for metrics and the
  // bytes-per-record figure.
  size_t memory_bytes() const;
  // Bytes of the records' uncompressed wire forms alone.
  size_t wire_bytes() const { return arena_.size(); }

  // Same origin and the same records with the same TTLs (owner case is
  // ignored, RDATA compared byte for byte).
  friend bool operator==(const ZoneVersion& a, const ZoneVersion& b);

 private:
  friend class ZoneVersionBuilder;
  ZoneVersion() = default;

  Name origin_;
  RRClass rclass_ = RRClass::kIN;
  std::vector<uint8_t> arena_;
  std::vector<uint32_t> offsets_;
  size_t soa_index_ = 0;
  SoaFields soa_fields_;
};

inline RecordView RecordRange::Iterator::operator*() const {
  return zone_->record(i_);
}
inline RecordView RecordRange::operator[](size_t i) const {
  return zone_->record(first_ + i);
}

// Assembles a version from records that arrive already in canonical order
// (Build after sorting, ApplyDiff while merging), so a new version costs one
// pass. A record whose identity equals the previous one is dropped (the
// earlier one is kept). Every record is checked as it is appended; the first
// error is sticky and reported by Finish(), and appending stops costing
// memory once the zone is over its limit.
class ZoneVersionBuilder {
 public:
  // `expected_records` and `expected_bytes` size the arena up front.
  ZoneVersionBuilder(Name origin, const BuildOptions& options,
                     size_t expected_records = 0, size_t expected_bytes = 0);

  // `rr` must not sort before the previous record (CompareRecords).
  void Append(const RecordView& rr);
  // Appends records [first, last) of `src` by copying their arena bytes:
  // they were checked when `src` was built, so only the seam with the
  // previous record and the limits are checked again. This makes applying a
  // small diff to a large zone cost a memcpy, not a per-record walk.
  void AppendRange(const ZoneVersion& src, size_t first, size_t last);
  bool ok() const { return status_.ok(); }

  absl::StatusOr<std::shared_ptr<const ZoneVersion>> Finish() &&;

 private:
  void Fail(absl::Status s) {
    if (status_.ok()) status_ = std::move(s);
  }
  // Order and duplicate check against the last appended record: <0 to
  // append, 0 to drop as a duplicate, >0 is an ordering error.
  int CompareWithLast(const RecordView& rr) const;
  bool CheckRoom(const RecordView& rr, size_t records, size_t bytes);

  std::unique_ptr<ZoneVersion> zone_;
  BuildOptions options_;
  absl::Status status_;
  bool have_last_ = false;
  bool have_soa_ = false;
};

}  // namespace xfr
