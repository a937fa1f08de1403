#include "core/zone.h"

#include <string>
#include <string_view>
#include <vector>

#include "core/ascii.h"
#include "gtest/gtest.h"

namespace xfr {
namespace {

Name N(std::string_view t) { return *Name::FromText(t); }

Record Rr(std::string_view owner, RRType type, uint32_t ttl,
          std::vector<uint8_t> rdata, RRClass cls = RRClass::kIN) {
  Record r;
  r.owner = N(owner);
  r.type = type;
  r.rclass = cls;
  r.ttl = ttl;
  r.rdata = std::move(rdata);
  return r;
}

std::vector<uint8_t> SoaRdata(uint32_t serial) {
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
  return d;
}

Record Soa(uint32_t serial, std::string_view owner = "example.com.") {
  return Rr(owner, RRType::kSOA, 3600, SoaRdata(serial));
}
Record A(std::string_view owner, uint8_t last, uint32_t ttl = 300) {
  return Rr(owner, RRType::kA, ttl, {192, 0, 2, last});
}
Record Txt(std::string_view owner, std::string_view text, uint32_t ttl = 300) {
  std::vector<uint8_t> d{static_cast<uint8_t>(text.size())};
  d.insert(d.end(), text.begin(), text.end());
  return Rr(owner, RRType::kTXT, ttl, d);
}
Record Ns(std::string_view owner, std::string_view target) {
  Name nm = N(target);
  Bytes w = nm.wire();
  return Rr(owner, RRType::kNS, 3600, std::vector<uint8_t>(w.begin(), w.end()));
}

std::shared_ptr<const ZoneVersion> MustBuild(std::vector<Record> rs,
                                             std::string_view origin =
                                                 "example.com.") {
  auto z = ZoneVersion::Build(N(origin), std::move(rs));
  EXPECT_TRUE(z.ok()) << z.status();
  return z.ok() ? *z : nullptr;
}

std::vector<std::string> Owners(const ZoneVersion& z) {
  std::vector<std::string> out;
  for (RecordView v : z) out.push_back(v.owner.ToText());
  return out;
}

TEST(ZoneVersionTest, SortsCanonicallyAndExposesSoa) {
  // RFC 4034 §6.1's example order, shuffled on input.
  auto z = MustBuild({A("z.example.com.", 1), A("\\200.z.example.com.", 2),
                      A("yljkjljk.a.example.com.", 3), Soa(42),
                      A("Z.a.example.com.", 4), A("*.z.example.com.", 5),
                      A("a.example.com.", 6), A("zABC.a.EXAMPLE.com.", 7),
                      A("\\001.z.example.com.", 8)});
  ASSERT_NE(z, nullptr);
  EXPECT_EQ(Owners(*z),
            (std::vector<std::string>{
                "example.com.", "a.example.com.", "yljkjljk.a.example.com.",
                "Z.a.example.com.", "zABC.a.EXAMPLE.com.", "z.example.com.",
                "\\001.z.example.com.", "*.z.example.com.",
                "\\200.z.example.com."}));
  EXPECT_EQ(z->size(), 9u);
  EXPECT_EQ(z->serial(), Serial(42));
  EXPECT_EQ(z->soa().type, RRType::kSOA);
  EXPECT_EQ(z->soa_index(), 0u);
  EXPECT_EQ(z->soa_fields().refresh, 3600u);
  EXPECT_EQ(z->soa_fields().retry, 600u);
  EXPECT_EQ(z->soa_fields().expire, 86400u);
  EXPECT_EQ(z->soa_fields().minimum, 300u);
  EXPECT_EQ(z->rclass(), RRClass::kIN);
}

// Build sorts by a precomputed key; it must agree with CompareRecords for
// label bytes that need escaping (0x00, 0x01), case, prefixes and depth.
TEST(ZoneVersionTest, SortKeyAgreesWithCanonicalOrder) {
  const uint8_t alphabet[] = {0, 1, 2, 'a', 'A', 'b', 0xff};
  std::vector<Record> rs{Soa(1)};
  uint32_t x = 12345;
  for (int i = 0; i < 3000; ++i) {
    std::string wire;
    int labels = static_cast<int>((x = x * 1103515245 + 12345) >> 16) % 3 + 1;
    for (int l = 0; l < labels; ++l) {
      int len = static_cast<int>((x = x * 1103515245 + 12345) >> 16) % 3 + 1;
      wire.push_back(static_cast<char>(len));
      for (int k = 0; k < len; ++k) {
        x = x * 1103515245 + 12345;
        wire.push_back(static_cast<char>(alphabet[(x >> 16) % 7]));
      }
    }
    wire += std::string("\7example\3com\0", 13);
    Record r = A("x.example.com.", static_cast<uint8_t>(i % 3));
    r.owner = *Name::FromWire(AsBytes(wire));
    rs.push_back(r);
  }
  auto z = MustBuild(rs);
  ASSERT_NE(z, nullptr);
  EXPECT_GT(z->size(), 1000u);
  for (size_t i = 1; i < z->size(); ++i) {
    ASSERT_LT(CompareRecords(z->record(i - 1), z->record(i)), 0) << i;
  }
  // Every input identity is present.
  for (const Record& r : rs) {
    RecordRange at = z->FindRRset(r.owner, r.type);
    bool found = false;
    for (RecordView v : at) found |= CompareRecords(v, r.view()) == 0;
    EXPECT_TRUE(found) << r.owner.ToText();
  }
}

TEST(ZoneVersionTest, TypesOrderWithinAName) {
  auto z = MustBuild({Txt("example.com.", "t"), Soa(1), A("example.com.", 1),
                      Ns("example.com.", "ns.example.com.")});
  ASSERT_NE(z, nullptr);
  std::vector<RRType> types;
  for (RecordView v : *z) types.push_back(v.type);
  EXPECT_EQ(types, (std::vector<RRType>{RRType::kA, RRType::kNS, RRType::kSOA,
                                        RRType::kTXT}));
  EXPECT_EQ(z->soa_index(), 2u);
  EXPECT_EQ(z->soa().type, RRType::kSOA);
}

struct DedupCase {
  const char* name;
  std::vector<Record> input;
  size_t want_size;
  uint32_t want_ttl_of_www;     // TTL of the kept www A record
  const char* want_www_owner;   // case of the kept owner
};

TEST(ZoneVersionTest, Deduplication) {
  const DedupCase cases[] = {
      {"ExactDuplicateDropped",
       {Soa(1), A("www.example.com.", 1), A("www.example.com.", 1)}, 2, 300,
       "www.example.com."},
      {"TtlOnlyDuplicateKeepsFirstGiven",
       {Soa(1), A("www.example.com.", 1, 900), A("www.example.com.", 1, 60)},
       2, 900, "www.example.com."},
      {"TtlOnlyDuplicateKeepsFirstGivenReversed",
       {Soa(1), A("www.example.com.", 1, 60), A("www.example.com.", 1, 900)},
       2, 60, "www.example.com."},
      {"OwnerCaseDuplicateKeepsFirstCase",
       {Soa(1), A("WWW.example.com.", 1), A("www.example.com.", 1)}, 2, 300,
       "WWW.example.com."},
      {"DifferentRdataKept",
       {Soa(1), A("www.example.com.", 1), A("www.example.com.", 2)}, 3, 300,
       "www.example.com."},
  };
  for (const DedupCase& c : cases) {
    SCOPED_TRACE(c.name);
    auto z = MustBuild(c.input);
    ASSERT_NE(z, nullptr);
    EXPECT_EQ(z->size(), c.want_size);
    RecordRange www = z->FindRRset(N("www.example.com."), RRType::kA);
    ASSERT_FALSE(www.empty());
    EXPECT_EQ(www[0].ttl, c.want_ttl_of_www);
    EXPECT_EQ(www[0].owner.ToText(), c.want_www_owner);
  }
}

TEST(ZoneVersionTest, RdataCaseChangeIsADistinctRecord) {
  auto z = MustBuild({Soa(1), Txt("t.example.com.", "Hello"),
                      Txt("t.example.com.", "hello"),
                      Ns("example.com.", "NS.example.com."),
                      Ns("example.com.", "ns.example.com.")});
  ASSERT_NE(z, nullptr);
  EXPECT_EQ(z->FindRRset(N("t.example.com."), RRType::kTXT).size(), 2u);
  EXPECT_EQ(z->FindRRset(N("example.com."), RRType::kNS).size(), 2u);
}

struct BuildErrorCase {
  const char* name;
  std::vector<Record> input;
  BuildOptions options;
  absl::StatusCode code;
  const char* message_has;
};

TEST(ZoneVersionTest, BuildRejects) {
  Record ch_txt = Txt("t.example.com.", "x");
  ch_txt.rclass = RRClass::kCH;
  Record bad_soa = Soa(1);
  bad_soa.rdata.pop_back();
  const BuildErrorCase cases[] = {
      {"NoSoa", {A("www.example.com.", 1)}, {},
       absl::StatusCode::kInvalidArgument, "no SOA"},
      {"EmptyZone", {}, {}, absl::StatusCode::kInvalidArgument, "no SOA"},
      {"TwoSoas", {Soa(1), Soa(2)}, {}, absl::StatusCode::kInvalidArgument,
       "more than one SOA"},
      {"SoaBelowApex", {Soa(1), Soa(1, "sub.example.com.")}, {},
       absl::StatusCode::kInvalidArgument, "not at the zone apex"},
      {"OutOfZoneOwner", {Soa(1), A("www.example.org.", 1)}, {},
       absl::StatusCode::kInvalidArgument,
       "record www.example.org. A is outside the zone example.com."},
      {"SiblingSharingSuffixBytes", {Soa(1), A("notexample.com.", 1)}, {},
       absl::StatusCode::kInvalidArgument, "notexample.com. A is outside"},
      {"ParentOfOrigin", {Soa(1), A("com.", 1)}, {},
       absl::StatusCode::kInvalidArgument, "outside the zone"},
      {"TwoClasses", {Soa(1), ch_txt}, {}, absl::StatusCode::kInvalidArgument,
       "t.example.com. TXT has class CH"},
      {"MetaType", {Soa(1), Rr("x.example.com.", RRType::kANY, 0, {})}, {},
       absl::StatusCode::kInvalidArgument, "meta-type"},
      {"OptType", {Soa(1), Rr("x.example.com.", RRType::kOPT, 0, {})}, {},
       absl::StatusCode::kInvalidArgument, "meta-type"},
      {"MalformedSoa", {bad_soa}, {}, absl::StatusCode::kInvalidArgument,
       "malformed SOA"},
      {"OversizedRdata",
       {Soa(1), Rr("x.example.com.", RRType(65280), 0,
                   std::vector<uint8_t>(65536, 1))},
       {}, absl::StatusCode::kInvalidArgument, "over 65535"},
      {"MaxRecordsExceeded",
       {Soa(1), A("a.example.com.", 1), A("b.example.com.", 1)},
       {.max_records = 2}, absl::StatusCode::kResourceExhausted,
       "max-records = 2"},
  };
  for (const BuildErrorCase& c : cases) {
    SCOPED_TRACE(c.name);
    auto z = ZoneVersion::Build(N("example.com."), c.input, c.options);
    ASSERT_FALSE(z.ok());
    EXPECT_EQ(z.status().code(), c.code) << z.status();
    EXPECT_NE(ToStd(z.status().message()).find(c.message_has),
              std::string_view::npos)
        << z.status();
  }
}

TEST(ZoneVersionTest, MaxRecordsCountsDistinctRecordsAndAllowsTheLimit) {
  BuildOptions o{.max_records = 2};
  // Three input records, two after removing the duplicate: allowed.
  auto z = ZoneVersion::Build(
      N("example.com."),
      {Soa(1), A("a.example.com.", 1), A("A.example.com.", 1, 5)}, o);
  ASSERT_TRUE(z.ok()) << z.status();
  EXPECT_EQ((*z)->size(), 2u);
}

TEST(ZoneVersionTest, FindRRsetAndName) {
  auto z = MustBuild({Soa(1), A("www.example.com.", 1), A("www.example.com.", 2),
                      Txt("www.example.com.", "x"), A("a.www.example.com.", 9),
                      A("mail.example.com.", 3)});
  ASSERT_NE(z, nullptr);
  RecordRange a = z->FindRRset(N("WWW.Example.com."), RRType::kA);
  ASSERT_EQ(a.size(), 2u);
  EXPECT_EQ(a[0].rdata[3], 1);
  EXPECT_EQ(a[1].rdata[3], 2);
  EXPECT_TRUE(z->FindRRset(N("www.example.com."), RRType::kAAAA).empty());
  EXPECT_TRUE(z->FindRRset(N("nope.example.com."), RRType::kA).empty());
  EXPECT_TRUE(z->FindRRset(N("zzz.example.com."), RRType::kA).empty());
  RecordRange www = z->FindName(N("www.example.com."));
  ASSERT_EQ(www.size(), 3u);
  EXPECT_EQ(www[2].type, RRType::kTXT);
  size_t n = 0;
  for (RecordView v : www) {
    EXPECT_TRUE(v.owner.EqualsIgnoreCase(N("www.example.com.")));
    ++n;
  }
  EXPECT_EQ(n, 3u);
  EXPECT_EQ(z->FindName(N("example.com.")).size(), 1u);
  EXPECT_TRUE(z->FindName(N("b.example.com.")).empty());
  EXPECT_EQ(z->FindRRset(N("example.com."), RRType::kSOA).size(), 1u);
}

TEST(ZoneVersionTest, RecordWireIsTheUncompressedWireForm) {
  auto z = MustBuild({Soa(7), Ns("example.com.", "ns.example.com."),
                      Txt("t.example.com.", "hello", 123)});
  ASSERT_NE(z, nullptr);
  for (size_t i = 0; i < z->size(); ++i) {
    std::vector<uint8_t> buf;
    WireWriter w(buf);
    WriteRecord(w, nullptr, z->record(i));
    Bytes got = z->record_wire(i);
    EXPECT_EQ(std::vector<uint8_t>(got.begin(), got.end()), buf) << i;
  }
  RecordView t = z->FindRRset(N("t.example.com."), RRType::kTXT)[0];
  EXPECT_EQ(t.ttl, 123u);
  EXPECT_EQ(std::string(t.rdata.begin() + 1, t.rdata.end()), "hello");
}

TEST(ZoneVersionTest, MemoryIsNearTheWireSize) {
  std::vector<Record> rs{Soa(1)};
  for (int i = 0; i < 20000; ++i) {
    std::string owner = "host" + std::to_string(i) + ".example.com.";
    rs.push_back(A(owner, static_cast<uint8_t>(i)));
  }
  auto z = MustBuild(rs);
  ASSERT_NE(z, nullptr);
  EXPECT_EQ(z->size(), 20001u);
  // Arena = exact wire bytes; index = 4 bytes a record.
  EXPECT_LE(z->memory_bytes(), z->wire_bytes() * 3 / 2);
  EXPECT_GE(z->memory_bytes(), z->wire_bytes() + 4 * z->size());
}

TEST(ZoneVersionTest, EqualityIgnoresOwnerCaseButNotTtl) {
  auto a = MustBuild({Soa(1), A("www.example.com.", 1)});
  auto b = MustBuild({A("WWW.example.com.", 1), Soa(1)});
  auto c = MustBuild({Soa(1), A("www.example.com.", 1, 301)});
  auto d = MustBuild({Soa(1), A("www.example.com.", 2)});
  EXPECT_TRUE(*a == *b);
  EXPECT_FALSE(*a == *c);
  EXPECT_FALSE(*a == *d);
}

TEST(ZoneVersionTest, RootZoneOrigin) {
  auto z = MustBuild({Soa(5, "."), A("com.", 1), A("a.b.", 2)}, ".");
  ASSERT_NE(z, nullptr);
  EXPECT_EQ(Owners(*z), (std::vector<std::string>{".", "a.b.", "com."}));
}

TEST(SoaRdataTest, ParsesAndRejectsMalformed) {
  std::vector<uint8_t> good = SoaRdata(0xFFFFFFFF);
  auto f = ParseSoaRdata(Bytes(good.data(), good.size()));
  ASSERT_TRUE(f.has_value());
  EXPECT_EQ(f->serial, Serial(0xFFFFFFFF));
  std::vector<uint8_t> trailing = good;
  trailing.push_back(0);
  EXPECT_FALSE(ParseSoaRdata(Bytes(trailing.data(), trailing.size())));
  std::vector<uint8_t> shortened(good.begin(), good.end() - 1);
  EXPECT_FALSE(ParseSoaRdata(Bytes(shortened.data(), shortened.size())));
  std::vector<uint8_t> pointer = {0xC0, 0x0C, 0};
  pointer.resize(pointer.size() + 20);
  EXPECT_FALSE(ParseSoaRdata(Bytes(pointer.data(), pointer.size())));
  EXPECT_FALSE(ParseSoaRdata(Bytes()));
}

}  // namespace
}  // namespace xfr
