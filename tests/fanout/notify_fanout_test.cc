// NotifyFanout with a fake clock: one NOTIFY per peer with its own ID and
// the RFC 1996 wire form, retries on the back-off schedule until answered or
// given up, replies that do not match ignored, newer serials superseding
// older ones, TSIG on keyed peers, and 10,000 peers in one start.
#include "fanout/notify_fanout.h"

#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "core/tsig.h"
#include "core/zonefile.h"
#include "fmt/format.h"
#include "gtest/gtest.h"

namespace xfr {
namespace {

const absl::Time kT0 = absl::FromUnixSeconds(1'700'000'000);

Name N(std::string_view t) { return *Name::FromText(t); }
Bytes B(const std::vector<uint8_t>& v) { return Bytes(v.data(), v.size()); }

Record Soa(uint32_t serial, std::string_view zone = "example.com.") {
  auto rs = ReadZoneText(
      fmt::format("@ 3600 IN SOA ns1 hostmaster {} 7200 900 86400 300\n", serial),
      N(zone), "t.zone");
  EXPECT_TRUE(rs.ok()) << rs.status();
  return rs->at(0);
}

PeerAddress Addr(uint8_t last, uint16_t port = 53) {
  return PeerAddress::V4({192, 0, 2, last}, port);
}

TsigKey Key(std::string_view name, std::string_view secret_b64) {
  auto k = MakeTsigKey(name, "hmac-sha256", secret_b64);
  EXPECT_TRUE(k.ok()) << k.status();
  return *k;
}

// IDs from a fixed sequence, so tests are repeatable; the fan-out must still
// give each peer its own ID per serial.
NotifyFanout::RandomSource Counter(uint16_t start = 100) {
  auto next = std::make_shared<uint16_t>(start);
  return [next] { return (*next)++; };
}

NotifyOptions Opts() {
  NotifyOptions o;
  o.initial_timeout = absl::Seconds(1);
  o.max_timeout = absl::Seconds(4);
  o.max_sends = 5;
  return o;
}

NotifyFanout Make(std::vector<NotifyPeer> peers, NotifyOptions o = Opts()) {
  return NotifyFanout(N("example.com."), std::move(peers), o, Counter(), kT0);
}

// The answer a secondary sends (RFC 1996 §4.7): QR=1, same ID, same
// question, with `rcode`.
std::vector<uint8_t> Answer(const std::vector<uint8_t>& notify,
                            Rcode rcode = Rcode::kNoError) {
  auto q = ParseMessage(B(notify));
  EXPECT_TRUE(q.ok()) << q.status();
  MessageBuilder b = StartResponse(*q);
  b.header().aa = true;
  b.SetRcode(rcode);
  return b.Finish();
}

std::vector<uint8_t> SignedAnswer(const std::vector<uint8_t>& notify,
                                  const TsigKey& key) {
  auto q = ParseMessage(B(notify));
  EXPECT_TRUE(q.ok() && q->tsig);
  std::vector<uint8_t> a = Answer(notify);
  auto signer = TsigStreamSigner::Create(key, B(q->tsig->mac));
  EXPECT_TRUE(signer.ok()) << signer.status();
  EXPECT_TRUE(signer->SignMessage(a, kT0).ok());
  return a;
}

TEST(NotifyFanoutTest, EveryNotifyingPeerGetsOneWellFormedNotifyWithItsOwnId) {
  NotifyFanout f = Make({{Addr(1), {}, true}, {Addr(2), {}, false}, {Addr(3), {}, true}});
  f.Start(Serial(42), Soa(42), kT0);
  EXPECT_EQ(f.pending(), 2u);
  std::vector<OutgoingNotify> out = f.Due(kT0);
  ASSERT_EQ(out.size(), 2u);
  absl::flat_hash_set<uint16_t> ids;
  absl::flat_hash_set<uint32_t> peers;
  for (const OutgoingNotify& o : out) {
    EXPECT_EQ(o.to, f.peers()->at(o.peer).address);
    peers.insert(o.peer);
    auto m = ParseMessage(B(o.bytes));
    ASSERT_TRUE(m.ok()) << m.status();
    EXPECT_FALSE(m->header.qr);
    EXPECT_EQ(m->header.opcode, Opcode::kNotify);
    EXPECT_TRUE(m->header.aa);
    EXPECT_EQ(m->rcode(), Rcode::kNoError);
    ASSERT_EQ(m->questions.size(), 1u);
    EXPECT_EQ(m->questions[0], (Question{N("example.com."), RRType::kSOA, RRClass::kIN}));
    ASSERT_EQ(m->answer.size(), 1u);
    EXPECT_EQ(m->answer[0], Soa(42));
    EXPECT_FALSE(m->tsig.has_value());
    EXPECT_LE(o.bytes.size(), kMaxPlainUdpSize);
    ids.insert(m->header.id);
  }
  EXPECT_EQ(ids.size(), 2u);
  EXPECT_EQ(peers, (absl::flat_hash_set<uint32_t>{0, 2}));
  // The notify=false peer is never touched.
  EXPECT_FALSE(f.peers()->at(1).last_notified.has_value());
  EXPECT_EQ(f.peers()->at(0).last_notified, Serial(42));
  // Nothing more until the first timeout.
  EXPECT_TRUE(f.Due(kT0 + absl::Milliseconds(999)).empty());
  EXPECT_EQ(f.NextDeadline(), kT0 + absl::Seconds(1));
  EXPECT_EQ(f.counters().datagrams, 2u);
}

// `xfrproxy ctl notify ZONE PEER`: one peer is told again, afresh; the
// others' NOTIFYs go on untouched.
TEST(NotifyFanoutTest, RestartTellsOnePeerAgainAndLeavesTheOthers) {
  NotifyFanout f = Make({{Addr(1), {}, true}, {Addr(2), {}, true}, {Addr(3), {}, false}});
  f.Start(Serial(42), Soa(42), kT0);
  std::vector<OutgoingNotify> first = f.Due(kT0);
  ASSERT_EQ(first.size(), 2u);
  ASSERT_EQ(f.OnReply(Addr(1), B(Answer(first[0].bytes)), kT0), NotifyReply::kAccepted);
  EXPECT_EQ(f.pending(), 1u);
  absl::Time later = kT0 + absl::Milliseconds(500);
  ASSERT_TRUE(f.Restart(0, Serial(42), Soa(42), later));
  EXPECT_EQ(f.pending(), 2u);
  EXPECT_FALSE(f.peers()->at(0).answered);
  std::vector<OutgoingNotify> again = f.Due(later);
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].peer, 0u);
  auto m = ParseMessage(B(again[0].bytes));
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(m->answer.at(0), Soa(42));
  // A new ID: an answer to the first round does not end the new one.
  EXPECT_NE(m->header.id, ParseMessage(B(first[0].bytes))->header.id);
  // Peer 2 keeps its own back-off: its retry is still due at 1 s.
  std::vector<OutgoingNotify> retry = f.Due(kT0 + absl::Seconds(1));
  ASSERT_EQ(retry.size(), 1u);
  EXPECT_EQ(retry[0].peer, 1u);
  // A peer with notify: false is never notified, even when asked.
  EXPECT_FALSE(f.Restart(2, Serial(42), Soa(42), later));
  EXPECT_FALSE(f.Restart(7, Serial(42), Soa(42), later));
}

TEST(NotifyFanoutTest, RestartForANewSerialNotifiesEveryPeer) {
  NotifyFanout f = Make({{Addr(1), {}, true}, {Addr(2), {}, true}});
  f.Start(Serial(42), Soa(42), kT0);
  ASSERT_EQ(f.Due(kT0).size(), 2u);
  ASSERT_TRUE(f.Restart(1, Serial(43), Soa(43), kT0));
  EXPECT_EQ(f.serial(), Serial(43));
  EXPECT_EQ(f.Due(kT0).size(), 2u);
  EXPECT_EQ(f.peers()->at(0).last_notified, Serial(43));
}

TEST(NotifyFanoutTest, RetriesFollowTheBackOffUntilAnswered) {
  NotifyFanout f = Make({{Addr(1), {}, true}});
  f.Start(Serial(7), Soa(7), kT0);
  std::vector<OutgoingNotify> first = f.Due(kT0);
  ASSERT_EQ(first.size(), 1u);
  // 1 s, then doubling, capped at 4 s: sends at 0, 1, 3, 7.
  for (int at : {1, 3, 7}) {
    EXPECT_EQ(f.NextDeadline(), kT0 + absl::Seconds(at));
    EXPECT_TRUE(f.Due(kT0 + absl::Seconds(at) - absl::Milliseconds(1)).empty());
    std::vector<OutgoingNotify> again = f.Due(kT0 + absl::Seconds(at));
    ASSERT_EQ(again.size(), 1u) << at;
    // A retransmission is the same datagram: an answer to any copy counts.
    EXPECT_EQ(again[0].bytes, first[0].bytes);
  }
  EXPECT_EQ(f.NextDeadline(), kT0 + absl::Seconds(11));
  EXPECT_EQ(f.OnReply(Addr(1), B(Answer(first[0].bytes)), kT0 + absl::Seconds(8)),
            NotifyReply::kAccepted);
  EXPECT_EQ(f.NextDeadline(), absl::InfiniteFuture());
  EXPECT_TRUE(f.Due(kT0 + absl::Seconds(60)).empty());
  const PeerState& p = f.peers()->at(0);
  EXPECT_TRUE(p.answered);
  EXPECT_EQ(p.answer_rcode, Rcode::kNoError);
  EXPECT_EQ(p.sends, 4);
  EXPECT_EQ(p.retries, 3u);
  EXPECT_EQ(f.counters().retries, 3u);
  EXPECT_EQ(f.counters().answers_ok, 1u);
  EXPECT_EQ(f.pending(), 0u);
  // A duplicate answer after that matches nothing.
  EXPECT_EQ(f.OnReply(Addr(1), B(Answer(first[0].bytes)), kT0 + absl::Seconds(9)),
            NotifyReply::kNoMatch);
}

TEST(NotifyFanoutTest, GivesUpAfterMaxSendsAndOneMoreTimeout) {
  NotifyFanout f = Make({{Addr(1), {}, true}});
  f.Start(Serial(7), Soa(7), kT0);
  int sent = 0;
  for (int at : {0, 1, 3, 7, 11}) sent += static_cast<int>(f.Due(kT0 + absl::Seconds(at)).size());
  EXPECT_EQ(sent, 5);
  EXPECT_FALSE(f.peers()->at(0).gave_up);
  EXPECT_EQ(f.NextDeadline(), kT0 + absl::Seconds(15));
  EXPECT_TRUE(f.Due(kT0 + absl::Seconds(15)).empty());
  EXPECT_TRUE(f.peers()->at(0).gave_up);
  EXPECT_FALSE(f.peers()->at(0).answered);
  EXPECT_EQ(f.counters().give_ups, 1u);
  EXPECT_EQ(f.pending(), 0u);
  EXPECT_EQ(f.NextDeadline(), absl::InfiniteFuture());
}

// Patches one header byte of a message.
std::vector<uint8_t> Patched(std::vector<uint8_t> m, size_t at, uint8_t value) {
  m[at] = value;
  return m;
}

TEST(NotifyFanoutTest, RepliesThatDoNotMatchAreIgnoredAndRetriesGoOn) {
  NotifyFanout f = Make({{Addr(1), {}, true}});
  f.Start(Serial(7), Soa(7), kT0);
  std::vector<OutgoingNotify> out = f.Due(kT0);
  ASSERT_EQ(out.size(), 1u);
  const std::vector<uint8_t> good = Answer(out[0].bytes);
  uint16_t id = static_cast<uint16_t>(good[0] << 8 | good[1]);

  auto other_question = [&](std::string_view zone, RRType type) {
    Message q = *ParseMessage(B(out[0].bytes));
    q.questions[0] = Question{N(zone), type, RRClass::kIN};
    MessageBuilder b = StartResponse(q);
    return b.Finish();
  };
  struct Case {
    std::string name;
    PeerAddress from;
    std::vector<uint8_t> reply;
    NotifyReply want;
  };
  std::vector<Case> cases = {
      {"wrong port", Addr(1, 5353), good, NotifyReply::kUnknownPeer},
      {"wrong address", Addr(9), good, NotifyReply::kUnknownPeer},
      {"wrong id", Addr(1), Patched(good, 1, static_cast<uint8_t>(id + 1)),
       NotifyReply::kNoMatch},
      {"QR clear (an echoed NOTIFY)", Addr(1), out[0].bytes, NotifyReply::kMalformed},
      {"opcode QUERY", Addr(1), Patched(good, 2, 0x84), NotifyReply::kMalformed},
      {"other zone", Addr(1), other_question("example.net.", RRType::kSOA),
       NotifyReply::kMalformed},
      {"other type", Addr(1), other_question("example.com.", RRType::kA),
       NotifyReply::kMalformed},
      {"truncated garbage", Addr(1), std::vector<uint8_t>(good.begin(), good.begin() + 7),
       NotifyReply::kMalformed},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(f.OnReply(c.from, B(c.reply), kT0), c.want) << c.name;
  }
  EXPECT_FALSE(f.peers()->at(0).answered);
  EXPECT_EQ(f.counters().ignored, cases.size());
  EXPECT_EQ(f.Due(kT0 + absl::Seconds(1)).size(), 1u);
  // The question's case does not matter (RFC 1035 §2.3.3).
  EXPECT_EQ(f.OnReply(Addr(1), B(other_question("EXAMPLE.com.", RRType::kSOA)), kT0),
            NotifyReply::kAccepted);
}

TEST(NotifyFanoutTest, RefusedAndNotAuthAreAnswersCountedApart) {
  NotifyFanout f = Make({{Addr(1), {}, true}, {Addr(2), {}, true}, {Addr(3), {}, true}});
  f.Start(Serial(7), Soa(7), kT0);
  std::vector<OutgoingNotify> out = f.Due(kT0);
  ASSERT_EQ(out.size(), 3u);
  const Rcode rcodes[] = {Rcode::kRefused, Rcode::kNotAuth, Rcode::kServFail};
  for (const OutgoingNotify& o : out) {
    EXPECT_EQ(f.OnReply(o.to, B(Answer(o.bytes, rcodes[o.peer])), kT0),
              NotifyReply::kAccepted);
    EXPECT_EQ(f.peers()->at(o.peer).answer_rcode, rcodes[o.peer]);
  }
  EXPECT_EQ(f.counters().answers_refused, 2u);
  EXPECT_EQ(f.counters().answers_other, 1u);
  EXPECT_EQ(f.counters().answers_ok, 0u);
  EXPECT_TRUE(f.Due(kT0 + absl::Seconds(30)).empty());
}

TEST(NotifyFanoutTest, ANewerSerialSupersedesThePendingOne) {
  NotifyFanout f = Make({{Addr(1), {}, true}, {Addr(2), {}, true}});
  f.Start(Serial(7), Soa(7), kT0);
  std::vector<OutgoingNotify> old = f.Due(kT0);
  ASSERT_EQ(old.size(), 2u);
  f.Start(Serial(8), Soa(8), kT0 + absl::Milliseconds(500));
  EXPECT_EQ(f.counters().superseded, 2u);
  std::vector<OutgoingNotify> now = f.Due(kT0 + absl::Milliseconds(500));
  ASSERT_EQ(now.size(), 2u);
  for (const OutgoingNotify& o : now) {
    auto m = ParseMessage(B(o.bytes));
    ASSERT_TRUE(m.ok());
    EXPECT_EQ(m->answer.at(0), Soa(8));
    EXPECT_NE(m->header.id, ParseMessage(B(old[o.peer].bytes))->header.id);
    EXPECT_EQ(f.peers()->at(o.peer).last_notified, Serial(8));
    EXPECT_EQ(f.peers()->at(o.peer).sends, 1);
  }
  // The old schedule is gone: the next send is 1 s after the new start.
  EXPECT_EQ(f.NextDeadline(), kT0 + absl::Milliseconds(1500));
  // A late answer to the old NOTIFY does not answer the new one.
  EXPECT_EQ(f.OnReply(Addr(1), B(Answer(old[0].bytes)), kT0 + absl::Seconds(1)),
            NotifyReply::kNoMatch);
  EXPECT_EQ(f.OnReply(now[0].to, B(Answer(now[0].bytes)), kT0 + absl::Seconds(1)),
            NotifyReply::kAccepted);
  EXPECT_EQ(f.pending(), 1u);
}

TEST(NotifyFanoutTest, KeyedPeerGetsASignedNotifyAndOnlyASignedAnswerCounts) {
  TsigKey key = Key("oci-key", "c2VjcmV0LXNlY3JldA==");
  TsigKey wrong = Key("oci-key", "b3RoZXItc2VjcmV0");
  NotifyFanout f = Make({{Addr(1), key, true}, {Addr(2), {}, true}});
  f.Start(Serial(7), Soa(7), kT0);
  std::vector<OutgoingNotify> out = f.Due(kT0);
  ASSERT_EQ(out.size(), 2u);
  const OutgoingNotify& keyed = out[0].peer == 0 ? out[0] : out[1];
  auto m = ParseMessage(B(keyed.bytes));
  ASSERT_TRUE(m.ok()) << m.status();
  ASSERT_TRUE(m->tsig.has_value());
  std::vector<TsigKey> keys = {key};
  TsigRequestCheck check =
      VerifyTsigRequest(keys, B(keyed.bytes), *m->tsig, m->tsig_offset, kT0);
  EXPECT_TRUE(check.ok()) << check.detail;
  EXPECT_TRUE(f.peers()->at(0).keyed);

  EXPECT_EQ(f.OnReply(Addr(1), B(Answer(keyed.bytes)), kT0), NotifyReply::kBadTsig);
  EXPECT_EQ(f.OnReply(Addr(1), B(SignedAnswer(keyed.bytes, wrong)), kT0),
            NotifyReply::kBadTsig);
  EXPECT_EQ(f.peers()->at(0).tsig_failures, 2u);
  EXPECT_FALSE(f.peers()->at(0).answered);
  // Still retried, with the same signed bytes.
  std::vector<OutgoingNotify> retry = f.Due(kT0 + absl::Seconds(1));
  ASSERT_EQ(retry.size(), 2u);
  EXPECT_EQ(retry[0].peer == 0 ? retry[0].bytes : retry[1].bytes, keyed.bytes);
  EXPECT_EQ(f.OnReply(Addr(1), B(SignedAnswer(keyed.bytes, key)), kT0 + absl::Seconds(1)),
            NotifyReply::kAccepted);
  EXPECT_TRUE(f.peers()->at(0).answered);
}

// RFC 8945 §5.3.2: a secondary without our key answers NOTAUTH, unsigned,
// with BADKEY in the TSIG RR. Not authentic, so the retries go on, but the
// peer's last_error and last_reply_text() say what to fix.
TEST(NotifyFanoutTest, BadKeyAnswerIsNamedNotCalledATsigFailure) {
  TsigKey key = Key("notify-key", "c2VjcmV0LXNlY3JldC1zZWNyZXQ=");
  TsigKey theirs = Key("their-key", "b3RoZXItc2VjcmV0");
  NotifyFanout f = Make({{Addr(1), key, true}, {Addr(2), {}, true}});
  f.Start(Serial(7), Soa(7), kT0);
  std::vector<OutgoingNotify> out = f.Due(kT0);
  const OutgoingNotify& keyed = out[0].peer == 0 ? out[0] : out[1];
  const OutgoingNotify& plain = out[0].peer == 0 ? out[1] : out[0];
  auto m = ParseMessage(B(keyed.bytes));
  ASSERT_TRUE(m.ok() && m->tsig);
  std::vector<TsigKey> keys = {theirs};
  TsigRequestCheck check = VerifyTsigRequest(keys, B(keyed.bytes), *m->tsig, m->tsig_offset, kT0);
  ASSERT_EQ(check.error, Rcode::kBadKey);
  std::vector<uint8_t> badkey = Answer(keyed.bytes);
  ASSERT_TRUE(AppendTsigErrorAnswer(check, badkey, kT0).ok());

  EXPECT_EQ(f.OnReply(Addr(1), B(badkey), kT0), NotifyReply::kBadTsig);
  EXPECT_EQ(f.last_reply_text(), "NOTIFY refused: NOTAUTH (BADKEY: the peer does not know our key)");
  EXPECT_EQ(f.peers()->at(0).last_error, f.last_reply_text());
  EXPECT_FALSE(f.peers()->at(0).answered);

  EXPECT_EQ(f.OnReply(Addr(2), B(Answer(plain.bytes, Rcode::kRefused)), kT0),
            NotifyReply::kAccepted);
  EXPECT_EQ(f.peers()->at(1).last_error, "NOTIFY refused: REFUSED");
  EXPECT_EQ(f.peers()->at(1).answered_at, kT0);

  // The give-up keeps the reason.
  for (int s = 1; s <= 40; ++s) f.Due(kT0 + absl::Seconds(s));
  EXPECT_TRUE(f.peers()->at(0).gave_up);
  EXPECT_EQ(f.peers()->at(0).last_error,
            "NOTIFY refused: NOTAUTH (BADKEY: the peer does not know our key); "
            "no valid answer after 5 tries");
}

TEST(NotifyFanoutTest, RetryWindowSumsTheBackOff) {
  EXPECT_EQ(NotifyRetryWindow(Opts()), absl::Seconds(1 + 2 + 4 + 4 + 4));
  EXPECT_EQ(NotifyRetryWindow(NotifyOptions{}), absl::Seconds(31));
}

TEST(NotifyFanoutTest, TenThousandPeersGetExactlyOneDatagramEachAtStart) {
  constexpr int kPeers = 10'000;
  std::vector<NotifyPeer> peers;
  for (int i = 0; i < kPeers; ++i) {
    peers.push_back({PeerAddress::V4({10, static_cast<uint8_t>(i >> 8),
                                      static_cast<uint8_t>(i), 1}, 53), {}, true});
  }
  NotifyFanout f = Make(std::move(peers));
  f.Start(Serial(1), Soa(1), kT0);
  std::vector<OutgoingNotify> out = f.Due(kT0);
  ASSERT_EQ(out.size(), static_cast<size_t>(kPeers));
  std::vector<int> seen(kPeers, 0);
  for (const OutgoingNotify& o : out) ++seen[o.peer];
  EXPECT_EQ(std::count(seen.begin(), seen.end(), 1), kPeers);
  EXPECT_TRUE(f.Due(kT0 + absl::Milliseconds(999)).empty());
  // Half answer; only the other half is retried.
  for (size_t i = 0; i < out.size(); i += 2) {
    ASSERT_EQ(f.OnReply(out[i].to, B(Answer(out[i].bytes)), kT0), NotifyReply::kAccepted);
  }
  EXPECT_EQ(f.Due(kT0 + absl::Seconds(1)).size(), static_cast<size_t>(kPeers / 2));
}

}  // namespace
}  // namespace xfr
