#include "core/diff.h"

#include <algorithm>
#include <cstring>
#include <numeric>
#include <utility>

#include "fmt/format.h"

namespace xfr {
namespace {

Serial SoaSerial(const Record& soa) {
  std::optional<SoaFields> f =
      ParseSoaRdata(Bytes(soa.rdata.data(), soa.rdata.size()));
  return f ? f->serial : Serial(0);
}

// Indices of `records` in canonical order; equal identities keep their
// relative (diff) order, which ApplyDiff and Condense rely on.
std::vector<uint32_t> SortedOrder(const std::vector<Record>& records) {
  std::vector<uint32_t> order(records.size());
  std::iota(order.begin(), order.end(), 0u);
  std::sort(order.begin(), order.end(), [&](uint32_t a, uint32_t b) {
    int c = CompareRecords(records[a].view(), records[b].view());
    return c != 0 ? c < 0 : a < b;
  });
  return order;
}

absl::Status CheckSoa(const Record& soa, const char* which) {
  if (soa.type != RRType::kSOA ||
      !ParseSoaRdata(Bytes(soa.rdata.data(), soa.rdata.size()))) {
    return absl::InvalidArgumentError(
        fmt::format("diff {} is not a well-formed SOA record ({} {})", which,
                    soa.owner.ToText(), soa.type.ToString()));
  }
  return absl::OkStatus();
}

absl::Status CheckNoSoa(const std::vector<Record>& records, const char* list) {
  for (const Record& r : records) {
    if (r.type == RRType::kSOA) {
      return absl::InvalidArgumentError(fmt::format(
          "SOA record at {} inside the {} records of a diff",
          r.owner.ToText(), list));
    }
  }
  return absl::OkStatus();
}

}  // namespace

Serial ZoneDiff::from() const { return SoaSerial(old_soa); }
Serial ZoneDiff::to() const { return SoaSerial(new_soa); }

ZoneDiff ComputeDiff(const ZoneVersion& older, const ZoneVersion& newer) {
  ZoneDiff d;
  d.old_soa = ToRecord(older.soa());
  d.new_soa = ToRecord(newer.soa());
  size_t i = 0, j = 0;
  const size_t n = older.size(), m = newer.size();
  while (i < n || j < m) {
    if (i < n && j < m) {
      // Fast path: byte-identical wire forms are the same record with the
      // same TTL, and most records of two consecutive versions are.
      Bytes wa = older.record_wire(i), wb = newer.record_wire(j);
      if (wa.size() == wb.size() &&
          std::memcmp(wa.data(), wb.data(), wa.size()) == 0) {
        ++i;
        ++j;
        continue;
      }
    }
    RecordView a, b;
    int c;
    if (i < n && j < m) {
      a = older.record(i);
      b = newer.record(j);
      c = CompareRecords(a, b);
    } else if (i < n) {
      a = older.record(i);
      c = -1;
    } else {
      b = newer.record(j);
      c = 1;
    }
    if (c < 0) {
      if (a.type != RRType::kSOA) d.removed.push_back(ToRecord(a));
      ++i;
    } else if (c > 0) {
      if (b.type != RRType::kSOA) d.added.push_back(ToRecord(b));
      ++j;
    } else {
      // Same identity; only the TTL (or the owner's case, which is not a
      // change: RFC 4343) can differ.
      if (a.ttl != b.ttl && a.type != RRType::kSOA) {
        d.removed.push_back(ToRecord(a));
        d.added.push_back(ToRecord(b));
      }
      ++i;
      ++j;
    }
  }
  return d;
}

absl::StatusOr<std::shared_ptr<const ZoneVersion>> ApplyDiff(
    const ZoneVersion& base, const ZoneDiff& diff,
    const BuildOptions& options) {
  if (absl::Status s = CheckSoa(diff.old_soa, "old SOA"); !s.ok()) return s;
  if (absl::Status s = CheckSoa(diff.new_soa, "new SOA"); !s.ok()) return s;
  if (diff.from() != base.serial()) {
    return absl::FailedPreconditionError(fmt::format(
        "diff for {} starts at serial {} but the zone is at serial {}",
        base.origin().ToText(), diff.from().ToString(),
        base.serial().ToString()));
  }
  if (absl::Status s = CheckNoSoa(diff.removed, "removed"); !s.ok()) return s;
  if (absl::Status s = CheckNoSoa(diff.added, "added"); !s.ok()) return s;

  std::vector<uint32_t> rem = SortedOrder(diff.removed);
  // The new SOA joins the additions at its sorted place; the base's SOA is
  // always dropped below.
  std::vector<RecordView> add;
  add.reserve(diff.added.size() + 1);
  for (uint32_t k : SortedOrder(diff.added)) {
    RecordView v = diff.added[k].view();
    // Equal identities are adjacent and in diff order: the last one wins.
    if (!add.empty() && CompareRecords(add.back(), v) == 0) {
      add.back() = v;
    } else {
      add.push_back(v);
    }
  }
  RecordView soa = diff.new_soa.view();
  add.insert(std::upper_bound(add.begin(), add.end(), soa,
                              [](const RecordView& x, const RecordView& y) {
                                return CompareRecords(x, y) < 0;
                              }),
             soa);

  size_t add_bytes = 0;
  for (const RecordView& v : add) add_bytes += RecordWireSize(v);
  ZoneVersionBuilder out(base.origin(), options, base.size() + add.size(),
                         base.wire_bytes() + add_bytes);
  const size_t n = base.size();
  // Copies base records [from, to) but the base SOA, which new_soa replaces.
  auto copy_base = [&](size_t from, size_t to) {
    size_t soa_at = base.soa_index();
    if (soa_at >= from && soa_at < to) {
      out.AppendRange(base, from, soa_at);
      out.AppendRange(base, soa_at + 1, to);
    } else {
      out.AppendRange(base, from, to);
    }
  };
  // Walk the sorted changes; between two changes the base is copied
  // wholesale, and each change is located by binary search, so the cost is
  // one memcpy of the zone plus O(k log n) comparisons.
  size_t i = 0, a = 0, r = 0;
  while ((a < add.size() || r < rem.size()) && out.ok()) {
    // At equal identity the removal goes first (RFC 1995 §4: deletions,
    // then additions), so a TTL change ends with the added record.
    bool is_removal;
    if (a == add.size()) {
      is_removal = true;
    } else if (r == rem.size()) {
      is_removal = false;
    } else {
      is_removal = CompareRecords(diff.removed[rem[r]].view(), add[a]) <= 0;
    }
    RecordView key = is_removal ? diff.removed[rem[r]].view() : add[a];
    size_t lo = i, hi = n;
    while (lo < hi) {
      size_t mid = lo + (hi - lo) / 2;
      if (CompareRecords(base.record(mid), key) < 0) {
        lo = mid + 1;
      } else {
        hi = mid;
      }
    }
    copy_base(i, lo);
    i = lo;
    bool present = i < n && CompareRecords(base.record(i), key) == 0;
    if (present) ++i;  // deleted, or replaced by the addition
    if (is_removal) {
      ++r;
    } else {
      out.Append(key);
      ++a;
    }
  }
  copy_base(i, n);
  return std::move(out).Finish();
}

absl::StatusOr<ZoneDiff> Condense(absl::Span<const ZoneDiff> chain) {
  if (chain.empty()) return absl::InvalidArgumentError("empty diff chain");
  for (size_t k = 1; k < chain.size(); ++k) {
    if (chain[k].from() != chain[k - 1].to()) {
      return absl::InvalidArgumentError(fmt::format(
          "diff chain broken: diff {} ends at serial {} but diff {} starts "
          "at {}",
          k - 1, chain[k - 1].to().ToString(), k, chain[k].from().ToString()));
    }
  }
  // Every operation of the chain, tagged with its place in time: diff k's
  // removals (step 2k) come before its additions (step 2k+1), RFC 1995 §4.
  struct Op {
    const Record* rr;
    uint32_t step;
  };
  std::vector<Op> ops;
  size_t total = 0;
  for (const ZoneDiff& d : chain) total += d.removed.size() + d.added.size();
  ops.reserve(total);
  for (size_t k = 0; k < chain.size(); ++k) {
    uint32_t step = static_cast<uint32_t>(2 * k);
    for (const Record& r : chain[k].removed) ops.push_back({&r, step});
    for (const Record& r : chain[k].added) ops.push_back({&r, step + 1});
  }
  // Group by identity, in time order within a group.
  std::stable_sort(ops.begin(), ops.end(), [](const Op& x, const Op& y) {
    int c = CompareRecords(x.rr->view(), y.rr->view());
    return c != 0 ? c < 0 : x.step < y.step;
  });

  ZoneDiff out;
  out.old_soa = chain.front().old_soa;
  out.new_soa = chain.back().new_soa;
  for (size_t g = 0; g < ops.size();) {
    size_t end = g + 1;
    while (end < ops.size() &&
           CompareRecords(ops[g].rr->view(), ops[end].rr->view()) == 0) {
      ++end;
    }
    // The first operation tells what the start version held (a consistent
    // chain only removes what is there); the last tells what the end
    // version holds.
    const Record* before = (ops[g].step % 2 == 0) ? ops[g].rr : nullptr;
    const Record* after =
        (ops[end - 1].step % 2 == 1) ? ops[end - 1].rr : nullptr;
    if (before != nullptr && after != nullptr) {
      if (before->ttl != after->ttl) {
        out.removed.push_back(*before);
        out.added.push_back(*after);
      }
    } else if (before != nullptr) {
      out.removed.push_back(*before);
    } else if (after != nullptr) {
      out.added.push_back(*after);
    }
    g = end;
  }
  return out;
}

}  // namespace xfr
