#include "core/tsig.h"

#include <openssl/crypto.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <utility>

#include "core/ascii.h"
#include "fmt/format.h"

namespace xfr {
namespace {

// Encodes `t` and appends it as the message's last record (ARCOUNT + 1).
absl::Status AppendTsig(std::vector<uint8_t>& message, const TsigRecord& t) {
  std::vector<uint8_t> rr;
  WireWriter w(rr);
  WriteTsigRecord(w, t);
  if (!w.ok()) return absl::InternalError("TSIG RR does not fit");
  AppendTsigRecord(message, Bytes(rr.data(), rr.size()));
  return absl::OkStatus();
}

// Time Signed is a 48-bit count of seconds since the epoch (§4.2).
constexpr uint64_t kMaxTime48 = (uint64_t{1} << 48) - 1;

uint64_t Time48(absl::Time now) {
  int64_t s = absl::ToUnixSeconds(now);
  if (s < 0) return 0;
  return std::min<uint64_t>(static_cast<uint64_t>(s), kMaxTime48);
}

void PutU48(uint8_t* p, uint64_t v) {
  StoreU16(p, static_cast<uint16_t>(v >> 32));
  StoreU32(p + 2, static_cast<uint32_t>(v));
}

uint64_t GetU48(const uint8_t* p) {
  return uint64_t{LoadU16(p)} << 32 | LoadU32(p + 2);
}

void AppendNameLower(std::vector<uint8_t>& out, NameView n) {
  for (uint8_t c : n.wire()) out.push_back(AsciiLower(c));
}

// "Prior MAC" / "Request MAC": MAC size then MAC (§4.3.3, §5.3.1).
void DigestPrior(TsigMac& mac, Bytes prior) {
  uint8_t len[2];
  StoreU16(len, static_cast<uint16_t>(prior.size()));
  mac.Update(Bytes(len, 2));
  mac.Update(prior);
}

void DigestVariables(TsigMac& mac, const TsigRecord& t, bool timers_only) {
  if (timers_only) {
    // The common case on a stream: 8 bytes, no allocation.
    uint8_t timers[8];
    PutU48(timers, t.time_signed);
    StoreU16(timers + 6, t.fudge);
    mac.Update(Bytes(timers, sizeof(timers)));
    return;
  }
  std::vector<uint8_t> vars;
  AppendTsigVariables(vars, t, false);
  mac.Update(Bytes(vars.data(), vars.size()));
}

bool HasHeader(absl::Span<const Bytes> parts) {
  return !parts.empty() && parts[0].size() >= kHeaderSize;
}

// The received message as it was before the TSIG RR was added (§4.3.1):
// the header copied with the original ID and ARCOUNT - 1, then everything
// up to the TSIG RR straight from the buffer.
struct UnsignedView {
  std::array<uint8_t, kHeaderSize> header;
  Bytes rest;
  std::array<Bytes, 2> Parts() const {
    return {Bytes(header.data(), header.size()), rest};
  }
};

bool MakeUnsignedView(Bytes message, const TsigRecord& t, size_t tsig_offset,
                      UnsignedView& v) {
  if (message.size() < kHeaderSize || tsig_offset < kHeaderSize ||
      tsig_offset > message.size()) {
    return false;
  }
  std::memcpy(v.header.data(), message.data(), kHeaderSize);
  uint16_t arcount = LoadU16(v.header.data() + 10);
  if (arcount == 0) return false;
  StoreU16(v.header.data(), t.original_id);
  StoreU16(v.header.data() + 10, static_cast<uint16_t>(arcount - 1));
  v.rest = message.subspan(kHeaderSize, tsig_offset - kHeaderSize);
  return true;
}

// Compares a received (possibly truncated, §5.2.2.1 item 4) MAC with the
// leading octets of the computed one, in constant time.
bool MacMatches(const std::vector<uint8_t>& computed,
                const std::vector<uint8_t>& received) {
  return !received.empty() && received.size() <= computed.size() &&
         CRYPTO_memcmp(computed.data(), received.data(), received.size()) == 0;
}

bool OutsideFudge(uint64_t now, const TsigRecord& t) {
  uint64_t d = now > t.time_signed ? now - t.time_signed : t.time_signed - now;
  return d > t.fudge;
}

Name AlgorithmName(TsigAlgorithm a) {
  // The static wire forms are valid names by construction.
  return *Name::FromWire(TsigAlgorithmWireName(a).wire());
}

}  // namespace

std::string TsigErrorName(Rcode e) {
  switch (e.value()) {
    case 0: return "NOERROR";
    case 1: return "FORMERR";
    case 9: return "NOTAUTH";
    case 16: return "BADSIG";
    case 17: return "BADKEY";
    case 18: return "BADTIME";
    case 22: return "BADTRUNC";
    default: return fmt::format("TSIG error {}", e.value());
  }
}

size_t TsigMinMacLength(TsigAlgorithm a) {
  return std::max<size_t>(10, (TsigMacLength(a) + 1) / 2);
}

void AppendTsigVariables(std::vector<uint8_t>& out, const TsigRecord& t,
                         bool timers_only) {
  uint8_t buf[10];
  if (!timers_only) {
    AppendNameLower(out, t.key_name.view());
    StoreU16(buf, RRClass::kANY.value());
    StoreU32(buf + 2, 0);  // TTL
    out.insert(out.end(), buf, buf + 6);
    AppendNameLower(out, t.algorithm.view());
  }
  PutU48(buf, t.time_signed);
  StoreU16(buf + 6, t.fudge);
  out.insert(out.end(), buf, buf + 8);
  if (timers_only) return;
  StoreU16(buf, t.error.value());
  StoreU16(buf + 2, static_cast<uint16_t>(t.other.size()));
  out.insert(out.end(), buf, buf + 4);
  out.insert(out.end(), t.other.begin(), t.other.end());
}

absl::Status ComputeTsigMac(TsigMac& mac, std::optional<Bytes> prior_mac,
                            absl::Span<const Bytes> parts, const TsigRecord& t,
                            bool timers_only, std::vector<uint8_t>& out) {
  mac.Begin();
  if (prior_mac) DigestPrior(mac, *prior_mac);
  for (Bytes p : parts) mac.Update(p);
  DigestVariables(mac, t, timers_only);
  out.resize(mac.length());
  if (!mac.End(out.data())) return absl::InternalError("HMAC failed");
  return absl::OkStatus();
}

void IncrementArcount(MutableBytes header) {
  if (header.size() < kHeaderSize) return;
  StoreU16(header.data() + 10,
           static_cast<uint16_t>(LoadU16(header.data() + 10) + 1));
}

void AppendTsigRecord(std::vector<uint8_t>& message, Bytes tsig_rr) {
  IncrementArcount(MutableBytes(message.data(), message.size()));
  message.insert(message.end(), tsig_rr.begin(), tsig_rr.end());
}

// --- Client ------------------------------------------------------------------

absl::StatusOr<std::vector<uint8_t>> SignTsigQuery(const TsigKey& key,
                                                   std::vector<uint8_t>& query,
                                                   absl::Time now,
                                                   uint16_t fudge) {
  if (query.size() < kHeaderSize) {
    return absl::InvalidArgumentError("query shorter than a DNS header");
  }
  absl::StatusOr<TsigMac> mac = TsigMac::Create(key);
  if (!mac.ok()) return mac.status();
  TsigRecord t;
  t.key_name = key.name;
  t.algorithm = AlgorithmName(key.algorithm);
  t.time_signed = Time48(now);
  t.fudge = fudge;
  t.original_id = LoadU16(query.data());
  Bytes whole(query.data(), query.size());
  if (absl::Status s = ComputeTsigMac(*mac, std::nullopt, {&whole, 1}, t,
                                      false, t.mac);
      !s.ok()) {
    return s;
  }
  if (absl::Status st = AppendTsig(query, t); !st.ok()) return st;
  return std::move(t.mac);
}

absl::StatusOr<TsigStreamVerifier> TsigStreamVerifier::Create(
    const TsigKey& key, Bytes request_mac) {
  absl::StatusOr<TsigMac> mac = TsigMac::Create(key);
  if (!mac.ok()) return mac.status();
  return TsigStreamVerifier(key, *std::move(mac), request_mac);
}

TsigStreamVerifier::TsigStreamVerifier(const TsigKey& key, TsigMac mac,
                                       Bytes request_mac)
    : key_name_(key.name),
      mac_(std::move(mac)),
      prior_mac_(request_mac.begin(), request_mac.end()) {}

absl::Status TsigStreamVerifier::Fail(Rcode error, std::string text) {
  error_ = error;
  status_ = absl::PermissionDeniedError(
      fmt::format("TSIG {} on answer message {}: {}", TsigErrorName(error),
                  messages_ + 1, text));
  return status_;
}

void TsigStreamVerifier::StartRun() {
  if (run_open_) return;
  mac_.Begin();
  DigestPrior(mac_, Bytes(prior_mac_.data(), prior_mac_.size()));
  run_open_ = true;
}

absl::Status TsigStreamVerifier::Feed(Bytes message, const TsigRecord* tsig,
                                      size_t tsig_offset, absl::Time now) {
  if (!status_.ok()) return status_;
  if (tsig == nullptr) {
    // §5.3.1: the answer to a signed request starts signed; after that up
    // to 99 unsigned messages may come between signed ones, and each is
    // covered by the next signed message's MAC.
    if (messages_ == 0) {
      uint8_t rcode = message.size() >= 4 ? (message[3] & 0x0f) : 0;
      return Fail(Rcode::kBadSig,
                  fmt::format("the first answer is not signed (RCODE {})",
                              Rcode(rcode).ToString()));
    }
    if (unsigned_run_ >= kMaxUnsignedTsigMessages) {
      return Fail(Rcode::kBadSig,
                  fmt::format("more than {} unsigned messages in a row",
                              kMaxUnsignedTsigMessages));
    }
    StartRun();
    mac_.Update(message);
    ++unsigned_run_;
    ++messages_;
    return absl::OkStatus();
  }

  if (!(tsig->key_name == key_name_) ||
      TsigAlgorithmFromWire(tsig->algorithm.view()) != mac_.algorithm()) {
    return Fail(Rcode::kBadKey,
                fmt::format("signed with key {} {}, expected {} {}",
                            tsig->key_name.ToText(), tsig->algorithm.ToText(),
                            key_name_.ToText(),
                            TsigAlgorithmName(mac_.algorithm())));
  }
  if (tsig->error != Rcode::kNoError && tsig->mac.empty()) {
    // §5.3.2: BADKEY and BADSIG answers are unsigned; nothing to verify,
    // but the server's verdict is the reason the transfer failed.
    return Fail(tsig->error, "the server rejected our request signature");
  }
  if (tsig->mac.size() > mac_.length() ||
      tsig->mac.size() < TsigMinMacLength(mac_.algorithm())) {
    return Fail(Rcode::kFormErr,
                fmt::format("MAC of {} octets (allowed {}..{}, §5.2.2.1)",
                            tsig->mac.size(),
                            TsigMinMacLength(mac_.algorithm()),
                            mac_.length()));
  }
  UnsignedView v;
  if (!MakeUnsignedView(message, *tsig, tsig_offset, v)) {
    return Fail(Rcode::kFormErr, "malformed message around the TSIG RR");
  }
  StartRun();
  for (Bytes p : v.Parts()) mac_.Update(p);
  DigestVariables(mac_, *tsig, /*timers_only=*/signed_ > 0);
  std::vector<uint8_t> computed(mac_.length());
  run_open_ = false;
  if (!mac_.End(computed.data())) {
    return Fail(Rcode::kBadSig, "HMAC computation failed");
  }
  if (!MacMatches(computed, tsig->mac)) {
    return Fail(Rcode::kBadSig, "MAC does not match");
  }
  if (OutsideFudge(Time48(now), *tsig)) {
    return Fail(Rcode::kBadTime,
                fmt::format("signed at {}, now {}, fudge {}",
                            tsig->time_signed, Time48(now), tsig->fudge));
  }
  if (tsig->error != Rcode::kNoError) {
    std::string text = "the server rejected our request";
    if (tsig->error == Rcode::kBadTime && tsig->other.size() == 6) {
      text += fmt::format(" (server time {}, our time {})",
                          GetU48(tsig->other.data()), Time48(now));
    }
    return Fail(tsig->error, std::move(text));
  }
  // The next message's MAC chains on this one as received (§5.3.1).
  prior_mac_ = tsig->mac;
  unsigned_run_ = 0;
  ++signed_;
  ++messages_;
  return absl::OkStatus();
}

absl::Status TsigStreamVerifier::Finish() const {
  if (!status_.ok()) return status_;
  if (messages_ == 0) {
    return absl::PermissionDeniedError("TSIG: no answer message received");
  }
  if (unsigned_run_ > 0) {
    return absl::PermissionDeniedError(fmt::format(
        "TSIG: the last {} answer message(s) are not signed", unsigned_run_));
  }
  return absl::OkStatus();
}

// --- Server ------------------------------------------------------------------

TsigRequestCheck VerifyTsigRequest(absl::Span<const TsigKey> keys,
                                   Bytes message, const TsigRecord& tsig,
                                   size_t tsig_offset, absl::Time now,
                                   const TsigPolicy& policy) {
  TsigRequestCheck c;
  c.request = tsig;
  auto fail = [&c](Rcode e, std::string detail) {
    c.error = e;
    c.detail = std::move(detail);
    return std::move(c);
  };

  // §5.2.1: unknown key, or a known key with another algorithm.
  const TsigKey* key = FindTsigKey(keys, tsig.key_name.view());
  if (key == nullptr) {
    return fail(Rcode::kBadKey,
                fmt::format("unknown key {}", tsig.key_name.ToText()));
  }
  if (TsigAlgorithmFromWire(tsig.algorithm.view()) != key->algorithm) {
    return fail(Rcode::kBadKey,
                fmt::format("key {} is {}, request uses {}",
                            key->name.ToText(), TsigAlgorithmName(key->algorithm),
                            tsig.algorithm.ToText()));
  }
  c.key = key;

  // §5.2.2.1: a MAC longer than the hash, or shorter than half of it or 10
  // octets, is a malformed message (FORMERR); an empty one is simply wrong.
  size_t full = TsigMacLength(key->algorithm);
  if (tsig.mac.empty()) return fail(Rcode::kBadSig, "empty MAC");
  if (tsig.mac.size() > full || tsig.mac.size() < TsigMinMacLength(key->algorithm)) {
    return fail(Rcode::kFormErr,
                fmt::format("MAC of {} octets (allowed {}..{})", tsig.mac.size(),
                            TsigMinMacLength(key->algorithm), full));
  }
  UnsignedView v;
  if (!MakeUnsignedView(message, tsig, tsig_offset, v)) {
    return fail(Rcode::kFormErr, "malformed message around the TSIG RR");
  }
  absl::StatusOr<TsigMac> mac = TsigMac::Create(*key);
  if (!mac.ok()) return fail(Rcode::kServFail, std::string(ToStd(mac.status().message())));
  std::vector<uint8_t> computed;
  std::array<Bytes, 2> parts = v.Parts();
  if (!ComputeTsigMac(*mac, std::nullopt, parts, tsig, false, computed).ok()) {
    return fail(Rcode::kServFail, "HMAC computation failed");
  }
  // §5.2.2: BADSIG.
  if (!MacMatches(computed, tsig.mac)) return fail(Rcode::kBadSig, "MAC does not match");
  // §5.2.3: checked after the MAC so that a forger cannot learn our clock.
  if (OutsideFudge(Time48(now), tsig)) {
    return fail(Rcode::kBadTime,
                fmt::format("signed at {}, server time {}, fudge {}",
                            tsig.time_signed, Time48(now), tsig.fudge));
  }
  // §5.2.4: allowed by the RFC but shorter than we want.
  size_t want = std::min(policy.min_mac_length, full);
  if (tsig.mac.size() < want) {
    return fail(Rcode::kBadTrunc,
                fmt::format("MAC truncated to {} octets, policy wants {}",
                            tsig.mac.size(), want));
  }
  return c;
}

absl::Status AppendTsigErrorAnswer(const TsigRequestCheck& check,
                                   std::vector<uint8_t>& answer,
                                   absl::Time now) {
  if (answer.size() < kHeaderSize) {
    return absl::InvalidArgumentError("answer shorter than a DNS header");
  }
  const Rcode e = check.error;
  if (e != Rcode::kBadKey && e != Rcode::kBadSig && e != Rcode::kBadTime &&
      e != Rcode::kBadTrunc) {
    return absl::InvalidArgumentError(
        fmt::format("no TSIG error answer for {}", TsigErrorName(e)));
  }
  // §5.2: the header says NOTAUTH, the TSIG RR says why.
  answer[3] = static_cast<uint8_t>((answer[3] & 0xf0) | Rcode::kNotAuth.value());
  TsigRecord t;
  t.key_name = check.request.key_name;
  t.algorithm = check.request.algorithm;
  t.time_signed = Time48(now);
  t.fudge = kDefaultTsigFudge;
  t.original_id = LoadU16(answer.data());
  t.error = e;
  bool sign = (e == Rcode::kBadTime || e == Rcode::kBadTrunc);
  if (sign) {
    if (check.key == nullptr) {
      return absl::InvalidArgumentError("a signed TSIG error needs the key");
    }
    if (e == Rcode::kBadTime) {
      // §5.2.3: the request's time, so that the client's time check passes,
      // and ours in Other Data, so that it can see the skew.
      t.time_signed = check.request.time_signed;
      t.other.resize(6);
      PutU48(t.other.data(), Time48(now));
    }
    absl::StatusOr<TsigMac> mac = TsigMac::Create(*check.key);
    if (!mac.ok()) return mac.status();
    Bytes whole(answer.data(), answer.size());
    Bytes prior(check.request.mac.data(), check.request.mac.size());
    if (absl::Status s = ComputeTsigMac(*mac, prior, {&whole, 1}, t, false, t.mac);
        !s.ok()) {
      return s;
    }
  }
  return AppendTsig(answer, t);
}

absl::StatusOr<TsigStreamSigner> TsigStreamSigner::Create(const TsigKey& key,
                                                          Bytes request_mac,
                                                          uint16_t fudge) {
  absl::StatusOr<TsigMac> mac = TsigMac::Create(key);
  if (!mac.ok()) return mac.status();
  return TsigStreamSigner(key, *std::move(mac), request_mac, fudge);
}

TsigStreamSigner::TsigStreamSigner(const TsigKey& key, TsigMac mac,
                                   Bytes request_mac, uint16_t fudge)
    : key_name_(key.name),
      mac_(std::move(mac)),
      prior_mac_(request_mac.begin(), request_mac.end()),
      fudge_(fudge) {}

void TsigStreamSigner::StartRun() {
  if (run_open_) return;
  mac_.Begin();
  DigestPrior(mac_, Bytes(prior_mac_.data(), prior_mac_.size()));
  run_open_ = true;
}

absl::Status TsigStreamSigner::Sign(absl::Span<const Bytes> parts,
                                    absl::Time now,
                                    std::vector<uint8_t>& tsig_rr) {
  if (!HasHeader(parts)) {
    return absl::InvalidArgumentError("first part must hold the DNS header");
  }
  StartRun();
  for (Bytes p : parts) mac_.Update(p);
  TsigRecord t;
  t.key_name = key_name_;
  t.algorithm = AlgorithmName(mac_.algorithm());
  t.time_signed = Time48(now);
  t.fudge = fudge_;
  t.original_id = LoadU16(parts[0].data());
  // §5.3.1: only the first message digests all variables.
  DigestVariables(mac_, t, /*timers_only=*/messages_ > 0);
  t.mac.resize(mac_.length());
  run_open_ = false;
  if (!mac_.End(t.mac.data())) return absl::InternalError("HMAC failed");
  tsig_rr.clear();
  WireWriter w(tsig_rr);
  WriteTsigRecord(w, t);
  if (!w.ok()) return absl::InternalError("TSIG RR does not fit");
  prior_mac_ = std::move(t.mac);
  unsigned_run_ = 0;
  ++messages_;
  return absl::OkStatus();
}

absl::Status TsigStreamSigner::SignMessage(std::vector<uint8_t>& message,
                                           absl::Time now) {
  Bytes whole(message.data(), message.size());
  std::vector<uint8_t> rr;
  if (absl::Status s = Sign({&whole, 1}, now, rr); !s.ok()) return s;
  AppendTsigRecord(message, Bytes(rr.data(), rr.size()));
  return absl::OkStatus();
}

absl::Status TsigStreamSigner::AddUnsigned(absl::Span<const Bytes> parts) {
  if (messages_ == 0) {
    return absl::FailedPreconditionError("the first answer must be signed");
  }
  if (unsigned_run_ >= kMaxUnsignedTsigMessages) {
    return absl::FailedPreconditionError(
        "at most 99 unsigned messages between signed ones");
  }
  StartRun();
  for (Bytes p : parts) mac_.Update(p);
  ++unsigned_run_;
  ++messages_;
  return absl::OkStatus();
}

}  // namespace xfr
