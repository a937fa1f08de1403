#include "core/rdata_text.h"

#include <string>
#include <vector>

#include "core/ascii.h"
#include "core/rdata.h"
#include "gtest/gtest.h"

namespace xfr {
namespace {

std::vector<uint8_t> Hex(std::string_view h) {
  std::vector<uint8_t> out;
  auto v = [](char c) {
    return c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10;
  };
  std::string clean;
  for (char c : h) {
    if (c != ' ') clean.push_back(c);
  }
  for (size_t i = 0; i + 1 < clean.size(); i += 2) {
    out.push_back(static_cast<uint8_t>(v(clean[i]) << 4 | v(clean[i + 1])));
  }
  return out;
}

const Name& Origin() {
  static const Name* n = new Name(*Name::FromText("example.com."));
  return *n;
}

struct RoundTrip {
  const char* name;
  RRType type;
  const char* text;    // input
  const char* wire;    // expected RDATA, hex
  const char* output;  // expected presentation; nullptr = same as input
};

// One case per Field kind at least, with the exact bytes expected.
const RoundTrip kRoundTrips[] = {
    {"IPv4", RRType::kA, "192.0.2.1", "C0000201", nullptr},
    {"IPv6 compressed zeros", RRType::kAAAA, "2001:db8::1",
     "20010DB8000000000000000000000001", nullptr},
    {"IPv6 mapped IPv4", RRType::kAAAA, "::ffff:192.0.2.1",
     "00000000000000000000FFFFC0000201", nullptr},
    {"compressible name, relative", RRType::kNS, "ns1",
     "036E7331076578616D706C6503636F6D00", "ns1.example.com."},
    {"name keeps case", RRType::kCNAME, "WwW.Example.ORG.",
     "03577757074578616D706C65034F524700", nullptr},
    {"at sign is the origin", RRType::kPTR, "@", "076578616D706C6503636F6D00",
     "example.com."},
    {"root name", RRType::kNS, ".", "00", nullptr},
    {"name with escapes", RRType::kCNAME, "a\\.b\\032c.",
     "05612E622063" "00", "a\\.b\\032c."},
    {"SOA with TTL units", RRType::kSOA, "ns. host. 1 1h 30m 1w 1d",
     "026E730004686F737400" "00000001" "00000E10" "00000708" "00093A80"
     "00015180",
     "ns. host. 1 3600 1800 604800 86400"},
    {"MX u16 and name", RRType::kMX, "10 mail.example.com.",
     "000A046D61696C076578616D706C6503636F6D00", nullptr},
    {"SRV", RRType::kSRV, "0 5 5060 sip.example.com.",
     "0000000513C403736970076578616D706C6503636F6D00", nullptr},
    {"TXT several strings", RRType::kTXT, "\"a b\" c \"\"", "03612062" "0163"
     "00", "\"a b\" \"c\" \"\""},
    {"TXT escapes", RRType::kTXT, "\"q\\\"\\\\\\255\\009;\"", "06" "71225CFF093B", "\"q\\\"\\\\\\255\\009;\""},
    {"HINFO two strings", RRType::kHINFO, "\"PC\" Linux",
     "025043054C696E7578", "\"PC\" \"Linux\""},
    {"NAPTR", RRType::kNAPTR, "100 10 \"U\" \"E2U+sip\" \"!^.*$!x!\" .",
     "0064000A0155074532552B73697008215E2E2A2421782100", nullptr},
    {"DS hex split across tokens", RRType::kDS, "12345 8 2 0A0B 0c0D",
     "30390802" "0A0B0C0D", "12345 8 2 0A0B0C0D"},
    {"SSHFP hex lower to upper", RRType::kSSHFP, "1 1 abcdef", "0101ABCDEF",
     "1 1 ABCDEF"},
    {"TLSA", RRType::kTLSA, "3 1 1 00FF", "03010100FF", nullptr},
    {"DNSKEY base64 split", RRType::kDNSKEY, "257 3 8 AwEA AQ==",
     "01010308" "03010001", "257 3 8 AwEAAQ=="},
    {"DNSKEY base64 one pad", RRType::kDNSKEY, "256 3 13 AAE=", "0100030D0001",
     nullptr},
    {"RRSIG dates", RRType::kRRSIG,
     "A 8 2 3600 20240201000000 20240101000000 12345 example.com. AQID",
     "0001" "08" "02" "00000E10" "65BADF00" "65920080" "3039"
     "076578616D706C6503636F6D00" "010203",
     nullptr},
    {"RRSIG integer times", RRType::kRRSIG,
     "TYPE65280 8 2 3600 1706745600 0 1 . AQID",
     "FF00" "08" "02" "00000E10" "65BADF00" "00000000" "0001" "00" "010203",
     "TYPE65280 8 2 3600 20240201000000 19700101000000 1 . AQID"},
    {"NSEC bitmap two windows", RRType::kNSEC, "host.example.com. A MX RRSIG NSEC TYPE1234",
     "04686F7374076578616D706C6503636F6D00"
     "0006400100000003" "041B" "0000000000000000000000000000000000000000000000000000" "20",
     nullptr},
    {"NSEC3 salt and base32hex", RRType::kNSEC3,
     "1 1 12 AABBCCDD 2VPTU5TIMAMQTTGL4LUU9KG21E0AOR3S A RRSIG",
     "01010" "00C" "04AABBCCDD" "14" "17F3DF17B2B2ADAEF615257DE4D2020B80AC6C7C"
     "0006400000000002",
     nullptr},
    {"NSEC3 no salt, lower case hash", RRType::kNSEC3,
     "1 0 0 - 0123abcd A",
     "01000000" "00" "05" "0044352D8D" "000140",
     "1 0 0 - 0123ABCD A"},
    {"NSEC3PARAM dash salt", RRType::kNSEC3PARAM, "1 0 0 -", "0100000000",
     nullptr},
    {"CAA", RRType::kCAA, "0 issue \"letsencrypt.org\"",
     "00056973737565" "6C657473656E63727970742E6F7267",
     nullptr},
    {"CAA empty value and quote", RRType::kCAA, "128 tbs \"a\\\"b\"",
     "8003746273" "612262", nullptr},
    {"ZONEMD u32 first", RRType::kZONEMD, "2024010101 1 1 ABCD",
     "78A3F1750101ABCD", nullptr},
    {"opaque type generic form", RRType(65280), "\\# 4 01020304", "01020304",
     nullptr},
    {"opaque type empty", RRType(65281), "\\# 0", "", nullptr},
    {"generic form for a known type", RRType::kA, "\\# 4 0A 000001",
     "0A000001", "10.0.0.1"},
};

class RdataRoundTrip : public testing::TestWithParam<RoundTrip> {};

TEST_P(RdataRoundTrip, TextToWireToText) {
  const RoundTrip& c = GetParam();
  std::vector<uint8_t> wire;
  absl::Status s = RdataFromString(c.type, c.text, &Origin(), wire);
  ASSERT_TRUE(s.ok()) << ToStd(s.message());
  EXPECT_EQ(wire, Hex(c.wire));
  EXPECT_TRUE(ValidateRdata(c.type, Bytes(wire.data(), wire.size())).ok());
  std::string text = RdataToText(c.type, Bytes(wire.data(), wire.size()));
  EXPECT_EQ(text, c.output ? c.output : c.text);
  // What we print reads back to the same bytes.
  std::vector<uint8_t> again;
  ASSERT_TRUE(RdataFromString(c.type, text, &Origin(), again).ok()) << text;
  EXPECT_EQ(again, wire);
}

INSTANTIATE_TEST_SUITE_P(
    AllFieldKinds, RdataRoundTrip, testing::ValuesIn(kRoundTrips),
    [](const testing::TestParamInfo<RoundTrip>& i) {
      std::string n;
      for (const char* p = i.param.name; *p; ++p) {
        n.push_back(std::isalnum(static_cast<unsigned char>(*p)) ? *p : '_');
      }
      return n;
    });

struct ErrorCase {
  const char* name;
  RRType type;
  const char* text;
  const char* error;  // substring of the message
  bool with_origin = true;
};

const ErrorCase kErrors[] = {
    {"bad IPv4", RRType::kA, "1.2.3", "bad IPv4 address '1.2.3'"},
    {"IPv4 octet over 255", RRType::kA, "1.2.3.256", "bad IPv4 address"},
    {"bad IPv6", RRType::kAAAA, "2001:db8::1::2", "bad IPv6 address"},
    {"IPv4 in AAAA", RRType::kAAAA, "192.0.2.1", "bad IPv6 address"},
    {"u16 out of range", RRType::kMX, "65536 mx.", "out of range (max 65535)"},
    {"u8 out of range", RRType::kDS, "1 256 2 00", "out of range (max 255)"},
    {"not a number", RRType::kMX, "ten mx.", "bad number 'ten'"},
    {"negative number", RRType::kSRV, "-1 0 0 x.", "bad number '-1'"},
    {"TXT string over 255", RRType::kTXT, nullptr, "longer than 255"},
    {"base64 garbage", RRType::kDNSKEY, "257 3 8 AwE*AQ==", "bad base64"},
    {"base64 not whole quanta", RRType::kDNSKEY, "257 3 8 AwEAA",
     "bad base64"},
    {"base64 data after padding", RRType::kDNSKEY, "257 3 8 AQ==AQID",
     "bad base64"},
    {"odd hex digits", RRType::kDS, "1 8 2 ABC", "bad hex"},
    {"hex garbage", RRType::kTLSA, "3 1 1 XY", "bad hex"},
    {"bad salt", RRType::kNSEC3PARAM, "1 0 0 XYZ", "bad hex string"},
    {"base32hex out of alphabet", RRType::kNSEC3, "1 0 0 - WXYZ A",
     "bad base32hex"},
    {"unknown type mnemonic in bitmap", RRType::kNSEC, "x. A BOGUS",
     "unknown type mnemonic 'BOGUS'"},
    {"unknown type covered", RRType::kRRSIG,
     "BOGUS 8 2 3600 1 1 1 . AQID", "unknown type mnemonic"},
    {"bad RRSIG date", RRType::kRRSIG,
     "A 8 2 3600 20241301000000 1 1 . AQID", "bad time"},
    {"missing field", RRType::kSOA, "ns. host. 1 2 3 4", "missing TTL"},
    {"trailing data", RRType::kA, "1.2.3.4 5.6.7.8", "trailing data '5.6.7.8'"},
    {"relative name without origin", RRType::kNS, "ns1", "no origin", false},
    {"at sign without origin", RRType::kNS, "@", "no origin", false},
    {"\\# length mismatch", RRType(65280), "\\# 3 01020304",
     "length mismatch"},
    {"\\# bad length", RRType(65280), "\\# x 01", "bad \\# length"},
    {"\\# not valid for the type", RRType::kA, "\\# 3 010203",
     "not valid A"},
    {"opaque type without \\#", RRType::kLOC, "52 22 23.000 N",
     "use \\#"},
    {"CAA empty tag", RRType::kCAA, "0 \"\" \"x\"", "bad CAA tag"},
    {"bad escape", RRType::kTXT, "\"a\\25\"", "bad escape"},
    {"escape over 255", RRType::kTXT, "\"\\256\"", "bad escape"},
    {"label over 63", RRType::kNS,
     "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.",
     "label longer than 63"},
};

class RdataTextError : public testing::TestWithParam<ErrorCase> {};

TEST_P(RdataTextError, IsRejectedWithAClearMessage) {
  const ErrorCase& c = GetParam();
  std::string text = c.text ? c.text : "\"" + std::string(256, 'x') + "\"";
  std::vector<uint8_t> wire;
  absl::Status s =
      RdataFromString(c.type, text, c.with_origin ? &Origin() : nullptr, wire);
  ASSERT_FALSE(s.ok()) << text;
  EXPECT_NE(ToStd(s.message()).find(c.error), std::string_view::npos)
      << ToStd(s.message());
}

INSTANTIATE_TEST_SUITE_P(
    Named, RdataTextError, testing::ValuesIn(kErrors),
    [](const testing::TestParamInfo<ErrorCase>& i) {
      std::string n;
      for (const char* p = i.param.name; *p; ++p) {
        n.push_back(std::isalnum(static_cast<unsigned char>(*p)) ? *p : '_');
      }
      return n;
    });

TEST(RdataText, TxtOf255BytesIsTheLimit) {
  std::vector<uint8_t> wire;
  ASSERT_TRUE(RdataFromString(RRType::kTXT, std::string(255, 'y'), nullptr,
                              wire).ok());
  EXPECT_EQ(wire.size(), 256u);
  EXPECT_EQ(wire[0], 255);
}

TEST(RdataText, MalformedKnownRdataPrintsGeneric) {
  // An A record of three bytes cannot be shown as an address; it must still
  // print losslessly.
  std::vector<uint8_t> wire = {1, 2, 3};
  EXPECT_EQ(RdataToText(RRType::kA, Bytes(wire.data(), wire.size())),
            "\\# 3 010203");
}

TEST(RdataText, RdataThatBreaksItsLayoutPrintsGeneric) {
  struct Case {
    RRType type;
    std::vector<uint8_t> wire;
  } cases[] = {
      {RRType::kTXT, {}},                          // no string at all
      {RRType::kTXT, {3, 'a'}},                    // string runs past the end
      {RRType::kAAAA, {1, 2, 3, 4}},               // short address
      {RRType::kNS, {3, 'a', 'b'}},                // unterminated name
      {RRType::kNS, {0xC0, 0x0C}},                 // compression pointer
      {RRType::kMX, {0, 1, 0, 9}},                 // bytes after the name
      {RRType::kNSEC, {0, 1, 0}},                  // bitmap window of 0 octets
      {RRType::kCAA, {0, 0}},                      // empty tag
      {RRType::kNSEC3PARAM, {1, 0, 0, 0, 2, 0xAB}},  // salt past the end
  };
  for (const Case& c : cases) {
    std::string text = RdataToText(c.type, Bytes(c.wire.data(), c.wire.size()));
    ASSERT_EQ(text.rfind("\\# ", 0), 0u) << c.type.ToString() << ": " << text;
  }
}

TEST(RdataText, Nsec3WithoutTypesIsAnEmptyNonTerminal) {
  // RFC 5155 §7.1: NSEC3 records of empty non-terminals have no types.
  std::vector<uint8_t> wire;
  ASSERT_TRUE(RdataFromString(RRType::kNSEC3, "1 0 0 - 0123ABCD", nullptr, wire).ok());
  EXPECT_EQ(wire, Hex("0100000000050044352D8D"));
  EXPECT_EQ(RdataToText(RRType::kNSEC3, Bytes(wire.data(), wire.size())),
            "1 0 0 - 0123ABCD");
}

TEST(RdataText, QuotedAtSignIsAName) {
  std::vector<uint8_t> wire;
  ASSERT_TRUE(RdataFromString(RRType::kNS, "\"@\"", &Origin(), wire).ok());
  EXPECT_EQ(wire, Hex("0140076578616D706C6503636F6D00"));
}

TEST(ParseTtlTest, UnitsAndLimits) {
  EXPECT_EQ(ParseTtl("0"), 0u);
  EXPECT_EQ(ParseTtl("3600"), 3600u);
  EXPECT_EQ(ParseTtl("1w2d3h4m5s"), 604800u + 2 * 86400 + 3 * 3600 + 4 * 60 + 5);
  EXPECT_EQ(ParseTtl("1H30M"), 5400u);
  EXPECT_EQ(ParseTtl("4294967295"), 4294967295u);
  EXPECT_EQ(ParseTtl("4294967296"), std::nullopt);
  EXPECT_EQ(ParseTtl("7102w"), std::nullopt);  // over 2^32 seconds
  EXPECT_EQ(ParseTtl("1x"), std::nullopt);
  EXPECT_EQ(ParseTtl("h"), std::nullopt);
  EXPECT_EQ(ParseTtl("1h30"), std::nullopt);
  EXPECT_EQ(ParseTtl(""), std::nullopt);
}

}  // namespace
}  // namespace xfr
