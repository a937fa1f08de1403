// PrimaryResponder's access decisions (allow-transfer, per-secondary keys,
// TSIG errors, the NOTIFY policy of zones that follow a primary), as tables.
#include <memory>
#include <string>
#include <vector>

#include "fmt/format.h"
#include "gtest/gtest.h"
#include "proxy/primary.h"
#include "tests/proxy/primary_test_util.h"

namespace xfr {
namespace {

using namespace primary_test;  // NOLINT: the shared test vocabulary

// --- Access ---------------------------------------------------------------

TEST_F(PrimaryTest, AccessPolicyForUnsignedTransfers) {
  struct Case {
    const char* peer;
    bool allowed;
  };
  const Case cases[] = {
      {"192.0.2.5", true},          // in allow-transfer
      {"[2001:db8::5]", true},      // in allow-transfer, v6
      {"203.0.113.1", false},       // nowhere
      {"198.51.100.7", false},      // a keyed secondary must sign
      {"[::ffff:203.0.113.1]", false},
  };
  for (const Case& c : cases) {
    for (RRType t : {RRType::kAXFR, RRType::kIXFR}) {
      SCOPED_TRACE(std::string(c.peer) + " " + t.ToString());
      Query q;
      q.qtype = t;
      if (t == RRType::kIXFR) q.ixfr_serial = 1;
      Reply r = Send(Build(q), Transport::kTcp, c.peer);
      if (c.allowed) {
        EXPECT_EQ(r.kind, Reply::Kind::kTransfer);
      } else {
        ASSERT_EQ(r.kind, Reply::Kind::kMessage);
        auto m = ParseMessage(Bytes(r.message.data(), r.message.size()));
        ASSERT_TRUE(m.ok());
        EXPECT_EQ(m->rcode(), Rcode::kRefused);
        EXPECT_TRUE(m->answer.empty());
      }
    }
  }
  // SOA is no transfer: answered from anywhere.
  EXPECT_EQ(Ask(Query{}, Transport::kUdp, "203.0.113.1").rcode(), Rcode::kNoError);
}

TEST_F(PrimaryTsigTest, KeyedSecondaryGetsSignedTransfer) {
  Query q;
  q.qtype = RRType::kAXFR;
  SignedResult s = SendSigned(sec_, q, "198.51.100.7");
  ASSERT_EQ(s.reply.kind, Reply::Kind::kTransfer);
  std::vector<Message> ms = VerifyAll(sec_, s);
  EXPECT_EQ(Records(ms).size(), v2_->size() + 1);
}

// allow-transfer is the address ACL and always applies; a secondary's key is
// an extra requirement at its address, never a way around the ACL (issue
// 10: a keyed secondary used to admit its key from any address, even with
// `allow-transfer: []`).
TEST_F(PrimaryTsigTest, TransferAclTable) {
  enum class Sig { kNone, kSecKey, kOtherKey };
  constexpr char kExplicit[] = R"(
    allow-transfer: ["192.0.2.0/24", "198.51.100.7"]
    secondaries:
      - {address: "198.51.100.7", key: sec-key}
      - {address: "203.0.113.7", key: sec-key}
)";
  constexpr char kClosed[] = R"(
    allow-transfer: []
    secondaries:
      - {address: "198.51.100.7", key: sec-key}
)";
  // No allow-transfer: the secondaries' addresses.
  constexpr char kDefault[] = R"(
    secondaries:
      - {address: "198.51.100.7", key: sec-key}
      - {address: "198.51.100.8"}
      - {address: "198.51.100.9:53", key: sec-key}
      - {address: "198.51.100.9:5301"}
)";
  struct Case {
    const char* zone;  // the zone's access lines
    const char* name;
    const char* peer;
    Sig sig;
    const char* refusal;  // nullptr: allowed; else what the log says
  };
  constexpr char kNotInAcl[] = "address not in allow-transfer";
  constexpr char kUnsigned[] = "unsigned, and a key is configured for the address";
  constexpr char kOther[] = "signed with key other-key., not one configured for the address";
  const Case cases[] = {
      // In the ACL, no key configured there: anything that verifies.
      {kExplicit, "in ACL, keyless, unsigned", "192.0.2.5", Sig::kNone, nullptr},
      {kExplicit, "in ACL, keyless, sec-key", "192.0.2.5", Sig::kSecKey, nullptr},
      {kExplicit, "in ACL, keyless, other key", "192.0.2.5", Sig::kOtherKey, nullptr},
      // In the ACL, key required there: that key only.
      {kExplicit, "in ACL, keyed, unsigned", "198.51.100.7", Sig::kNone, kUnsigned},
      {kExplicit, "in ACL, keyed, its key", "198.51.100.7", Sig::kSecKey, nullptr},
      {kExplicit, "in ACL, keyed, other key", "198.51.100.7", Sig::kOtherKey, kOther},
      // Outside the ACL: nothing gets in, the secondary's own key neither.
      {kExplicit, "outside, keyed secondary, unsigned", "203.0.113.7", Sig::kNone, kNotInAcl},
      {kExplicit, "outside, keyed secondary, its key", "203.0.113.7", Sig::kSecKey, kNotInAcl},
      {kExplicit, "outside, keyed secondary, other", "203.0.113.7", Sig::kOtherKey, kNotInAcl},
      {kExplicit, "outside, keyless, unsigned", "203.0.113.9", Sig::kNone, kNotInAcl},
      {kExplicit, "outside, keyless, sec-key", "203.0.113.9", Sig::kSecKey, kNotInAcl},
      {kExplicit, "outside, keyless, other key", "203.0.113.9", Sig::kOtherKey, kNotInAcl},
      // allow-transfer: [] closes the zone to its keyed secondary too.
      {kClosed, "[] , keyed, unsigned", "198.51.100.7", Sig::kNone, kNotInAcl},
      {kClosed, "[] , keyed, its key", "198.51.100.7", Sig::kSecKey, kNotInAcl},
      {kClosed, "[] , elsewhere, its key", "192.0.2.5", Sig::kSecKey, kNotInAcl},
      // Default ACL: the secondaries' addresses, each with its own rule.
      {kDefault, "default, keyed, unsigned", "198.51.100.7", Sig::kNone, kUnsigned},
      {kDefault, "default, keyed, its key", "198.51.100.7", Sig::kSecKey, nullptr},
      {kDefault, "default, keyed, other key", "198.51.100.7", Sig::kOtherKey, kOther},
      {kDefault, "default, keyless, unsigned", "198.51.100.8", Sig::kNone, nullptr},
      {kDefault, "default, keyless, other key", "198.51.100.8", Sig::kOtherKey, nullptr},
      {kDefault, "default, shared address, unsigned", "198.51.100.9", Sig::kNone, nullptr},
      {kDefault, "default, not a secondary, its key", "192.0.2.5", Sig::kSecKey, kNotInAcl},
  };
  for (const Case& c : cases) {
    std::string yaml = fmt::format(R"(listen: ["127.0.0.1:5300"]
keys:
  - {{name: sec-key, algorithm: hmac-sha256, secret: "{}"}}
  - {{name: other-key, algorithm: hmac-sha256, secret: "{}"}}
zones:
  - name: example.com.
    file: example.com.zone{})",
                                   kSecret, kOtherSecret, c.zone);
    auto config = LoadConfigText(yaml, "x.yaml", "/nonexistent");
    ASSERT_TRUE(config.ok()) << config.status();
    auto store = ZoneStore::FromConfig(*config, nullptr);
    ASSERT_TRUE(store.ok());
    (*store)->Find(N("example.com."))->Publish(served_);
    responder_->SetStore(*store);
    for (RRType t : {RRType::kAXFR, RRType::kIXFR}) {
      SCOPED_TRACE(fmt::format("{} ({})", c.name, t.ToString()));
      Query q;
      q.qtype = t;
      if (t == RRType::kIXFR) q.ixfr_serial = 1;
      ::testing::internal::CaptureStderr();
      Reply r = c.sig == Sig::kNone ? Send(Build(q), Transport::kTcp, c.peer)
                                    : SendSigned(c.sig == Sig::kSecKey ? sec_ : other_, q,
                                                 c.peer).reply;
      std::string log = ::testing::internal::GetCapturedStderr();
      if (c.refusal == nullptr) {
        EXPECT_EQ(r.kind, Reply::Kind::kTransfer);
        continue;
      }
      ASSERT_EQ(r.kind, Reply::Kind::kMessage);
      std::vector<Message> ms = ParseAll({r.message});
      ASSERT_EQ(ms.size(), 1u);
      EXPECT_EQ(ms[0].rcode(), Rcode::kRefused);
      EXPECT_TRUE(ms[0].answer.empty()) << "no zone data";
      EXPECT_EQ(ms[0].tsig.has_value(), c.sig != Sig::kNone) << "signed if asked signed";
      EXPECT_NE(log.find(c.refusal), std::string::npos) << log;
    }
  }
}

// NOTIFY acceptance for zones that follow a primary (issue 10, RFC 1996
// §3.10): the source must be in notify-from; an unsigned NOTIFY is accepted
// unless `notify-key: required` (it only triggers a signed SOA check, as in
// BIND and Knot); a signed one must carry the zone's primary-key.
TEST_F(PrimaryTsigTest, NotifyAcceptanceTable) {
  constexpr char kNotifyConfig[] = R"(listen: ["127.0.0.1:5300"]
keys:
  - {name: sec-key, algorithm: hmac-sha256, secret: "c2VjcmV0IGZvciB0aGUgc2Vjb25kYXJ5IGtleSEhIQ=="}
  - {name: other-key, algorithm: hmac-sha256, secret: "b3RoZXIgc2VjcmV0IGZvciBhbm90aGVyIGtleSEhIQ=="}
zones:
  - name: keyed.example.
    primaries: ["192.0.2.53"]
    primary-key: sec-key
    notify-from: ["192.0.2.0/28"]
  - name: required.example.
    primaries: ["192.0.2.53"]
    primary-key: sec-key
    notify-key: required
    notify-from: ["192.0.2.0/28"]
  - name: plain.example.
    primaries: ["192.0.2.53"]
  - name: example.com.
    file: example.com.zone
)";
  enum class Sig { kNone, kZoneKey, kOtherKey };
  struct Case {
    const char* zone;
    const char* peer;
    Sig sig;
    const char* refusal;  // nullptr: accepted; else what the log says
  };
  constexpr char kNotFrom[] = "source not in notify-from";
  const Case cases[] = {
      // optional (the default): unsigned or the zone's key, from notify-from.
      {"keyed.example.", "192.0.2.5", Sig::kNone, nullptr},
      {"keyed.example.", "192.0.2.5", Sig::kZoneKey, nullptr},
      {"keyed.example.", "192.0.2.5", Sig::kOtherKey,
       "signed with key other-key., not the zone's key sec-key."},
      {"keyed.example.", "192.0.2.16", Sig::kNone, kNotFrom},
      {"keyed.example.", "192.0.2.16", Sig::kZoneKey, kNotFrom},
      // required: the zone's key only.
      {"required.example.", "192.0.2.5", Sig::kNone, "unsigned NOTIFY and notify-key: required"},
      {"required.example.", "192.0.2.5", Sig::kZoneKey, nullptr},
      {"required.example.", "192.0.2.5", Sig::kOtherKey,
       "signed with key other-key., not the zone's key sec-key."},
      {"required.example.", "203.0.113.1", Sig::kZoneKey, kNotFrom},
      // No primary-key: unsigned from the primary's address (the default
      // notify-from); a signature names no key of the zone.
      {"plain.example.", "192.0.2.53", Sig::kNone, nullptr},
      {"plain.example.", "192.0.2.54", Sig::kNone, kNotFrom},
      {"plain.example.", "192.0.2.53", Sig::kZoneKey,
       "signed with key sec-key., but the zone has no primary-key"},
  };
  auto config = LoadConfigText(kNotifyConfig, "x.yaml", "/nonexistent");
  ASSERT_TRUE(config.ok()) << config.status();
  auto store = ZoneStore::FromConfig(*config, nullptr);
  ASSERT_TRUE(store.ok());
  std::vector<std::string> notified;
  responder_ = std::make_unique<PrimaryResponder>(
      *store, stats_,
      [&](const Name& zone, const SocketAddress&, std::optional<Serial>, RefreshTrigger why) {
        if (why == RefreshTrigger::kNotify) notified.push_back(zone.ToText());
      });
  for (const Case& c : cases) {
    SCOPED_TRACE(fmt::format("{} from {} sig {}", c.zone, c.peer, static_cast<int>(c.sig)));
    notified.clear();
    uint64_t refused0 = stats_.notify_refused.Get();
    uint64_t received0 = stats_.notify_received.Get();
    Query q;
    q.qname = c.zone;
    q.opcode = Opcode::kNotify;
    ::testing::internal::CaptureStderr();
    Reply r = c.sig == Sig::kNone ? Send(Build(q), Transport::kUdp, c.peer)
                                  : SendSigned(c.sig == Sig::kZoneKey ? sec_ : other_, q,
                                               c.peer).reply;
    std::string log = ::testing::internal::GetCapturedStderr();
    ASSERT_EQ(r.kind, Reply::Kind::kMessage);
    std::vector<Message> ms = ParseAll({r.message});
    ASSERT_EQ(ms.size(), 1u);
    EXPECT_EQ(ms[0].header.opcode, Opcode::kNotify);
    EXPECT_EQ(ms[0].tsig.has_value(), c.sig != Sig::kNone) << "signed if asked signed";
    if (c.refusal == nullptr) {
      EXPECT_EQ(ms[0].rcode(), Rcode::kNoError);
      EXPECT_EQ(notified, std::vector<std::string>{c.zone});
      EXPECT_EQ(stats_.notify_received.Get(), received0 + 1);
      EXPECT_EQ(stats_.notify_refused.Get(), refused0);
    } else {
      EXPECT_EQ(ms[0].rcode(), Rcode::kRefused);
      EXPECT_TRUE(notified.empty()) << "a refused NOTIFY checks nothing";
      EXPECT_EQ(stats_.notify_refused.Get(), refused0 + 1);
      EXPECT_EQ(stats_.notify_received.Get(), received0);
      EXPECT_NE(log.find(c.refusal), std::string::npos) << log;
    }
  }
  // Signed with a key we do not know: NOTAUTH with BADKEY (RFC 8945 §5.2),
  // and counted as a refused NOTIFY like the others.
  notified.clear();
  uint64_t refused0 = stats_.notify_refused.Get();
  Query q;
  q.qname = "keyed.example.";
  q.opcode = Opcode::kNotify;
  ::testing::internal::CaptureStderr();
  Reply r = SendSigned(Key("stranger-key", kSecret), q, "192.0.2.5").reply;
  std::string log = ::testing::internal::GetCapturedStderr();
  ASSERT_EQ(r.kind, Reply::Kind::kMessage);
  std::vector<Message> ms = ParseAll({r.message});
  ASSERT_EQ(ms.size(), 1u);
  EXPECT_EQ(ms[0].rcode(), Rcode::kNotAuth);
  EXPECT_TRUE(notified.empty());
  EXPECT_EQ(stats_.notify_refused.Get(), refused0 + 1);
  EXPECT_NE(log.find("BADKEY from 192.0.2.5:53 for NOTIFY of keyed.example."), std::string::npos)
      << log;
}

TEST_F(PrimaryTsigTest, SignedSoaAnswerIsSigned) {
  SignedResult s = SendSigned(sec_, Query{}, "203.0.113.9");
  ASSERT_EQ(s.reply.kind, Reply::Kind::kMessage);
  std::vector<Message> ms = VerifyAll(sec_, s);
  ASSERT_EQ(ms.size(), 1u);
  EXPECT_EQ(ms[0].answer.size(), 1u);
}

TEST_F(PrimaryTsigTest, OtherKnownKeyFollowsTheAddressPolicy) {
  Query q;
  q.qtype = RRType::kAXFR;
  SignedResult ok = SendSigned(other_, q, "192.0.2.5");
  EXPECT_EQ(ok.reply.kind, Reply::Kind::kTransfer);
  SignedResult refused = SendSigned(other_, q, "203.0.113.9");
  ASSERT_EQ(refused.reply.kind, Reply::Kind::kMessage);
  std::vector<Message> ms = VerifyAll(other_, refused);
  ASSERT_EQ(ms.size(), 1u);
  EXPECT_EQ(ms[0].rcode(), Rcode::kRefused);
  EXPECT_TRUE(ms[0].answer.empty());
  // The secondary's address with the wrong (but known) key.
  SignedResult wrong = SendSigned(other_, q, "198.51.100.7");
  ASSERT_EQ(wrong.reply.kind, Reply::Kind::kMessage);
  EXPECT_EQ(ParseAll({wrong.reply.message})[0].rcode(), Rcode::kRefused);
}

TEST_F(PrimaryTsigTest, KeyProblemsGetNotauthWithTheTsigError) {
  struct Case {
    const char* name;
    TsigKey key;
    absl::Time signed_at;
    Rcode error;
  };
  const Case cases[] = {
      {"wrong secret", Key("sec-key", kOtherSecret), kLoaded, Rcode::kBadSig},
      {"unknown key", Key("nobody-key", kSecret), kLoaded, Rcode::kBadKey},
      {"outside the fudge", sec_, kLoaded - absl::Seconds(3600), Rcode::kBadTime},
  };
  for (const Case& c : cases) {
    for (RRType t : {RRType::kAXFR, RRType::kSOA}) {
      SCOPED_TRACE(std::string(c.name) + " " + t.ToString());
      Query q;
      q.qtype = t;
      SignedResult s = SendSigned(c.key, q, "198.51.100.7", c.signed_at);
      ASSERT_EQ(s.reply.kind, Reply::Kind::kMessage);
      std::vector<Message> ms = ParseAll({s.reply.message});
      ASSERT_EQ(ms.size(), 1u);
      EXPECT_EQ(ms[0].rcode(), Rcode::kNotAuth);
      EXPECT_TRUE(ms[0].answer.empty()) << "no zone data";
      ASSERT_TRUE(ms[0].tsig.has_value());
      EXPECT_EQ(ms[0].tsig->error, c.error);
    }
  }
}

}  // namespace
}  // namespace xfr
