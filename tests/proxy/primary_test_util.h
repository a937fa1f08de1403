// Shared by the PrimaryResponder tests (primary_test.cc: answers and
// transfers; primary_access_test.cc: allow-transfer, keys, NOTIFY policy):
// queries built as bytes, a fake clock, a ZoneStore from a config text with
// snapshots published by hand, and transfer streams reassembled and parsed.
#pragma once

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
#include "proxy/log.h"

namespace xfr::primary_test {

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

inline const absl::Time kLoaded = absl::FromUnixSeconds(1'700'000'000);

inline Name N(std::string_view t) { return *Name::FromText(t); }

inline std::shared_ptr<const ZoneVersion> Version(const char* text) {
  auto records = ReadZoneText(text, N("example.com."), "test.zone");
  EXPECT_TRUE(records.ok()) << records.status();
  auto v = ZoneVersion::Build(N("example.com."), std::move(*records));
  EXPECT_TRUE(v.ok()) << v.status();
  return *v;
}

inline SocketAddress Peer(std::string_view text) { return *SocketAddress::Parse(text, 53); }

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

inline std::vector<uint8_t> Build(const Query& q) {
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

inline Edns ExpireEdns() {
  Edns e;
  e.expire_present = true;
  return e;
}

inline TsigKey Key(std::string_view name, std::string_view secret) {
  auto k = MakeTsigKey(name, "hmac-sha256", secret);
  EXPECT_TRUE(k.ok()) << k.status();
  return *k;
}

class PrimaryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // These tests read the refusal reason of every case from the log: no
    // line may be held back by the rate limit.
    SetLogRateLimits({1'000'000, absl::Seconds(10)});
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

inline uint32_t SerialOf(const Record& r) {
  return ParseSoaRdata(Bytes(r.rdata.data(), r.rdata.size()))->serial.value();
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

}  // namespace xfr::primary_test
