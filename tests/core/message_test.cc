#include "core/message.h"

#include <cctype>
#include <string>
#include <string_view>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace xfr {
namespace {

using ::testing::ElementsAreArray;
using ::testing::HasSubstr;

// Hex to bytes; spaces and '|' (section separators) are ignored.
std::vector<uint8_t> Hex(std::string_view hex) {
  std::vector<uint8_t> out;
  int nibble = -1;
  for (char c : hex) {
    if (!std::isxdigit(static_cast<unsigned char>(c))) continue;
    int v = std::isdigit(static_cast<unsigned char>(c))
                ? c - '0'
                : std::tolower(static_cast<unsigned char>(c)) - 'a' + 10;
    if (nibble < 0) {
      nibble = v;
    } else {
      out.push_back(static_cast<uint8_t>(nibble << 4 | v));
      nibble = -1;
    }
  }
  return out;
}

Bytes B(const std::vector<uint8_t>& v) { return Bytes(v.data(), v.size()); }

Name N(std::string_view text) { return *Name::FromText(text); }

// "example.com." at offset 12, so C00C points to it.
constexpr std::string_view kQname = "07 6578616d706c65 03 636f6d 00";
// A question for example.com. SOA IN.
const std::string kQuestionSoa = std::string(kQname) + " 0006 0001";
// An A record owned by example.com. (compressed), TTL 3600, 192.0.2.1.
constexpr std::string_view kARecord = "C00C 0001 0001 00000E10 0004 C0000201";
// An OPT record: root, payload 4096, TTL 0, no options.
constexpr std::string_view kOpt = "00 0029 1000 00000000 0000";
// A TSIG record owned by "k." with algorithm "a.", time 1, fudge 300, a
// 2-byte MAC, original ID 0x1234, no error, no other data.
constexpr std::string_view kTsig =
    "01 6b 00 00FA 00FF 00000000 0015 "
    "01 61 00 000000000001 012C 0002 ABCD 1234 0000 0000";

std::vector<uint8_t> Msg(std::string_view header, std::string_view rest) {
  return Hex(std::string(header) + " " + std::string(rest));
}

struct BadCase {
  std::string name;
  std::vector<uint8_t> wire;
  std::string error;
};

class ParseRejects : public ::testing::TestWithParam<BadCase> {};

TEST_P(ParseRejects, WithClearError) {
  absl::StatusOr<Message> m = ParseMessage(B(GetParam().wire));
  ASSERT_FALSE(m.ok()) << GetParam().name;
  EXPECT_THAT(std::string(m.status().message()), HasSubstr(GetParam().error));
}

std::vector<BadCase> BadCases() {
  std::string q = kQuestionSoa;
  std::string a(kARecord), opt(kOpt), tsig(kTsig);
  return {
      {"TruncatedHeader", Hex("1234 0100 0000 0000 0000 00"), "12-byte header"},
      {"EmptyMessage", {}, "12-byte header"},
      {"CountsRunPastEnd", Msg("1234 8400 0001 0005 0000 0000", q),
       "run past the end"},
      {"QuestionTruncated", Msg("1234 0000 0001 0000 0000 0000", kQname),
       "question 1"},
      {"TruncatedRdataKnownType",
       // A record with RDLENGTH 3: the IPv4 field is short.
       Msg("1234 8400 0001 0001 0000 0000",
           q + " C00C 0001 0001 00000E10 0003 C00002"),
       "answer record 1 of 1"},
      {"RdlengthPastEnd",
       Msg("1234 8400 0001 0001 0000 0000",
           q + " C00C FF00 0001 00000E10 FFFF 0102"),
       "RDATA runs past the end"},
      {"TrailingBytes", Msg("1234 8400 0001 0001 0000 0000", q + a + " 00"),
       "1 trailing bytes"},
      {"OwnerPointerLoop",
       // The owner at offset 12 is a pointer to itself.
       Msg("1234 8400 0000 0001 0000 0000", "C00C 0001 0001 00000E10 0004 01020304"),
       "compression pointer loop"},
      {"RdataPointerLoop",
       // NS RDATA at offset 41 pointing to itself.
       Msg("1234 8400 0001 0001 0000 0000",
           q + " C00C 0002 0001 00000E10 0002 C029"),
       "compression pointer loop"},
      {"ForwardPointerInOwner",
       Msg("1234 8400 0000 0001 0000 0000", "C00E 00 0001 0001 00000E10 0000"),
       "forward compression pointer"},
      {"TwoOpts", Msg("1234 8400 0000 0000 0000 0002", opt + opt),
       "more than one OPT"},
      {"OptNonRootOwner",
       Msg("1234 8400 0000 0000 0000 0001", "01 61 00 0029 1000 00000000 0000"),
       "not the root"},
      {"OptInAnswer", Msg("1234 8400 0000 0001 0000 0000", opt),
       "OPT record in the answer section"},
      {"OptInAuthority", Msg("1234 8400 0000 0000 0001 0000", opt),
       "OPT record in the authority section"},
      {"TsigNotLast",
       Msg("1234 8400 0001 0000 0000 0002", q + tsig + a),
       "TSIG record is not the last"},
      {"TsigBeforeOpt", Msg("1234 8400 0000 0000 0000 0002", tsig + opt),
       "TSIG record is not the last"},
      {"TsigInAnswer", Msg("1234 8400 0000 0001 0000 0000", tsig),
       "TSIG record is not the last"},
      {"TsigTruncatedRdata",
       Msg("1234 8400 0000 0000 0000 0001",
           "01 6b 00 00FA 00FF 00000000 0006 01 61 00 000000"),
       "TSIG: truncated"},
      {"TsigCompressedAlgorithm",
       Msg("1234 8400 0000 0000 0000 0001",
           "01 6b 00 00FA 00FF 00000000 0014 "
           "C00C 000000000001 012C 0002 ABCD 1234 0000 0000"),
       "TSIG: bad algorithm name"},
      {"ExpireWrongLength",
       Msg("1234 8400 0000 0000 0000 0001",
           "00 0029 1000 00000000 0006 0009 0002 0001"),
       "EXPIRE option of 2 bytes"},
      {"TruncatedEdnsOption",
       Msg("1234 8400 0000 0000 0000 0001",
           "00 0029 1000 00000000 0005 000A 0008 01"),
       "truncated EDNS option"},
      {"MalformedSoaRdata",
       // SOA with the names but only 4 of the 20 timer bytes.
       Msg("1234 8400 0001 0001 0000 0000",
           q + " C00C 0006 0001 00000E10 0008 C00C C00C 00000001"),
       "answer record 1 of 1"},
  };
}

INSTANTIATE_TEST_SUITE_P(
    MessageTest, ParseRejects, ::testing::ValuesIn(BadCases()),
    [](const ::testing::TestParamInfo<BadCase>& i) { return i.param.name; });

TEST(MessageTest, ParsesHeaderFlags) {
  // ID 0xBEEF, QR, opcode NOTIFY (4), AA, TC, RD, RA, AD, CD, rcode REFUSED.
  std::vector<uint8_t> w = Hex("BEEF A7B5 0000 0000 0000 0000");
  absl::StatusOr<Message> m = ParseMessage(B(w));
  ASSERT_TRUE(m.ok()) << m.status();
  const Header& h = m->header;
  EXPECT_EQ(h.id, 0xBEEF);
  EXPECT_TRUE(h.qr && h.aa && h.tc && h.rd && h.ra && h.ad && h.cd);
  EXPECT_EQ(h.opcode, Opcode::kNotify);
  EXPECT_EQ(m->rcode(), Rcode::kRefused);
  EXPECT_EQ(h.Flags(), 0xA7B5);
  uint8_t out[12];
  h.Store(out);
  EXPECT_THAT(out, ElementsAreArray(w));
}

TEST(MessageTest, ParseHeaderAloneIsCheap) {
  std::vector<uint8_t> w = Hex("0102 0000 0001 0002 0003 0004 FF");
  absl::StatusOr<Header> h = ParseHeader(B(w));
  ASSERT_TRUE(h.ok());
  EXPECT_EQ(h->id, 0x0102);
  EXPECT_EQ(h->qdcount, 1);
  EXPECT_EQ(h->ancount, 2);
  EXPECT_EQ(h->nscount, 3);
  EXPECT_EQ(h->arcount, 4);
  EXPECT_FALSE(ParseHeader(B(Hex("0102 0000 0001"))).ok());
}

TEST(MessageTest, UnknownTypeIsByteExactAndPointersAreNotFollowed) {
  // TYPE65280 with RDATA C00C: for an unknown type that is two opaque bytes
  // (RFC 3597 §4), not a name to expand.
  std::vector<uint8_t> w = Msg("1234 8400 0001 0001 0000 0000",
                               kQuestionSoa + " C00C FF00 0001 00000E10 0003 C00C 07");
  absl::StatusOr<Message> m = ParseMessage(B(w));
  ASSERT_TRUE(m.ok()) << m.status();
  ASSERT_EQ(m->answer.size(), 1u);
  EXPECT_EQ(m->answer[0].type, RRType(0xFF00));
  EXPECT_THAT(m->answer[0].rdata, ElementsAreArray(Hex("C00C07")));
  EXPECT_TRUE(m->answer[0].owner.Identical(N("example.com.")));
}

TEST(MessageTest, CompressedRdataOfRfc1035TypesIsExpanded) {
  std::vector<uint8_t> w = Msg(
      "1234 8400 0001 0003 0000 0000",
      kQuestionSoa +
          // SOA: mname ns1.example.com, rname hostmaster.example.com.
          " C00C 0006 0001 00000E10 0027 03 6e7331 C00C"
          " 0A 686f73746d6173746572 C00C"
          " 00000001 00000E10 00000384 00093A80 00000E10"
          // NS: ns1.example.com via a pointer into the SOA RDATA (offset 41).
          " C00C 0002 0001 00000E10 0002 C029"
          // MX 10 mail.example.com.
          " C00C 000F 0001 00000E10 0009 000A 04 6d61696c C00C");
  absl::StatusOr<Message> m = ParseMessage(B(w));
  ASSERT_TRUE(m.ok()) << m.status();
  ASSERT_EQ(m->answer.size(), 3u);
  std::vector<uint8_t> soa = Hex(
      "03 6e7331 07 6578616d706c65 03 636f6d 00"
      " 0A 686f73746d6173746572 07 6578616d706c65 03 636f6d 00"
      " 00000001 00000E10 00000384 00093A80 00000E10");
  EXPECT_THAT(m->answer[0].rdata, ElementsAreArray(soa));
  EXPECT_THAT(m->answer[1].rdata,
              ElementsAreArray(Hex("03 6e7331 07 6578616d706c65 03 636f6d 00")));
  EXPECT_THAT(m->answer[2].rdata,
              ElementsAreArray(Hex("000A 04 6d61696c 07 6578616d706c65 03 636f6d 00")));
  EXPECT_EQ(m->question_end, 12u + 17u);
  ASSERT_NE(m->question(), nullptr);
  EXPECT_EQ(m->question()->qtype, RRType::kSOA);
}

TEST(MessageTest, MaxRdlengthIsAccepted) {
  // An unknown type with RDLENGTH 65535: the largest RDATA there is.
  std::vector<uint8_t> w = Hex("0001 8400 0000 0001 0000 0000 00 FF00 0001 00000000 FFFF");
  w.resize(w.size() + 65535, 0xAB);
  absl::StatusOr<Message> m = ParseMessage(B(w));
  ASSERT_TRUE(m.ok()) << m.status();
  ASSERT_EQ(m->answer.size(), 1u);
  EXPECT_EQ(m->answer[0].rdata.size(), 65535u);
  w.pop_back();
  EXPECT_FALSE(ParseMessage(B(w)).ok());
}

struct EdnsCase {
  std::string name;
  std::string opt;
  Edns want;
  Rcode rcode;
};

class ParsesEdns : public ::testing::TestWithParam<EdnsCase> {};

TEST_P(ParsesEdns, Fields) {
  std::vector<uint8_t> w = Msg("1234 8000 0000 0000 0000 0001", GetParam().opt);
  absl::StatusOr<Message> m = ParseMessage(B(w));
  ASSERT_TRUE(m.ok()) << m.status();
  ASSERT_TRUE(m->edns.has_value());
  EXPECT_EQ(*m->edns, GetParam().want);
  EXPECT_EQ(m->rcode(), GetParam().rcode);
  EXPECT_TRUE(m->additional.empty());
}

INSTANTIATE_TEST_SUITE_P(
    MessageTest, ParsesEdns,
    ::testing::Values(
        EdnsCase{"NoOptions", "00 0029 04D0 00000000 0000",
                 Edns{.udp_payload_size = 1232}, Rcode::kNoError},
        EdnsCase{"ExpireEmptyInQuery", "00 0029 1000 00008000 0004 0009 0000",
                 Edns{.udp_payload_size = 4096,
                      .dnssec_ok = true,
                      .expire_present = true},
                 Rcode::kNoError},
        EdnsCase{"ExpireWithValue",
                 "00 0029 1000 00000000 0008 0009 0004 00093A80",
                 Edns{.udp_payload_size = 4096,
                      .expire_present = true,
                      .expire = 604800},
                 Rcode::kNoError},
        EdnsCase{"ExtendedRcodeBadVers", "00 0029 0200 01000000 0000",
                 Edns{.udp_payload_size = 512, .extended_rcode = 1},
                 Rcode::kBadVers},
        EdnsCase{"VersionAndOtherOptionsKept",
                 "00 0029 1000 00010000 000E 000A 0002 BEEF 0009 0000 FDE9 0000",
                 Edns{.udp_payload_size = 4096,
                      .version = 1,
                      .expire_present = true,
                      .options = {{10, {0xBE, 0xEF}}, {65001, {}}}},
                 Rcode::kNoError}),
    [](const ::testing::TestParamInfo<EdnsCase>& i) { return i.param.name; });

TEST(MessageTest, TsigLastIsParsedWithItsOffset) {
  std::string q = kQuestionSoa;
  std::vector<uint8_t> w = Msg("1234 8400 0001 0001 0000 0002",
                               q + std::string(kARecord) + std::string(kOpt) +
                                   std::string(kTsig));
  absl::StatusOr<Message> m = ParseMessage(B(w));
  ASSERT_TRUE(m.ok()) << m.status();
  ASSERT_TRUE(m->tsig.has_value());
  ASSERT_TRUE(m->edns.has_value());
  EXPECT_TRUE(m->additional.empty());
  const TsigRecord& t = *m->tsig;
  EXPECT_TRUE(t.key_name.Identical(N("k.")));
  EXPECT_TRUE(t.algorithm.Identical(N("a.")));
  EXPECT_EQ(t.time_signed, 1u);
  EXPECT_EQ(t.fudge, 300);
  EXPECT_THAT(t.mac, ElementsAreArray(Hex("ABCD")));
  EXPECT_EQ(t.original_id, 0x1234);
  EXPECT_EQ(t.error, Rcode::kNoError);
  EXPECT_EQ(m->tsig_offset, w.size() - Hex(kTsig).size());
}

TEST(MessageTest, TsigRecordRoundTrips) {
  TsigRecord t;
  t.key_name = N("Key.Example.");
  t.algorithm = N("hmac-sha256.");
  t.time_signed = 0x0000123456789ABCull;
  t.fudge = 300;
  t.mac = std::vector<uint8_t>(32, 0x5A);
  t.original_id = 0xBEEF;
  t.error = Rcode::kBadTime;
  t.other = Hex("000012345678");
  std::vector<uint8_t> buf;
  WireWriter w(buf);
  WriteTsigRecord(w, t);
  ASSERT_TRUE(w.ok());
  WireReader r(B(buf));
  Record rec;
  ASSERT_TRUE(ReadRecord(r, rec).ok());
  EXPECT_EQ(r.remaining(), 0u);
  EXPECT_EQ(rec.type, RRType::kTSIG);
  EXPECT_EQ(rec.rclass, RRClass::kANY);
  EXPECT_EQ(rec.ttl, 0u);
  absl::StatusOr<TsigRecord> back = ParseTsigRdata(rec.owner, B(rec.rdata));
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(*back, t);
  EXPECT_TRUE(back->key_name.Identical(t.key_name));
  // Trailing bytes after other-data are malformed.
  rec.rdata.push_back(0);
  EXPECT_FALSE(ParseTsigRdata(rec.owner, B(rec.rdata)).ok());
}

Record Rr(std::string_view owner, RRType type, std::vector<uint8_t> rdata,
          uint32_t ttl = 3600) {
  Record r;
  r.owner = N(owner);
  r.type = type;
  r.ttl = ttl;
  r.rdata = std::move(rdata);
  return r;
}

std::vector<uint8_t> NameWire(std::string_view text) {
  Name n = N(text);
  return std::vector<uint8_t>(n.wire().begin(), n.wire().end());
}

std::vector<uint8_t> Concat(std::vector<uint8_t> a, const std::vector<uint8_t>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

TEST(MessageBuilderTest, RoundTripsThroughTheParser) {
  MessageBuilder b;
  b.header().id = 0x4242;
  b.header().qr = true;
  b.header().aa = true;
  b.header().rd = true;
  Question q{N("Example.COM."), RRType::kSOA, RRClass::kIN};
  ASSERT_TRUE(b.AddQuestion(q));
  std::vector<uint8_t> soa = Concat(
      Concat(NameWire("ns1.example.com."), NameWire("hostmaster.example.com.")),
      Hex("00000001 00000E10 00000384 00093A80 00000E10"));
  std::vector<Record> answer = {
      Rr("example.com.", RRType::kSOA, soa),
      Rr("example.com.", RRType::kMX, Concat(Hex("000A"), NameWire("mail.example.com."))),
      Rr("WWW.example.com.", RRType(65280), Hex("C00C")),
  };
  std::vector<Record> authority = {
      Rr("example.com.", RRType::kNS, NameWire("ns1.example.com."))};
  std::vector<Record> additional = {
      Rr("ns1.example.com.", RRType::kA, Hex("C0000201"))};
  for (const Record& r : answer) ASSERT_TRUE(b.AddRecord(Section::kAnswer, r));
  for (const Record& r : authority) ASSERT_TRUE(b.AddRecord(Section::kAuthority, r));
  for (const Record& r : additional) ASSERT_TRUE(b.AddRecord(Section::kAdditional, r));
  Edns e{.udp_payload_size = 1232, .dnssec_ok = true, .expire_present = true,
         .expire = 86400, .options = {{10, {1, 2, 3}}}};
  ASSERT_TRUE(b.SetEdns(e));
  std::vector<uint8_t> wire = b.Finish();

  absl::StatusOr<Message> m = ParseMessage(B(wire));
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(m->header.id, 0x4242);
  EXPECT_TRUE(m->header.qr && m->header.aa && m->header.rd);
  EXPECT_EQ(m->header.arcount, 2);  // the A record and OPT
  ASSERT_EQ(m->questions.size(), 1u);
  EXPECT_TRUE(m->questions[0].qname.Identical(q.qname));
  EXPECT_EQ(m->answer, answer);
  EXPECT_EQ(m->authority, authority);
  EXPECT_EQ(m->additional, additional);
  ASSERT_TRUE(m->edns.has_value());
  EXPECT_EQ(*m->edns, e);
  for (size_t i = 0; i < answer.size(); ++i) {
    EXPECT_TRUE(m->answer[i].owner.Identical(answer[i].owner)) << i;
  }
  // Compression happened: every owner and the SOA/MX/NS names after the
  // question are pointers, so the message is far smaller than its parts.
  size_t uncompressed = 12 + q.qname.size() + 4 + EdnsWireSize(e);
  for (const auto* sec : {&answer, &authority, &additional}) {
    for (const Record& r : *sec) uncompressed += r.owner.size() + 10 + r.rdata.size();
  }
  EXPECT_LT(wire.size(), uncompressed - 60);
}

TEST(MessageBuilderTest, RecordThatDoesNotFitIsRefusedAndCallerSetsTc) {
  MessageBuilder b(kMaxPlainUdpSize);
  b.header().qr = true;
  ASSERT_TRUE(b.AddQuestion({N("example.com."), RRType::kA, RRClass::kIN}));
  int added = 0;
  while (true) {
    size_t before = b.size();
    Record r = Rr("example.com.", RRType::kA,
                  {192, 0, 2, static_cast<uint8_t>(added)});
    if (!b.AddRecord(Section::kAnswer, r)) {
      EXPECT_EQ(b.size(), before) << "a refused record must leave no bytes";
      break;
    }
    ++added;
    ASSERT_LT(added, 100);
  }
  // 12 + 17 question, 16 bytes per compressed A record.
  EXPECT_EQ(added, (512 - 12 - 17) / 16);
  b.header().tc = true;
  std::vector<uint8_t> wire = b.Finish();
  EXPECT_LE(wire.size(), kMaxPlainUdpSize);
  absl::StatusOr<Message> m = ParseMessage(B(wire));
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_TRUE(m->header.tc);
  EXPECT_EQ(m->answer.size(), static_cast<size_t>(added));
}

TEST(MessageBuilderTest, RolledBackNameIsNotACompressionTarget) {
  // A record whose new owner name is written and then refused must not leave
  // a table entry pointing past the end of the message.
  MessageBuilder b(60);
  ASSERT_TRUE(b.AddQuestion({N("a."), RRType::kA, RRClass::kIN}));
  Record big = Rr("longer-name.example.", RRType::kTXT, std::vector<uint8_t>(40, 3));
  big.rdata[0] = 39;
  EXPECT_FALSE(b.AddRecord(Section::kAnswer, big));
  Record small = Rr("longer-name.example.", RRType::kA, Hex("01020304"));
  ASSERT_TRUE(b.AddRecord(Section::kAnswer, small));
  absl::StatusOr<Message> m = ParseMessage(B(b.Finish()));
  ASSERT_TRUE(m.ok()) << m.status();
  ASSERT_EQ(m->answer.size(), 1u);
  EXPECT_EQ(m->answer[0], small);
}

TEST(MessageBuilderTest, EdnsRoomIsReservedAndOptComesLast) {
  MessageBuilder b(kMaxPlainUdpSize);
  ASSERT_TRUE(b.AddQuestion({N("example.com."), RRType::kA, RRClass::kIN}));
  Edns e{.udp_payload_size = 512, .expire_present = true, .expire = 5};
  ASSERT_TRUE(b.SetEdns(e));
  int added = 0;
  while (b.AddRecord(Section::kAdditional,
                     Rr("example.com.", RRType::kA,
                        {10, 0, 0, static_cast<uint8_t>(added)}))) {
    ++added;
  }
  std::vector<uint8_t> wire = b.Finish();
  EXPECT_LE(wire.size(), kMaxPlainUdpSize);
  EXPECT_EQ(added, (512 - 12 - 17 - 19) / 16);
  absl::StatusOr<Message> m = ParseMessage(B(wire));
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(m->additional.size(), static_cast<size_t>(added));
  ASSERT_TRUE(m->edns.has_value());
  EXPECT_EQ(m->edns->expire, std::optional<uint32_t>(5));
  // The OPT RR is the final 19 bytes.
  EXPECT_EQ(wire[wire.size() - 19], 0);
  EXPECT_EQ(LoadU16(&wire[wire.size() - 18]), RRType::kOPT.value());
}

TEST(MessageBuilderTest, SectionsOutOfOrderAndOptRecordsAreRefused) {
  MessageBuilder b;
  Record a = Rr("example.com.", RRType::kA, Hex("01020304"));
  ASSERT_TRUE(b.AddRecord(Section::kAdditional, a));
  EXPECT_FALSE(b.AddRecord(Section::kAnswer, a));
  EXPECT_FALSE(b.AddQuestion({N("example.com."), RRType::kA, RRClass::kIN}));
  Record opt = Rr(".", RRType::kOPT, {});
  EXPECT_FALSE(b.AddRecord(Section::kAdditional, opt));
}

TEST(MessageBuilderTest, ExtendedRcodeIsSplitIntoOpt) {
  MessageBuilder b;
  b.header().qr = true;
  ASSERT_TRUE(b.SetEdns(Edns{}));
  b.SetRcode(Rcode::kBadVers);
  absl::StatusOr<Message> m = ParseMessage(B(b.Finish()));
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(m->header.rcode, 0);
  EXPECT_EQ(m->rcode(), Rcode::kBadVers);
}

TEST(MessageBuilderTest, TsigAppendedAfterFinishParses) {
  MessageBuilder b;
  ASSERT_TRUE(b.AddQuestion({N("example.com."), RRType::kSOA, RRClass::kIN}));
  ASSERT_TRUE(b.SetEdns(Edns{}));
  std::vector<uint8_t> wire = b.Finish();
  size_t at = wire.size();
  TsigRecord t;
  t.key_name = N("key.");
  t.algorithm = N("hmac-sha256.");
  t.mac = std::vector<uint8_t>(32, 1);
  {
    WireWriter w(wire);
    WriteTsigRecord(w, t);
    ASSERT_TRUE(w.ok());
    w.PatchU16(10, static_cast<uint16_t>(LoadU16(&wire[10]) + 1));
  }
  absl::StatusOr<Message> m = ParseMessage(B(wire));
  ASSERT_TRUE(m.ok()) << m.status();
  ASSERT_TRUE(m->tsig.has_value());
  EXPECT_EQ(*m->tsig, t);
  EXPECT_EQ(m->tsig_offset, at);
  EXPECT_TRUE(m->edns.has_value());
}

TEST(MessageBuilderTest, StartResponseCopiesIdOpcodeRdAndQuestionCase) {
  MessageBuilder qb;
  qb.header().id = 0x7777;
  qb.header().opcode = Opcode::kNotify;
  qb.header().rd = true;
  qb.header().cd = true;
  ASSERT_TRUE(qb.AddQuestion({N("eXample.Com."), RRType::kSOA, RRClass::kIN}));
  absl::StatusOr<Message> query = ParseMessage(B(qb.Finish()));
  ASSERT_TRUE(query.ok());

  MessageBuilder rb = StartResponse(*query, kMaxPlainUdpSize);
  rb.header().aa = true;
  absl::StatusOr<Message> resp = ParseMessage(B(rb.Finish()));
  ASSERT_TRUE(resp.ok()) << resp.status();
  EXPECT_EQ(resp->header.id, 0x7777);
  EXPECT_TRUE(resp->header.qr);
  EXPECT_TRUE(resp->header.rd);
  EXPECT_FALSE(resp->header.cd);
  EXPECT_TRUE(resp->header.aa);
  EXPECT_EQ(resp->header.opcode, Opcode::kNotify);
  ASSERT_EQ(resp->questions.size(), 1u);
  EXPECT_TRUE(resp->questions[0].qname.Identical(N("eXample.Com.")));
}

}  // namespace
}  // namespace xfr
