// Drives ZoneVersion::Build and ApplyDiff with zones and diffs chosen by the
// fuzz input, and checks every outcome against a plain reference model (a
// map from record identity to TTL): success exactly when the model says the
// result is a valid zone, and then the same records with the same TTLs, in
// strictly canonical order. A successful result must also survive
// ComputeDiff/ApplyDiff round trips.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>
#include <vector>

#include "core/diff.h"
#include "core/zone.h"

namespace xfr {
namespace {

class Input {
 public:
  Input(const uint8_t* data, size_t size) : p_(data), n_(size) {}
  uint8_t Next() {
    if (n_ == 0) return 0;
    --n_;
    return *p_++;
  }
  bool empty() const { return n_ == 0; }

 private:
  const uint8_t* p_;
  size_t n_;
};

// Aborts with the line of the failed expectation, for the crash report.
#define CHECK_OR_DIE(cond)                                            \
  do {                                                                \
    if (!(cond)) {                                                    \
      std::fprintf(stderr, "diff_fuzz.cc:%d: %s\n", __LINE__, #cond); \
      std::abort();                                                   \
    }                                                                 \
  } while (0)

Name N(const char* text) { return *Name::FromText(text); }

// Owners: in zone (with case variants, so identities collide), and out of it.
const char* const kOwners[] = {
    "example.com.",       "a.example.com.",    "A.EXAMPLE.com.",
    "b.a.example.com.",   "*.example.com.",    "\\000.example.com.",
    "z.example.com.",     "Z.Example.Com.",    "x.y.z.example.com.",
    "example.org.",       "com.",              "notexample.com.",
};
constexpr size_t kInZoneOwners = 9;  // the first nine

std::vector<uint8_t> SoaRdata(uint32_t serial) {
  std::vector<uint8_t> d;
  for (const char* n : {"ns.example.com.", "h.example.com."}) {
    Name nm = N(n);
    d.insert(d.end(), nm.wire().begin(), nm.wire().end());
  }
  for (uint32_t v : {serial, 1u, 2u, 3u, 4u}) {
    uint8_t b[4];
    StoreU32(b, v);
    d.insert(d.end(), b, b + 4);
  }
  return d;
}

Record Soa(uint32_t serial, const char* owner = "example.com.") {
  Record r;
  r.owner = N(owner);
  r.type = RRType::kSOA;
  r.ttl = 3600;
  r.rdata = SoaRdata(serial);
  return r;
}

Record MakeRecord(Input& in) {
  Record r;
  uint8_t sel = in.Next();
  r.owner = N(kOwners[sel % std::size(kOwners)]);
  r.ttl = (sel & 0x80) ? 60 : 300;
  uint8_t t = in.Next();
  uint8_t v = in.Next();
  switch (t % 8) {
    case 0:
    case 1:
      r.type = RRType::kA;
      r.rdata = {192, 0, 2, static_cast<uint8_t>(v % 4)};
      break;
    case 2:
      r.type = RRType::kTXT;
      r.rdata = {1, static_cast<uint8_t>((v & 1) ? 'a' : 'A')};
      break;
    case 3: {
      r.type = RRType::kNS;
      Name nm = N((v & 1) ? "ns.example.com." : "NS.example.com.");
      r.rdata.assign(nm.wire().begin(), nm.wire().end());
      break;
    }
    case 4:
    case 5:
      r.type = RRType(65280 + (v & 1));
      r.rdata.assign(v % 5, static_cast<uint8_t>(v >> 4));
      break;
    case 6:
      r.type = RRType::kA;
      r.rclass = (v & 0x10) ? RRClass::kCH : RRClass::kIN;
      r.rdata = {10, 0, 0, static_cast<uint8_t>(v % 2)};
      break;
    default:
      // Rarely an SOA: a second SOA in a zone, or an SOA inside a diff.
      if (v % 8 == 0) {
        r = Soa(v, kOwners[sel % std::size(kOwners)]);
      } else {
        r.type = RRType::kAAAA;
        r.rdata.assign(16, static_cast<uint8_t>(v % 3));
      }
  }
  return r;
}

// Identity key: lowercased owner, type, class, RDATA bytes.
std::string Key(const RecordView& r) {
  std::string k;
  for (uint8_t c : r.owner.wire()) k.push_back(static_cast<char>(AsciiLower(c)));
  k.push_back(static_cast<char>(r.type.value() >> 8));
  k.push_back(static_cast<char>(r.type.value()));
  k.push_back(static_cast<char>(r.rclass.value() >> 8));
  k.push_back(static_cast<char>(r.rclass.value()));
  k.append(r.rdata.begin(), r.rdata.end());
  return k;
}

bool InZone(const Record& r) {
  for (size_t i = 0; i < kInZoneOwners; ++i) {
    if (r.owner == N(kOwners[i])) return true;
  }
  return false;
}

using Model = std::map<std::string, uint32_t>;  // identity -> TTL

// Whether `records` form a valid zone as Build/ApplyDiff define it.
bool ValidZone(const std::vector<Record>& records, size_t max_records) {
  int soas = 0;
  for (const Record& r : records) {
    if (!InZone(r) || r.rclass != RRClass::kIN) return false;
    if (r.type == RRType::kSOA) {
      if (!(r.owner == N("example.com."))) return false;
      ++soas;
    }
  }
  return soas == 1 && records.size() <= max_records;
}

void CheckEquals(const ZoneVersion& z, const Model& m) {
  CHECK_OR_DIE(z.size() == m.size());
  for (size_t i = 0; i < z.size(); ++i) {
    RecordView v = z.record(i);
    auto it = m.find(Key(v));
    CHECK_OR_DIE(it != m.end() && it->second == v.ttl);
    if (i > 0) CHECK_OR_DIE(CompareRecords(z.record(i - 1), v) < 0);
  }
}

void Run(Input& in) {
  BuildOptions options;
  options.max_records = 2 + in.Next() % 40;
  uint32_t serial = in.Next() * 0x01010101u;

  // Base zone; the model keeps the first record of each identity.
  std::vector<Record> base_records{Soa(serial)};
  for (int n = in.Next() % 24; n > 0; --n) base_records.push_back(MakeRecord(in));
  Model model;
  std::vector<Record> distinct;
  for (const Record& r : base_records) {
    if (model.emplace(Key(r.view()), r.ttl).second) distinct.push_back(r);
  }
  bool base_valid = ValidZone(distinct, options.max_records);
  auto base = ZoneVersion::Build(N("example.com."), base_records, options);
  CHECK_OR_DIE(base.ok() == base_valid);
  if (!base.ok()) return;
  CheckEquals(**base, model);

  // A diff against it.
  ZoneDiff diff;
  uint8_t mode = in.Next();
  diff.old_soa = Soa(mode % 16 == 0 ? serial + 1 : serial);
  diff.new_soa = Soa(serial + 7, mode % 16 == 1 ? "a.example.com." : "example.com.");
  for (int n = in.Next() % 16; n > 0; --n) diff.removed.push_back(MakeRecord(in));
  for (int n = in.Next() % 16; n > 0; --n) diff.added.push_back(MakeRecord(in));

  auto result = ApplyDiff(**base, diff, options);
  if (mode % 16 == 0) {
    CHECK_OR_DIE(!result.ok() &&
          result.status().code() == absl::StatusCode::kFailedPrecondition);
    return;
  }
  // Reference: delete by identity, then add (last add wins), new SOA.
  bool soa_in_lists = false;
  for (const Record& r : diff.removed) {
    soa_in_lists |= r.type == RRType::kSOA;
    model.erase(Key(r.view()));
  }
  model.erase(Key((*base)->soa()));
  std::map<std::string, Record> adds;
  for (const Record& r : diff.added) {
    soa_in_lists |= r.type == RRType::kSOA;
    adds.insert_or_assign(Key(r.view()), r);
  }
  adds.insert_or_assign(Key(diff.new_soa.view()), diff.new_soa);
  std::vector<Record> after;  // owners' case does not matter to validity
  for (auto& [k, r] : adds) model[k] = r.ttl;
  for (auto& [k, r] : adds) after.push_back(r);
  for (RecordView v : **base) {
    if (adds.count(Key(v)) == 0 && model.count(Key(v)) != 0) {
      after.push_back(ToRecord(v));
    }
  }
  bool valid = !soa_in_lists && ValidZone(after, options.max_records);
  CHECK_OR_DIE(result.ok() == valid);
  if (!result.ok()) return;
  CheckEquals(**result, model);

  // Round trips between the two versions.
  ZoneDiff forward = ComputeDiff(**base, **result);
  auto again = ApplyDiff(**base, forward, options);
  CHECK_OR_DIE(again.ok() && **again == **result);
  ZoneDiff back = ComputeDiff(**result, **base);
  auto undone = ApplyDiff(**result, back, options);
  CHECK_OR_DIE(undone.ok() && **undone == **base);
  auto condensed = Condense(std::vector<ZoneDiff>{forward, back});
  CHECK_OR_DIE(condensed.ok() && condensed->removed.empty() &&
        condensed->added.empty());
}

}  // namespace
}  // namespace xfr

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  xfr::Input in(data, size);
  xfr::Run(in);
  return 0;
}
