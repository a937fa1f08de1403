// XfrIngest: AXFR streams, good and broken, and EDNS EXPIRE.
#include "core/xfr_ingest.h"

#include <algorithm>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "core/ascii.h"
#include "core/transfer.h"
#include "fmt/format.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/core/xfr_ingest_test_util.h"

namespace xfr {
namespace {

using namespace ingest_test;  // NOLINT: the shared test vocabulary

// --- AXFR: good streams ------------------------------------------------------

TEST(XfrIngestAxfr, MultiMessageStreamGivesTheZone) {
  std::vector<Record> zone = ZoneRecords(2024, 60);
  Stream s = Encode(Q(RRType::kAXFR), AxfrAnswer(zone));
  ASSERT_GT(s.size(), 3u);
  Outcome o = Ingest(Q(RRType::kAXFR), s);
  ASSERT_TRUE(o.status.ok()) << o.status;
  EXPECT_EQ(o.result->kind, IngestResult::kFull);
  EXPECT_EQ(*o.result->version, *Build(zone));
  EXPECT_EQ(o.result->serial, Serial(2024));
  EXPECT_EQ(o.result->messages, s.size());
  EXPECT_EQ(o.result->records, zone.size() + 1);
  size_t bytes = 0;
  for (const Wire& w : s) bytes += w.size();
  EXPECT_EQ(o.result->bytes, bytes);
  EXPECT_FALSE(o.result->expire.has_value());
  EXPECT_TRUE(o.result->diffs.empty());
}

// RFC 5936 §2.2: records in any order, names interleaved and revisited,
// duplicates collapsed with the first received kept (Build's rule).
TEST(XfrIngestAxfr, RecordsInAnyOrderAndDuplicates) {
  std::vector<Record> zone = ZoneRecords(7, 40);
  struct Case {
    std::string name;
    std::function<void(std::vector<Record>&)> shuffle;
  };
  std::vector<Case> cases = {
      {"reversed", [](auto& v) { std::reverse(v.begin(), v.end()); }},
      {"rotated", [](auto& v) { std::rotate(v.begin(), v.begin() + 17, v.end()); }},
      {"interleaved",
       [](auto& v) {
         std::vector<Record> out;
         for (size_t i = 0; i < v.size(); i += 2) out.push_back(v[i]);
         for (size_t i = 1; i < v.size(); i += 2) out.push_back(v[i]);
         v = out;
       }},
      {"apex records last",
       [](auto& v) { std::rotate(v.begin(), v.begin() + 2, v.end()); }},
      {"duplicates, the later one with another TTL",
       [](auto& v) {
         v.push_back(v[5]);
         Record other_ttl = v[9];
         other_ttl.ttl = 1;
         v.insert(v.begin() + 3, v[20]);
         v.push_back(other_ttl);
       }},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    std::vector<Record> body(zone.begin() + 1, zone.end());
    c.shuffle(body);
    std::vector<Record> answer = {zone.front()};
    answer.insert(answer.end(), body.begin(), body.end());
    answer.push_back(zone.front());
    Outcome o = Ingest(Q(RRType::kAXFR), Encode(Q(RRType::kAXFR), answer));
    ASSERT_TRUE(o.status.ok()) << o.status;
    std::vector<Record> expected = {zone.front()};
    expected.insert(expected.end(), body.begin(), body.end());
    EXPECT_EQ(*o.result->version, *Build(expected));
  }
}

// BIND compares the closing SOA with dns_rdata_compare, which ignores the
// case of MNAME and RNAME; so do we.
TEST(XfrIngestAxfr, ClosingSoaMayDifferInNameCase) {
  std::vector<Record> zone = ZoneRecords(9, 5);
  std::vector<Record> answer = AxfrAnswer(zone);
  answer.back() = Soa(9, "NS.Example.COM.");
  Outcome o = Ingest(Q(RRType::kAXFR), Encode(Q(RRType::kAXFR), answer));
  EXPECT_TRUE(o.status.ok()) << o.status;
}

TEST(XfrIngestAxfr, ZoneOfJustTheSoa) {
  Outcome o = Ingest(Q(RRType::kAXFR), Encode(Q(RRType::kAXFR), {Soa(3), Soa(3)}));
  ASSERT_TRUE(o.status.ok()) << o.status;
  EXPECT_EQ(o.result->version->size(), 1u);
}

TEST(XfrIngestAxfr, MaxRecordsExactlyReachedIsAccepted) {
  std::vector<Record> zone = ZoneRecords(1, 20);
  IngestOptions opt;
  opt.max_records = zone.size();
  Outcome o = Ingest(Q(RRType::kAXFR), Encode(Q(RRType::kAXFR), AxfrAnswer(zone)),
                  nullptr, std::move(opt));
  EXPECT_TRUE(o.status.ok()) << o.status;
}

// --- Broken streams ----------------------------------------------------------


// The first answer record of message `m` starts right after its question.
size_t FirstRecordOffset(const Wire& m) {
  absl::StatusOr<Message> p = ParseMessage(B(m));
  return p->question_end;
}

struct BrokenCase {
  std::string name;
  RRType qtype;
  // Edits a good AXFR/AXFR-style stream of ZoneRecords(5, 60).
  std::function<void(Stream&)> edit;
  IngestFailure failure;
  std::string text;
  // 1-based message where Consume must fail; 0: Finish fails.
  int failed_at;  // -1: the last message
};

class XfrIngestBroken : public ::testing::TestWithParam<BrokenCase> {};

TEST_P(XfrIngestBroken, FailsWithAPreciseError) {
  const BrokenCase& c = GetParam();
  std::vector<Record> zone = ZoneRecords(5, 60);
  Stream s = Encode(Q(c.qtype), AxfrAnswer(zone));
  ASSERT_GT(s.size(), 3u);
  c.edit(s);
  std::shared_ptr<const ZoneVersion> current =
      c.qtype == RRType::kIXFR ? Build(ZoneRecords(4, 3)) : nullptr;
  Outcome o = Ingest(Q(c.qtype), s, current);
  ASSERT_FALSE(o.status.ok());
  EXPECT_EQ(o.failure, c.failure) << o.status;
  EXPECT_THAT(Msg(o.status), HasSubstr(c.text));
  int at = c.failed_at < 0 ? static_cast<int>(s.size()) : c.failed_at;
  EXPECT_EQ(o.failed_at, static_cast<size_t>(at)) << o.status;
}

Record OutOfZone() { return A("www.example.org.", 1); }

INSTANTIATE_TEST_SUITE_P(
    Cases, XfrIngestBroken,
    ::testing::ValuesIn(std::vector<BrokenCase>{
        {"Truncated", RRType::kAXFR, [](Stream& s) { s.pop_back(); },
         IngestFailure::kTruncated, "truncated transfer", 0},
        {"NothingReceived", RRType::kAXFR, [](Stream& s) { s.clear(); },
         IngestFailure::kTruncated, "truncated transfer", 0},
        {"ClosingSoaDiffers", RRType::kAXFR,
         [](Stream& s) {
           std::vector<Record> z = ZoneRecords(5, 60);
           z.front() = Soa(6);
           Stream other = Encode(Q(RRType::kAXFR), AxfrAnswer(z));
           // The last message of a stream closing with serial 6.
           s.back() = other.back();
         },
         IngestFailure::kMalformed, "closing SOA (serial 6) differs", -1},
        {"RecordAfterFinalSoa", RRType::kAXFR,
         [](Stream& s) {
           std::vector<Record> z = AxfrAnswer(ZoneRecords(5, 60));
           z.push_back(A("late.example.com.", 1));
           s = Encode(Q(RRType::kAXFR), z);
         },
         IngestFailure::kMalformed, "late.example.com. A) follows the final SOA",
         -1},
        {"MessageAfterFinalSoa", RRType::kAXFR,
         [](Stream& s) { s.push_back(s.back()); }, IngestFailure::kMalformed,
         "after the end of the transfer", -1},
        {"WrongId", RRType::kAXFR, [](Stream& s) { s[2][1] ^= 1; },
         IngestFailure::kMalformed, "message 3 has ID", 3},
        {"QrClear", RRType::kAXFR, [](Stream& s) { s[1][2] &= 0x7f; },
         IngestFailure::kMalformed, "message 2 is not a response", 2},
        {"TcSet", RRType::kAXFR, [](Stream& s) { s[1][2] |= 0x02; },
         IngestFailure::kMalformed, "message 2 has TC set", 2},
        {"OpcodeNotify", RRType::kAXFR, [](Stream& s) { s[0][2] |= 0x20; },
         IngestFailure::kMalformed, "opcode NOTIFY", 1},
        {"WrongQuestionName", RRType::kAXFR,
         [](Stream& s) { s[0][12 + 1 + 7 - 1] = 'f'; },  // "example" -> "examplf"
         IngestFailure::kMalformed, "answers examplf.com. IN AXFR", 1},
        {"WrongQuestionType", RRType::kAXFR,
         [](Stream& s) {
           // AXFR (252) -> IXFR (251) in the first message's question.
           size_t qt = FirstRecordOffset(s[0]) - 4;
           s[0][qt + 1] = 251;
         },
         IngestFailure::kMalformed, "not the query's example.com. IN AXFR", 1},
        {"NoQuestionInFirstMessage", RRType::kAXFR,
         [](Stream& s) {
           MessageBuilder b;
           Header h;
           h.id = kId;
           h.qr = true;
           b.SetHeader(h);
           EXPECT_TRUE(b.AddRecord(Section::kAnswer, Soa(5)));
           s[0] = b.Finish();
         },
         IngestFailure::kMalformed, "first message has no question", 1},
        {"WrongClass", RRType::kAXFR,
         [](Stream& s) {
           std::vector<Record> z = AxfrAnswer(ZoneRecords(5, 2));
           z.insert(z.begin() + 2,
                    Rr("ch.example.com.", RRType::kTXT, 0, {1, 'x'},
                       RRClass::kCH));
           s = Encode(Q(RRType::kAXFR), z);
         },
         IngestFailure::kMalformed, "has class CH, the zone has class IN", 1},
        {"FirstRecordNotSoa", RRType::kAXFR,
         [](Stream& s) {
           std::vector<Record> z = AxfrAnswer(ZoneRecords(5, 2));
           z.erase(z.begin());
           s = Encode(Q(RRType::kAXFR), z);
         },
         IngestFailure::kMalformed, "comes first, not the zone's SOA", 1},
        {"SoaBelowApex", RRType::kAXFR,
         [](Stream& s) {
           std::vector<Record> z = AxfrAnswer(ZoneRecords(5, 2));
           Record sub = Soa(5);
           sub.owner = N("sub.example.com.");
           z.insert(z.begin() + 2, sub);
           s = Encode(Q(RRType::kAXFR), z);
         },
         IngestFailure::kMalformed, "is an SOA below the apex", 1},
        {"MetaTypeRecord", RRType::kAXFR,
         [](Stream& s) {
           std::vector<Record> z = AxfrAnswer(ZoneRecords(5, 2));
           z.insert(z.begin() + 2, Rr("x.example.com.", RRType::kANY, 0, {}));
           s = Encode(Q(RRType::kAXFR), z);
         },
         IngestFailure::kMalformed, "is a meta-type", 1},
        {"Garbage", RRType::kAXFR, [](Stream& s) { s[1].resize(20); },
         IngestFailure::kMalformed, "message 2: ", 2},
        {"NotImp", RRType::kIXFR,
         [](Stream& s) { s = {ErrorAnswer(Q(RRType::kIXFR), Rcode::kNotImp)}; },
         IngestFailure::kServerRcode, "the primary answered NOTIMP", 1},
        {"Refused", RRType::kAXFR,
         [](Stream& s) { s = {ErrorAnswer(Q(RRType::kAXFR), Rcode::kRefused)}; },
         IngestFailure::kServerRcode, "the primary answered REFUSED", 1},
        {"ServFailMidStream", RRType::kAXFR,
         [](Stream& s) { s[2] = ErrorAnswer(Q(RRType::kAXFR), Rcode::kServFail); },
         IngestFailure::kServerRcode, "message 3: the primary answered SERVFAIL",
         3},
        {"IxfrStreamTruncated", RRType::kIXFR, [](Stream& s) { s.pop_back(); },
         IngestFailure::kTruncated, "truncated transfer", 0},
    }),
    [](const ::testing::TestParamInfo<BrokenCase>& i) { return i.param.name; });

// The out-of-zone case above fails in whichever message holds record 31;
// check the message and the record position precisely here.
TEST(XfrIngestAxfr, OutOfZoneErrorNamesMessageAndRecord) {
  std::vector<Record> z = AxfrAnswer(ZoneRecords(5, 60));
  z.insert(z.begin() + 30, OutOfZone());
  Stream s = Encode(Q(RRType::kAXFR), z);
  size_t before = 0, msg = 0, index = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    size_t n = ParseMessage(B(s[i]))->answer.size();
    if (before + n > 30) {
      msg = i + 1;
      index = 30 - before + 1;
      break;
    }
    before += n;
  }
  ASSERT_GT(msg, 1u);
  Outcome o = Ingest(Q(RRType::kAXFR), s);
  EXPECT_EQ(o.failed_at, msg);
  EXPECT_THAT(Msg(o.status),
              HasSubstr(fmt::format("message {}, record {} (www.example.org. "
                                    "A) is outside the zone",
                                    msg, index)));
}

TEST(XfrIngestAxfr, OverMaxRecordsFailsWhileReceiving) {
  std::vector<Record> zone = ZoneRecords(1, 200);
  Stream s = Encode(Q(RRType::kAXFR), AxfrAnswer(zone));
  ASSERT_GT(s.size(), 10u);
  IngestOptions opt;
  opt.max_records = 30;
  Outcome o = Ingest(Q(RRType::kAXFR), s, nullptr, std::move(opt));
  EXPECT_EQ(o.failure, IngestFailure::kTooLarge);
  EXPECT_EQ(o.status.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(Msg(o.status), HasSubstr("more than max-records = 30"));
  // Well before the end: 31 records fit in the first few messages.
  EXPECT_GT(o.failed_at, 0u);
  EXPECT_LT(o.failed_at, s.size() / 2);
}

TEST(XfrIngestAxfr, RcodeIsExposedAndDecidesTheFallback) {
  struct Case {
    RRType qtype;
    Rcode rcode;
    bool fall_back;
  };
  for (const Case& c : std::vector<Case>{
           {RRType::kIXFR, Rcode::kNotImp, true},
           {RRType::kIXFR, Rcode::kRefused, true},
           {RRType::kIXFR, Rcode::kFormErr, true},
           {RRType::kIXFR, Rcode::kServFail, false},
           {RRType::kAXFR, Rcode::kNotImp, false},
       }) {
    SCOPED_TRACE(c.rcode.ToString());
    Outcome o = Ingest(Q(c.qtype), {ErrorAnswer(Q(c.qtype), c.rcode)},
                    Build(ZoneRecords(1, 1)));
    EXPECT_EQ(o.failure, IngestFailure::kServerRcode);
    EXPECT_EQ(o.rcode, c.rcode);
    EXPECT_EQ(o.status.code(), absl::StatusCode::kUnavailable);
    EXPECT_EQ(o.fall_back, c.fall_back);
  }
}

TEST(XfrIngestAxfr, FailureIsSticky) {
  Stream s = Encode(Q(RRType::kAXFR), AxfrAnswer(ZoneRecords(1, 40)));
  s[1][1] ^= 1;  // wrong ID
  absl::StatusOr<XfrIngest> x =
      XfrIngest::Create(kId, Q(RRType::kAXFR), nullptr, {});
  ASSERT_TRUE(x.ok());
  EXPECT_TRUE(x->Consume(B(s[0]), kNow).ok());
  absl::Status first = x->Consume(B(s[1]), kNow);
  EXPECT_FALSE(first.ok());
  for (size_t i = 2; i < s.size(); ++i) EXPECT_EQ(x->Consume(B(s[i]), kNow), first);
  EXPECT_EQ(x->Finish().status(), first);
}

TEST(XfrIngestAxfr, CreateRefusesBadRequests) {
  EXPECT_FALSE(XfrIngest::Create(kId, Q(RRType::kSOA), nullptr, {}).ok());
  // IXFR needs the version it starts from.
  EXPECT_FALSE(XfrIngest::Create(kId, Q(RRType::kIXFR), nullptr, {}).ok());
  Question other{N("example.net."), RRType::kIXFR, RRClass::kIN};
  EXPECT_FALSE(
      XfrIngest::Create(kId, other, Build(ZoneRecords(1, 1)), {}).ok());
}

// --- EDNS EXPIRE -------------------------------------------------------------

// Appends an OPT RR with EXPIRE = `seconds` to a message (RFC 7314 §2).
void AddExpire(Wire& m, uint32_t seconds) {
  Wire opt = {0, 0, 41, 0x04, 0xd0, 0, 0, 0, 0, 0, 8, 0, 9, 0, 4};
  uint8_t b[4];
  StoreU32(b, seconds);
  opt.insert(opt.end(), b, b + 4);
  m.insert(m.end(), opt.begin(), opt.end());
  StoreU16(m.data() + 10, static_cast<uint16_t>(LoadU16(m.data() + 10) + 1));
}

TEST(XfrIngestAxfr, ExpireFromTheFirstMessage) {
  Stream s = Encode(Q(RRType::kAXFR), AxfrAnswer(ZoneRecords(1, 40)));
  AddExpire(s[0], 86000);
  AddExpire(s[1], 5);  // later messages do not count
  Outcome o = Ingest(Q(RRType::kAXFR), s);
  ASSERT_TRUE(o.status.ok()) << o.status;
  EXPECT_EQ(o.result->expire, std::optional<uint32_t>(86000));
}

}  // namespace
}  // namespace xfr
