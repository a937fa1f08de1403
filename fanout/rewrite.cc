#include "fanout/rewrite.h"

#include <algorithm>
#include <string>
#include <utility>

#include "core/wire.h"
#include "fmt/format.h"

namespace xfr {
namespace {

bool IsReplaced(RRType t) {
  return t == RRType::kA || t == RRType::kAAAA || t == RRType::kCNAME;
}

// RFC 4034 §3.1: RRSIG RDATA starts with the 16-bit Type Covered.
bool CoversReplaced(const RecordView& rr) {
  return rr.type == RRType::kRRSIG && rr.rdata.size() >= 2 &&
         IsReplaced(RRType(LoadU16(rr.rdata.data())));
}

template <typename A>
std::vector<A> SortedUnique(std::vector<A> v) {
  std::sort(v.begin(), v.end());
  v.erase(std::unique(v.begin(), v.end()), v.end());
  return v;
}

// The policy's edge addresses in RDATA order (the order a version keeps an
// RRset in), without repeats, so synthesised RRsets need no sorting.
class Edges {
 public:
  explicit Edges(const RewritePolicy& p)
      : v4_(SortedUnique(p.edge_v4)), v6_(SortedUnique(p.edge_v6)),
        ttl_(p.ttl) {}

  // Rewrites the records of one proxied owner name (`name`, canonical
  // order) into `out`, in canonical order: A, AAAA and CNAME records give
  // way to the edge RRsets, and RRSIGs covering them are dropped. Returns
  // false, leaving `out` empty, when that changes nothing.
  bool RewriteName(RecordRange name, std::vector<RecordView>& out) const {
    out.clear();
    bool replaced = false;  // the name has an A, AAAA or CNAME
    bool drops = false;     // ... or an RRSIG covering one
    RecordView like;        // the first such record: owner case, class
    for (RecordView rr : name) {
      if (IsReplaced(rr.type) && !replaced) {
        replaced = true;
        like = rr;
      }
      drops = drops || IsReplaced(rr.type) || CoversReplaced(rr);
    }
    if (!drops) return false;
    // Types of one name are ordered by number: A (1) < CNAME (5) < AAAA (28);
    // each synthesised RRset goes in before the first kept record of a
    // higher type. The owner keeps the case the upstream record had.
    bool a_done = !replaced, aaaa_done = !replaced;
    auto emit_a = [&] {
      for (const auto& a : v4_) out.push_back(Synth(like, RRType::kA, a));
      a_done = true;
    };
    auto emit_aaaa = [&] {
      for (const auto& a : v6_) out.push_back(Synth(like, RRType::kAAAA, a));
      aaaa_done = true;
    };
    for (RecordView rr : name) {
      if (IsReplaced(rr.type) || CoversReplaced(rr)) continue;
      if (!a_done && rr.type > RRType::kA) emit_a();
      if (!aaaa_done && rr.type > RRType::kAAAA) emit_aaaa();
      out.push_back(rr);
    }
    if (!a_done) emit_a();
    if (!aaaa_done) emit_aaaa();
    return true;
  }

 private:
  template <size_t N>
  RecordView Synth(const RecordView& like, RRType type,
                   const std::array<uint8_t, N>& addr) const {
    RecordView v;
    v.owner = like.owner;
    v.type = type;
    v.rclass = like.rclass;
    v.ttl = ttl_;
    v.rdata = Bytes(addr.data(), N);
    return v;
  }

  std::vector<std::array<uint8_t, 4>> v4_;
  std::vector<std::array<uint8_t, 16>> v6_;
  uint32_t ttl_;
};

// One past the last record owned by the owner of record `i`.
size_t NameEnd(const ZoneVersion& z, size_t i, size_t limit) {
  NameView owner = z.record(i).owner;
  size_t j = i + 1;
  while (j < limit && z.record(j).owner.EqualsIgnoreCase(owner)) ++j;
  return j;
}

// First index in [lo, hi) where `pred` holds, for a predicate that is false
// and then true over the range.
template <typename Pred>
size_t PartitionPoint(const ZoneVersion& z, size_t lo, size_t hi, Pred pred) {
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (pred(z.record(mid))) {
      hi = mid;
    } else {
      lo = mid + 1;
    }
  }
  return lo;
}

struct IndexRange {
  size_t first;
  size_t last;
};

// The records of the proxied names as sorted, disjoint index ranges, each
// made of whole names. The names strictly below a suffix are contiguous in
// canonical order (RFC 4034 §6.1 compares from the rightmost label, so all
// of them share the suffix's labels and sort right after the suffix
// itself), so two binary searches bound them. Patterns are taken in
// canonical order and each search starts where the previous one ended:
// thousands of exact names then cost thousands of narrowing searches whose
// first probes stay in cache, not a walk of the zone.
std::vector<IndexRange> ProxiedSpans(const ZoneVersion& z,
                                     const RewritePolicy& policy) {
  std::vector<const RewritePolicy::Pattern*> patterns;
  patterns.reserve(policy.names.size());
  for (const RewritePolicy::Pattern& p : policy.names) patterns.push_back(&p);
  std::sort(patterns.begin(), patterns.end(), [](const auto* a, const auto* b) {
    return CompareCanonical(a->name.view(), b->name.view()) < 0;
  });
  std::vector<IndexRange> spans;
  size_t from = 0;  // every record before it sorts before the next pattern
  for (const RewritePolicy::Pattern* p : patterns) {
    NameView name = p->name.view();
    size_t lo = PartitionPoint(z, from, z.size(), [&](const RecordView& rr) {
      return CompareCanonical(rr.owner, name) >= 0;
    });
    from = lo;
    size_t hi = lo;
    while (hi < z.size() && z.record(hi).owner.EqualsIgnoreCase(name)) ++hi;
    if (p->below) {
      lo = hi;
      hi = PartitionPoint(z, lo, z.size(), [&](const RecordView& rr) {
        return !rr.owner.IsSubdomainOf(name);
      });
    }
    if (lo < hi) spans.push_back({lo, hi});
  }
  std::sort(spans.begin(), spans.end(),
            [](const IndexRange& a, const IndexRange& b) { return a.first < b.first; });
  // Spans of whole names either nest or are disjoint; merge the overlaps.
  std::vector<IndexRange> merged;
  for (const IndexRange& sp : spans) {
    if (!merged.empty() && sp.first <= merged.back().last) {
      merged.back().last = std::max(merged.back().last, sp.last);
    } else {
      merged.push_back(sp);
    }
  }
  return merged;
}

std::vector<RecordView> Views(RecordRange r) {
  return std::vector<RecordView>(r.begin(), r.end());
}

// Appends to `d` the changes from `older` to `newer`, both the records of
// one owner in canonical order, exactly as ComputeDiff would: a TTL-only
// change is the old record removed and the new one added; the SOA is left
// to the diff's SOA fields.
void DiffName(const std::vector<RecordView>& older,
              const std::vector<RecordView>& newer, ZoneDiff& d) {
  size_t i = 0, j = 0;
  while (i < older.size() || j < newer.size()) {
    int c;
    if (i < older.size() && j < newer.size()) {
      c = CompareRecords(older[i], newer[j]);
    } else {
      c = i < older.size() ? -1 : 1;
    }
    if (c < 0) {
      if (older[i].type != RRType::kSOA) d.removed.push_back(ToRecord(older[i]));
      ++i;
    } else if (c > 0) {
      if (newer[j].type != RRType::kSOA) d.added.push_back(ToRecord(newer[j]));
      ++j;
    } else {
      if (older[i].ttl != newer[j].ttl && older[i].type != RRType::kSOA) {
        d.removed.push_back(ToRecord(older[i]));
        d.added.push_back(ToRecord(newer[j]));
      }
      ++i;
      ++j;
    }
  }
}

// RFC 4343: patterns as lowercased wire names, for set comparison.
std::vector<std::pair<std::string, bool>> NormalizedPatterns(
    const RewritePolicy& p) {
  std::vector<std::pair<std::string, bool>> out;
  out.reserve(p.names.size());
  for (const RewritePolicy::Pattern& n : p.names) {
    Name lower = n.name.Lowercased();  // wire() points into it
    Bytes w = lower.wire();
    out.emplace_back(std::string(w.begin(), w.end()), n.below);
  }
  return SortedUnique(std::move(out));
}

}  // namespace

bool RewritePolicy::Matches(NameView owner) const {
  for (const Pattern& p : names) {
    NameView name = p.name.view();
    if (p.below ? owner.size() > name.size() && owner.IsSubdomainOf(name)
                : owner.EqualsIgnoreCase(name)) {
      return true;
    }
  }
  return false;
}

bool operator==(const RewritePolicy& a, const RewritePolicy& b) {
  return a.ttl == b.ttl && SortedUnique(a.edge_v4) == SortedUnique(b.edge_v4) &&
         SortedUnique(a.edge_v6) == SortedUnique(b.edge_v6) &&
         NormalizedPatterns(a) == NormalizedPatterns(b);
}

absl::StatusOr<std::shared_ptr<const ZoneVersion>> RewriteZone(
    const ZoneVersion& upstream, const RewritePolicy& policy,
    const BuildOptions& options) {
  const Edges edges(policy);
  // First the proxied names alone: which upstream runs are replaced, and by
  // what, so the new version's arena is sized exactly (growing or
  // shrinking a zone-sized arena would copy it once more).
  struct Replacement {
    IndexRange upstream;
    size_t first, last;  // in `rewritten`
  };
  std::vector<Replacement> replaced;
  std::vector<RecordView> rewritten, one;
  size_t records = upstream.size(), bytes = upstream.wire_bytes();
  for (const IndexRange& sp : ProxiedSpans(upstream, policy)) {
    for (size_t i = sp.first; i < sp.last;) {
      size_t end = NameEnd(upstream, i, sp.last);
      if (edges.RewriteName(RecordRange(&upstream, i, end), one)) {
        replaced.push_back({{i, end}, rewritten.size(), rewritten.size() + one.size()});
        rewritten.insert(rewritten.end(), one.begin(), one.end());
        records = records - (end - i) + one.size();
        for (size_t k = i; k < end; ++k) bytes -= upstream.record_wire(k).size();
        for (const RecordView& rr : one) bytes += RecordWireSize(rr);
      }
      i = end;
    }
  }
  // Then the copy: untouched runs wholesale, replaced names record by record.
  ZoneVersionBuilder out(upstream.origin(), options, records, bytes);
  size_t copied = 0;  // upstream records before this are in `out`
  for (const Replacement& r : replaced) {
    out.AppendRange(upstream, copied, r.upstream.first);
    for (size_t k = r.first; k < r.last; ++k) out.Append(rewritten[k]);
    copied = r.upstream.last;
  }
  out.AppendRange(upstream, copied, upstream.size());
  return std::move(out).Finish();
}

absl::StatusOr<RewriteResult> RewriteChange(const ZoneVersion& served_old,
                                            const ZoneVersion& upstream_new,
                                            const ZoneDiff& upstream_diff,
                                            const RewritePolicy& policy,
                                            const BuildOptions& options) {
  if (!(served_old.origin() == upstream_new.origin())) {
    return absl::InvalidArgumentError(fmt::format(
        "rewrite of zone {} given a served version of zone {}",
        upstream_new.origin().ToText(), served_old.origin().ToText()));
  }
  if (upstream_diff.from() != served_old.serial() ||
      upstream_diff.to() != upstream_new.serial()) {
    return absl::FailedPreconditionError(fmt::format(
        "zone {}: upstream diff {} -> {} does not join served serial {} to "
        "upstream serial {}",
        upstream_new.origin().ToText(), upstream_diff.from().ToString(),
        upstream_diff.to().ToString(), served_old.serial().ToString(),
        upstream_new.serial().ToString()));
  }
  // The rewrite of a name depends on that name's records alone, so only
  // the owners the upstream diff touches can change downstream.
  std::vector<NameView> owners;
  owners.reserve(upstream_diff.removed.size() + upstream_diff.added.size());
  for (const auto* list : {&upstream_diff.removed, &upstream_diff.added}) {
    for (const Record& r : *list) owners.push_back(r.owner.view());
  }
  std::sort(owners.begin(), owners.end(), CanonicalLess());
  owners.erase(std::unique(owners.begin(), owners.end(),
                           [](NameView a, NameView b) {
                             return a.EqualsIgnoreCase(b);
                           }),
               owners.end());

  const Edges edges(policy);
  RewriteResult result;
  // The served SOA is the upstream SOA, unchanged.
  result.diff.old_soa = ToRecord(served_old.soa());
  result.diff.new_soa = ToRecord(upstream_new.soa());
  std::vector<RecordView> rewritten;
  for (NameView owner : owners) {
    RecordRange upstream = upstream_new.FindName(owner);
    std::vector<RecordView> newer;
    if (policy.Matches(owner) && edges.RewriteName(upstream, rewritten)) {
      newer = std::move(rewritten);
      rewritten = {};
    } else {
      newer = Views(upstream);
    }
    // Owners come in canonical order and each name's changes are sorted,
    // so the lists come out in canonical order, as ComputeDiff's do.
    DiffName(Views(served_old.FindName(owner)), newer, result.diff);
  }
  absl::StatusOr<std::shared_ptr<const ZoneVersion>> served =
      ApplyDiff(served_old, result.diff, options);
  if (!served.ok()) return served.status();
  result.served = *std::move(served);
  return result;
}

bool IsSigned(const ZoneVersion& zone) {
  return !zone.FindRRset(zone.origin(), RRType::kDNSKEY).empty() ||
         !zone.FindRRset(zone.origin(), RRType::kRRSIG).empty();
}

size_t CountProxiedNames(const ZoneVersion& zone, const RewritePolicy& policy) {
  size_t n = 0;
  for (const IndexRange& s : ProxiedSpans(zone, policy)) {
    for (size_t i = s.first; i < s.last; i = NameEnd(zone, i, s.last)) ++n;
  }
  return n;
}

}  // namespace xfr
