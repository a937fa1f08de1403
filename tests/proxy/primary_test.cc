// PrimaryResponder driven without sockets: queries built as bytes, a fake
// clock, a ZoneStore from a config text with snapshots published by hand.
// Every decision of the downstream role is pinned here: rcodes, AA/TC,
// answer contents, EDNS EXPIRE, transfer streams reassembled and parsed,
// access policy and TSIG.
#include "proxy/primary.h"

#include <algorithm>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/diff.h"
#include "core/tsig.h"
#include "core/zonefile.h"
#include "fmt/format.h"
#include "fanout/served_zone.h"
#include "gtest/gtest.h"
#include "proxy/config.h"

namespace xfr {
namespace {

constexpr char kSecret[] = "c2VjcmV0IGZvciB0aGUgc2Vjb25kYXJ5IGtleSEhIQ==";
constexpr char kOtherSecret[] = "b3RoZXIgc2VjcmV0IGZvciBhbm90aGVyIGtleSEhIQ==";

constexpr char kConfig[] = R"(listen: ["127.0.0.1:5300"]
keys:
  - {name: sec-key, algorithm: hmac-sha256, secret: "c2VjcmV0IGZvciB0aGUgc2Vjb25kYXJ5IGtleSEhIQ=="}
  - {name: other-key, algorithm: hmac-sha256, secret: "b3RoZXIgc2VjcmV0IGZvciBhbm90aGVyIGtleSEhIQ=="}
zones:
  - name: example.com.
    file: example.com.zone
    allow-transfer: ["192.0.2.0/24", "2001:db8::/32", "198.51.100.7"]
    secondaries:
      - {address: "198.51.100.7", key: sec-key}
  - name: empty.example.
    file: empty.zone
)";

constexpr char kZoneV1[] = R"($ORIGIN example.com.
$TTL 3600
@ IN SOA ns1 hostmaster 1 7200 900 1209600 300
@ IN NS ns1
ns1 IN A 192.0.2.1
www IN A 192.0.2.80
old IN TXT "going away"
ttl IN A 192.0.2.11
)";

constexpr char kZoneV2[] = R"($ORIGIN example.com.
$TTL 3600
@ IN SOA ns1 hostmaster 2 7200 900 1209600 300
@ IN NS ns1
ns1 IN A 192.0.2.1
www IN A 192.0.2.80
new IN AAAA 2001:db8::1
ttl 60 IN A 192.0.2.11
)";

const absl::Time kLoaded = absl::FromUnixSeconds(1'700'000'000);

Name N(std::string_view t) { return *Name::FromText(t); }

std::shared_ptr<const ZoneVersion> Version(const char* text) {
  auto records = ReadZoneText(text, N("example.com."), "test.zone");
  EXPECT_TRUE(records.ok()) << records.status();
  auto v = ZoneVersion::Build(N("example.com."), std::move(*records));
  EXPECT_TRUE(v.ok()) << v.status();
  return *v;
}

SocketAddress Peer(std::string_view text) { return *SocketAddress::Parse(text, 53); }

struct Query {
  std::string qname = "example.com.";
  RRType qtype = RRType::kSOA;
  RRClass qclass = RRClass::kIN;
  uint16_t id = 0x4242;
  Opcode opcode = Opcode::kQuery;
  bool rd = false;
  std::optional<uint32_t> ixfr_serial;  // the client's SOA in authority
  std::optional<Edns> edns;
};

std::vector<uint8_t> Build(const Query& q) {
  MessageBuilder b;
  b.header().id = q.id;
  b.header().opcode = q.opcode;
  b.header().rd = q.rd;
  EXPECT_TRUE(b.AddQuestion(Question{N(q.qname), q.qtype, q.qclass}));
  if (q.ixfr_serial) {
    std::string soa = fmt::format("$ORIGIN example.com.\n@ 0 IN SOA ns1 hostmaster {} 1 1 1 1\n",
                                  *q.ixfr_serial);
    auto rs = ReadZoneText(soa, N("example.com."), "soa");
    EXPECT_TRUE(rs.ok());
    EXPECT_TRUE(b.AddRecord(Section::kAuthority, (*rs)[0]));
  }
  if (q.edns) {
    EXPECT_TRUE(b.SetEdns(*q.edns));
  }
  return b.Finish();
}

Edns ExpireEdns() {
  Edns e;
  e.expire_present = true;
  return e;
}

TsigKey Key(std::string_view name, std::string_view secret) {
  auto k = MakeTsigKey(name, "hmac-sha256", secret);
  EXPECT_TRUE(k.ok()) << k.status();
  return *k;
}

class PrimaryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto config = LoadConfigText(kConfig, "x.yaml", "/nonexistent");
    ASSERT_TRUE(config.ok()) << config.status();
    auto store = ZoneStore::FromConfig(*config, nullptr);
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = *store;
    v1_ = Version(kZoneV1);
    v2_ = Version(kZoneV2);
    auto z1 = BuildServedZone(v1_, nullptr, nullptr, kLoaded);
    ASSERT_TRUE(z1.ok()) << z1.status();
    auto diff = std::make_shared<const ZoneDiff>(ComputeDiff(*v1_, *v2_));
    auto z2 = BuildServedZone(v2_, z1->get(), diff, kLoaded);
    ASSERT_TRUE(z2.ok()) << z2.status();
    served_ = *z2;
    store_->Find(N("example.com."))->Publish(served_);
    responder_ = std::make_unique<PrimaryResponder>(store_, stats_);
  }

  Reply Send(const std::vector<uint8_t>& wire, Transport t = Transport::kTcp,
             std::string_view peer = "192.0.2.5", absl::Time now = kLoaded) {
    RequestContext ctx;
    ctx.peer = Peer(peer);
    ctx.transport = t;
    ctx.now = now;
    return responder_->Handle(Bytes(wire.data(), wire.size()), ctx);
  }

  // A single-message answer, parsed.
  Message Ask(const Query& q, Transport t = Transport::kTcp,
              std::string_view peer = "192.0.2.5", absl::Time now = kLoaded) {
    Reply r = Send(Build(q), t, peer, now);
    EXPECT_EQ(r.kind, Reply::Kind::kMessage);
    auto m = ParseMessage(Bytes(r.message.data(), r.message.size()));
    EXPECT_TRUE(m.ok()) << m.status();
    return m.ok() ? *m : Message{};
  }

  // Every message of a transfer stream, reassembled from its parts.
  static std::vector<std::vector<uint8_t>> Drain(Reply& r) {
    std::vector<std::vector<uint8_t>> out;
    EXPECT_EQ(r.kind, Reply::Kind::kTransfer);
    if (r.kind != Reply::Kind::kTransfer) return out;
    for (int guard = 0; guard < 10000; ++guard) {
      std::vector<iovec> iov;
      size_t n = r.transfer->Next(iov);
      if (n == 0) break;
      std::vector<uint8_t> m;
      for (const iovec& v : iov) {
        const auto* p = static_cast<const uint8_t*>(v.iov_base);
        m.insert(m.end(), p, p + v.iov_len);
      }
      EXPECT_EQ(m.size(), n);
      out.push_back(std::move(m));
      r.transfer->Release();
    }
    return out;
  }

  static std::vector<Message> ParseAll(const std::vector<std::vector<uint8_t>>& wires) {
    std::vector<Message> out;
    for (const auto& w : wires) {
      auto m = ParseMessage(Bytes(w.data(), w.size()));
      EXPECT_TRUE(m.ok()) << m.status();
      if (m.ok()) out.push_back(std::move(*m));
    }
    return out;
  }

  static std::vector<Record> Records(const std::vector<Message>& ms) {
    std::vector<Record> out;
    for (const Message& m : ms) out.insert(out.end(), m.answer.begin(), m.answer.end());
    return out;
  }

  static std::vector<Record> All(const ZoneVersion& v) {
    std::vector<Record> out;
    for (size_t i = 0; i < v.size(); ++i) out.push_back(ToRecord(v.record(i)));
    return out;
  }

  ServerStats stats_;
  std::shared_ptr<ZoneStore> store_;
  std::shared_ptr<const ZoneVersion> v1_, v2_;
  std::shared_ptr<const ServedZone> served_;
  std::unique_ptr<PrimaryResponder> responder_;
};

uint32_t SerialOf(const Record& r) { return ParseSoaRdata(Bytes(r.rdata.data(), r.rdata.size()))->serial.value(); }

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

struct SignedResult {
  Reply reply;
  std::vector<uint8_t> request_mac;
};

class PrimaryTsigTest : public PrimaryTest {
 protected:
  SignedResult SendSigned(const TsigKey& key, Query q, std::string_view peer,
                          absl::Time signed_at = kLoaded) {
    std::vector<uint8_t> wire = Build(q);
    auto mac = SignTsigQuery(key, wire, signed_at);
    EXPECT_TRUE(mac.ok()) << mac.status();
    return SignedResult{Send(wire, Transport::kTcp, peer), mac.ok() ? *mac : std::vector<uint8_t>{}};
  }

  // Verifies every message with the key; returns the parsed messages.
  std::vector<Message> VerifyAll(const TsigKey& key, SignedResult& s) {
    std::vector<std::vector<uint8_t>> wires;
    if (s.reply.kind == Reply::Kind::kTransfer) {
      wires = Drain(s.reply);
    } else {
      wires.push_back(s.reply.message);
    }
    auto v = TsigStreamVerifier::Create(key, Bytes(s.request_mac.data(), s.request_mac.size()));
    EXPECT_TRUE(v.ok());
    std::vector<Message> out = ParseAll(wires);
    for (size_t i = 0; i < wires.size() && i < out.size(); ++i) {
      EXPECT_TRUE(out[i].tsig.has_value()) << "message " << i << " is signed";
      EXPECT_TRUE(v->Feed(Bytes(wires[i].data(), wires[i].size()), out[i], kLoaded).ok())
          << "message " << i;
    }
    EXPECT_TRUE(v->Finish().ok());
    return out;
  }

  TsigKey sec_ = Key("sec-key", kSecret);
  TsigKey other_ = Key("other-key", kOtherSecret);
};

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
