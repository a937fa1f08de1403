// What the rewrite of proxied records (fanout/rewrite.h, issue 5) costs per
// served version, on a 1M-record zone where 1% of the names are proxied
// (half listed one by one, half below "*.cdn.example.com."; a quarter of
// them CNAMEs to flatten):
//   BM_RewriteZone         the full rewrite, as on a reload or an AXFR;
//   BM_RewriteChange       a 10-record upstream change (half at proxied
//                          names) turned into the next served version and
//                          its diff;
//   BM_RewriteZoneAndDiff  the same change done the naive way: rewrite the
//                          new upstream version from scratch and diff it;
//   BM_NoPolicyDiffApply   the baseline without a policy: ComputeDiff and
//                          ApplyDiff of the same change;
//   BM_NoPolicyApply       ApplyDiff alone (the IXFR path without a policy).
// records/s counts the zone's records once per operation, so the rates
// compare directly.
//
// Every operation builds a new ~50 MB version. With glibc's defaults an
// allocation that size is a fresh mmap, and on a VM where first-touch page
// faults are slow that dominates (about 150 ms per version here, whatever
// the path). xfrproxy's main() keeps freed arenas in the heap
// (proxy/main.cc), and so does this binary, below, so the figures are the
// work itself as the product does it; XFR_BENCH_DEFAULT_MALLOC=1 measures
// glibc's defaults instead.
#include <malloc.h>

#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "benchmark/benchmark.h"
#include "core/diff.h"
#include "core/zone.h"
#include "fanout/rewrite.h"
#include "fmt/format.h"

namespace xfr {
namespace {

// As proxy/main.cc, before any benchmark runs.
const bool kHeapKept = [] {
  if (std::getenv("XFR_BENCH_DEFAULT_MALLOC") != nullptr) return false;
  mallopt(M_MMAP_THRESHOLD, 1 << 30);
  mallopt(M_TRIM_THRESHOLD, 1 << 30);
  return true;
}();

constexpr size_t kRecords = 1'000'000;
constexpr size_t kChange = 10;
// One name in kProxiedEvery is proxied: every 200th is listed exactly and
// every 200th (offset by 100) lives below cdn.example.com.
constexpr uint32_t kProxiedEvery = 100;

Name MustName(const std::string& text) { return *Name::FromText(text); }

Record Make(const Name& owner, RRType type, uint32_t ttl, std::vector<uint8_t> rdata) {
  Record r;
  r.owner = owner;
  r.type = type;
  r.ttl = ttl;
  r.rdata = std::move(rdata);
  return r;
}

std::vector<uint8_t> Wire(const Name& n) {
  return std::vector<uint8_t>(n.wire().begin(), n.wire().end());
}

std::vector<uint8_t> SoaRdata(uint32_t serial) {
  std::vector<uint8_t> d = Wire(MustName("ns1.example.com."));
  std::vector<uint8_t> r = Wire(MustName("hostmaster.example.com."));
  d.insert(d.end(), r.begin(), r.end());
  for (uint32_t v : {serial, 3600u, 600u, 1209600u, 300u}) {
    uint8_t b[4];
    StoreU32(b, v);
    d.insert(d.end(), b, b + 4);
  }
  return d;
}

Name Owner(uint32_t i) {
  uint32_t id = i * 2654435761u;  // scrambles names against the order of i
  if (i % 200 == 100) return MustName(fmt::format("h{}.cdn.example.com.", id));
  return MustName(fmt::format("h{}.example.com.", id));
}

struct Setup {
  std::shared_ptr<const ZoneVersion> upstream;
  RewritePolicy policy;
  size_t proxied_names = 0;
};

// A hosting-style zone: every name has an address (A, or a CNAME for a
// quarter of the proxied ones), half an AAAA, a quarter a TXT, a fifth an MX.
const Setup& Base() {
  static const Setup* s = [] {
    auto* out = new Setup;
    std::vector<Record> rs;
    rs.reserve(kRecords);
    rs.push_back(Make(MustName("example.com."), RRType::kSOA, 3600, SoaRdata(1000)));
    std::vector<uint8_t> mx{0, 10};
    for (uint8_t b : Wire(MustName("mail.example.com."))) mx.push_back(b);
    out->policy.names.push_back({MustName("cdn.example.com."), true});
    for (uint32_t i = 0; rs.size() < kRecords; ++i) {
      Name owner = Owner(i);
      bool proxied = i % kProxiedEvery == 0;
      if (i % 200 == 0) out->policy.names.push_back({owner, false});
      uint8_t b0 = static_cast<uint8_t>(i), b1 = static_cast<uint8_t>(i >> 8);
      if (proxied && i % 400 == 0) {
        rs.push_back(Make(owner, RRType::kCNAME, 300, Wire(MustName("origin.example.net."))));
      } else {
        rs.push_back(Make(owner, RRType::kA, 300, {192, 0, b1, b0}));
      }
      if (i % 2 == 0 && !(proxied && i % 400 == 0)) {
        std::vector<uint8_t> v6(16, 0);
        v6[0] = 0x20;
        v6[1] = 0x01;
        v6[14] = b1;
        v6[15] = b0;
        rs.push_back(Make(owner, RRType::kAAAA, 300, v6));
      }
      if (i % 4 == 0) {
        std::string t = fmt::format("v=spf1 include:_spf.example.net ~all {}", i);
        std::vector<uint8_t> txt{static_cast<uint8_t>(t.size())};
        txt.insert(txt.end(), t.begin(), t.end());
        rs.push_back(Make(owner, RRType::kTXT, 3600, txt));
      }
      if (i % 5 == 0) rs.push_back(Make(owner, RRType::kMX, 3600, mx));
    }
    rs.resize(kRecords);
    auto z = ZoneVersion::Build(MustName("example.com."), std::move(rs));
    if (!z.ok()) std::abort();
    out->upstream = *z;
    out->policy.edge_v4 = {{198, 51, 100, 1}, {198, 51, 100, 2}};
    out->policy.edge_v6 = {{0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1},
                           {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2}};
    out->proxied_names = CountProxiedNames(*out->upstream, out->policy);
    return out;
  }();
  return *s;
}

const std::shared_ptr<const ZoneVersion>& Served() {
  static const auto* s = [] {
    auto r = RewriteZone(*Base().upstream, Base().policy);
    if (!r.ok()) std::abort();
    return new std::shared_ptr<const ZoneVersion>(*r);
  }();
  return *s;
}

// The next upstream version: kChange records changed, half at proxied
// names (origin address moves, which downstream never sees) and half at
// ordinary names, as the diff an IXFR would carry.
struct Change {
  std::shared_ptr<const ZoneVersion> upstream;
  ZoneDiff diff;
};

const Change& NextVersion() {
  static const Change* c = [] {
    const ZoneVersion& up = *Base().upstream;
    ZoneDiff d;
    d.old_soa = ToRecord(up.soa());
    d.new_soa = d.old_soa;
    d.new_soa.rdata = SoaRdata(1001);
    for (uint32_t k = 0; k < kChange / 2; ++k) {
      // Proxied (i = 100 mod 200: below cdn) and ordinary names.
      for (uint32_t i : {k * 40000 + 100, k * 40000 + 1}) {
        RecordRange a = up.FindRRset(Owner(i), RRType::kA);
        if (a.empty()) std::abort();
        Record old_a = ToRecord(a[0]);
        Record new_a = old_a;
        new_a.rdata[0] = 203;
        d.removed.push_back(old_a);
        d.added.push_back(new_a);
      }
    }
    auto next = ApplyDiff(up, d);
    if (!next.ok()) std::abort();
    return new Change{*next, ComputeDiff(up, **next)};
  }();
  return *c;
}

void Counters(benchmark::State& state) {
  const ZoneVersion& z = *Base().upstream;
  state.counters["records/s"] = benchmark::Counter(
      static_cast<double>(z.size()), benchmark::Counter::kIsIterationInvariantRate);
  state.counters["bytes/s"] = benchmark::Counter(
      static_cast<double>(z.wire_bytes()), benchmark::Counter::kIsIterationInvariantRate,
      benchmark::Counter::kIs1024);
  state.counters["zone_records"] = static_cast<double>(z.size());
  state.counters["proxied_names"] = static_cast<double>(Base().proxied_names);
}

void BM_RewriteZone(benchmark::State& state) {
  const Setup& s = Base();
  std::shared_ptr<const ZoneVersion> out;
  for (auto _ : state) {
    out.reset();
    auto r = RewriteZone(*s.upstream, s.policy);
    if (!r.ok()) std::abort();
    out = *r;
  }
  Counters(state);
  state.counters["served_records"] = static_cast<double>(out->size());
}
BENCHMARK(BM_RewriteZone)->Unit(benchmark::kMillisecond);

void BM_RewriteChange(benchmark::State& state) {
  const Setup& s = Base();
  const auto& served = Served();
  const Change& c = NextVersion();
  size_t diff_records = 0;
  for (auto _ : state) {
    auto r = RewriteChange(*served, *c.upstream, c.diff, s.policy);
    if (!r.ok()) std::abort();
    diff_records = r->diff.removed.size() + r->diff.added.size();
    benchmark::DoNotOptimize(r);
  }
  Counters(state);
  state.counters["upstream_diff_records"] =
      static_cast<double>(c.diff.removed.size() + c.diff.added.size());
  state.counters["served_diff_records"] = static_cast<double>(diff_records);
}
BENCHMARK(BM_RewriteChange)->Unit(benchmark::kMillisecond);

void BM_RewriteZoneAndDiff(benchmark::State& state) {
  const Setup& s = Base();
  const auto& served = Served();
  const Change& c = NextVersion();
  for (auto _ : state) {
    auto r = RewriteZone(*c.upstream, s.policy);
    if (!r.ok()) std::abort();
    ZoneDiff d = ComputeDiff(*served, **r);
    benchmark::DoNotOptimize(d);
  }
  Counters(state);
}
BENCHMARK(BM_RewriteZoneAndDiff)->Unit(benchmark::kMillisecond);

void BM_NoPolicyDiffApply(benchmark::State& state) {
  const auto& up = Base().upstream;
  const Change& c = NextVersion();
  for (auto _ : state) {
    ZoneDiff d = ComputeDiff(*up, *c.upstream);
    auto r = ApplyDiff(*up, d);
    if (!r.ok()) std::abort();
    benchmark::DoNotOptimize(r);
  }
  Counters(state);
}
BENCHMARK(BM_NoPolicyDiffApply)->Unit(benchmark::kMillisecond);

void BM_NoPolicyApply(benchmark::State& state) {
  const auto& up = Base().upstream;
  const Change& c = NextVersion();
  std::shared_ptr<const ZoneVersion> out;
  for (auto _ : state) {
    out.reset();
    auto r = ApplyDiff(*up, c.diff);
    if (!r.ok()) std::abort();
    out = *r;
  }
  Counters(state);
}
BENCHMARK(BM_NoPolicyApply)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace xfr
