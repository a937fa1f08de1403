#include "core/zonefile.h"

#include <cstdio>
#include <string>
#include <vector>

#include "core/ascii.h"
#include "core/rdata_text.h"
#include "gtest/gtest.h"

namespace xfr {
namespace {

Name N(std::string_view text) { return *Name::FromText(text); }

// Records as "owner ttl class type rdata" lines, the writer's format, which
// the writer tests pin down separately.
std::vector<std::string> Lines(const std::vector<Record>& rrs) {
  std::vector<std::string> out;
  for (const Record& r : rrs) {
    std::string line;
    AppendRecordLine(r.view(), line);
    line.pop_back();
    out.push_back(line);
  }
  return out;
}

absl::StatusOr<std::vector<Record>> Read(std::string_view text,
                                         const ZoneFileOptions& o = {}) {
  return ReadZoneText(text, N("example.com."), "test.zone", o);
}

std::string WriteFile(const std::string& name, const std::string& content) {
  std::string path = testing::TempDir() + "/" + name;
  std::FILE* f = std::fopen(path.c_str(), "w");
  std::fwrite(content.data(), 1, content.size(), f);
  std::fclose(f);
  return path;
}

TEST(ZoneFileReader, Rfc1035Syntax) {
  auto rrs = Read(
      "$TTL 1h ; default\n"
      "@\tIN SOA ns1 hostmaster ( 2024010101 ; serial\n"
      "          7200 3600\n"
      "          1209600 300 )\n"
      "  NS ns1\n"                        // blank owner: previous owner
      "ns1 300 IN A 192.0.2.1\n"          // TTL then class
      "ns1 IN 1d AAAA 2001:db8::1\n"      // class then TTL, unit
      "www CNAME @\n"
      "txt TXT \"a ; not a comment\" b\\ c\n"
      "\n"
      "; only a comment\n"
      "$ORIGIN sub\n"                     // relative to the current origin
      "x\\.y\\064 TYPE65280 \\# 2 ABCD\n"
      "Mixed.Case. CLASS1 TYPE1 10.0.0.1\n");
  ASSERT_TRUE(rrs.ok()) << ToStd(rrs.status().message());
  EXPECT_EQ(Lines(*rrs),
            (std::vector<std::string>{
                "example.com.\t3600\tIN\tSOA\tns1.example.com. "
                "hostmaster.example.com. 2024010101 7200 3600 1209600 300",
                "example.com.\t3600\tIN\tNS\tns1.example.com.",
                "ns1.example.com.\t300\tIN\tA\t192.0.2.1",
                "ns1.example.com.\t86400\tIN\tAAAA\t2001:db8::1",
                "www.example.com.\t3600\tIN\tCNAME\texample.com.",
                "txt.example.com.\t3600\tIN\tTXT\t\"a ; not a comment\" \"b c\"",
                "x\\.y\\@.sub.example.com.\t3600\tIN\tTYPE65280\t\\# 2 ABCD",
                "Mixed.Case.\t3600\tIN\tA\t10.0.0.1",
            }));
  EXPECT_TRUE((*rrs)[7].owner.Identical(N("Mixed.Case.")));
}

TEST(ZoneFileReader, WithoutTtlDirectiveUsesLastExplicitTtl) {
  auto rrs = Read(
      "@ 600 SOA ns hm 1 2 3 4 5\n"
      "a A 1.1.1.1\n"
      "b 60 A 1.1.1.2\n"
      "c A 1.1.1.3\n");
  ASSERT_TRUE(rrs.ok()) << ToStd(rrs.status().message());
  ASSERT_EQ(rrs->size(), 4u);
  EXPECT_EQ((*rrs)[1].ttl, 600u);
  EXPECT_EQ((*rrs)[3].ttl, 60u);
}

TEST(ZoneFileReader, TtlDirectiveWinsOverLastExplicitTtl) {
  auto rrs = Read("$TTL 100\na 60 A 1.1.1.1\nb A 1.1.1.2\n");
  ASSERT_TRUE(rrs.ok());
  EXPECT_EQ((*rrs)[1].ttl, 100u);  // RFC 2308 §4
}

TEST(ZoneFileReader, NoTtlAnywhereFallsBackToSoaMinimumWithWarning) {
  std::vector<std::string> warnings;
  ZoneFileOptions o;
  o.warnings = &warnings;
  auto rrs = Read("@ SOA ns hm 1 2 3 4 5\na A 1.1.1.1\n", o);
  ASSERT_TRUE(rrs.ok()) << ToStd(rrs.status().message());
  EXPECT_EQ((*rrs)[0].ttl, 5u);
  EXPECT_EQ((*rrs)[1].ttl, 5u);
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_EQ(warnings[0], "test.zone:1: no TTL specified; using SOA MINIMUM instead");
}

TEST(ZoneFileReader, IncludeWithOriginRestoresOrigin) {
  std::string dir = testing::TempDir();
  WriteFile("inc_part.zone", "host A 192.0.2.7\n  AAAA ::7\n");
  std::string main_path = WriteFile(
      "inc_main.zone",
      "$TTL 300\n"
      "$INCLUDE inc_part.zone sub\n"      // relative to this file's directory
      "after A 192.0.2.8\n");
  auto rrs = ReadZoneFile(main_path, N("example.com."));
  ASSERT_TRUE(rrs.ok()) << ToStd(rrs.status().message());
  EXPECT_EQ(Lines(*rrs), (std::vector<std::string>{
                             "host.sub.example.com.\t300\tIN\tA\t192.0.2.7",
                             "host.sub.example.com.\t300\tIN\tAAAA\t::7",
                             "after.example.com.\t300\tIN\tA\t192.0.2.8",
                         }));
}

TEST(ZoneFileReader, IncludeLoopIsAnError) {
  std::string path = WriteFile("loop.zone", "$TTL 1\n$INCLUDE loop.zone\n");
  auto rrs = ReadZoneFile(path, N("example.com."));
  ASSERT_FALSE(rrs.ok());
  EXPECT_NE(ToStd(rrs.status().message()).find(":2: $INCLUDE nested deeper"),
            std::string_view::npos)
      << ToStd(rrs.status().message());
}

TEST(ZoneFileReader, ErrorInIncludedFileNamesThatFile) {
  std::string inc = WriteFile("bad_inc.zone", "\n\nx A 1.2.3\n");
  std::string path = WriteFile("with_bad_inc.zone", "$TTL 1\n$INCLUDE bad_inc.zone\n");
  auto rrs = ReadZoneFile(path, N("example.com."));
  ASSERT_FALSE(rrs.ok());
  EXPECT_EQ(ToStd(rrs.status().message()),
            inc + ":3: bad IPv4 address '1.2.3'");
}

TEST(ZoneFileReader, IncludeCanBeForbidden) {
  ZoneFileOptions o;
  o.allow_include = false;
  auto rrs = Read("$INCLUDE /etc/passwd\n", o);
  ASSERT_FALSE(rrs.ok());
  EXPECT_EQ(ToStd(rrs.status().message()),
            "test.zone:1: $INCLUDE is not allowed here");
}

TEST(ZoneFileReader, MissingFileIsAnError) {
  auto rrs = ReadZoneFile(testing::TempDir() + "/does-not-exist.zone",
                          N("example.com."));
  ASSERT_FALSE(rrs.ok());
  EXPECT_NE(ToStd(rrs.status().message()).find("cannot open"),
            std::string_view::npos);
}

struct ErrorCase {
  const char* name;
  const char* text;
  const char* error;  // the whole message
};

const ErrorCase kErrors[] = {
    {"bad IPv4", "$TTL 1\n\nwww A 1.2.3\n",
     "test.zone:3: bad IPv4 address '1.2.3'"},
    {"missing closing parenthesis",
     "$TTL 1\n@ SOA ns hm ( 1 2\n 3 4 5\n", "test.zone:2: missing closing parenthesis"},
    {"unbalanced closing parenthesis", "$TTL 1\na A 1.1.1.1 )\n",
     "test.zone:2: ')' without '('"},
    {"unknown type mnemonic", "$TTL 1\na BOGUS x\n",
     "test.zone:2: unknown type mnemonic 'BOGUS'"},
    {"unterminated quoted string", "$TTL 1\na TXT \"abc\nb A 1.1.1.1\n",
     "test.zone:2: unterminated quoted string"},
    {"blank owner first", "$TTL 1\n  A 1.1.1.1\n",
     "test.zone:2: line starts with a blank but there is no previous owner"},
    {"no TTL at all", "a A 1.1.1.1\n",
     "test.zone:1: no TTL specified, and no $TTL or SOA before this record"},
    {"class mismatch", "$TTL 1\na CH A 1.1.1.1\n",
     "test.zone:2: class CH differs from the zone's class IN"},
    {"bad TTL", "$TTL 1\na 1x A 1.1.1.1\n", "test.zone:2: bad TTL '1x'"},
    {"bad TTL directive", "$TTL forever\n", "test.zone:1: bad TTL 'forever'"},
    {"unsupported directive", "$GENERATE 1-2 a$ A 1.1.1.$\n",
     "test.zone:1: unsupported directive '$GENERATE'"},
    {"meta type", "$TTL 1\na AXFR \\# 0\n",
     "test.zone:2: meta-type AXFR cannot be in a zone"},
    {"record without type", "$TTL 1\na 300 IN\n", "test.zone:2: record has no type"},
    {"\\# length mismatch", "$TTL 1\na TYPE65280 \\# 2 01\n",
     "test.zone:2: \\# length mismatch: 2 declared, 1 given"},
    {"bad owner", "$TTL 1\na..b A 1.1.1.1\n",
     "test.zone:2: empty label in name 'a..b'"},
    {"trailing data", "$TTL 1\na A 1.1.1.1 ; ok\nb A 1.1.1.1 2.2.2.2\n",
     "test.zone:3: trailing data '2.2.2.2' after A RDATA"},
    {"stops at first error", "$TTL 1\na A x\nb A y\n",
     "test.zone:2: bad IPv4 address 'x'"},
};

class ZoneFileError : public testing::TestWithParam<ErrorCase> {};

TEST_P(ZoneFileError, NamesFileAndLine) {
  auto rrs = Read(GetParam().text);
  ASSERT_FALSE(rrs.ok());
  EXPECT_EQ(ToStd(rrs.status().message()), GetParam().error);
}

INSTANTIATE_TEST_SUITE_P(
    Named, ZoneFileError, testing::ValuesIn(kErrors),
    [](const testing::TestParamInfo<ErrorCase>& i) {
      std::string n;
      for (const char* p = i.param.name; *p; ++p) {
        n.push_back(std::isalnum(static_cast<unsigned char>(*p)) ? *p : '_');
      }
      return n;
    });

TEST(ZoneFileWriter, OneLinePerRecordInFullForm) {
  std::vector<Record> rrs(2);
  rrs[0].owner = N("www.Example.com.");
  rrs[0].type = RRType::kA;
  rrs[0].ttl = 300;
  rrs[0].rdata = {192, 0, 2, 1};
  rrs[1].owner = N("a\\ b.example.com.");
  rrs[1].type = RRType(65280);
  rrs[1].ttl = 0;
  rrs[1].rdata = {0xAB};
  EXPECT_EQ(WriteZoneText(rrs),
            "www.Example.com.\t300\tIN\tA\t192.0.2.1\n"
            "a\\032b.example.com.\t0\tIN\tTYPE65280\t\\# 1 AB\n");
}

TEST(ZoneFileWriter, ReadsBackToTheSameRecords) {
  auto rrs = Read(
      "$TTL 3600\n"
      "@ SOA ns hm 1 2 3 4 5\n"
      "@ TXT \"x\\\"y\" \"\\000\\255\" \"\"\n"
      "@ CAA 0 issue \";\"\n"
      "@ NSEC3PARAM 1 0 10 -\n"
      "@ RRSIG NSEC3PARAM 13 2 3600 20300101000000 20200101000000 1 @ AAEC\n"
      "n NSEC3 1 1 0 AB 0123ABCD A TYPE300\n"
      "d DS 1 13 2 0011\n"
      "k DNSKEY 257 3 13 AAECAwQ=\n"
      "s SSHFP 4 2 ABCD\n"
      "t TLSA 3 1 1 ABCD\n"
      "h HINFO \"\" \"\\\\\"\n"
      "n2 NAPTR 1 2 \"\" \"\" \"\" .\n"
      "o TYPE65000 \\# 0\n");
  ASSERT_TRUE(rrs.ok()) << ToStd(rrs.status().message());
  std::string text = WriteZoneText(*rrs);
  auto again = ReadZoneText(text, Name(), "written");
  ASSERT_TRUE(again.ok()) << ToStd(again.status().message()) << "\n" << text;
  ASSERT_EQ(again->size(), rrs->size());
  for (size_t i = 0; i < rrs->size(); ++i) {
    EXPECT_EQ((*again)[i], (*rrs)[i]) << i;
    EXPECT_TRUE((*again)[i].owner.Identical((*rrs)[i].owner));
  }
}

TEST(ZoneFileExample, ShippedExampleZoneReads) {
  auto rrs = ReadZoneFile(std::string(XFR_SOURCE_DIR) + "/examples/example.com.zone",
                          N("example.com."));
  ASSERT_TRUE(rrs.ok()) << ToStd(rrs.status().message());
  EXPECT_GT(rrs->size(), 15u);
  EXPECT_EQ((*rrs)[0].type, RRType::kSOA);
}

}  // namespace
}  // namespace xfr
