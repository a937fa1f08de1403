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

namespace xfr {
namespace {

using ::testing::HasSubstr;

const absl::Time kNow = absl::FromUnixSeconds(1700000000);
constexpr uint16_t kId = 0x5a5a;
// Small messages, so every stream spans several of them.
constexpr size_t kMessageSize = 400;

using Wire = std::vector<uint8_t>;
using Stream = std::vector<Wire>;

Name N(std::string_view t) { return *Name::FromText(t); }
Bytes B(const Wire& v) { return Bytes(v.data(), v.size()); }

Record Rr(std::string_view owner, RRType type, uint32_t ttl, Wire rdata,
          RRClass rclass = RRClass::kIN) {
  Record r;
  r.owner = N(owner);
  r.type = type;
  r.rclass = rclass;
  r.ttl = ttl;
  r.rdata = std::move(rdata);
  return r;
}

Record Soa(uint32_t serial, std::string_view mname = "ns.example.com.") {
  Wire d;
  for (std::string_view n : {mname, std::string_view("host.example.com.")}) {
    Name nm = N(n);
    d.insert(d.end(), nm.wire().begin(), nm.wire().end());
  }
  for (uint32_t v : {serial, 3600u, 600u, 86400u, 300u}) {
    uint8_t b[4];
    StoreU32(b, v);
    d.insert(d.end(), b, b + 4);
  }
  return Rr("example.com.", RRType::kSOA, 3600, d);
}
Record A(std::string_view owner, uint8_t last, uint32_t ttl = 300) {
  return Rr(owner, RRType::kA, ttl, {192, 0, 2, last});
}
Record Txt(std::string_view owner, std::string_view text) {
  Wire d{static_cast<uint8_t>(text.size())};
  d.insert(d.end(), text.begin(), text.end());
  return Rr(owner, RRType::kTXT, 300, d);
}
Record Ns(std::string_view owner, std::string_view target) {
  Name t = N(target);
  return Rr(owner, RRType::kNS, 3600, Wire(t.wire().begin(), t.wire().end()));
}

// A zone of `n` hosts with a few records each, apex NS and TXT included.
std::vector<Record> ZoneRecords(uint32_t serial, int n) {
  std::vector<Record> z = {Soa(serial), Ns("example.com.", "ns.example.com."),
                           Txt("example.com.", "v=spf1 -all")};
  for (int i = 0; i < n; ++i) {
    std::string owner = fmt::format("host{}.example.com.", i);
    z.push_back(A(owner, static_cast<uint8_t>(i)));
    if (i % 3 == 0) z.push_back(Txt(owner, fmt::format("text {}", i)));
  }
  return z;
}

std::shared_ptr<const ZoneVersion> Build(std::vector<Record> rs) {
  auto z = ZoneVersion::Build(N("example.com."), std::move(rs));
  EXPECT_TRUE(z.ok()) << z.status();
  return z.ok() ? *z : nullptr;
}

Question Q(RRType t) { return Question{N("example.com."), t, RRClass::kIN}; }

// The answer messages carrying `records` in order, as a primary sends them.
Stream Encode(const Question& q, const std::vector<Record>& records,
              size_t size = kMessageSize, uint16_t id = kId) {
  TransferEncoder enc(q, size);
  for (const Record& r : records) enc.Add(r);
  absl::StatusOr<std::vector<EncodedMessage>> msgs = enc.Finish();
  EXPECT_TRUE(msgs.ok()) << msgs.status();
  Stream out;
  Wire qbytes = EncodeQuestion(q);
  for (const EncodedMessage& m : *msgs) {
    out.push_back(*MaterializeForRequest(m, id, false, B(qbytes)));
  }
  return out;
}

// AXFR answer: SOA, the other records, SOA.
std::vector<Record> AxfrAnswer(const std::vector<Record>& zone) {
  std::vector<Record> out;
  for (const Record& r : zone) {
    if (r.type == RRType::kSOA) out.insert(out.begin(), r);
  }
  for (const Record& r : zone) {
    if (r.type != RRType::kSOA) out.push_back(r);
  }
  out.push_back(out.front());
  return out;
}

// IXFR answer (RFC 1995 §4) for a chain of diffs.
std::vector<Record> IxfrAnswer(const std::vector<ZoneDiff>& chain) {
  std::vector<Record> out = {chain.back().new_soa};
  for (const ZoneDiff& d : chain) {
    out.push_back(d.old_soa);
    out.insert(out.end(), d.removed.begin(), d.removed.end());
    out.push_back(d.new_soa);
    out.insert(out.end(), d.added.begin(), d.added.end());
  }
  out.push_back(chain.back().new_soa);
  return out;
}

struct Outcome {
  absl::Status status;          // first failure, or Finish()'s
  size_t failed_at = 0;         // 1-based message that failed; 0 if none
  std::optional<IngestResult> result;
  IngestFailure failure = IngestFailure::kNone;
  Rcode rcode;
  bool fall_back = false;
};

Outcome Ingest(const Question& q, const Stream& s,
            std::shared_ptr<const ZoneVersion> current = nullptr,
            IngestOptions options = {}) {
  Outcome o;
  absl::StatusOr<XfrIngest> x =
      XfrIngest::Create(kId, q, std::move(current), std::move(options));
  EXPECT_TRUE(x.ok()) << x.status();
  if (!x.ok()) return o;
  for (size_t i = 0; i < s.size(); ++i) {
    absl::Status st = x->Consume(B(s[i]), kNow);
    if (!st.ok()) {
      o.status = st;
      o.failed_at = i + 1;
      break;
    }
  }
  if (o.status.ok()) {
    absl::StatusOr<IngestResult> r = x->Finish();
    if (r.ok()) {
      o.result = *std::move(r);
    } else {
      o.status = r.status();
    }
  }
  o.failure = x->failure();
  o.rcode = x->server_rcode();
  o.fall_back = x->FallBackToAxfr();
  return o;
}

std::string Msg(const absl::Status& s) { return std::string(ToStd(s.message())); }

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

Wire ErrorAnswer(const Question& q, Rcode rcode, uint16_t id = kId) {
  MessageBuilder b;
  Header h;
  h.id = id;
  h.qr = true;
  b.SetHeader(h);
  EXPECT_TRUE(b.AddQuestion(q));
  b.SetRcode(rcode);
  return b.Finish();
}

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

// --- IXFR --------------------------------------------------------------------

// Three versions apart by small changes.
struct Chain {
  std::vector<std::shared_ptr<const ZoneVersion>> versions;
  std::vector<ZoneDiff> diffs;
};

Chain MakeChain(int steps) {
  Chain c;
  std::vector<Record> z = ZoneRecords(100, 50);
  c.versions.push_back(Build(z));
  for (int i = 1; i <= steps; ++i) {
    z.front() = Soa(100 + i);
    z.erase(z.begin() + 3 + i);                                  // removed
    z.push_back(A(fmt::format("new{}.example.com.", i), 7));     // added
    z[10].ttl += 60;                                              // TTL change
    c.versions.push_back(Build(z));
    c.diffs.push_back(ComputeDiff(*c.versions[i - 1], *c.versions[i]));
  }
  return c;
}

TEST(XfrIngestIxfr, UpToDateWithALoneSoa) {
  struct Case {
    std::string name;
    uint32_t ours, theirs;
  };
  for (const Case& c : std::vector<Case>{
           {"same serial", 5, 5},
           {"primary behind", 9, 8},
           // RFC 1982: 0xFFFFFFF0 is before 5 (they differ by 21 mod 2^32).
           {"primary behind across the wrap", 5, 0xFFFFFFF0u},
       }) {
    SCOPED_TRACE(c.name);
    std::vector<Record> z = ZoneRecords(c.ours, 3);
    auto current = Build(z);
    Outcome o = Ingest(Q(RRType::kIXFR), Encode(Q(RRType::kIXFR), {Soa(c.theirs)}),
                    current);
    ASSERT_TRUE(o.status.ok()) << o.status;
    EXPECT_EQ(o.result->kind, IngestResult::kUpToDate);
    EXPECT_EQ(o.result->version, current);
    EXPECT_EQ(o.result->serial, Serial(c.theirs));
  }
}

TEST(XfrIngestIxfr, LoneNewerSoaThenEndIsTruncated) {
  auto current = Build(ZoneRecords(5, 3));
  Outcome o = Ingest(Q(RRType::kIXFR), Encode(Q(RRType::kIXFR), {Soa(6)}), current);
  EXPECT_EQ(o.failure, IngestFailure::kTruncated);
  EXPECT_EQ(o.status.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(Msg(o.status), HasSubstr("lone SOA with serial 6"));
}

TEST(XfrIngestIxfr, DiffsAreAppliedInOrder) {
  for (int steps : {1, 3}) {
    SCOPED_TRACE(fmt::format("{} diff(s)", steps));
    Chain c = MakeChain(steps);
    Stream s = Encode(Q(RRType::kIXFR), IxfrAnswer(c.diffs), 200);
    ASSERT_GT(s.size(), 1u);
    Outcome o = Ingest(Q(RRType::kIXFR), s, c.versions.front());
    ASSERT_TRUE(o.status.ok()) << o.status;
    EXPECT_EQ(o.result->kind, IngestResult::kIncremental);
    EXPECT_EQ(*o.result->version, *c.versions.back());
    EXPECT_EQ(o.result->serial, Serial(100 + steps));
    EXPECT_EQ(o.result->diffs, c.diffs);
    ASSERT_TRUE(o.result->condensed.has_value());
    EXPECT_EQ(o.result->condensed->from(), Serial(100));
    EXPECT_EQ(o.result->condensed->to(), Serial(100 + steps));
    auto again = ApplyDiff(*c.versions.front(), *o.result->condensed);
    ASSERT_TRUE(again.ok());
    EXPECT_EQ(**again, *c.versions.back());
  }
}

// The diffs come as they were sent, even across messages split mid-diff.
TEST(XfrIngestIxfr, TinyMessagesOneRecordEach) {
  Chain c = MakeChain(3);
  Stream s = Encode(Q(RRType::kIXFR), IxfrAnswer(c.diffs), 80);
  Outcome o = Ingest(Q(RRType::kIXFR), s, c.versions.front());
  ASSERT_TRUE(o.status.ok()) << o.status;
  EXPECT_EQ(*o.result->version, *c.versions.back());
  EXPECT_EQ(o.result->messages, s.size());
}

TEST(XfrIngestIxfr, DiffFromAnotherSerialFallsBack) {
  Chain c = MakeChain(2);
  // We hold version 1 but the primary sends diffs from 100.
  Outcome o = Ingest(Q(RRType::kIXFR), Encode(Q(RRType::kIXFR), IxfrAnswer(c.diffs)),
                  c.versions[1]);
  EXPECT_EQ(o.failure, IngestFailure::kNotOurSerial);
  EXPECT_EQ(o.status.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(Msg(o.status),
              HasSubstr("the diffs start from serial 100, ours is 101"));
  EXPECT_TRUE(o.fall_back);
}

TEST(XfrIngestIxfr, BrokenChainFallsBack) {
  Chain c = MakeChain(3);
  std::vector<ZoneDiff> broken = {c.diffs[0], c.diffs[2]};  // 100->101, 102->103
  Outcome o = Ingest(Q(RRType::kIXFR), Encode(Q(RRType::kIXFR), IxfrAnswer(broken)),
                  c.versions.front());
  EXPECT_EQ(o.failure, IngestFailure::kInconsistent);
  EXPECT_THAT(Msg(o.status),
              HasSubstr("a diff starts from serial 102, but the previous one "
                        "ended at 101"));
  EXPECT_TRUE(o.fall_back);
}

// Found by ingest_fuzz: the answer announces serial 103 and ends with it,
// but the only diff goes from 100 to 101, so the result would not be 103.
TEST(XfrIngestIxfr, DiffsThatStopShortOfTheAnnouncedSerial) {
  Chain c = MakeChain(1);
  std::vector<Record> answer = IxfrAnswer(c.diffs);
  answer.front() = Soa(103);
  answer.back() = Soa(103);
  Outcome o = Ingest(Q(RRType::kIXFR), Encode(Q(RRType::kIXFR), answer),
                     c.versions.front());
  EXPECT_EQ(o.failure, IngestFailure::kInconsistent);
  EXPECT_THAT(Msg(o.status), HasSubstr("the answer ends at serial 103, but "
                                       "the last diff goes to 101"));
}

TEST(XfrIngestIxfr, ClosingSoaDiffersWithTheSameSerial) {
  Chain c = MakeChain(1);
  std::vector<Record> answer = IxfrAnswer(c.diffs);
  answer.back() = Soa(101, "other.example.com.");
  Outcome o = Ingest(Q(RRType::kIXFR), Encode(Q(RRType::kIXFR), answer),
                  c.versions.front());
  EXPECT_EQ(o.failure, IngestFailure::kMalformed);
  EXPECT_THAT(Msg(o.status), HasSubstr("closing SOA differs"));
}

TEST(XfrIngestIxfr, AxfrStyleAnswerIsAFullTransfer) {
  Chain c = MakeChain(1);
  std::vector<Record> owned;
  for (const RecordView& v : *c.versions[1]) owned.push_back(ToRecord(v));
  Outcome o = Ingest(Q(RRType::kIXFR), Encode(Q(RRType::kIXFR), AxfrAnswer(owned)),
                  c.versions.front());
  ASSERT_TRUE(o.status.ok()) << o.status;
  EXPECT_EQ(o.result->kind, IngestResult::kFull);
  EXPECT_EQ(*o.result->version, *c.versions[1]);
  EXPECT_TRUE(o.result->diffs.empty());
}

// A lone new SOA in the first message, the zone in the next ones.
TEST(XfrIngestIxfr, AxfrStyleAfterALoneSoaMessage) {
  Chain c = MakeChain(1);
  std::vector<Record> owned;
  for (const RecordView& v : *c.versions[1]) owned.push_back(ToRecord(v));
  std::vector<Record> answer = AxfrAnswer(owned);
  Stream first = Encode(Q(RRType::kIXFR), {answer.front()});
  std::vector<Record> rest(answer.begin() + 1, answer.end());
  Stream later = Encode(Q(RRType::kIXFR), rest);
  Stream s = first;
  s.insert(s.end(), later.begin(), later.end());
  Outcome o = Ingest(Q(RRType::kIXFR), s, c.versions.front());
  ASSERT_TRUE(o.status.ok()) << o.status;
  EXPECT_EQ(o.result->kind, IngestResult::kFull);
  EXPECT_EQ(*o.result->version, *c.versions[1]);
}

// RFC 1995 leniency as BIND and Knot practise it (diff.h).
TEST(XfrIngestIxfr, DeletingAMissingRecordIsAccepted) {
  Chain c = MakeChain(1);
  ZoneDiff d = c.diffs[0];
  d.removed.push_back(A("never-there.example.com.", 9));
  Outcome o = Ingest(Q(RRType::kIXFR), Encode(Q(RRType::kIXFR), IxfrAnswer({d})),
                  c.versions.front());
  ASSERT_TRUE(o.status.ok()) << o.status;
  EXPECT_EQ(*o.result->version, *c.versions[1]);
}

TEST(XfrIngestIxfr, OverMaxRecordsInDiffs) {
  Chain c = MakeChain(1);
  ZoneDiff d = c.diffs[0];
  for (int i = 0; i < 50; ++i) {
    d.added.push_back(A(fmt::format("bulk{}.example.com.", i), 1));
  }
  IngestOptions opt;
  opt.max_records = 40;
  Outcome o = Ingest(Q(RRType::kIXFR), Encode(Q(RRType::kIXFR), IxfrAnswer({d})),
                  c.versions.front(), std::move(opt));
  EXPECT_EQ(o.failure, IngestFailure::kTooLarge);
  EXPECT_THAT(Msg(o.status), HasSubstr("more than max-records = 40"));
  // Only an AXFR of the final version can tell whether it fits.
  EXPECT_TRUE(o.fall_back);
}

// --- TSIG --------------------------------------------------------------------

TsigKey Key() {
  return *MakeTsigKey("xfr-key.", "hmac-sha256",
                      "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0IQ==");
}

// Signs the query, then the answer messages: message i is signed when
// sign(i) is true. Returns the request MAC.
Wire SignStream(const TsigKey& key, Stream& s,
                const std::function<bool(size_t)>& sign) {
  MessageBuilder qb;
  Header h;
  h.id = kId;
  qb.SetHeader(h);
  EXPECT_TRUE(qb.AddQuestion(Q(RRType::kAXFR)));
  Wire query = qb.Finish();
  Wire mac = *SignTsigQuery(key, query, kNow);
  absl::StatusOr<TsigStreamSigner> signer =
      TsigStreamSigner::Create(key, B(mac));
  for (size_t i = 0; i < s.size(); ++i) {
    if (sign(i)) {
      EXPECT_TRUE(signer->SignMessage(s[i], kNow).ok());
    } else {
      Bytes whole = B(s[i]);
      EXPECT_TRUE(signer->AddUnsigned({&whole, 1}).ok());
    }
  }
  return mac;
}

struct TsigCase {
  std::string name;
  std::function<bool(size_t i, size_t n)> sign;
  std::function<void(Stream&)> edit;  // after signing
  bool ok;
  std::string text;
};

class XfrIngestTsig : public ::testing::TestWithParam<TsigCase> {};

TEST_P(XfrIngestTsig, VerifiesTheStream) {
  const TsigCase& c = GetParam();
  TsigKey key = Key();
  std::vector<Record> zone = ZoneRecords(1, 100);
  Stream s = Encode(Q(RRType::kAXFR), AxfrAnswer(zone));
  ASSERT_GT(s.size(), 6u);
  size_t n = s.size();
  IngestOptions opt;
  opt.key = &key;
  opt.request_mac = SignStream(key, s, [&](size_t i) { return c.sign(i, n); });
  if (c.edit) c.edit(s);
  Outcome o = Ingest(Q(RRType::kAXFR), s, nullptr, std::move(opt));
  if (c.ok) {
    ASSERT_TRUE(o.status.ok()) << o.status;
    EXPECT_EQ(*o.result->version, *Build(zone));
  } else {
    EXPECT_EQ(o.failure, IngestFailure::kTsig) << o.status;
    EXPECT_EQ(o.status.code(), absl::StatusCode::kPermissionDenied);
    EXPECT_THAT(Msg(o.status), HasSubstr(c.text));
  }
}

INSTANTIATE_TEST_SUITE_P(
    Cases, XfrIngestTsig,
    ::testing::ValuesIn(std::vector<TsigCase>{
        {"EveryMessageSigned", [](size_t, size_t) { return true; }, nullptr,
         true, ""},
        {"EveryThirdSigned",
         [](size_t i, size_t n) { return i % 3 == 0 || i + 1 == n; }, nullptr,
         true, ""},
        {"LastUnsigned", [](size_t i, size_t n) { return i + 1 < n; }, nullptr,
         false, "not signed"},
        {"FirstUnsigned", [](size_t, size_t) { return true; },
         [](Stream& s) {
           // Strip the first message's TSIG RR (RFC 8945 §5.3.1: the first
           // answer must be signed).
           size_t at = ParseMessage(B(s[0]))->tsig_offset;
           s[0].resize(at);
           StoreU16(s[0].data() + 10,
                    static_cast<uint16_t>(LoadU16(s[0].data() + 10) - 1));
         },
         false, "message 1"},
        {"FlippedBit", [](size_t, size_t) { return true; },
         [](Stream& s) { s[2][2] ^= 0x04; },  // AA, covered by the MAC
         false, "message 3"},
    }),
    [](const ::testing::TestParamInfo<TsigCase>& i) { return i.param.name; });

TEST(XfrIngestTsigUnexpected, SignedAnswerToAnUnsignedQuery) {
  TsigKey key = Key();
  Stream s = Encode(Q(RRType::kAXFR), AxfrAnswer(ZoneRecords(1, 10)));
  SignStream(key, s, [](size_t) { return true; });
  Outcome o = Ingest(Q(RRType::kAXFR), s);
  EXPECT_EQ(o.failure, IngestFailure::kTsig);
  EXPECT_THAT(Msg(o.status), HasSubstr("is TSIG-signed (key xfr-key.) but the "
                                       "query was not"));
}

TEST(XfrIngestTsigUnexpected, ErrorRcodeWinsOverTheMissingSignature) {
  TsigKey key = Key();
  IngestOptions opt;
  opt.key = &key;
  opt.request_mac = Wire(32, 1);
  Outcome o = Ingest(Q(RRType::kIXFR), {ErrorAnswer(Q(RRType::kIXFR), Rcode::kNotImp)},
                  Build(ZoneRecords(1, 1)), std::move(opt));
  EXPECT_EQ(o.failure, IngestFailure::kServerRcode);
  EXPECT_EQ(o.rcode, Rcode::kNotImp);
  EXPECT_TRUE(o.fall_back);
}

}  // namespace
}  // namespace xfr
