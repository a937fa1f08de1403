#include "core/zone.h"

#include <algorithm>
#include <cstring>
#include <numeric>
#include <string_view>
#include <utility>

#include "fmt/format.h"

namespace xfr {
namespace {

// Offsets are 32-bit to keep the index at 4 bytes per record; a zone whose
// uncompressed records exceed 4 GiB is refused rather than silently wrapped.
constexpr size_t kMaxArenaBytes = std::numeric_limits<uint32_t>::max();

// Skips one uncompressed name within rdata[pos..]; false when malformed.
bool SkipName(Bytes rdata, size_t& pos) {
  size_t start = pos;
  while (pos < rdata.size()) {
    uint8_t len = rdata[pos];
    if (len == 0) {
      ++pos;
      return pos - start <= kMaxNameLength;
    }
    if (len > kMaxLabelLength) return false;  // also rejects pointers
    pos += len + 1;
  }
  return false;
}

// RFC 6895 §3.1: OPT and the meta/query TYPEs 128-255 (TKEY, TSIG, IXFR,
// AXFR, MAILB, MAILA, ANY, ...) are never zone data.
bool IsMetaType(RRType t) {
  return t == RRType::kOPT || (t.value() >= 128 && t.value() <= 255);
}

std::string Where(const RecordView& rr) {
  return fmt::format("{} {}", rr.owner.ToText(), rr.type.ToString());
}

}  // namespace

std::optional<SoaFields> ParseSoaRdata(Bytes rdata) {
  size_t pos = 0;
  if (!SkipName(rdata, pos) || !SkipName(rdata, pos)) return std::nullopt;
  if (rdata.size() - pos != 20) return std::nullopt;
  const uint8_t* p = rdata.data() + pos;
  SoaFields f;
  f.serial = Serial(LoadU32(p));
  f.refresh = LoadU32(p + 4);
  f.retry = LoadU32(p + 8);
  f.expire = LoadU32(p + 12);
  f.minimum = LoadU32(p + 16);
  return f;
}

RecordView ZoneVersion::record(size_t i) const {
  return LoadRecordWire(arena_.data() + offsets_[i]);
}

Bytes ZoneVersion::record_wire(size_t i) const {
  size_t start = offsets_[i];
  size_t end = i + 1 < offsets_.size() ? offsets_[i + 1] : arena_.size();
  return Bytes(arena_.data() + start, end - start);
}

RecordRange ZoneVersion::FindRRset(NameView owner, RRType type) const {
  RecordView probe;
  probe.owner = owner;
  probe.type = type;
  probe.rclass = rclass_;
  size_t lo = 0, hi = size();
  // Lower bound: first record whose RRset key is not below the probe.
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (CompareRRsetKey(record(mid), probe) < 0) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  size_t last = lo;
  while (last < size() && CompareRRsetKey(record(last), probe) == 0) ++last;
  return RecordRange(this, lo, last);
}

RecordRange ZoneVersion::FindName(NameView owner) const {
  size_t lo = 0, hi = size();
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (CompareCanonical(record(mid).owner, owner) < 0) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  size_t last = lo;
  // A name owns few RRsets; a linear scan is cheaper than a second search.
  while (last < size() && record(last).owner.EqualsIgnoreCase(owner)) ++last;
  return RecordRange(this, lo, last);
}

size_t ZoneVersion::memory_bytes() const {
  return sizeof(ZoneVersion) + arena_.capacity() +
         offsets_.capacity() * sizeof(uint32_t) + origin_.size();
}

bool operator==(const ZoneVersion& a, const ZoneVersion& b) {
  if (!(a.origin_ == b.origin_) || a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    RecordView x = a.record(i), y = b.record(i);
    if (x.ttl != y.ttl || CompareRecords(x, y) != 0) return false;
  }
  return true;
}

ZoneVersionBuilder::ZoneVersionBuilder(Name origin, const BuildOptions& options,
                                       size_t expected_records,
                                       size_t expected_bytes)
    : zone_(new ZoneVersion()), options_(options) {
  zone_->origin_ = std::move(origin);
  size_t cap = std::min(expected_records, options_.max_records);
  zone_->offsets_.reserve(cap);
  zone_->arena_.reserve(std::min(expected_bytes, kMaxArenaBytes));
}

int ZoneVersionBuilder::CompareWithLast(const RecordView& rr) const {
  const ZoneVersion& z = *zone_;
  RecordView last = z.record(z.offsets_.size() - 1);
  // Fast path: records of one name come in runs with byte-identical owners,
  // and the canonical name comparison is the expensive part.
  if (last.owner.size() == rr.owner.size() &&
      std::memcmp(last.owner.wire().data(), rr.owner.wire().data(),
                  rr.owner.size()) == 0) {
    last.owner = rr.owner;
  }
  return CompareRecords(last, rr);
}

bool ZoneVersionBuilder::CheckRoom(const RecordView& rr, size_t records,
                                   size_t bytes) {
  ZoneVersion& z = *zone_;
  if (z.offsets_.size() + records > options_.max_records) {
    Fail(absl::ResourceExhaustedError(fmt::format(
        "zone {} has more than max-records = {} records (at {})",
        z.origin_.ToText(), options_.max_records, Where(rr))));
    return false;
  }
  if (z.arena_.size() + bytes > kMaxArenaBytes) {
    Fail(absl::ResourceExhaustedError(fmt::format(
        "zone {} is over 4 GiB of record data (at {})", z.origin_.ToText(),
        Where(rr))));
    return false;
  }
  return true;
}

void ZoneVersionBuilder::Append(const RecordView& rr) {
  if (!status_.ok()) return;
  ZoneVersion& z = *zone_;
  if (have_last_) {
    int c = CompareWithLast(rr);
    if (c == 0) return;  // duplicate identity: keep the earlier record
    if (c > 0) {
      Fail(absl::InternalError(fmt::format(
          "records out of canonical order at {}", Where(rr))));
      return;
    }
  }
  if (!rr.owner.IsSubdomainOf(z.origin_.view())) {
    Fail(absl::InvalidArgumentError(fmt::format(
        "record {} is outside the zone {}", Where(rr), z.origin_.ToText())));
    return;
  }
  if (IsMetaType(rr.type)) {
    Fail(absl::InvalidArgumentError(fmt::format(
        "meta-type record {} cannot be zone data (RFC 6895 §3.1)",
        Where(rr))));
    return;
  }
  if (rr.rdata.size() > 0xFFFF) {
    Fail(absl::InvalidArgumentError(
        fmt::format("record {} has RDATA over 65535 bytes", Where(rr))));
    return;
  }
  if (!have_last_) {
    z.rclass_ = rr.rclass;
  } else if (rr.rclass != z.rclass_) {
    Fail(absl::InvalidArgumentError(fmt::format(
        "record {} has class {} but the zone has class {}", Where(rr),
        rr.rclass.ToString(), z.rclass_.ToString())));
    return;
  }
  if (rr.type == RRType::kSOA) {
    // RFC 1035 §5.2: exactly one SOA, at the top of the zone.
    if (!rr.owner.EqualsIgnoreCase(z.origin_.view())) {
      Fail(absl::InvalidArgumentError(fmt::format(
          "SOA record at {} is not at the zone apex {}", rr.owner.ToText(),
          z.origin_.ToText())));
      return;
    }
    if (have_soa_) {
      Fail(absl::InvalidArgumentError(fmt::format(
          "more than one SOA record at {}", rr.owner.ToText())));
      return;
    }
    std::optional<SoaFields> f = ParseSoaRdata(rr.rdata);
    if (!f) {
      Fail(absl::InvalidArgumentError(
          fmt::format("malformed SOA RDATA at {}", rr.owner.ToText())));
      return;
    }
    z.soa_fields_ = *f;
    z.soa_index_ = z.offsets_.size();
    have_soa_ = true;
  }
  size_t need = RecordWireSize(rr);
  if (!CheckRoom(rr, 1, need)) return;
  size_t at = z.arena_.size();
  z.arena_.resize(at + need);
  StoreRecordWire(rr, z.arena_.data() + at);
  z.offsets_.push_back(static_cast<uint32_t>(at));
  have_last_ = true;
}

void ZoneVersionBuilder::AppendRange(const ZoneVersion& src, size_t first,
                                     size_t last) {
  ZoneVersion& z = *zone_;
  // Only a range of the same zone and class, without an SOA, can skip the
  // per-record checks; anything else (and the seam record, which may be a
  // duplicate of the last one appended) goes through Append.
  bool same_zone = src.origin_.view().EqualsIgnoreCase(z.origin_.view()) &&
                   (!have_last_ || src.rclass_ == z.rclass_);
  while (first < last && status_.ok() &&
         (!same_zone || !have_last_ || first == src.soa_index_ ||
          CompareWithLast(src.record(first)) >= 0)) {
    Append(src.record(first++));
  }
  if (first >= last || !status_.ok()) return;
  if (src.soa_index_ > first && src.soa_index_ < last) {
    AppendRange(src, first, src.soa_index_);
    AppendRange(src, src.soa_index_, last);
    return;
  }
  size_t begin = src.offsets_[first];
  size_t end = last < src.size() ? src.offsets_[last] : src.arena_.size();
  if (!CheckRoom(src.record(first), last - first, end - begin)) return;
  size_t at = z.arena_.size();
  z.arena_.insert(z.arena_.end(), src.arena_.begin() + begin,
                  src.arena_.begin() + end);
  for (size_t i = first; i < last; ++i) {
    z.offsets_.push_back(static_cast<uint32_t>(src.offsets_[i] - begin + at));
  }
}

absl::StatusOr<std::shared_ptr<const ZoneVersion>>
ZoneVersionBuilder::Finish() && {
  if (!status_.ok()) return status_;
  if (!have_soa_) {
    return absl::InvalidArgumentError(fmt::format(
        "zone {} has no SOA record at its apex", zone_->origin_.ToText()));
  }
  ZoneVersion& z = *zone_;
  // A reservation from an estimate can overshoot (duplicates, removals);
  // give back anything over 1/8 so the version costs what it holds.
  if (z.arena_.capacity() - z.arena_.size() > z.arena_.size() / 8) {
    z.arena_.shrink_to_fit();
  }
  if (z.offsets_.capacity() - z.offsets_.size() > z.offsets_.size() / 8) {
    z.offsets_.shrink_to_fit();
  }
  return std::shared_ptr<const ZoneVersion>(std::move(zone_));
}

namespace {

// Sorting a million records by CompareRecords chases two heap pointers per
// comparison and walks labels right to left each time. Instead each owner
// gets a byte string whose memcmp order is the RFC 4034 §6.1 order: its
// labels below the origin (shared by every owner, so skipped) from the
// rightmost, lowercased, each ended by 0x00; 0x00 and 0x01 inside a label
// are escaped as 01 01 and 01 02 so the terminator sorts before any content
// byte and a label that is a prefix of another sorts first.
void AppendCanonicalKey(NameView owner, size_t origin_size, std::string& out) {
  Bytes w = owner.wire();
  size_t below = w.size() - origin_size;  // bytes of the labels below origin
  uint8_t starts[kMaxNameLength];
  int n = 0;
  for (size_t i = 0; i < below; i += w[i] + 1) {
    starts[n++] = static_cast<uint8_t>(i);
  }
  while (n-- > 0) {
    const uint8_t* label = w.data() + starts[n];
    for (int k = 1; k <= label[0]; ++k) {
      uint8_t c = AsciiLower(label[k]);
      if (c <= 1) {
        out.push_back('\x01');
        out.push_back(static_cast<char>(c + 1));
      } else {
        out.push_back(static_cast<char>(c));
      }
    }
    out.push_back('\0');
  }
}

struct SortItem {
  uint64_t prefix;  // first 8 key bytes, big-endian: most comparisons end here
  uint32_t key_offset;
  uint32_t index;
};

}  // namespace

absl::StatusOr<std::shared_ptr<const ZoneVersion>> ZoneVersion::Build(
    Name origin, std::vector<Record> records, const BuildOptions& options) {
  if (records.size() >= std::numeric_limits<uint32_t>::max()) {
    return absl::ResourceExhaustedError("too many records");
  }
  // Out-of-zone owners first: the sort keys below are relative to origin.
  for (const Record& r : records) {
    if (!r.owner.view().IsSubdomainOf(origin.view())) {
      return absl::InvalidArgumentError(
          fmt::format("record {} is outside the zone {}", Where(r.view()),
                      origin.ToText()));
    }
  }
  std::string keys;
  std::vector<uint32_t> key_end(records.size());
  std::vector<SortItem> items(records.size());
  for (size_t i = 0; i < records.size(); ++i) {
    size_t start = keys.size();
    AppendCanonicalKey(records[i].owner.view(), origin.size(), keys);
    if (keys.size() > std::numeric_limits<uint32_t>::max()) {
      return absl::ResourceExhaustedError("zone too large to sort");
    }
    key_end[i] = static_cast<uint32_t>(keys.size());
    uint8_t p[8] = {};
    std::memcpy(p, keys.data() + start, std::min<size_t>(8, keys.size() - start));
    uint64_t prefix = 0;
    for (uint8_t b : p) prefix = prefix << 8 | b;
    items[i] = SortItem{prefix, static_cast<uint32_t>(start),
                        static_cast<uint32_t>(i)};
  }
  // Ties (same identity) break on input position so that the first record
  // given is the one kept.
  std::sort(items.begin(), items.end(), [&](const SortItem& a,
                                            const SortItem& b) {
    if (a.prefix != b.prefix) return a.prefix < b.prefix;
    std::string_view ka(keys.data() + a.key_offset,
                        key_end[a.index] - a.key_offset);
    std::string_view kb(keys.data() + b.key_offset,
                        key_end[b.index] - b.key_offset);
    if (int c = ka.compare(kb); c != 0) return c < 0;
    const Record& ra = records[a.index];
    const Record& rb = records[b.index];
    if (ra.type != rb.type) return ra.type < rb.type;
    if (ra.rclass != rb.rclass) return ra.rclass < rb.rclass;
    if (ra.rdata != rb.rdata) return ra.rdata < rb.rdata;  // lexicographic
    return a.index < b.index;
  });
  std::string().swap(keys);
  std::vector<uint32_t>().swap(key_end);
  size_t bytes = 0;
  for (const Record& r : records) bytes += RecordWireSize(r.view());
  ZoneVersionBuilder builder(std::move(origin), options, records.size(),
                             bytes);
  for (const SortItem& item : items) {
    builder.Append(records[item.index].view());
    if (!builder.ok()) break;
  }
  return std::move(builder).Finish();
}

}  // namespace xfr
