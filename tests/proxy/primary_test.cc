// PrimaryResponder driven without sockets: queries built as bytes, a fake
// clock, a ZoneStore from a config text with snapshots published by hand.
// Every decision of the downstream role is pinned here and in
// primary_access_test.cc: rcodes, AA/TC, answer contents, EDNS EXPIRE,
// transfer streams reassembled and parsed.
#include "proxy/primary.h"

#include <memory>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "tests/proxy/primary_test_util.h"

namespace xfr {
namespace {

using namespace primary_test;  // NOLINT: the shared test vocabulary

TEST_F(PrimaryTest, SoaOverUdpAndTcp) {
  for (Transport t : {Transport::kUdp, Transport::kTcp}) {
    Query q;
    q.qname = "ExAmple.COM.";
    q.rd = true;
    Message m = Ask(q, t);
    EXPECT_EQ(m.header.id, 0x4242);
    EXPECT_TRUE(m.header.qr);
    EXPECT_TRUE(m.header.aa);
    EXPECT_TRUE(m.header.rd) << "RD is copied";
    EXPECT_FALSE(m.header.tc);
    EXPECT_EQ(m.rcode(), Rcode::kNoError);
    ASSERT_EQ(m.questions.size(), 1u);
    EXPECT_EQ(m.questions[0].qname.ToText(), "ExAmple.COM.") << "the client's case";
    ASSERT_EQ(m.answer.size(), 1u);
    EXPECT_EQ(SerialOf(m.answer[0]), 2u);
    EXPECT_FALSE(m.edns.has_value()) << "no OPT without one in the query";
  }
}

TEST_F(PrimaryTest, EdnsExpireCountsDownFromTheLoad) {
  Query q;
  q.edns = ExpireEdns();
  Message m = Ask(q, Transport::kUdp, "192.0.2.5", kLoaded + absl::Seconds(100));
  ASSERT_TRUE(m.edns.has_value());
  EXPECT_TRUE(m.edns->expire_present);
  ASSERT_TRUE(m.edns->expire.has_value());
  // BuildServedZone without never_expires: SOA EXPIRE minus the age.
  EXPECT_EQ(*m.edns->expire, 1209600u - 100u);

  q.edns = Edns{};
  m = Ask(q, Transport::kUdp);
  ASSERT_TRUE(m.edns.has_value());
  EXPECT_FALSE(m.edns->expire_present) << "EXPIRE only when asked (RFC 7314 §2)";
}

TEST_F(PrimaryTest, ExpiredZoneGetsServfail) {
  Message m = Ask(Query{}, Transport::kUdp, "192.0.2.5", kLoaded + absl::Seconds(1209600));
  EXPECT_EQ(m.rcode(), Rcode::kServFail);
  EXPECT_TRUE(m.answer.empty());
}

TEST_F(PrimaryTest, NeverExpiringZoneAnswersSoaExpire) {
  PublishOptions o;
  o.never_expires = true;
  auto z = BuildServedZone(v2_, nullptr, nullptr, kLoaded, o);
  ASSERT_TRUE(z.ok());
  store_->Find(N("example.com."))->Publish(*z);
  Query q;
  q.edns = ExpireEdns();
  Message m = Ask(q, Transport::kUdp, "192.0.2.5", kLoaded + absl::Hours(24 * 400));
  EXPECT_EQ(m.rcode(), Rcode::kNoError);
  ASSERT_TRUE(m.edns && m.edns->expire);
  EXPECT_EQ(*m.edns->expire, 1209600u);
}

TEST_F(PrimaryTest, ZoneNotLoadedGetsServfail) {
  Query q;
  q.qname = "empty.example.";
  EXPECT_EQ(Ask(q).rcode(), Rcode::kServFail);
}

TEST_F(PrimaryTest, SimpleErrors) {
  struct Case {
    const char* name;
    Query q;
    Transport t;
    Rcode want;
  };
  auto with = [](auto f) {
    Query q;
    f(q);
    return q;
  };
  const Case cases[] = {
      {"other type at apex", with([](Query& q) { q.qtype = RRType::kA; }), Transport::kUdp,
       Rcode::kRefused},
      {"ANY at apex", with([](Query& q) { q.qtype = RRType::kANY; }), Transport::kTcp,
       Rcode::kRefused},
      {"name in no zone", with([](Query& q) { q.qname = "example.org."; }), Transport::kUdp,
       Rcode::kRefused},
      {"name below the apex", with([](Query& q) { q.qname = "www.example.com."; }),
       Transport::kUdp, Rcode::kRefused},
      {"class CH", with([](Query& q) { q.qclass = RRClass::kCH; }), Transport::kUdp,
       Rcode::kRefused},
      {"opcode STATUS", with([](Query& q) { q.opcode = Opcode::kStatus; }), Transport::kUdp,
       Rcode::kNotImp},
      {"opcode 3", with([](Query& q) { q.opcode = Opcode(3); }), Transport::kTcp,
       Rcode::kNotImp},
      {"opcode UPDATE", with([](Query& q) { q.opcode = Opcode::kUpdate; }), Transport::kUdp,
       Rcode::kNotImp},
      {"NOTIFY to a file zone", with([](Query& q) { q.opcode = Opcode::kNotify; }),
       Transport::kUdp, Rcode::kRefused},
      {"AXFR over UDP", with([](Query& q) { q.qtype = RRType::kAXFR; }), Transport::kUdp,
       Rcode::kFormErr},
      {"IXFR without the client's SOA",
       with([](Query& q) { q.qtype = RRType::kIXFR; }), Transport::kTcp, Rcode::kFormErr},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    Message m = Ask(c.q, c.t);
    EXPECT_EQ(m.header.id, 0x4242);
    EXPECT_TRUE(m.header.qr);
    EXPECT_EQ(m.rcode(), c.want) << m.rcode().ToString();
    EXPECT_TRUE(m.answer.empty());
    EXPECT_TRUE(m.authority.empty());
  }
}

TEST_F(PrimaryTest, EdnsVersionOneGetsBadvers) {
  Query q;
  q.edns = Edns{};
  q.edns->version = 1;
  Message m = Ask(q, Transport::kUdp);
  ASSERT_TRUE(m.edns.has_value());
  EXPECT_EQ(m.edns->version, 0) << "the version we speak (RFC 6891 §6.1.3)";
  EXPECT_EQ(m.rcode(), Rcode::kBadVers);
  EXPECT_TRUE(m.answer.empty());
}

TEST_F(PrimaryTest, ResponsesAndRuntsAreDropped) {
  std::vector<uint8_t> q = Build(Query{});
  q[2] |= 0x80;  // QR
  EXPECT_EQ(Send(q, Transport::kUdp).kind, Reply::Kind::kDrop);
  for (size_t n = 0; n < 12; ++n) {
    std::vector<uint8_t> runt(n, 0);
    EXPECT_EQ(Send(runt, Transport::kUdp).kind, Reply::Kind::kDrop) << n;
  }
}

TEST_F(PrimaryTest, MalformedBodyGetsFormerrWithId) {
  const std::vector<std::vector<uint8_t>> cases = {
      {0x12, 0x34, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0},                       // header only
      {0x12, 0x34, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 0x0c, 0, 6, 0, 1},  // pointer loop
      {0x12, 0x34, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0x40, 'a', 0, 0, 6, 0, 1},  // bad label type
      {0x12, 0x34, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 6, 0, 1},          // QDCOUNT too big
  };
  for (const auto& c : cases) {
    Reply r = Send(c, Transport::kUdp);
    ASSERT_EQ(r.kind, Reply::Kind::kMessage);
    ASSERT_GE(r.message.size(), 12u);
    Header h = Header::Load(r.message.data());
    EXPECT_EQ(h.id, 0x1234);
    EXPECT_TRUE(h.qr);
    EXPECT_EQ(h.rcode, Rcode::kFormErr.value());
  }
}

TEST_F(PrimaryTest, IxfrCurrentOrNewerGetsSoaAlone) {
  for (uint32_t have : {2u, 3u, 1000u}) {
    for (Transport t : {Transport::kUdp, Transport::kTcp}) {
      Query q;
      q.qtype = RRType::kIXFR;
      q.ixfr_serial = have;
      Message m = Ask(q, t);
      EXPECT_EQ(m.rcode(), Rcode::kNoError);
      EXPECT_FALSE(m.header.tc);
      ASSERT_EQ(m.answer.size(), 1u) << have;
      EXPECT_EQ(SerialOf(m.answer[0]), 2u);
    }
  }
}

TEST_F(PrimaryTest, IxfrOverUdpFromOldSerialSetsTc) {
  for (uint32_t have : {1u, 0u}) {
    Query q;
    q.qtype = RRType::kIXFR;
    q.ixfr_serial = have;
    Message m = Ask(q, Transport::kUdp);
    EXPECT_EQ(m.rcode(), Rcode::kNoError);
    EXPECT_TRUE(m.header.tc);
    EXPECT_TRUE(m.header.aa);
    EXPECT_TRUE(m.answer.empty());
  }
}

TEST_F(PrimaryTest, AxfrIsTheWholeZoneWithTheClientsQuestion) {
  Query q;
  q.qname = "EXAMPLE.com.";
  q.qtype = RRType::kAXFR;
  q.id = 0xBEEF;
  Reply r = Send(Build(q));
  std::vector<Message> ms = ParseAll(Drain(r));
  ASSERT_FALSE(ms.empty());
  for (const Message& m : ms) {
    EXPECT_EQ(m.header.id, 0xBEEF);
    EXPECT_TRUE(m.header.qr && m.header.aa);
    EXPECT_EQ(m.rcode(), Rcode::kNoError);
  }
  ASSERT_EQ(ms[0].questions.size(), 1u);
  EXPECT_EQ(ms[0].questions[0].qname.ToText(), "EXAMPLE.com.");
  std::vector<Record> got = Records(ms);
  ASSERT_GE(got.size(), 2u);
  EXPECT_EQ(got.front(), ToRecord(v2_->soa()));
  EXPECT_EQ(got.back(), ToRecord(v2_->soa()));
  got.pop_back();
  std::vector<Record> want = All(*v2_);
  auto less = [](const Record& a, const Record& b) {
    return CompareRecords(a.view(), b.view()) < 0;
  };
  std::sort(got.begin(), got.end(), less);
  std::sort(want.begin(), want.end(), less);
  EXPECT_EQ(got, want);
}

TEST_F(PrimaryTest, IxfrFromJournalSerialIsTheDiff) {
  Query q;
  q.qtype = RRType::kIXFR;
  q.ixfr_serial = 1;
  Reply r = Send(Build(q));
  std::vector<Record> got = Records(ParseAll(Drain(r)));
  ZoneDiff d = ComputeDiff(*v1_, *v2_);
  std::vector<Record> want = {d.new_soa, d.old_soa};
  want.insert(want.end(), d.removed.begin(), d.removed.end());
  want.push_back(d.new_soa);
  want.insert(want.end(), d.added.begin(), d.added.end());
  want.push_back(d.new_soa);
  EXPECT_EQ(got, want);
  // The diff is what changed: "old" and the TTL-60 record's old form out,
  // "new" and the new TTL in.
  EXPECT_EQ(d.removed.size(), 2u);
  EXPECT_EQ(d.added.size(), 2u);
}

TEST_F(PrimaryTest, IxfrFromUnknownSerialIsAxfrStyle) {
  Query q;
  q.qtype = RRType::kIXFR;
  q.ixfr_serial = 0;
  Reply r = Send(Build(q));
  std::vector<Message> ms = ParseAll(Drain(r));
  ASSERT_FALSE(ms.empty());
  EXPECT_EQ(ms[0].questions[0].qtype, RRType::kIXFR) << "the question as asked";
  std::vector<Record> got = Records(ms);
  EXPECT_EQ(got.size(), v2_->size() + 1);
  EXPECT_EQ(got.front(), got.back());
  EXPECT_NE(got[1].type, RRType::kSOA) << "AXFR-style, not incremental";
}

TEST_F(PrimaryTest, TransferCarriesOptWhenAsked) {
  Query q;
  q.qtype = RRType::kAXFR;
  q.edns = ExpireEdns();
  Reply r = Send(Build(q), Transport::kTcp, "192.0.2.5", kLoaded + absl::Seconds(10));
  std::vector<Message> ms = ParseAll(Drain(r));
  ASSERT_FALSE(ms.empty());
  for (const Message& m : ms) {
    ASSERT_TRUE(m.edns && m.edns->expire);
    EXPECT_EQ(*m.edns->expire, 1209600u - 10u);
  }
}

TEST_F(PrimaryTest, ReloadedStoreIsServedToNewRequests) {
  auto config = LoadConfigText(kConfig, "x.yaml", "/nonexistent");
  ASSERT_TRUE(config.ok());
  auto store = ZoneStore::FromConfig(*config, store_.get());
  ASSERT_TRUE(store.ok());
  // The new store keeps the published snapshot (a reload drops no data).
  EXPECT_EQ((*store)->Find(N("example.com."))->Current(), served_);
  auto z1 = BuildServedZone(v1_, nullptr, nullptr, kLoaded);
  ASSERT_TRUE(z1.ok());
  (*store)->Find(N("example.com."))->Publish(*z1);
  // A transfer that started before the swap keeps its snapshot.
  Query axfr;
  axfr.qtype = RRType::kAXFR;
  Reply before = Send(Build(axfr));
  responder_->SetStore(*store);
  EXPECT_EQ(SerialOf(Ask(Query{}).answer.at(0)), 1u);
  std::vector<Record> got = Records(ParseAll(Drain(before)));
  ASSERT_FALSE(got.empty());
  EXPECT_EQ(SerialOf(got.front()), 2u);
  EXPECT_EQ(SerialOf(got.back()), 2u);
}

}  // namespace
}  // namespace xfr
