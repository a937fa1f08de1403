// Helpers shared by the XfrIngest tests (xfr_ingest_test.cc: AXFR, broken
// streams, EDNS EXPIRE; xfr_ingest_ixfr_test.cc: IXFR and TSIG): records,
// zones, answer streams as a primary encodes them, and one call that feeds
// a stream through XfrIngest and collects the outcome.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/ascii.h"
#include "core/diff.h"
#include "core/message.h"
#include "core/transfer.h"
#include "core/xfr_ingest.h"
#include "gtest/gtest.h"

namespace xfr::ingest_test {

using ::testing::HasSubstr;

inline const absl::Time kNow = absl::FromUnixSeconds(1700000000);
constexpr uint16_t kId = 0x5a5a;
// Small messages, so every stream spans several of them.
constexpr size_t kMessageSize = 400;

using Wire = std::vector<uint8_t>;
using Stream = std::vector<Wire>;

inline Name N(std::string_view t) { return *Name::FromText(t); }
inline Bytes B(const Wire& v) { return Bytes(v.data(), v.size()); }

inline Record Rr(std::string_view owner, RRType type, uint32_t ttl, Wire rdata,
          RRClass rclass = RRClass::kIN) {
  Record r;
  r.owner = N(owner);
  r.type = type;
  r.rclass = rclass;
  r.ttl = ttl;
  r.rdata = std::move(rdata);
  return r;
}

inline Record Soa(uint32_t serial, std::string_view mname = "ns.example.com.") {
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
inline Record A(std::string_view owner, uint8_t last, uint32_t ttl = 300) {
  return Rr(owner, RRType::kA, ttl, {192, 0, 2, last});
}
inline Record Txt(std::string_view owner, std::string_view text) {
  Wire d{static_cast<uint8_t>(text.size())};
  d.insert(d.end(), text.begin(), text.end());
  return Rr(owner, RRType::kTXT, 300, d);
}
inline Record Ns(std::string_view owner, std::string_view target) {
  Name t = N(target);
  return Rr(owner, RRType::kNS, 3600, Wire(t.wire().begin(), t.wire().end()));
}

// A zone of `n` hosts with a few records each, apex NS and TXT included.
inline std::vector<Record> ZoneRecords(uint32_t serial, int n) {
  std::vector<Record> z = {Soa(serial), Ns("example.com.", "ns.example.com."),
                           Txt("example.com.", "v=spf1 -all")};
  for (int i = 0; i < n; ++i) {
    std::string owner = fmt::format("host{}.example.com.", i);
    z.push_back(A(owner, static_cast<uint8_t>(i)));
    if (i % 3 == 0) z.push_back(Txt(owner, fmt::format("text {}", i)));
  }
  return z;
}

inline std::shared_ptr<const ZoneVersion> Build(std::vector<Record> rs) {
  auto z = ZoneVersion::Build(N("example.com."), std::move(rs));
  EXPECT_TRUE(z.ok()) << z.status();
  return z.ok() ? *z : nullptr;
}

inline Question Q(RRType t) { return Question{N("example.com."), t, RRClass::kIN}; }

// The answer messages carrying `records` in order, as a primary sends them.
inline Stream Encode(const Question& q, const std::vector<Record>& records,
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
inline std::vector<Record> AxfrAnswer(const std::vector<Record>& zone) {
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
inline std::vector<Record> IxfrAnswer(const std::vector<ZoneDiff>& chain) {
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

inline Outcome Ingest(const Question& q, const Stream& s,
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

inline std::string Msg(const absl::Status& s) { return std::string(ToStd(s.message())); }

inline Wire ErrorAnswer(const Question& q, Rcode rcode, uint16_t id = kId) {
  MessageBuilder b;
  Header h;
  h.id = id;
  h.qr = true;
  b.SetHeader(h);
  EXPECT_TRUE(b.AddQuestion(q));
  b.SetRcode(rcode);
  return b.Finish();
}

}  // namespace xfr::ingest_test
