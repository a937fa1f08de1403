// Core micro-benchmarks on a 1M-record zone: building a version, diffing two
// versions, applying and condensing diffs, and encoding / parsing the AXFR
// messages of a version. Rates are records/s and bytes/s (uncompressed wire
// bytes for zone work, message bytes for encode/parse); bytes_per_record is
// what a version costs in memory. bench/RESULTS.md records the figures.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "benchmark/benchmark.h"
#include "core/diff.h"
#include "core/message.h"
#include "core/transfer.h"
#include "core/zone.h"
#include "fmt/format.h"

namespace xfr {
namespace {

constexpr size_t kZoneRecords = 1'000'000;

Name MustName(const std::string& text) { return *Name::FromText(text); }

Record MakeRecord(const Name& owner, RRType type, uint32_t ttl,
                  std::vector<uint8_t> rdata) {
  Record r;
  r.owner = owner;
  r.type = type;
  r.ttl = ttl;
  r.rdata = std::move(rdata);
  return r;
}

std::vector<uint8_t> SoaRdata(uint32_t serial) {
  std::vector<uint8_t> d;
  for (const char* n : {"ns1.example.com.", "hostmaster.example.com."}) {
    Name nm = MustName(n);
    d.insert(d.end(), nm.wire().begin(), nm.wire().end());
  }
  for (uint32_t v : {serial, 3600u, 600u, 1209600u, 300u}) {
    uint8_t b[4];
    StoreU32(b, v);
    d.insert(d.end(), b, b + 4);
  }
  return d;
}

// A zone shaped like a large hosting zone: every name has an A record; half
// have AAAA, a quarter TXT, a fifth MX, one in ten a 128-byte opaque record
// standing in for an RRSIG, one in fifty is a delegation with two NS. Input
// order is scrambled, as in a transfer.
std::vector<Record> MakeZone(size_t n, uint32_t serial) {
  std::vector<Record> rs;
  rs.reserve(n);
  Name apex = MustName("example.com.");
  rs.push_back(MakeRecord(apex, RRType::kSOA, 3600, SoaRdata(serial)));
  Name mx = MustName("mail.example.com.");
  std::vector<uint8_t> mx_rdata{0, 10};
  mx_rdata.insert(mx_rdata.end(), mx.wire().begin(), mx.wire().end());
  for (uint32_t i = 0; rs.size() < n; ++i) {
    // Multiplying by an odd constant scrambles the order names are given in.
    uint32_t id = i * 2654435761u;
    Name owner = MustName(fmt::format("h{}.example.com.", id));
    uint8_t b0 = static_cast<uint8_t>(id), b1 = static_cast<uint8_t>(id >> 8);
    rs.push_back(MakeRecord(owner, RRType::kA, 300, {198, 51, b1, b0}));
    if (i % 2 == 0) {
      std::vector<uint8_t> v6(16, 0);
      v6[0] = 0x20;
      v6[1] = 0x01;
      v6[14] = b1;
      v6[15] = b0;
      rs.push_back(MakeRecord(owner, RRType::kAAAA, 300, v6));
    }
    if (i % 4 == 0) {
      std::string t = fmt::format("v=spf1 include:_spf.example.net ~all {}", i);
      std::vector<uint8_t> txt{static_cast<uint8_t>(t.size())};
      txt.insert(txt.end(), t.begin(), t.end());
      rs.push_back(MakeRecord(owner, RRType::kTXT, 3600, txt));
    }
    if (i % 5 == 0) rs.push_back(MakeRecord(owner, RRType::kMX, 3600, mx_rdata));
    if (i % 10 == 0) {
      rs.push_back(MakeRecord(owner, RRType(65534), 300,
                              std::vector<uint8_t>(128, b0)));
    }
    if (i % 50 == 0) {
      for (const char* ns : {"ns1.provider.net.", "ns2.provider.net."}) {
        Name nm = MustName(ns);
        rs.push_back(MakeRecord(MustName(fmt::format("sub{}.example.com.", i)),
                                RRType::kNS, 86400,
                                std::vector<uint8_t>(nm.wire().begin(),
                                                     nm.wire().end())));
      }
    }
  }
  rs.resize(n);
  return rs;
}

const std::vector<Record>& ZoneRecords() {
  static const auto* rs = new std::vector<Record>(MakeZone(kZoneRecords, 1000));
  return *rs;
}

std::shared_ptr<const ZoneVersion> BuildOrDie(std::vector<Record> rs) {
  auto z = ZoneVersion::Build(MustName("example.com."), std::move(rs));
  if (!z.ok()) std::abort();
  return *z;
}

const std::shared_ptr<const ZoneVersion>& BaseZone() {
  static const auto* z =
      new std::shared_ptr<const ZoneVersion>(BuildOrDie(ZoneRecords()));
  return *z;
}

// The base zone with `changes` records changed: a third get a new TTL, a
// third new RDATA, a third are replaced by new names.
std::vector<Record> Changed(size_t changes, uint32_t serial, uint32_t salt) {
  std::vector<Record> rs;
  const ZoneVersion& z = *BaseZone();
  rs.reserve(z.size() + changes);
  size_t stride = z.size() / (changes + 1);
  for (size_t i = 0; i < z.size(); ++i) {
    Record r = ToRecord(z.record(i));
    if (r.type == RRType::kSOA) {
      r.rdata = SoaRdata(serial);
    } else if (i % stride == 0) {
      switch ((i / stride) % 3) {
        case 0:
          r.ttl += 1 + salt;
          break;
        case 1:
          r.rdata[1] ^= static_cast<uint8_t>(0x5a + salt);  // any byte is valid there
          break;
        default:
          r.owner = MustName(fmt::format("new{}-{}.example.com.", i, salt));
      }
    }
    rs.push_back(std::move(r));
  }
  return rs;
}

void SetZoneCounters(benchmark::State& state, size_t records, size_t bytes) {
  state.counters["records/s"] = benchmark::Counter(
      static_cast<double>(records), benchmark::Counter::kIsIterationInvariantRate);
  state.counters["bytes/s"] = benchmark::Counter(
      static_cast<double>(bytes), benchmark::Counter::kIsIterationInvariantRate,
      benchmark::Counter::kIs1024);
}

void BM_BuildZone(benchmark::State& state) {
  const std::vector<Record>& input = ZoneRecords();
  std::shared_ptr<const ZoneVersion> z;
  for (auto _ : state) {
    state.PauseTiming();
    std::vector<Record> copy = input;
    z.reset();
    state.ResumeTiming();
    z = BuildOrDie(std::move(copy));
  }
  SetZoneCounters(state, z->size(), z->wire_bytes());
  state.counters["bytes_per_record"] =
      static_cast<double>(z->memory_bytes()) / static_cast<double>(z->size());
  state.counters["wire_bytes_per_record"] =
      static_cast<double>(z->wire_bytes()) / static_cast<double>(z->size());
}
BENCHMARK(BM_BuildZone)->Unit(benchmark::kMillisecond);

void BM_ComputeDiff(benchmark::State& state) {
  const auto& a = BaseZone();
  auto b = BuildOrDie(Changed(1000, 1001, 0));
  size_t changed = 0;
  for (auto _ : state) {
    ZoneDiff d = ComputeDiff(*a, *b);
    changed = d.removed.size() + d.added.size();
    benchmark::DoNotOptimize(d);
  }
  SetZoneCounters(state, a->size() + b->size(),
                  a->wire_bytes() + b->wire_bytes());
  state.counters["diff_records"] = static_cast<double>(changed);
}
BENCHMARK(BM_ComputeDiff)->Unit(benchmark::kMillisecond);

void BM_ApplyDiff(benchmark::State& state) {
  const auto& a = BaseZone();
  ZoneDiff d = ComputeDiff(*a, *BuildOrDie(Changed(100, 1001, 0)));
  std::shared_ptr<const ZoneVersion> out;
  for (auto _ : state) {
    out.reset();
    auto r = ApplyDiff(*a, d);
    if (!r.ok()) std::abort();
    out = *r;
  }
  SetZoneCounters(state, a->size(), a->wire_bytes());
  state.counters["diff_records"] =
      static_cast<double>(d.removed.size() + d.added.size());
}
BENCHMARK(BM_ApplyDiff)->Unit(benchmark::kMillisecond);

void BM_Condense(benchmark::State& state) {
  // Ten consecutive 100-record diffs, as the journal would hold them.
  std::vector<ZoneDiff> chain;
  std::shared_ptr<const ZoneVersion> prev = BaseZone();
  for (uint32_t k = 0; k < 10; ++k) {
    auto next = BuildOrDie(Changed(100, 1001 + k, k));
    chain.push_back(ComputeDiff(*prev, *next));
    prev = next;
  }
  size_t ops = 0;
  for (const ZoneDiff& d : chain) ops += d.removed.size() + d.added.size();
  for (auto _ : state) {
    auto c = Condense(chain);
    if (!c.ok()) std::abort();
    benchmark::DoNotOptimize(*c);
  }
  state.counters["records/s"] = benchmark::Counter(
      static_cast<double>(ops), benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_Condense)->Unit(benchmark::kMicrosecond);

Question AxfrQuestion() {
  return Question{MustName("example.com."), RRType::kAXFR, RRClass::kIN};
}

std::vector<EncodedMessage> EncodeAxfr(const ZoneVersion& z) {
  TransferEncoder enc(AxfrQuestion());
  enc.Add(z.soa());
  for (RecordView v : z) {
    if (v.type != RRType::kSOA) enc.Add(v);
  }
  enc.Add(z.soa());
  auto msgs = enc.Finish();
  if (!msgs.ok()) std::abort();
  return *std::move(msgs);
}

void BM_EncodeAxfr(benchmark::State& state) {
  const auto& z = BaseZone();
  size_t bytes = 0, messages = 0;
  for (auto _ : state) {
    std::vector<EncodedMessage> msgs = EncodeAxfr(*z);
    bytes = 0;
    for (const EncodedMessage& m : msgs) bytes += m.wire.size();
    messages = msgs.size();
    benchmark::DoNotOptimize(msgs);
  }
  SetZoneCounters(state, z->size() + 1, bytes);
  state.counters["messages"] = static_cast<double>(messages);
  state.counters["wire_vs_arena"] =
      static_cast<double>(bytes) / static_cast<double>(z->wire_bytes());
}
BENCHMARK(BM_EncodeAxfr)->Unit(benchmark::kMillisecond);

void BM_ParseAxfr(benchmark::State& state) {
  const auto& z = BaseZone();
  std::vector<std::vector<uint8_t>> wires;
  std::vector<uint8_t> question = EncodeQuestion(AxfrQuestion());
  for (const EncodedMessage& m : EncodeAxfr(*z)) {
    auto w = MaterializeForRequest(m, 0x1234, false,
                                   Bytes(question.data(), question.size()));
    if (!w.ok()) std::abort();
    wires.push_back(*std::move(w));
  }
  size_t bytes = 0, records = 0;
  for (const auto& w : wires) bytes += w.size();
  for (auto _ : state) {
    records = 0;
    for (const auto& w : wires) {
      auto m = ParseMessage(Bytes(w.data(), w.size()));
      if (!m.ok()) std::abort();
      records += m->answer.size();
      benchmark::DoNotOptimize(*m);
    }
  }
  SetZoneCounters(state, records, bytes);
}
BENCHMARK(BM_ParseAxfr)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace xfr
