#include "core/transfer.h"

#include <string>
#include <string_view>
#include <vector>

#include "fmt/format.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace xfr {
namespace {

using ::testing::HasSubstr;

Name N(std::string_view text) { return *Name::FromText(text); }
Bytes B(const std::vector<uint8_t>& v) { return Bytes(v.data(), v.size()); }

std::vector<uint8_t> NameWire(std::string_view text) {
  Name n = N(text);
  return std::vector<uint8_t>(n.wire().begin(), n.wire().end());
}

Record Rr(std::string_view owner, RRType type, std::vector<uint8_t> rdata) {
  Record r;
  r.owner = N(owner);
  r.type = type;
  r.ttl = 3600;
  r.rdata = std::move(rdata);
  return r;
}

Record Soa(uint32_t serial) {
  std::vector<uint8_t> rd = NameWire("ns1.example.com.");
  std::vector<uint8_t> rname = NameWire("hostmaster.example.com.");
  rd.insert(rd.end(), rname.begin(), rname.end());
  for (uint32_t v : {serial, 3600u, 900u, 604800u, 3600u}) {
    uint8_t b[4];
    StoreU32(b, v);
    rd.insert(rd.end(), b, b + 4);
  }
  return Rr("example.com.", RRType::kSOA, rd);
}

// A zone: SOA, then `n` records of assorted types (compressible RDATA,
// opaque RDATA with bytes that look like a pointer, mixed-case owners),
// then the SOA again, as an AXFR answer lays them out (RFC 5936 §2.2).
std::vector<Record> Zone(int n) {
  std::vector<Record> z = {Soa(2024)};
  for (int i = 0; i < n; ++i) {
    std::string owner = fmt::format("Host{}.Example.com.", i);
    switch (i % 5) {
      case 0:
        z.push_back(Rr(owner, RRType::kA,
                       {192, 0, 2, static_cast<uint8_t>(i)}));
        break;
      case 1:
        z.push_back(Rr(owner, RRType::kNS, NameWire("ns1.example.com.")));
        break;
      case 2: {
        std::vector<uint8_t> mx = {0, 10};
        std::vector<uint8_t> target = NameWire(fmt::format("mx{}.example.com.", i));
        mx.insert(mx.end(), target.begin(), target.end());
        z.push_back(Rr(owner, RRType::kMX, mx));
        break;
      }
      case 3: {
        std::string text = fmt::format("record number {}", i);
        std::vector<uint8_t> txt = {static_cast<uint8_t>(text.size())};
        txt.insert(txt.end(), text.begin(), text.end());
        z.push_back(Rr(owner, RRType::kTXT, txt));
        break;
      }
      default:
        z.push_back(Rr(owner, RRType(65280), {0xC0, 0x0C, static_cast<uint8_t>(i)}));
        break;
    }
  }
  z.push_back(Soa(2024));
  return z;
}

std::vector<EncodedMessage> Encode(const Question& q,
                                   const std::vector<Record>& records,
                                   size_t limit) {
  TransferEncoder enc(q, limit);
  for (const Record& r : records) enc.Add(r);
  EXPECT_EQ(enc.record_count(), records.size());
  absl::StatusOr<std::vector<EncodedMessage>> out = enc.Finish();
  EXPECT_TRUE(out.ok()) << out.status();
  return out.ok() ? *std::move(out) : std::vector<EncodedMessage>{};
}

struct SplitCase {
  std::string name;
  int records;
  size_t limit;
  RRType qtype;
};

class TransferSplits : public ::testing::TestWithParam<SplitCase> {};

TEST_P(TransferSplits, EveryMessageParsesAndRecordsComeBackInOrder) {
  const SplitCase& c = GetParam();
  Question q{N("example.com."), c.qtype, RRClass::kIN};
  std::vector<Record> zone = Zone(c.records);
  std::vector<EncodedMessage> msgs = Encode(q, zone, c.limit);
  ASSERT_FALSE(msgs.empty());
  std::vector<uint8_t> qbytes = EncodeQuestion(q);

  size_t largest = 0;
  for (const Record& r : zone) {
    largest = std::max(largest, r.owner.size() + 10 + r.rdata.size());
  }
  std::vector<Record> back;
  uint32_t total = 0;
  for (size_t i = 0; i < msgs.size(); ++i) {
    const EncodedMessage& em = msgs[i];
    SCOPED_TRACE(fmt::format("message {} of {}", i + 1, msgs.size()));
    EXPECT_LE(em.wire.size(), c.limit);
    EXPECT_EQ(em.question_end, i == 0 ? 12 + qbytes.size() : 12u);
    absl::StatusOr<std::vector<uint8_t>> wire =
        MaterializeForRequest(em, 0x1234, false, B(qbytes));
    ASSERT_TRUE(wire.ok()) << wire.status();
    absl::StatusOr<Message> m = ParseMessage(B(*wire));
    ASSERT_TRUE(m.ok()) << m.status();
    EXPECT_EQ(m->header.id, 0x1234);
    EXPECT_TRUE(m->header.qr);
    EXPECT_TRUE(m->header.aa);
    EXPECT_FALSE(m->header.tc);
    EXPECT_EQ(m->header.opcode, Opcode::kQuery);
    EXPECT_EQ(m->rcode(), Rcode::kNoError);
    EXPECT_EQ(m->questions.size(), i == 0 ? 1u : 0u);
    EXPECT_TRUE(m->authority.empty());
    EXPECT_TRUE(m->additional.empty());
    EXPECT_EQ(m->answer.size(), em.record_count);
    EXPECT_GT(em.record_count, 0u);
    // Packed: a message is only closed when the next record did not fit.
    if (i + 1 < msgs.size()) {
      EXPECT_GT(em.wire.size() + largest, c.limit);
    }
    total += em.record_count;
    for (Record& r : m->answer) back.push_back(std::move(r));
  }
  EXPECT_EQ(total, zone.size());
  ASSERT_EQ(back.size(), zone.size());
  for (size_t i = 0; i < zone.size(); ++i) {
    EXPECT_EQ(back[i], zone[i]) << i;
    EXPECT_TRUE(back[i].owner.Identical(zone[i].owner)) << i;
  }
  EXPECT_EQ(back.front().type, RRType::kSOA);
  EXPECT_EQ(back.back().type, RRType::kSOA);
}

INSTANTIATE_TEST_SUITE_P(
    TransferTest, TransferSplits,
    ::testing::Values(SplitCase{"SmallMessagesManySplits", 300, 512, RRType::kAXFR},
                      SplitCase{"TinyLimit", 50, 300, RRType::kAXFR},
                      SplitCase{"IxfrQuestion", 120, 1024, RRType::kIXFR},
                      SplitCase{"FullSizeMessages", 20000, kDefaultTransferMessageSize,
                                RRType::kAXFR},
                      SplitCase{"AllInOneMessage", 10, 65535, RRType::kAXFR}),
    [](const ::testing::TestParamInfo<SplitCase>& i) { return i.param.name; });

TEST(TransferTest, SeveralMessagesWithSmallLimit) {
  std::vector<EncodedMessage> msgs =
      Encode({N("example.com."), RRType::kAXFR, RRClass::kIN}, Zone(300), 512);
  EXPECT_GT(msgs.size(), 10u);
  EXPECT_EQ(LoadU16(&msgs[0].wire[4]), 1);  // QDCOUNT
  EXPECT_EQ(LoadU16(&msgs[1].wire[4]), 0);
  EXPECT_EQ(LoadU16(&msgs[0].wire[0]), 0);  // ID left for the request
}

TEST(TransferTest, QuestionCasePatchingKeepsRecordsIntact) {
  // Owners share the question's suffix in the same case, so had the question
  // been a compression target, the patched case would leak into them.
  Question q{N("example.com."), RRType::kAXFR, RRClass::kIN};
  std::vector<Record> zone = {Soa(1), Rr("example.com.", RRType::kNS,
                                         NameWire("ns1.example.com.")),
                              Rr("www.example.com.", RRType::kA, {1, 2, 3, 4}),
                              Soa(1)};
  std::vector<EncodedMessage> msgs = Encode(q, zone, 65535);
  ASSERT_EQ(msgs.size(), 1u);
  Question asked{N("ExAmPlE.CoM."), RRType::kAXFR, RRClass::kIN};
  std::vector<uint8_t> qbytes = EncodeQuestion(asked);

  uint8_t prefix[kMaxRequestPrefixSize];
  absl::StatusOr<size_t> n =
      WriteRequestPrefix(msgs[0], 0xCAFE, true, B(qbytes),
                         MutableBytes(prefix, sizeof prefix));
  ASSERT_TRUE(n.ok()) << n.status();
  EXPECT_EQ(*n, msgs[0].question_end);
  std::vector<uint8_t> wire(prefix, prefix + *n);
  Bytes body = msgs[0].body();
  wire.insert(wire.end(), body.begin(), body.end());

  absl::StatusOr<Message> m = ParseMessage(B(wire));
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(m->header.id, 0xCAFE);
  EXPECT_TRUE(m->header.rd);
  ASSERT_EQ(m->questions.size(), 1u);
  EXPECT_TRUE(m->questions[0].qname.Identical(asked.qname));
  ASSERT_EQ(m->answer.size(), zone.size());
  for (size_t i = 0; i < zone.size(); ++i) {
    EXPECT_EQ(m->answer[i], zone[i]) << i;
    EXPECT_TRUE(m->answer[i].owner.Identical(zone[i].owner)) << i;
    EXPECT_EQ(m->answer[i].rdata, zone[i].rdata) << i;
  }
  // The shared message itself is untouched.
  EXPECT_EQ(LoadU16(&msgs[0].wire[0]), 0);
}

struct BadQuestionCase {
  std::string name;
  Question asked;
};

class PrefixRejects : public ::testing::TestWithParam<BadQuestionCase> {};

TEST_P(PrefixRejects, QuestionThatIsNotTheEncodedOne) {
  Question q{N("example.com."), RRType::kAXFR, RRClass::kIN};
  std::vector<EncodedMessage> msgs = Encode(q, {Soa(1), Soa(1)}, 65535);
  ASSERT_EQ(msgs.size(), 1u);
  std::vector<uint8_t> qbytes = EncodeQuestion(GetParam().asked);
  uint8_t prefix[kMaxRequestPrefixSize];
  EXPECT_FALSE(WriteRequestPrefix(msgs[0], 1, false, B(qbytes),
                                  MutableBytes(prefix, sizeof prefix))
                   .ok());
}

INSTANTIATE_TEST_SUITE_P(
    TransferTest, PrefixRejects,
    ::testing::Values(
        BadQuestionCase{"OtherNameSameLength", {N("exbmple.com."), RRType::kAXFR, RRClass::kIN}},
        BadQuestionCase{"OtherLength", {N("example.org.uk."), RRType::kAXFR, RRClass::kIN}},
        BadQuestionCase{"OtherType", {N("example.com."), RRType::kIXFR, RRClass::kIN}},
        BadQuestionCase{"OtherClass", {N("example.com."), RRType::kAXFR, RRClass::kCH}}),
    [](const ::testing::TestParamInfo<BadQuestionCase>& i) { return i.param.name; });

TEST(TransferTest, PrefixBufferTooSmallIsAnError) {
  Question q{N("example.com."), RRType::kAXFR, RRClass::kIN};
  std::vector<EncodedMessage> msgs = Encode(q, {Soa(1), Soa(1)}, 65535);
  std::vector<uint8_t> qbytes = EncodeQuestion(q);
  uint8_t prefix[20];
  EXPECT_FALSE(WriteRequestPrefix(msgs[0], 1, false, B(qbytes),
                                  MutableBytes(prefix, sizeof prefix))
                   .ok());
}

TEST(TransferTest, LaterMessagesIgnoreTheQuestionBytes) {
  Question q{N("example.com."), RRType::kAXFR, RRClass::kIN};
  std::vector<EncodedMessage> msgs = Encode(q, Zone(100), 512);
  ASSERT_GT(msgs.size(), 1u);
  uint8_t prefix[kHeaderSize];
  absl::StatusOr<size_t> n = WriteRequestPrefix(
      msgs[1], 0x0102, false, Bytes(), MutableBytes(prefix, sizeof prefix));
  ASSERT_TRUE(n.ok()) << n.status();
  EXPECT_EQ(*n, kHeaderSize);
  EXPECT_EQ(LoadU16(prefix), 0x0102);
  EXPECT_EQ(LoadU16(prefix + 2), 0x8400);
}

TEST(TransferTest, RecordTooLargeForTheLimitIsAnError) {
  Question q{N("example.com."), RRType::kAXFR, RRClass::kIN};
  TransferEncoder enc(q, 512);
  enc.Add(Soa(1));
  std::vector<uint8_t> txt(600, 'x');
  txt[0] = 255;
  txt[256] = 255;
  txt[512] = 87;
  enc.Add(Rr("big.example.com.", RRType::kTXT, txt));
  enc.Add(Soa(1));
  absl::StatusOr<std::vector<EncodedMessage>> out = enc.Finish();
  ASSERT_FALSE(out.ok());
  EXPECT_THAT(std::string(out.status().message()), HasSubstr("does not fit"));
  EXPECT_THAT(std::string(out.status().message()), HasSubstr("big.example.com."));
}

TEST(TransferTest, RecordThatFillsAnEmptyMessageExactlyFits) {
  Question q{N("example.com."), RRType::kAXFR, RRClass::kIN};
  // Second message: 12 header + owner (uncompressed in a fresh message) +
  // 10 fixed bytes + RDATA must be exactly the limit.
  const size_t limit = 400;
  Record big = Rr("big.example.com.", RRType(65280), {});
  big.rdata.assign(limit - 12 - big.owner.size() - 10, 0x55);
  std::vector<EncodedMessage> msgs = Encode(q, {Soa(1), big, Soa(1)}, limit);
  ASSERT_EQ(msgs.size(), 3u);
  EXPECT_EQ(msgs[1].wire.size(), limit);
  EXPECT_EQ(msgs[1].record_count, 1u);
}

TEST(TransferTest, EmptyEncoderYieldsTheQuestionAlone) {
  Question q{N("example.com."), RRType::kIXFR, RRClass::kIN};
  TransferEncoder enc(q);
  absl::StatusOr<std::vector<EncodedMessage>> out = enc.Finish();
  ASSERT_TRUE(out.ok());
  ASSERT_EQ(out->size(), 1u);
  EXPECT_EQ((*out)[0].record_count, 0u);
  EXPECT_TRUE((*out)[0].body().empty());
  // Finishing twice is refused rather than yielding a second first message.
  EXPECT_FALSE(enc.Finish().ok());
}

}  // namespace
}  // namespace xfr
