// XfrIngest: IXFR streams (RFC 1995) and TSIG-signed streams (RFC 8945).
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
