// PeerVerifier with a fake clock: who gets a SOA query after a NOTIFY and
// when (the grace after an answer, at once after a give-up, never for a
// peer that came for the data), the query's wire form and TSIG, the answer's
// serial recorded as held, retries and the give-up that makes a peer
// unreachable.
#include "fanout/peer_verify.h"

#include <memory>
#include <string>
#include <vector>

#include "core/tsig.h"
#include "core/zonefile.h"
#include "fmt/format.h"
#include "gtest/gtest.h"

namespace xfr {
namespace {

const absl::Time kT0 = absl::FromUnixSeconds(1'700'000'000);
const absl::Duration kGrace = absl::Seconds(10);

Name N(std::string_view t) { return *Name::FromText(t); }
Bytes B(const std::vector<uint8_t>& v) { return Bytes(v.data(), v.size()); }
PeerAddress Addr(uint8_t last) { return PeerAddress::V4({192, 0, 2, last}, 53); }

TsigKey Key() {
  auto k = MakeTsigKey("verify-key", "hmac-sha256", "c2VjcmV0LXNlY3JldC1zZWNyZXQ=");
  EXPECT_TRUE(k.ok()) << k.status();
  return *k;
}

struct Fixture {
  std::shared_ptr<PeerTable> table;
  std::unique_ptr<PeerVerifier> verifier;
};

Fixture Make(int peers, std::vector<std::optional<TsigKey>> keys = {}) {
  std::vector<PeerState> states(peers);
  for (int i = 0; i < peers; ++i) states[i].address = Addr(static_cast<uint8_t>(i + 1));
  Fixture f;
  f.table = std::make_shared<PeerTable>(std::move(states), kT0);
  VerifyOptions o;
  o.grace = kGrace;
  o.initial_timeout = absl::Seconds(1);
  o.max_sends = 3;
  auto next = std::make_shared<uint16_t>(500);
  f.verifier = std::make_unique<PeerVerifier>(N("example.com."), std::move(keys), f.table, o,
                                              [next] { return (*next)++; });
  return f;
}

// What NotifyFanout::Start and OnReply leave in the state.
void Notified(PeerState& p, absl::Time at) {
  p.last_notified = Serial(7);
  p.notified_at = at;
}
void Answered(PeerState& p, absl::Time at) {
  p.answered = true;
  p.answered_at = at;
}

std::vector<uint8_t> SoaAnswer(const std::vector<uint8_t>& query, uint32_t serial,
                               Rcode rcode = Rcode::kNoError) {
  auto q = ParseMessage(B(query));
  EXPECT_TRUE(q.ok()) << q.status();
  MessageBuilder b = StartResponse(*q);
  b.header().aa = true;
  b.SetRcode(rcode);
  if (rcode == Rcode::kNoError) {
    auto rs = ReadZoneText(
        fmt::format("@ 3600 IN SOA ns1 hostmaster {} 7200 900 86400 300\n", serial),
        N("example.com."), "t.zone");
    EXPECT_TRUE(rs.ok());
    EXPECT_TRUE(b.AddRecord(Section::kAnswer, rs->at(0)));
  }
  return b.Finish();
}

TEST(PeerVerifierTest, OnlyPeersThatDidNotComeAreQueriedAfterTheGrace) {
  Fixture f = Make(4);
  PeerTable& t = *f.table;
  t.at(3).notify = false;  // never notified, never checked
  for (int i = 0; i < 3; ++i) Notified(t.at(i), kT0);
  f.verifier->Start(Serial(7), kT0);
  Answered(t.at(0), kT0 + absl::Seconds(1));  // came: transferred
  Answered(t.at(1), kT0 + absl::Seconds(1));  // answered, never came
  Answered(t.at(2), kT0 + absl::Seconds(4));  // answered late
  t.ReportHeldSerial(Addr(1).ip, Serial(7), kT0 + absl::Seconds(2));

  EXPECT_TRUE(f.verifier->Due(kT0 + absl::Seconds(9)).empty());
  EXPECT_EQ(f.verifier->NextDeadline(), kT0 + kGrace);
  std::vector<OutgoingQuery> q = f.verifier->Due(kT0 + absl::Seconds(11));
  ASSERT_EQ(q.size(), 1u);
  EXPECT_EQ(q[0].peer, 1u);
  EXPECT_EQ(q[0].to, Addr(2));
  // The late answerer gets its own grace.
  EXPECT_EQ(f.verifier->NextDeadline(), kT0 + absl::Seconds(12));
  q = f.verifier->Due(kT0 + absl::Seconds(14));
  ASSERT_EQ(q.size(), 2u);  // peer 2 first send, peer 1 first retry
  EXPECT_EQ(q[0].peer, 1u);
  EXPECT_EQ(q[1].peer, 2u);

  // The query: QR=0, opcode QUERY, RD=0, <example.com., SOA, IN>, no TSIG.
  auto m = ParseMessage(B(q[1].bytes));
  ASSERT_TRUE(m.ok());
  EXPECT_FALSE(m->header.qr);
  EXPECT_EQ(m->header.opcode, Opcode::kQuery);
  EXPECT_FALSE(m->header.rd);
  ASSERT_EQ(m->questions.size(), 1u);
  EXPECT_EQ(m->questions[0], (Question{N("example.com."), RRType::kSOA, RRClass::kIN}));
  EXPECT_FALSE(m->tsig.has_value());
}

TEST(PeerVerifierTest, PeersSharingAnAddressAreQueriedEvenWhenCredited) {
  // Two secondaries on one host: a transfer from that host is credited to
  // both, so each is asked at its own port.
  std::vector<PeerState> states(3);
  states[0].address = PeerAddress::V4({192, 0, 2, 1}, 53);
  states[1].address = PeerAddress::V4({192, 0, 2, 1}, 5300);
  states[2].address = Addr(2);
  auto table = std::make_shared<PeerTable>(std::move(states), kT0);
  VerifyOptions o;
  o.grace = kGrace;
  auto next = std::make_shared<uint16_t>(500);
  PeerVerifier v(N("example.com."), {std::nullopt, std::nullopt, std::nullopt}, table, o,
                 [next] { return (*next)++; });
  for (size_t i = 0; i < 3; ++i) {
    Notified(table->at(i), kT0);
    Answered(table->at(i), kT0);
  }
  v.Start(Serial(7), kT0);
  table->ReportHeldSerial(table->at(0).address.ip, Serial(7), kT0 + absl::Seconds(1));
  table->ReportHeldSerial(Addr(2).ip, Serial(7), kT0 + absl::Seconds(1));
  std::vector<OutgoingQuery> q = v.Due(kT0 + kGrace);
  ASSERT_EQ(q.size(), 2u);
  EXPECT_EQ(q[0].to, PeerAddress::V4({192, 0, 2, 1}, 53));
  EXPECT_EQ(q[1].to, PeerAddress::V4({192, 0, 2, 1}, 5300));
  // The one on port 5300 still has serial 6: its own answer says so.
  auto reply = SoaAnswer(q[1].bytes, 6);
  auto m = ParseMessage(B(reply));
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(v.OnReply(q[1].to, B(reply), *m, kT0 + kGrace), VerifyReply::kAccepted);
  EXPECT_EQ(table->at(1).held, Serial(6));
  EXPECT_EQ(table->at(0).held, Serial(7));
}

TEST(PeerVerifierTest, TheAnswersSerialIsRecordedAsHeld) {
  Fixture f = Make(2);
  PeerTable& t = *f.table;
  for (int i = 0; i < 2; ++i) Notified(t.at(i), kT0);
  f.verifier->Start(Serial(7), kT0);
  Answered(t.at(0), kT0);
  t.at(1).gave_up = true;  // unanswered: queried as soon as looked at
  std::vector<OutgoingQuery> q = f.verifier->Due(kT0 + kGrace);
  ASSERT_EQ(q.size(), 2u);
  auto parse = [](const std::vector<uint8_t>& v) { return *ParseMessage(B(v)); };
  std::vector<uint8_t> a0 = SoaAnswer(q[0].bytes, 7);
  std::vector<uint8_t> a1 = SoaAnswer(q[1].bytes, 6);
  // From the wrong peer, or with another ID: not ours.
  EXPECT_EQ(f.verifier->OnReply(Addr(2), B(a0), parse(a0), kT0 + kGrace), VerifyReply::kNoMatch);
  EXPECT_EQ(f.verifier->OnReply(Addr(1), B(a0), parse(a0), kT0 + kGrace), VerifyReply::kAccepted);
  EXPECT_EQ(f.verifier->OnReply(Addr(2), B(a1), parse(a1), kT0 + kGrace), VerifyReply::kAccepted);
  EXPECT_EQ(t.at(0).held, Serial(7));
  EXPECT_EQ(t.at(1).held, Serial(6));
  EXPECT_EQ(ClassifyPeer(t.at(0), Serial(7), kT0, kT0 + kGrace, kGrace).sync, PeerSync::kInSync);
  // A second copy of the answer matches nothing: the check is over.
  EXPECT_EQ(f.verifier->OnReply(Addr(1), B(a0), parse(a0), kT0 + kGrace), VerifyReply::kNoMatch);
  EXPECT_TRUE(f.verifier->Due(kT0 + absl::Minutes(5)).empty());
}

TEST(PeerVerifierTest, UnansweredQueriesAreRetriedThenThePeerIsUnreachable) {
  Fixture f = Make(1);
  PeerTable& t = *f.table;
  Notified(t.at(0), kT0);
  f.verifier->Start(Serial(7), kT0);
  Answered(t.at(0), kT0);
  std::vector<absl::Duration> sent;
  std::vector<uint8_t> first;
  for (int s = 0; s <= 30; ++s) {
    for (OutgoingQuery& q : f.verifier->Due(kT0 + kGrace + absl::Seconds(s))) {
      if (first.empty()) first = q.bytes;
      EXPECT_EQ(q.bytes, first);  // same ID and bytes: any copy's answer counts
      sent.push_back(absl::Seconds(s));
    }
  }
  EXPECT_EQ(sent, (std::vector<absl::Duration>{absl::Seconds(0), absl::Seconds(1),
                                                absl::Seconds(3)}));
  EXPECT_TRUE(t.at(0).verify_failed);
  EXPECT_EQ(t.at(0).verify_queries, 3u);
  EXPECT_EQ(t.at(0).last_error, "SOA query to verify the serial unanswered after 3 tries");
  EXPECT_EQ(ClassifyPeer(t.at(0), Serial(7), kT0, kT0 + absl::Minutes(1), kGrace).sync,
            PeerSync::kUnreachable);
  EXPECT_EQ(f.verifier->NextDeadline(), absl::InfiniteFuture());
}

TEST(PeerVerifierTest, ErrorAnswersAndAStillRetryingNotify) {
  Fixture f = Make(2);
  PeerTable& t = *f.table;
  for (int i = 0; i < 2; ++i) Notified(t.at(i), kT0);
  f.verifier->Start(Serial(7), kT0);
  Answered(t.at(0), kT0);
  // Peer 1 has neither answered nor been given up on: looked at again
  // later, not queried while its NOTIFY is still being retried.
  std::vector<OutgoingQuery> q = f.verifier->Due(kT0 + kGrace);
  ASSERT_EQ(q.size(), 1u);
  std::vector<uint8_t> refused = SoaAnswer(q[0].bytes, 0, Rcode::kRefused);
  EXPECT_EQ(f.verifier->OnReply(Addr(1), B(refused), *ParseMessage(B(refused)), kT0 + kGrace),
            VerifyReply::kRefused);
  EXPECT_EQ(t.at(0).last_error, "SOA query refused: REFUSED");
  EXPECT_FALSE(t.at(0).held.has_value());
  t.at(1).gave_up = true;
  q = f.verifier->Due(kT0 + kGrace + absl::Seconds(1));
  ASSERT_EQ(q.size(), 1u);
  EXPECT_EQ(q[0].peer, 1u);
  // A newer serial drops the checks of the old one.
  Notified(t.at(1), kT0 + absl::Seconds(12));
  f.verifier->Start(Serial(8), kT0 + absl::Seconds(12));
  EXPECT_EQ(f.verifier->NextDeadline(), kT0 + absl::Seconds(12) + kGrace);
}

TEST(PeerVerifierTest, KeyedPeersGetSignedQueriesAndOnlyVerifiedAnswersCount) {
  TsigKey key = Key();
  Fixture f = Make(1, {key});
  PeerTable& t = *f.table;
  Notified(t.at(0), kT0);
  f.verifier->Start(Serial(7), kT0);
  Answered(t.at(0), kT0);
  std::vector<OutgoingQuery> q = f.verifier->Due(kT0 + kGrace);
  ASSERT_EQ(q.size(), 1u);
  auto m = ParseMessage(B(q[0].bytes));
  ASSERT_TRUE(m.ok() && m->tsig);
  std::vector<TsigKey> keys = {key};
  TsigRequestCheck check =
      VerifyTsigRequest(keys, B(q[0].bytes), *m->tsig, m->tsig_offset, kT0 + kGrace);
  EXPECT_TRUE(check.ok()) << check.detail;

  std::vector<uint8_t> unsigned_answer = SoaAnswer(q[0].bytes, 7);
  EXPECT_EQ(f.verifier->OnReply(Addr(1), B(unsigned_answer),
                                *ParseMessage(B(unsigned_answer)), kT0 + kGrace),
            VerifyReply::kBadTsig);
  EXPECT_FALSE(t.at(0).held.has_value());
  std::vector<uint8_t> signed_answer = unsigned_answer;
  auto signer = TsigStreamSigner::Create(key, B(m->tsig->mac));
  ASSERT_TRUE(signer.ok());
  ASSERT_TRUE(signer->SignMessage(signed_answer, kT0 + kGrace).ok());
  EXPECT_EQ(f.verifier->OnReply(Addr(1), B(signed_answer), *ParseMessage(B(signed_answer)),
                                kT0 + kGrace),
            VerifyReply::kAccepted);
  EXPECT_EQ(t.at(0).held, Serial(7));
}

}  // namespace
}  // namespace xfr
