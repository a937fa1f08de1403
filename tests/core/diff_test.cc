#include "core/diff.h"

#include <algorithm>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "core/ascii.h"
#include "gtest/gtest.h"

namespace xfr {
namespace {

Name N(std::string_view t) { return *Name::FromText(t); }

Record Rr(std::string_view owner, RRType type, uint32_t ttl,
          std::vector<uint8_t> rdata) {
  Record r;
  r.owner = N(owner);
  r.type = type;
  r.ttl = ttl;
  r.rdata = std::move(rdata);
  return r;
}

Record Soa(uint32_t serial, std::string_view owner = "example.com.") {
  std::vector<uint8_t> d;
  for (std::string_view n : {"ns.example.com.", "host.example.com."}) {
    Name nm = N(n);
    Bytes w = nm.wire();
    d.insert(d.end(), w.begin(), w.end());
  }
  for (uint32_t v : {serial, 3600u, 600u, 86400u, 300u}) {
    uint8_t b[4];
    StoreU32(b, v);
    d.insert(d.end(), b, b + 4);
  }
  return Rr(owner, RRType::kSOA, 3600, d);
}
Record A(std::string_view owner, uint8_t last, uint32_t ttl = 300) {
  return Rr(owner, RRType::kA, ttl, {192, 0, 2, last});
}
Record Txt(std::string_view owner, std::string_view text, uint32_t ttl = 300) {
  std::vector<uint8_t> d{static_cast<uint8_t>(text.size())};
  d.insert(d.end(), text.begin(), text.end());
  return Rr(owner, RRType::kTXT, ttl, d);
}

std::shared_ptr<const ZoneVersion> Z(std::vector<Record> rs) {
  auto z = ZoneVersion::Build(N("example.com."), std::move(rs));
  EXPECT_TRUE(z.ok()) << z.status();
  return z.ok() ? *z : nullptr;
}

ZoneDiff D(uint32_t from, uint32_t to, std::vector<Record> removed,
           std::vector<Record> added) {
  return ZoneDiff{Soa(from), Soa(to), std::move(removed), std::move(added)};
}

std::string Show(const std::vector<Record>& rs) {
  std::string out;
  for (const Record& r : rs) {
    out += r.owner.ToText() + " " + std::to_string(r.ttl) + " " +
           r.type.ToString() + " [" +
           std::string(r.rdata.begin(), r.rdata.end()) + "]; ";
  }
  return out;
}

// Records compared with their owner's exact case, to pin down which case a
// diff carries.
bool SameExactly(const std::vector<Record>& a, const std::vector<Record>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (!(a[i] == b[i]) || !a[i].owner.Identical(b[i].owner)) return false;
  }
  return true;
}

struct ComputeCase {
  const char* name;
  std::vector<Record> older, newer;
  std::vector<Record> removed, added;
};

TEST(ComputeDiffTest, NamedCases) {
  const ComputeCase cases[] = {
      {"Identical", {Soa(1), A("a.example.com.", 1)},
       {Soa(2), A("a.example.com.", 1)}, {}, {}},
      {"TtlOnlyChange", {Soa(1), A("a.example.com.", 1, 300)},
       {Soa(2), A("a.example.com.", 1, 600)}, {A("a.example.com.", 1, 300)},
       {A("a.example.com.", 1, 600)}},
      {"RdataCaseChange", {Soa(1), Txt("t.example.com.", "Hello")},
       {Soa(2), Txt("t.example.com.", "hello")},
       {Txt("t.example.com.", "Hello")}, {Txt("t.example.com.", "hello")}},
      {"OwnerCaseChangeIsNotAChange", {Soa(1), A("www.example.com.", 1)},
       {Soa(2), A("WWW.example.com.", 1)}, {}, {}},
      {"AddAndRemove",
       {Soa(1), A("a.example.com.", 1), A("c.example.com.", 3)},
       {Soa(2), A("b.example.com.", 2), A("c.example.com.", 3),
        A("d.example.com.", 4)},
       {A("a.example.com.", 1)},
       {A("b.example.com.", 2), A("d.example.com.", 4)}},
      {"EverythingReplaced", {Soa(1), A("a.example.com.", 1)},
       {Soa(2), Txt("z.example.com.", "z")}, {A("a.example.com.", 1)},
       {Txt("z.example.com.", "z")}},
      {"ApexRecordsBesideSoa", {Soa(1), A("example.com.", 1)},
       {Soa(2), A("example.com.", 2), Txt("example.com.", "v")},
       {A("example.com.", 1)},
       {A("example.com.", 2), Txt("example.com.", "v")}},
  };
  for (const ComputeCase& c : cases) {
    SCOPED_TRACE(c.name);
    auto a = Z(c.older), b = Z(c.newer);
    ASSERT_TRUE(a && b);
    ZoneDiff d = ComputeDiff(*a, *b);
    EXPECT_EQ(d.from(), a->serial());
    EXPECT_EQ(d.to(), b->serial());
    EXPECT_TRUE(SameExactly(d.removed, c.removed)) << Show(d.removed);
    EXPECT_TRUE(SameExactly(d.added, c.added)) << Show(d.added);
  }
}

TEST(ComputeDiffTest, SoaOnlyChangeIsEmptyButCarriesBothSoas) {
  auto a = Z({Soa(1), A("a.example.com.", 1)});
  auto b = Z({Soa(2), A("a.example.com.", 1)});
  ZoneDiff d = ComputeDiff(*a, *b);
  EXPECT_TRUE(d.empty());
  EXPECT_EQ(d.old_soa, Soa(1));
  EXPECT_EQ(d.new_soa, Soa(2));
}

struct ApplyCase {
  const char* name;
  std::vector<Record> base;
  ZoneDiff diff;
  BuildOptions options;
  absl::StatusCode code;          // kOk: `want` is the expected zone
  std::vector<Record> want;
  const char* message_has;
};

TEST(ApplyDiffTest, NamedCases) {
  Record out_of_zone = A("www.example.org.", 1);
  Record ch = A("ch.example.com.", 1);
  ch.rclass = RRClass::kCH;
  Record broken_soa = Soa(1);
  broken_soa.rdata.resize(3);
  const ApplyCase cases[] = {
      {"AddAndRemove", {Soa(1), A("a.example.com.", 1)},
       D(1, 2, {A("a.example.com.", 1)}, {A("b.example.com.", 2)}), {},
       absl::StatusCode::kOk, {Soa(2), A("b.example.com.", 2)}, ""},
      {"DeleteOfMissingRecordTolerated", {Soa(1), A("a.example.com.", 1)},
       D(1, 2, {A("gone.example.com.", 9)}, {}), {}, absl::StatusCode::kOk,
       {Soa(2), A("a.example.com.", 1)}, ""},
      {"AddOfPresentRecordTolerated", {Soa(1), A("a.example.com.", 1)},
       D(1, 2, {}, {A("a.example.com.", 1)}), {}, absl::StatusCode::kOk,
       {Soa(2), A("a.example.com.", 1)}, ""},
      {"AddOfPresentRecordTakesAddedTtl", {Soa(1), A("a.example.com.", 1)},
       D(1, 2, {}, {A("a.example.com.", 1, 77)}), {}, absl::StatusCode::kOk,
       {Soa(2), A("a.example.com.", 1, 77)}, ""},
      {"DeleteMatchesWhateverTheTtl", {Soa(1), A("a.example.com.", 1, 300)},
       D(1, 2, {A("a.example.com.", 1, 5)}, {}), {}, absl::StatusCode::kOk,
       {Soa(2)}, ""},
      {"DeleteMatchesOwnerIgnoringCase", {Soa(1), A("a.example.com.", 1)},
       D(1, 2, {A("A.EXAMPLE.com.", 1)}, {}), {}, absl::StatusCode::kOk,
       {Soa(2)}, ""},
      {"DeleteDoesNotMatchOtherRdataCase", {Soa(1), Txt("t.example.com.", "a")},
       D(1, 2, {Txt("t.example.com.", "A")}, {}), {}, absl::StatusCode::kOk,
       {Soa(2), Txt("t.example.com.", "a")}, ""},
      {"TtlChangeAsRemovePlusAdd", {Soa(1), A("a.example.com.", 1, 300)},
       D(1, 2, {A("a.example.com.", 1, 300)}, {A("a.example.com.", 1, 60)}),
       {}, absl::StatusCode::kOk, {Soa(2), A("a.example.com.", 1, 60)}, ""},
      {"UnsortedChangesAccepted",
       {Soa(1), A("a.example.com.", 1), A("m.example.com.", 1)},
       D(1, 2, {A("m.example.com.", 1), A("a.example.com.", 1)},
         {A("z.example.com.", 1), A("b.example.com.", 1),
          A("example.com.", 1)}),
       {}, absl::StatusCode::kOk,
       {Soa(2), A("example.com.", 1), A("b.example.com.", 1),
        A("z.example.com.", 1)},
       ""},
      {"RepeatedAddLastWins", {Soa(1)},
       D(1, 2, {}, {A("a.example.com.", 1, 10), A("a.example.com.", 1, 20)}),
       {}, absl::StatusCode::kOk, {Soa(2), A("a.example.com.", 1, 20)}, ""},
      {"SoaSerialMismatchRejected", {Soa(5), A("a.example.com.", 1)},
       D(4, 6, {}, {A("b.example.com.", 2)}), {},
       absl::StatusCode::kFailedPrecondition, {},
       "starts at serial 4 but the zone is at serial 5"},
      {"OutOfZoneAddRejected", {Soa(1)}, D(1, 2, {}, {out_of_zone}), {},
       absl::StatusCode::kInvalidArgument, {}, "www.example.org. A is outside"},
      {"OtherClassRejected", {Soa(1)}, D(1, 2, {}, {ch}), {},
       absl::StatusCode::kInvalidArgument, {}, "class CH"},
      {"SoaInsideAddedRejected", {Soa(1)}, D(1, 2, {}, {Soa(3)}), {},
       absl::StatusCode::kInvalidArgument, {}, "inside the added"},
      {"NewSoaOutsideApexRejected", {Soa(1)},
       ZoneDiff{Soa(1), Soa(2, "sub.example.com."), {}, {}}, {},
       absl::StatusCode::kInvalidArgument, {}, "not at the zone apex"},
      {"MalformedOldSoaRejected", {Soa(1)},
       ZoneDiff{broken_soa, Soa(2), {}, {}}, {},
       absl::StatusCode::kInvalidArgument, {}, "old SOA"},
      {"MaxRecordsEnforced", {Soa(1), A("a.example.com.", 1)},
       D(1, 2, {}, {A("b.example.com.", 1)}), {.max_records = 2},
       absl::StatusCode::kResourceExhausted, {}, "max-records = 2"},
      {"MaxRecordsCountsTheResult", {Soa(1), A("a.example.com.", 1)},
       D(1, 2, {A("a.example.com.", 1)}, {A("b.example.com.", 1)}),
       {.max_records = 2}, absl::StatusCode::kOk,
       {Soa(2), A("b.example.com.", 1)}, ""},
  };
  for (const ApplyCase& c : cases) {
    SCOPED_TRACE(c.name);
    auto base = Z(c.base);
    ASSERT_NE(base, nullptr);
    auto got = ApplyDiff(*base, c.diff, c.options);
    if (c.code != absl::StatusCode::kOk) {
      ASSERT_FALSE(got.ok());
      EXPECT_EQ(got.status().code(), c.code) << got.status();
      EXPECT_NE(ToStd(got.status().message()).find(c.message_has),
                std::string_view::npos)
          << got.status();
      continue;
    }
    ASSERT_TRUE(got.ok()) << got.status();
    auto want = Z(c.want);
    EXPECT_TRUE(**got == *want);
    EXPECT_EQ((*got)->serial(), c.diff.to());
    // The base version is untouched.
    EXPECT_TRUE(*base == *Z(c.base));
  }
}

struct CondenseCase {
  const char* name;
  std::vector<ZoneDiff> chain;
  std::vector<Record> removed, added;
};

TEST(CondenseTest, NamedCases) {
  const CondenseCase cases[] = {
      {"SingleDiffUnchanged",
       {D(1, 2, {A("a.example.com.", 1)}, {A("b.example.com.", 2)})},
       {A("a.example.com.", 1)}, {A("b.example.com.", 2)}},
      {"AddedThenRemovedDisappears",
       {D(1, 2, {}, {A("a.example.com.", 1)}),
        D(2, 3, {A("a.example.com.", 1)}, {})},
       {}, {}},
      {"RemovedThenReaddedSameTtlDisappears",
       {D(1, 2, {A("a.example.com.", 1)}, {}),
        D(2, 3, {}, {A("a.example.com.", 1)})},
       {}, {}},
      {"RemovedThenReaddedOtherTtlStays",
       {D(1, 2, {A("a.example.com.", 1, 300)}, {}),
        D(2, 3, {}, {A("a.example.com.", 1, 60)})},
       {A("a.example.com.", 1, 300)}, {A("a.example.com.", 1, 60)}},
      {"TtlChangedTwiceBackToStartDisappears",
       {D(1, 2, {A("a.example.com.", 1, 300)}, {A("a.example.com.", 1, 60)}),
        D(2, 3, {A("a.example.com.", 1, 60)}, {A("a.example.com.", 1, 300)})},
       {}, {}},
      {"TtlChangedTwiceKeepsFirstAndLast",
       {D(1, 2, {A("a.example.com.", 1, 300)}, {A("a.example.com.", 1, 60)}),
        D(2, 3, {A("a.example.com.", 1, 60)}, {A("a.example.com.", 1, 5)})},
       {A("a.example.com.", 1, 300)}, {A("a.example.com.", 1, 5)}},
      {"AddedThenChangedIsOneAdd",
       {D(1, 2, {}, {A("a.example.com.", 1, 300)}),
        D(2, 3, {A("a.example.com.", 1, 300)}, {A("a.example.com.", 1, 9)})},
       {}, {A("a.example.com.", 1, 9)}},
      {"UnrelatedChangesMergeSorted",
       {D(1, 2, {A("z.example.com.", 1)}, {A("m.example.com.", 1)}),
        D(2, 3, {A("b.example.com.", 1)}, {A("c.example.com.", 1)})},
       {A("b.example.com.", 1), A("z.example.com.", 1)},
       {A("c.example.com.", 1), A("m.example.com.", 1)}},
  };
  for (const CondenseCase& c : cases) {
    SCOPED_TRACE(c.name);
    auto got = Condense(c.chain);
    ASSERT_TRUE(got.ok()) << got.status();
    EXPECT_EQ(got->from(), c.chain.front().from());
    EXPECT_EQ(got->to(), c.chain.back().to());
    EXPECT_TRUE(SameExactly(got->removed, c.removed)) << Show(got->removed);
    EXPECT_TRUE(SameExactly(got->added, c.added)) << Show(got->added);
  }
}

TEST(CondenseTest, RejectsBrokenAndEmptyChains) {
  std::vector<ZoneDiff> broken{D(1, 2, {}, {}), D(3, 4, {}, {})};
  auto got = Condense(broken);
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(ToStd(got.status().message()).find("ends at serial 2"),
            std::string_view::npos);
  EXPECT_FALSE(Condense({}).ok());
}

// ---- Property test: random zones and random changes (seeded, so the same
// cases run every time).

class RandomZones {
 public:
  explicit RandomZones(uint32_t seed) : rng_(seed) {}

  Record RandomRecord() {
    // A small name space so that changes collide with existing records.
    static constexpr std::string_view kLabels[] = {"a", "B", "c", "www",
                                                   "Mail", "x"};
    std::string owner;
    int depth = Pick(3);
    for (int i = 0; i < depth; ++i) {
      owner += std::string(kLabels[Pick(std::size(kLabels))]) + ".";
    }
    owner += "example.com.";
    uint32_t ttl = Pick(2) ? 300 : 60;
    switch (Pick(5)) {
      case 0:
        return A(owner, static_cast<uint8_t>(Pick(4)), ttl);
      case 1: {
        std::vector<uint8_t> d(16, 0x20);
        d[15] = static_cast<uint8_t>(Pick(3));
        return Rr(owner, RRType::kAAAA, ttl, d);
      }
      case 2:
        return Txt(owner, Pick(2) ? "v" : "V", ttl);
      case 3: {
        std::vector<uint8_t> d{0, static_cast<uint8_t>(Pick(3) * 10)};
        Name nm = N(Pick(2) ? "mx.example.com." : "MX.example.com.");
        Bytes w = nm.wire();
        d.insert(d.end(), w.begin(), w.end());
        return Rr(owner, RRType::kMX, ttl, d);
      }
      default: {
        std::vector<uint8_t> d(1 + Pick(8), static_cast<uint8_t>(Pick(256)));
        return Rr(owner, RRType(65280 + Pick(2)), ttl, d);
      }
    }
  }

  std::vector<Record> RandomZone(uint32_t serial, size_t n) {
    std::vector<Record> rs{Soa(serial)};
    for (size_t i = 0; i < n; ++i) rs.push_back(RandomRecord());
    return rs;
  }

  // The next version's records: some removed, some TTLs changed, some added,
  // some owners recased.
  std::vector<Record> Mutate(const ZoneVersion& z, uint32_t serial) {
    std::vector<Record> rs{Soa(serial)};
    for (RecordView v : z) {
      if (v.type == RRType::kSOA) continue;
      int what = Pick(10);
      if (what == 0) continue;  // removed
      Record r = ToRecord(v);
      if (what == 1) r.ttl += 1;
      if (what == 2) r.owner = Pick(2) ? r.owner.Lowercased() : r.owner;
      rs.push_back(std::move(r));
    }
    for (int i = Pick(6); i > 0; --i) rs.push_back(RandomRecord());
    return rs;
  }

  int Pick(size_t n) { return static_cast<int>(rng_() % n); }

 private:
  std::mt19937 rng_;
};

TEST(DiffPropertyTest, ApplyOfComputeAndCondenseReproduceVersions) {
  RandomZones gen(20240613);
  size_t ttl_changes = 0, removals = 0, additions = 0;
  for (int round = 0; round < 60; ++round) {
    SCOPED_TRACE(round);
    uint32_t serial = 0xFFFFFFF0u + static_cast<uint32_t>(round);  // wraps
    std::vector<std::shared_ptr<const ZoneVersion>> versions{
        Z(gen.RandomZone(serial, 5 + gen.Pick(60)))};
    ASSERT_NE(versions[0], nullptr);
    std::vector<ZoneDiff> chain;
    for (int step = 0; step < 1 + gen.Pick(6); ++step) {
      serial += 1 + static_cast<uint32_t>(gen.Pick(3));
      versions.push_back(Z(gen.Mutate(*versions.back(), serial)));
      const ZoneVersion& a = *versions[versions.size() - 2];
      const ZoneVersion& b = *versions.back();
      ZoneDiff d = ComputeDiff(a, b);
      EXPECT_TRUE(std::is_sorted(d.removed.begin(), d.removed.end(),
                                 [](const Record& x, const Record& y) {
                                   return CompareRecords(x.view(), y.view()) < 0;
                                 }));
      removals += d.removed.size();
      additions += d.added.size();
      for (const Record& r : d.removed) {
        for (const Record& s : d.added) {
          if (CompareRecords(r.view(), s.view()) == 0) ++ttl_changes;
        }
      }
      auto applied = ApplyDiff(a, d);
      ASSERT_TRUE(applied.ok()) << applied.status();
      ASSERT_TRUE(**applied == b);
      chain.push_back(std::move(d));
    }
    auto condensed = Condense(chain);
    ASSERT_TRUE(condensed.ok()) << condensed.status();
    auto applied = ApplyDiff(*versions.front(), *condensed);
    ASSERT_TRUE(applied.ok()) << applied.status();
    EXPECT_TRUE(**applied == *versions.back());
    // Condensing never makes a diff bigger than recomputing it directly
    // would, and is exactly it for consistent chains.
    ZoneDiff direct = ComputeDiff(*versions.front(), *versions.back());
    EXPECT_EQ(condensed->removed, direct.removed);
    EXPECT_EQ(condensed->added, direct.added);
  }
  // The generator must really exercise every kind of change.
  EXPECT_GT(removals, 100u);
  EXPECT_GT(additions, 100u);
  EXPECT_GT(ttl_changes, 20u);
}

}  // namespace
}  // namespace xfr
