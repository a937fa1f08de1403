// TSIG (RFC 8945): keys, request signing and checking, error answers, and
// multi-message streams, with a fixed clock. One case pins the wire format
// to a query signed by BIND's dig, independently of our own signer.
#include "core/tsig.h"

#include <string>
#include <vector>

#include "core/message.h"
#include "fmt/format.h"
#include "gtest/gtest.h"

namespace xfr {
namespace {

const absl::Time kNow = absl::FromUnixSeconds(1700000000);

std::vector<uint8_t> Hex(std::string_view hex) {
  std::vector<uint8_t> out;
  for (size_t i = 0; i + 1 < hex.size(); i += 2) {
    out.push_back(static_cast<uint8_t>(
        std::stoi(std::string(hex.substr(i, 2)), nullptr, 16)));
  }
  return out;
}

Bytes B(const std::vector<uint8_t>& v) { return Bytes(v.data(), v.size()); }

TsigKey Key(TsigAlgorithm a = TsigAlgorithm::kHmacSha256,
            std::string_view name = "xfr-key.") {
  absl::StatusOr<TsigKey> k = MakeTsigKey(
      name, TsigAlgorithmName(a), "c2VjcmV0LWZvci14ZnJwcm94eS10ZXN0cy0xMjM0NTY3OA==");
  EXPECT_TRUE(k.ok()) << k.status();
  return *k;
}

std::vector<uint8_t> Query(uint16_t id, RRType type = RRType::kAXFR) {
  MessageBuilder b;
  b.header().id = id;
  EXPECT_TRUE(b.AddQuestion({*Name::FromText("example.com."), type}));
  return b.Finish();
}

// An answer message with `n` distinct A records.
std::vector<uint8_t> Answer(uint16_t id, int seq, int n = 3) {
  MessageBuilder b;
  b.header().id = id;
  b.header().qr = true;
  b.header().aa = true;
  for (int i = 0; i < n; ++i) {
    Record r;
    r.owner = *Name::FromText(fmt::format("h{}-{}.example.com.", seq, i));
    r.type = RRType::kA;
    r.ttl = 300;
    r.rdata = {192, 0, 2, static_cast<uint8_t>(i)};
    EXPECT_TRUE(b.AddRecord(Section::kAnswer, r));
  }
  return b.Finish();
}

Message Parse(const std::vector<uint8_t>& wire) {
  absl::StatusOr<Message> m = ParseMessage(B(wire));
  EXPECT_TRUE(m.ok()) << m.status();
  return m.ok() ? *std::move(m) : Message{};
}

// Re-encodes a signed message with its TSIG RR changed by `edit`.
template <typename F>
std::vector<uint8_t> EditTsig(const std::vector<uint8_t>& wire, F edit) {
  Message m = Parse(wire);
  TsigRecord t = *m.tsig;
  edit(t);
  std::vector<uint8_t> out(wire.begin(), wire.begin() + m.tsig_offset);
  WireWriter w(out);
  WriteTsigRecord(w, t);
  return out;
}

TsigRequestCheck CheckRequest(absl::Span<const TsigKey> keys,
                              const std::vector<uint8_t>& wire,
                              absl::Time now = kNow,
                              const TsigPolicy& policy = {}) {
  Message m = Parse(wire);
  EXPECT_TRUE(m.tsig.has_value());
  if (!m.tsig) return {};
  return VerifyTsigRequest(keys, B(wire), *m.tsig, m.tsig_offset, now, policy);
}

TEST(TsigKeyTest, MakeKeyAcceptsConfigForms) {
  absl::StatusOr<TsigKey> k = MakeTsigKey("up-key", "HMAC-SHA512.", "YWJj");
  ASSERT_TRUE(k.ok()) << k.status();
  EXPECT_EQ(k->name.ToText(), "up-key.");
  EXPECT_EQ(k->algorithm, TsigAlgorithm::kHmacSha512);
  EXPECT_EQ(k->secret, (std::vector<uint8_t>{'a', 'b', 'c'}));
}

TEST(TsigKeyTest, MakeKeyErrorsSayWhatIsWrong) {
  struct Case {
    const char* name;
    const char* alg;
    const char* secret;
    const char* expect;
  } cases[] = {
      {"unknown algorithm", "hmac-md5", "YWJj", "unknown algorithm"},
      {"bad base64", "hmac-sha256", "not*base64!", "not valid base64"},
      {"empty secret", "hmac-sha256", "", "secret is empty"},
  };
  for (const Case& c : cases) {
    absl::StatusOr<TsigKey> k = MakeTsigKey("k.", c.alg, c.secret);
    ASSERT_FALSE(k.ok()) << c.name;
    EXPECT_NE(std::string(k.status().message()).find(c.expect),
              std::string::npos)
        << c.name << ": " << k.status();
  }
}

TEST(TsigKeyTest, AlgorithmTable) {
  struct Case {
    TsigAlgorithm a;
    const char* name;
    size_t len;
    size_t min;
  } cases[] = {
      {TsigAlgorithm::kHmacSha1, "hmac-sha1.", 20, 10},
      {TsigAlgorithm::kHmacSha224, "hmac-sha224.", 28, 14},
      {TsigAlgorithm::kHmacSha256, "hmac-sha256.", 32, 16},
      {TsigAlgorithm::kHmacSha384, "hmac-sha384.", 48, 24},
      {TsigAlgorithm::kHmacSha512, "hmac-sha512.", 64, 32},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(TsigAlgorithmName(c.a), c.name);
    EXPECT_EQ(TsigMacLength(c.a), c.len);
    EXPECT_EQ(TsigMinMacLength(c.a), c.min) << c.name;
    EXPECT_EQ(ParseTsigAlgorithm(c.name), c.a);
    EXPECT_EQ(TsigAlgorithmWireName(c.a).ToText(), c.name);
    EXPECT_EQ(TsigAlgorithmFromWire(*Name::FromText(c.name)), c.a);
  }
}

// RFC 4231 test case 2 pins the HMAC plumbing, and a second computation on
// the same context pins that Begin() rewinds to the keyed state.
TEST(TsigMacTest, Rfc4231KnownAnswerAndContextReuse) {
  TsigKey k{*Name::FromText("k."), TsigAlgorithm::kHmacSha256,
            {'J', 'e', 'f', 'e'}};
  absl::StatusOr<TsigMac> mac = TsigMac::Create(k);
  ASSERT_TRUE(mac.ok());
  const auto want = Hex(
      "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  for (int round = 0; round < 2; ++round) {
    mac->Begin();
    mac->Update(AsBytes("what do ya want "));
    mac->Update(AsBytes("for nothing?"));
    std::vector<uint8_t> out(mac->length());
    ASSERT_TRUE(mac->End(out.data()));
    EXPECT_EQ(out, want) << "round " << round;
  }
}

class TsigAlgorithmTest : public testing::TestWithParam<TsigAlgorithm> {};

TEST_P(TsigAlgorithmTest, SignVerifyRoundTrip) {
  const TsigKey key = Key(GetParam());
  std::vector<uint8_t> q = Query(0x1234);
  absl::StatusOr<std::vector<uint8_t>> qmac = SignTsigQuery(key, q, kNow);
  ASSERT_TRUE(qmac.ok()) << qmac.status();
  EXPECT_EQ(qmac->size(), TsigMacLength(GetParam()));

  Message pq = Parse(q);
  ASSERT_TRUE(pq.tsig.has_value());
  EXPECT_EQ(pq.header.arcount, 1);
  EXPECT_EQ(pq.tsig->original_id, 0x1234);
  EXPECT_EQ(pq.tsig->time_signed, 1700000000u);
  EXPECT_EQ(pq.tsig->fudge, kDefaultTsigFudge);

  TsigRequestCheck c = CheckRequest({&key, 1}, q);
  ASSERT_TRUE(c.ok()) << c.detail;
  EXPECT_EQ(c.key, &key);

  absl::StatusOr<TsigStreamSigner> signer =
      TsigStreamSigner::Create(*c.key, B(c.request.mac));
  ASSERT_TRUE(signer.ok());
  std::vector<uint8_t> a = Answer(0x1234, 0);
  ASSERT_TRUE(signer->SignMessage(a, kNow).ok());

  absl::StatusOr<TsigStreamVerifier> v = TsigStreamVerifier::Create(key, B(*qmac));
  ASSERT_TRUE(v.ok());
  EXPECT_TRUE(v->Feed(B(a), Parse(a), kNow).ok());
  EXPECT_TRUE(v->Finish().ok());
  EXPECT_EQ(v->signed_messages(), 1);
}

INSTANTIATE_TEST_SUITE_P(AllAlgorithms, TsigAlgorithmTest,
                         testing::Values(TsigAlgorithm::kHmacSha1,
                                         TsigAlgorithm::kHmacSha224,
                                         TsigAlgorithm::kHmacSha256,
                                         TsigAlgorithm::kHmacSha384,
                                         TsigAlgorithm::kHmacSha512));

TEST(TsigRequestTest, FlippedBitInBodyIsBadSig) {
  const TsigKey key = Key();
  std::vector<uint8_t> q = Query(7);
  ASSERT_TRUE(SignTsigQuery(key, q, kNow).ok());
  q[14] ^= 0x20;  // inside the question name: "example" -> "eXample"
  TsigRequestCheck c = CheckRequest({&key, 1}, q);
  EXPECT_EQ(c.error, Rcode::kBadSig) << c.detail;
}

TEST(TsigRequestTest, UnknownKeyOrOtherAlgorithmIsBadKey) {
  const TsigKey key = Key();
  const TsigKey other_name = Key(TsigAlgorithm::kHmacSha256, "other-key.");
  const TsigKey other_alg = Key(TsigAlgorithm::kHmacSha512);
  std::vector<uint8_t> q = Query(7);
  ASSERT_TRUE(SignTsigQuery(key, q, kNow).ok());
  TsigRequestCheck c1 = CheckRequest({&other_name, 1}, q);
  EXPECT_EQ(c1.error, Rcode::kBadKey) << c1.detail;
  EXPECT_EQ(c1.key, nullptr);
  TsigRequestCheck c2 = CheckRequest({&other_alg, 1}, q);
  EXPECT_EQ(c2.error, Rcode::kBadKey) << c2.detail;
}

TEST(TsigRequestTest, WrongSecretIsBadSigAndTheAnswerIsUnsigned) {
  TsigKey client = Key();
  TsigKey server = Key();
  server.secret[0] ^= 1;
  std::vector<uint8_t> q = Query(9);
  absl::StatusOr<std::vector<uint8_t>> qmac = SignTsigQuery(client, q, kNow);
  ASSERT_TRUE(qmac.ok());
  TsigRequestCheck c = CheckRequest({&server, 1}, q);
  ASSERT_EQ(c.error, Rcode::kBadSig) << c.detail;

  std::vector<uint8_t> a = Answer(9, 0, 0);
  ASSERT_TRUE(AppendTsigErrorAnswer(c, a, kNow).ok());
  Message pa = Parse(a);
  EXPECT_EQ(pa.header.rcode, Rcode::kNotAuth.value());
  ASSERT_TRUE(pa.tsig.has_value());
  EXPECT_EQ(pa.tsig->error, Rcode::kBadSig);
  EXPECT_TRUE(pa.tsig->mac.empty());  // §5.3.2: unsigned

  absl::StatusOr<TsigStreamVerifier> v = TsigStreamVerifier::Create(client, B(*qmac));
  absl::Status s = v->Feed(B(a), pa, kNow);
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(v->error(), Rcode::kBadSig);
  EXPECT_NE(std::string(s.message()).find("BADSIG"), std::string::npos) << s;
}

TEST(TsigRequestTest, OutsideFudgeIsBadTimeWithServerTimeInSignedAnswer) {
  const TsigKey key = Key();
  std::vector<uint8_t> q = Query(11);
  absl::StatusOr<std::vector<uint8_t>> qmac = SignTsigQuery(key, q, kNow);
  ASSERT_TRUE(qmac.ok());
  EXPECT_TRUE(CheckRequest({&key, 1}, q, kNow + absl::Seconds(300)).ok());
  EXPECT_TRUE(CheckRequest({&key, 1}, q, kNow - absl::Seconds(300)).ok());
  const absl::Time server_now = kNow + absl::Seconds(301);
  TsigRequestCheck c = CheckRequest({&key, 1}, q, server_now);
  ASSERT_EQ(c.error, Rcode::kBadTime) << c.detail;

  std::vector<uint8_t> a = Answer(11, 0, 0);
  ASSERT_TRUE(AppendTsigErrorAnswer(c, a, server_now).ok());
  Message pa = Parse(a);
  EXPECT_EQ(pa.header.rcode, Rcode::kNotAuth.value());
  ASSERT_TRUE(pa.tsig.has_value());
  EXPECT_EQ(pa.tsig->error, Rcode::kBadTime);
  EXPECT_EQ(pa.tsig->time_signed, 1700000000u);  // the request's time
  EXPECT_EQ(pa.tsig->other, Hex("00006553f22d"));  // 1700000301
  EXPECT_EQ(pa.tsig->mac.size(), 32u);              // signed

  // The client can authenticate the BADTIME answer and sees the error.
  absl::StatusOr<TsigStreamVerifier> v = TsigStreamVerifier::Create(key, B(*qmac));
  absl::Status s = v->Feed(B(a), pa, kNow);
  EXPECT_EQ(v->error(), Rcode::kBadTime) << s;
  EXPECT_NE(std::string(s.message()).find("server time 1700000301"),
            std::string::npos)
      << s;
  // A forged BADTIME answer (wrong MAC) is reported as BADSIG instead.
  std::vector<uint8_t> forged = EditTsig(a, [](TsigRecord& t) { t.mac[0] ^= 1; });
  absl::StatusOr<TsigStreamVerifier> v2 = TsigStreamVerifier::Create(key, B(*qmac));
  EXPECT_FALSE(v2->Feed(B(forged), Parse(forged), kNow).ok());
  EXPECT_EQ(v2->error(), Rcode::kBadSig);
}

TEST(TsigRequestTest, MacTruncation) {
  const TsigKey key = Key();  // hmac-sha256: 32 octets, minimum 16
  std::vector<uint8_t> q = Query(5);
  ASSERT_TRUE(SignTsigQuery(key, q, kNow).ok());
  auto truncated = [&](size_t n) {
    return EditTsig(q, [n](TsigRecord& t) { t.mac.resize(n); });
  };
  struct Case {
    const char* name;
    size_t mac_len;
    size_t policy_min;
    Rcode want;
  } cases[] = {
      {"full length", 32, 0, Rcode::kNoError},
      {"allowed truncation", 16, 0, Rcode::kNoError},
      {"allowed but below local policy", 16, 32, Rcode::kBadTrunc},
      {"below half the hash", 15, 0, Rcode::kFormErr},
      {"below 10 octets", 9, 0, Rcode::kFormErr},
      {"empty", 0, 0, Rcode::kBadSig},
  };
  for (const Case& c : cases) {
    TsigRequestCheck r = CheckRequest({&key, 1}, truncated(c.mac_len), kNow,
                                      TsigPolicy{c.policy_min});
    EXPECT_EQ(r.error, c.want) << c.name << ": " << r.detail;
  }
  // A wrong truncated MAC is still wrong.
  std::vector<uint8_t> bad = EditTsig(truncated(16), [](TsigRecord& t) { t.mac[15] ^= 1; });
  EXPECT_EQ(CheckRequest({&key, 1}, bad).error, Rcode::kBadSig);
  // Too long: a MAC with extra octets.
  std::vector<uint8_t> longer = EditTsig(q, [](TsigRecord& t) { t.mac.push_back(0); });
  EXPECT_EQ(CheckRequest({&key, 1}, longer).error, Rcode::kFormErr);
}

// §4.3.1: the MAC covers the original ID, so a message whose ID a middlebox
// changed still verifies.
TEST(TsigRequestTest, VerifiesWithOriginalIdAfterIdRewrite) {
  const TsigKey key = Key();
  std::vector<uint8_t> q = Query(0xabcd);
  ASSERT_TRUE(SignTsigQuery(key, q, kNow).ok());
  q[0] = 0x11;
  q[1] = 0x22;
  EXPECT_TRUE(CheckRequest({&key, 1}, q).ok());
}

// A query signed by BIND 9.18's dig: `dig -y hmac-sha256:Test-Key.example.:
// c2VjcmV0...  +noedns example.com SOA`, captured from a UDP socket. It
// pins our digest and wire format to an independent implementation.
TEST(TsigRequestTest, AcceptsQuerySignedByDig) {
  const std::vector<uint8_t> wire = Hex(
      "5a0b01200001000000000001076578616d706c6503636f6d0000060001"
      "08746573742d6b6579076578616d706c650000fa00ff00000000003d0b686d61632d"
      "7368613235360000006b04ffa0012c0020a1f955ef2c5f84ae799f1d161e88c5d917"
      "657ee04d42f87188bb8a305867f0795a0b00000000");
  absl::StatusOr<TsigKey> key =
      MakeTsigKey("Test-Key.example.", "hmac-sha256",
                  "c2VjcmV0LWZvci14ZnJwcm94eS10ZXN0cy0xMjM0NTY3OA==");
  ASSERT_TRUE(key.ok());
  const absl::Time signed_at = absl::FromUnixSeconds(0x6b04ffa0);
  TsigRequestCheck c = CheckRequest({&*key, 1}, wire, signed_at);
  EXPECT_TRUE(c.ok()) << c.detail;
  EXPECT_EQ(CheckRequest({&*key, 1}, wire, signed_at + absl::Seconds(301)).error,
            Rcode::kBadTime);
  std::vector<uint8_t> flipped = wire;
  flipped[13] ^= 1;
  EXPECT_EQ(CheckRequest({&*key, 1}, flipped, signed_at).error, Rcode::kBadSig);

  const std::vector<uint8_t> sha1 = Hex(
      "01a801200001000000000001076578616d706c6503636f6d000006000108736861"
      "312d6b65790000fa00ff00000000002f09686d61632d736861310000006b04ffa3"
      "012c0014a81f20b12b3e53c274cdc0c412a1a2ac3873e58f01a800000000");
  absl::StatusOr<TsigKey> key1 =
      MakeTsigKey("sha1-key", "hmac-sha1", "YWJjZGVmZ2hpamtsbW5vcHFyc3Q=");
  ASSERT_TRUE(key1.ok());
  TsigRequestCheck c1 =
      CheckRequest({&*key1, 1}, sha1, absl::FromUnixSeconds(0x6b04ffa3));
  EXPECT_TRUE(c1.ok()) << c1.detail;
}

// --- Streams -----------------------------------------------------------------

struct Stream {
  std::vector<std::vector<uint8_t>> messages;
  std::vector<uint8_t> query_mac;
};

// Signs query and `n` answers; message i is signed when sign(i).
template <typename F>
Stream MakeStream(const TsigKey& key, int n, F sign) {
  Stream s;
  std::vector<uint8_t> q = Query(42);
  s.query_mac = *SignTsigQuery(key, q, kNow);
  absl::StatusOr<TsigStreamSigner> signer =
      TsigStreamSigner::Create(key, B(s.query_mac));
  for (int i = 0; i < n; ++i) {
    std::vector<uint8_t> a = Answer(42, i);
    if (sign(i)) {
      EXPECT_TRUE(signer->SignMessage(a, kNow + absl::Seconds(i)).ok());
    } else {
      Bytes whole = B(a);
      EXPECT_TRUE(signer->AddUnsigned({&whole, 1}).ok()) << i;
    }
    s.messages.push_back(std::move(a));
  }
  return s;
}

// Feeds every message; returns the first failure, or Finish().
absl::Status VerifyStream(const TsigKey& key, const Stream& s,
                          TsigStreamVerifier* out = nullptr) {
  absl::StatusOr<TsigStreamVerifier> v =
      TsigStreamVerifier::Create(key, B(s.query_mac));
  if (!v.ok()) return v.status();
  for (const auto& m : s.messages) {
    if (absl::Status st = v->Feed(B(m), Parse(m), kNow); !st.ok()) return st;
  }
  absl::Status st = v->Finish();
  if (out) *out = *std::move(v);
  return st;
}

TEST(TsigStreamTest, EveryMessageSigned) {
  const TsigKey key = Key();
  Stream s = MakeStream(key, 5, [](int) { return true; });
  absl::StatusOr<TsigStreamVerifier> v =
      TsigStreamVerifier::Create(key, B(s.query_mac));
  for (const auto& m : s.messages) {
    Message pm = Parse(m);
    ASSERT_TRUE(pm.tsig.has_value());
    ASSERT_TRUE(v->Feed(B(m), pm, kNow).ok());
  }
  EXPECT_TRUE(v->Finish().ok());
  EXPECT_EQ(v->messages(), 5);
  EXPECT_EQ(v->signed_messages(), 5);
}

TEST(TsigStreamTest, EveryThirdMessageSigned) {
  const TsigKey key = Key();
  // Signed: 0, 3, 6; the last one must be signed.
  Stream s = MakeStream(key, 7, [](int i) { return i % 3 == 0; });
  EXPECT_FALSE(Parse(s.messages[1]).tsig.has_value());
  absl::StatusOr<TsigStreamVerifier> v =
      TsigStreamVerifier::Create(key, B(s.query_mac));
  for (const auto& m : s.messages) ASSERT_TRUE(v->Feed(B(m), Parse(m), kNow).ok());
  EXPECT_TRUE(v->Finish().ok());
  EXPECT_EQ(v->messages(), 7);
  EXPECT_EQ(v->signed_messages(), 3);
}

TEST(TsigStreamTest, TamperedUnsignedMessageFailsAtNextSigned) {
  const TsigKey key = Key();
  Stream s = MakeStream(key, 4, [](int i) { return i % 3 == 0; });
  s.messages[1].back() ^= 1;  // last RDATA byte of an unsigned message
  EXPECT_EQ(VerifyStream(key, s).code(), absl::StatusCode::kPermissionDenied);
}

TEST(TsigStreamTest, ReorderedMessagesFail) {
  const TsigKey key = Key();
  Stream s = MakeStream(key, 3, [](int) { return true; });
  std::swap(s.messages[1], s.messages[2]);
  absl::Status st = VerifyStream(key, s);
  EXPECT_NE(std::string(st.message()).find("BADSIG"), std::string::npos) << st;
}

TEST(TsigStreamTest, NinetyNineUnsignedInARowAccepted) {
  const TsigKey key = Key();
  Stream s = MakeStream(key, 101, [](int i) { return i == 0 || i == 100; });
  EXPECT_TRUE(VerifyStream(key, s).ok());
}

TEST(TsigStreamTest, HundredUnsignedInARowRejected) {
  const TsigKey key = Key();
  // The signer refuses to produce it...
  std::vector<uint8_t> q = Query(1);
  std::vector<uint8_t> qmac = *SignTsigQuery(key, q, kNow);
  absl::StatusOr<TsigStreamSigner> signer = TsigStreamSigner::Create(key, B(qmac));
  std::vector<uint8_t> a0 = Answer(1, 0);
  ASSERT_TRUE(signer->SignMessage(a0, kNow).ok());
  std::vector<uint8_t> plain = Answer(1, 1);
  Bytes pb = B(plain);
  for (int i = 0; i < 99; ++i) ASSERT_TRUE(signer->AddUnsigned({&pb, 1}).ok());
  EXPECT_FALSE(signer->AddUnsigned({&pb, 1}).ok());

  // ...and the verifier rejects it on the 100th unsigned message.
  absl::StatusOr<TsigStreamVerifier> v = TsigStreamVerifier::Create(key, B(qmac));
  ASSERT_TRUE(v->Feed(B(a0), Parse(a0), kNow).ok());
  for (int i = 0; i < 99; ++i) ASSERT_TRUE(v->Feed(pb, nullptr, 0, kNow).ok());
  absl::Status st = v->Feed(pb, nullptr, 0, kNow);
  EXPECT_FALSE(st.ok());
  EXPECT_NE(std::string(st.message()).find("more than 99"), std::string::npos) << st;
}

TEST(TsigStreamTest, LastMessageUnsignedRejected) {
  const TsigKey key = Key();
  Stream s = MakeStream(key, 5, [](int i) { return i % 3 == 0; });
  absl::Status st = VerifyStream(key, s);
  EXPECT_FALSE(st.ok());
  EXPECT_NE(std::string(st.message()).find("not signed"), std::string::npos) << st;
}

TEST(TsigStreamTest, FirstMessageUnsignedRejected) {
  const TsigKey key = Key();
  std::vector<uint8_t> q = Query(1);
  std::vector<uint8_t> qmac = *SignTsigQuery(key, q, kNow);
  absl::StatusOr<TsigStreamVerifier> v = TsigStreamVerifier::Create(key, B(qmac));
  std::vector<uint8_t> a = Answer(1, 0);
  EXPECT_FALSE(v->Feed(B(a), nullptr, 0, kNow).ok());
  EXPECT_FALSE(v->Finish().ok());
}

TEST(TsigStreamTest, SignedMessageOutsideFudgeIsBadTime) {
  const TsigKey key = Key();
  Stream s = MakeStream(key, 2, [](int) { return true; });
  absl::StatusOr<TsigStreamVerifier> v =
      TsigStreamVerifier::Create(key, B(s.query_mac));
  ASSERT_TRUE(v->Feed(B(s.messages[0]), Parse(s.messages[0]), kNow).ok());
  // Message 1 was signed at kNow + 1; 302 s later is outside the fudge.
  absl::Status st = v->Feed(B(s.messages[1]), Parse(s.messages[1]),
                            kNow + absl::Seconds(302));
  EXPECT_FALSE(st.ok());
  EXPECT_EQ(v->error(), Rcode::kBadTime);
}

TEST(TsigStreamTest, WrongRequestMacFails) {
  const TsigKey key = Key();
  Stream s = MakeStream(key, 1, [](int) { return true; });
  s.query_mac[0] ^= 1;
  EXPECT_FALSE(VerifyStream(key, s).ok());
}

// The server signs [header copy][question][shared body] without joining
// them; the TSIG RR must equal the one for the same message in one piece,
// and the receiver must accept the result.
TEST(TsigStreamTest, SigningFromPartsEqualsWholeMessage) {
  const TsigKey key = Key();
  std::vector<uint8_t> qmac(32, 0x5a);
  std::vector<uint8_t> whole = Answer(0x7777, 0, 5);
  Message pm = Parse(whole);
  ASSERT_GT(pm.question_end, kHeaderSize - 1);
  std::vector<uint8_t> header(whole.begin(), whole.begin() + kHeaderSize);
  Bytes parts[] = {B(header), Bytes(whole.data() + kHeaderSize, 10),
                   Bytes(whole.data() + kHeaderSize + 10,
                         whole.size() - kHeaderSize - 10)};
  for (int msg = 0; msg < 2; ++msg) {
    absl::StatusOr<TsigStreamSigner> by_parts = TsigStreamSigner::Create(key, B(qmac));
    absl::StatusOr<TsigStreamSigner> by_whole = TsigStreamSigner::Create(key, B(qmac));
    std::vector<uint8_t> rr_parts, rr_whole;
    for (int i = 0; i <= msg; ++i) {
      ASSERT_TRUE(by_parts->Sign(parts, kNow, rr_parts).ok());
      Bytes w = B(whole);
      ASSERT_TRUE(by_whole->Sign({&w, 1}, kNow, rr_whole).ok());
    }
    EXPECT_EQ(rr_parts, rr_whole) << "message " << msg;
  }
  absl::StatusOr<TsigStreamSigner> signer = TsigStreamSigner::Create(key, B(qmac));
  std::vector<uint8_t> rr;
  ASSERT_TRUE(signer->Sign(parts, kNow, rr).ok());
  IncrementArcount(MutableBytes(header.data(), header.size()));
  std::vector<uint8_t> sent = header;
  sent.insert(sent.end(), whole.begin() + kHeaderSize, whole.end());
  sent.insert(sent.end(), rr.begin(), rr.end());
  absl::StatusOr<TsigStreamVerifier> v = TsigStreamVerifier::Create(key, B(qmac));
  EXPECT_TRUE(v->Feed(B(sent), Parse(sent), kNow).ok());
  EXPECT_TRUE(v->Finish().ok());
}

TEST(TsigStreamTest, AnswerSignedWithAnotherKeyIsBadKey) {
  const TsigKey key = Key();
  const TsigKey other = Key(TsigAlgorithm::kHmacSha256, "someone-else.");
  Stream s = MakeStream(other, 1, [](int) { return true; });
  TsigStreamVerifier v = *TsigStreamVerifier::Create(key, B(s.query_mac));
  EXPECT_FALSE(v.Feed(B(s.messages[0]), Parse(s.messages[0]), kNow).ok());
  EXPECT_EQ(v.error(), Rcode::kBadKey);
}

}  // namespace
}  // namespace xfr
