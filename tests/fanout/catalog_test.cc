// The produced catalog (RFC 9432 v2): member labels stable across runs and
// case, the version TXT, one PTR per member, no serial change without a
// membership change, and a diff on add/remove that is exactly the PTR.
#include "fanout/catalog.h"

#include <algorithm>
#include <string>
#include <vector>

#include "core/diff.h"
#include "core/record.h"
#include "gtest/gtest.h"

namespace xfr {
namespace {

const absl::Time kNow = absl::FromUnixSeconds(1'800'000'000);

Name N(std::string_view t) { return *Name::FromText(t); }

std::vector<uint8_t> Wire(const Name& n) {
  Bytes b = n.wire();
  return {b.begin(), b.end()};
}

// The PTR targets of a catalog version, as text.
std::vector<std::string> Members(const ZoneVersion& v) {
  std::vector<std::string> out;
  for (RecordView r : v) {
    if (r.type != RRType::kPTR) continue;
    auto target = Name::FromWire(r.rdata);
    out.push_back(target.ok() ? target->ToText() : "?");
  }
  std::sort(out.begin(), out.end());
  return out;
}

TEST(CatalogMemberIdTest, IsSixteenHexDigitsAndStable) {
  struct Case {
    const char* what;
    const char* a;
    const char* b;
    bool same;
  } cases[] = {
      {"same name", "example.com.", "example.com.", true},
      {"case does not matter", "Example.COM.", "example.com.", true},
      {"different names", "example.com.", "example.net.", false},
      {"label boundary matters", "ab.c.", "a.bc.", false},
  };
  for (const Case& c : cases) {
    std::string a = CatalogMemberId(N(c.a));
    std::string b = CatalogMemberId(N(c.b));
    EXPECT_EQ(a.size(), 16u) << c.what;
    EXPECT_EQ(a.find_first_not_of("0123456789abcdef"), std::string::npos) << c.what;
    EXPECT_EQ(a == b, c.same) << c.what << ": " << a << " " << b;
  }
}

TEST(CatalogMemberIdTest, IsSha256OfTheLowercasedWireName) {
  // sha256(06 "example" 03 "com" 00), first 8 bytes: pinned so that a
  // refactoring cannot silently relabel every member of a deployed catalog.
  EXPECT_EQ(CatalogMemberId(N("EXAMPLE.com.")), CatalogMemberId(N("example.com.")));
  EXPECT_EQ(CatalogMemberId(N("example.com.")), "902e9c464fa43fca");
}

TEST(BuildCatalogVersionTest, HasSoaNsVersionAndOnePtrPerMember) {
  Name cat = N("catalog.invalid.");
  auto v = BuildCatalogVersion(cat, {N("b.example."), N("A.example.")}, Serial(7));
  ASSERT_TRUE(v.ok()) << v.status();
  const ZoneVersion& z = **v;
  EXPECT_EQ(z.serial(), Serial(7));
  EXPECT_EQ(z.soa_fields().refresh, 3600u);
  RecordRange ns = z.FindRRset(cat, RRType::kNS);
  ASSERT_EQ(ns.size(), 1u);
  EXPECT_EQ(std::vector<uint8_t>(ns[0].rdata.begin(), ns[0].rdata.end()),
            Wire(N("invalid.")));
  RecordRange txt = z.FindRRset(N("version.catalog.invalid."), RRType::kTXT);
  ASSERT_EQ(txt.size(), 1u);
  EXPECT_EQ(std::vector<uint8_t>(txt[0].rdata.begin(), txt[0].rdata.end()),
            (std::vector<uint8_t>{1, '2'}));
  // Members are written lowercased, each at its label under zones.
  EXPECT_EQ(Members(z), (std::vector<std::string>{"a.example.", "b.example."}));
  Name owner = N(CatalogMemberId(N("a.example.")) + ".zones.catalog.invalid.");
  RecordRange ptr = z.FindRRset(owner, RRType::kPTR);
  ASSERT_EQ(ptr.size(), 1u);
  EXPECT_EQ(std::vector<uint8_t>(ptr[0].rdata.begin(), ptr[0].rdata.end()),
            Wire(N("a.example.")));
  EXPECT_EQ(z.size(), 5u);
}

TEST(BuildCatalogVersionTest, LeavesOutTheCatalogAndDuplicates) {
  Name cat = N("cat.example.");
  auto v = BuildCatalogVersion(cat, {N("Cat.Example."), N("x.example."), N("X.example.")},
                               Serial(1));
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_EQ(Members(**v), (std::vector<std::string>{"x.example."}));
}

TEST(BuildCatalogVersionTest, EmptyCatalogIsValid) {
  auto v = BuildCatalogVersion(N("cat.example."), {}, Serial(1));
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_EQ((*v)->size(), 3u);
}

TEST(BuildCatalogVersionTest, CatalogNameTooLongForMembersFails) {
  std::string label(63, 'a');
  Name cat = N(label + "." + label + "." + label + "." + std::string(50, 'b') + ".");
  EXPECT_FALSE(BuildCatalogVersion(cat, {N("x.example.")}, Serial(1)).ok());
  EXPECT_TRUE(BuildCatalogVersion(cat, {}, Serial(1)).ok());
}

TEST(NextCatalogSerialTest, UnixTimeWhenLargerElseIncrement) {
  struct Case {
    const char* what;
    uint32_t current;
    int64_t now;
    uint32_t want;
  } cases[] = {
      {"clock ahead", 100, 1'800'000'000, 1'800'000'000},
      {"clock equal", 1'800'000'000, 1'800'000'000, 1'800'000'001},
      {"clock behind", 1'900'000'000, 1'800'000'000, 1'900'000'001},
      {"two changes in one second", 1'800'000'000, 1'800'000'000, 1'800'000'001},
      {"clock ahead of a serial near 2^32", 0xffffffffu, 1'800'000'000, 1'800'000'000},
      {"wraps past 2^32 to 0", 0xffffffffu, 0x90000000LL, 0},
      {"clock 2^31 ahead is undefined, not larger", 1, 0x80000002LL, 2},
      {"clock before the epoch", 5, -10, 6},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(NextCatalogSerial(Serial(c.current), absl::FromUnixSeconds(c.now)),
              Serial(c.want))
        << c.what;
  }
}

TEST(UpdateCatalogTest, UnchangedMembershipKeepsTheVersion) {
  Name cat = N("cat.example.");
  auto first = UpdateCatalog(cat, {N("a.example."), N("b.example.")}, nullptr, kNow);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ((*first)->serial(), Serial(1'800'000'000));
  // Same members in another order and case, an hour later: no new version.
  auto again = UpdateCatalog(cat, {N("B.example."), N("a.example.")}, *first,
                             kNow + absl::Hours(1));
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->get(), first->get());
}

TEST(UpdateCatalogTest, AddAndRemoveAreOnePtrEach) {
  Name cat = N("cat.example.");
  auto v1 = UpdateCatalog(cat, {N("a.example."), N("b.example.")}, nullptr, kNow);
  ASSERT_TRUE(v1.ok());
  auto v2 = UpdateCatalog(cat, {N("a.example."), N("b.example."), N("c.example.")}, *v1,
                          kNow + absl::Seconds(10));
  ASSERT_TRUE(v2.ok());
  EXPECT_EQ((*v2)->serial(), Serial(1'800'000'010));
  ZoneDiff add = ComputeDiff(**v1, **v2);
  EXPECT_TRUE(add.removed.empty());
  ASSERT_EQ(add.added.size(), 1u);
  EXPECT_EQ(add.added[0].type, RRType::kPTR);
  EXPECT_EQ(add.added[0].owner, N(CatalogMemberId(N("c.example.")) + ".zones.cat.example."));
  EXPECT_EQ(add.added[0].rdata, Wire(N("c.example.")));

  // Removed within the same second: the serial still increases.
  auto v3 = UpdateCatalog(cat, {N("a.example."), N("c.example.")}, *v2,
                          kNow + absl::Seconds(10));
  ASSERT_TRUE(v3.ok());
  EXPECT_EQ((*v3)->serial(), Serial(1'800'000'011));
  ZoneDiff del = ComputeDiff(**v2, **v3);
  EXPECT_TRUE(del.added.empty());
  ASSERT_EQ(del.removed.size(), 1u);
  EXPECT_EQ(del.removed[0].rdata, Wire(N("b.example.")));
}

}  // namespace
}  // namespace xfr
