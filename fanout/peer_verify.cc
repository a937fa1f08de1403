#include "fanout/peer_verify.h"

#include <algorithm>
#include <utility>

#include "core/tsig.h"
#include "core/zone.h"
#include "fanout/answer_verdict.h"
#include "fmt/format.h"

namespace xfr {

PeerVerifier::PeerVerifier(Name zone, std::vector<std::optional<TsigKey>> keys,
                           std::shared_ptr<PeerTable> table,
                           VerifyOptions options, RandomSource random)
    : zone_(std::move(zone)),
      keys_(std::move(keys)),
      table_(std::move(table)),
      options_(options),
      random_(std::move(random)),
      checks_(table_->size()) {
  keys_.resize(table_->size());
  options_.max_sends = std::max(1, options_.max_sends);
}

void PeerVerifier::Start(Serial serial, absl::Time now) {
  serial_ = serial;
  next_ = absl::InfiniteFuture();
  for (uint32_t i = 0; i < checks_.size(); ++i) {
    Check& c = checks_[i];
    c = Check{};
    if (!table_->at(i).notify) continue;
    // The earliest a peer can be judged: the grace after an immediate
    // answer. Due() moves it on for peers still being notified.
    c.phase = Check::Phase::kWaiting;
    c.deadline = now + options_.grace;
    next_ = std::min(next_, c.deadline);
  }
}

bool PeerVerifier::BuildQuery(uint32_t i, absl::Time now) {
  Check& c = checks_[i];
  // RFC 1034 §4.3.5: the query a secondary's own refresh makes; RD=0, no
  // EDNS, so the answer fits any path.
  MessageBuilder b(kMaxPlainUdpSize);
  uint16_t id = random_();
  b.header().id = id;
  if (!b.AddQuestion(Question{zone_, RRType::kSOA, RRClass::kIN})) return false;
  c.bytes = b.Finish();
  c.id = id;
  c.request_mac.clear();
  if (keys_[i]) {
    auto mac = SignTsigQuery(*keys_[i], c.bytes, now, options_.tsig_fudge);
    if (!mac.ok()) return false;
    c.request_mac = std::move(*mac);
  }
  return true;
}

std::vector<OutgoingQuery> PeerVerifier::Due(absl::Time now) {
  std::vector<OutgoingQuery> out;
  if (next_ > now || !serial_) return out;
  // The serving threads' reports (IXFR requests, finished transfers) first:
  // a peer that came for the data needs no query.
  table_->Collect(serial_, now);
  next_ = absl::InfiniteFuture();
  for (uint32_t i = 0; i < checks_.size(); ++i) {
    Check& c = checks_[i];
    if (c.phase == Check::Phase::kIdle) continue;
    if (c.deadline > now) {
      next_ = std::min(next_, c.deadline);
      continue;
    }
    PeerState& st = table_->at(i);
    if (c.phase == Check::Phase::kWaiting) {
      // A peer sharing its address with another may have been credited
      // with the other's transfer: only its own answer tells.
      if (!st.shared_address && st.held && (*st.held == *serial_ || *st.held > *serial_)) {
        c.phase = Check::Phase::kIdle;
        continue;
      }
      if (st.answered && now < st.answered_at + options_.grace) {
        c.deadline = st.answered_at + options_.grace;
        next_ = std::min(next_, c.deadline);
        continue;
      }
      if (!st.answered && !st.gave_up) {
        // Still being notified: look again shortly.
        c.deadline = now + options_.initial_timeout;
        next_ = std::min(next_, c.deadline);
        continue;
      }
      if (!BuildQuery(i, now)) {
        st.last_error = "cannot sign the SOA query to verify the serial";
        c.phase = Check::Phase::kIdle;
        continue;
      }
      c.phase = Check::Phase::kQuerying;
      c.sends = 0;
    } else if (c.sends >= options_.max_sends) {
      st.verify_failed = true;
      st.last_error = fmt::format("SOA query to verify the serial unanswered after {} tries",
                                  c.sends);
      c = Check{};
      continue;
    }
    ++c.sends;
    ++st.verify_queries;
    absl::Duration t = options_.initial_timeout;
    for (int k = 1; k < c.sends; ++k) t *= 2;
    c.deadline = now + t;
    next_ = std::min(next_, c.deadline);
    out.push_back(OutgoingQuery{i, st.address, c.bytes});
  }
  return out;
}

VerifyReply PeerVerifier::OnReply(const PeerAddress& from, Bytes reply,
                                  const Message& m, absl::Time now) {
  last_reply_text_.clear();
  const auto* candidates = table_->FindExact(from);
  if (candidates == nullptr) return VerifyReply::kNoMatch;
  uint32_t peer = 0;
  bool found = false;
  for (uint32_t i : *candidates) {
    if (checks_[i].phase == Check::Phase::kQuerying && checks_[i].id == m.header.id) {
      peer = i;
      found = true;
      break;
    }
  }
  if (!found) return VerifyReply::kNoMatch;
  // RFC 5452 §9.1: the answer echoes our question exactly.
  const Question* q = m.question();
  if (!m.header.qr || m.header.opcode != Opcode::kQuery || m.questions.size() != 1 ||
      !(q->qname == zone_) || q->qtype != RRType::kSOA || q->qclass != RRClass::kIN) {
    return VerifyReply::kMalformed;
  }
  Check& c = checks_[peer];
  PeerState& st = table_->at(peer);
  absl::Status verified;
  if (keys_[peer]) {
    auto v = TsigStreamVerifier::Create(
        *keys_[peer], Bytes(c.request_mac.data(), c.request_mac.size()));
    verified = v.ok() ? v->Feed(reply, m, now) : v.status();
    if (verified.ok()) verified = v->Finish();
  }
  AnswerVerdict verdict = DescribeAnswer("SOA query", m.rcode(), m.tsig ? &*m.tsig : nullptr,
                                         keys_[peer].has_value(), verified);
  last_reply_text_ = verdict.text;
  if (!verdict.accepted) {
    st.last_error = verdict.text;
    return VerifyReply::kBadTsig;
  }
  std::optional<SoaFields> soa;
  for (const Record& r : m.answer) {
    if (r.type == RRType::kSOA && r.owner == zone_) {
      soa = ParseSoaRdata(Bytes(r.rdata.data(), r.rdata.size()));
      break;
    }
  }
  c = Check{};
  if (!verdict.ok || !soa) {
    st.last_error = verdict.ok ? "SOA query answered without the zone's SOA" : verdict.text;
    last_reply_text_ = st.last_error;
    return VerifyReply::kRefused;
  }
  // Owner thread: straight into the state. A later report from a serving
  // thread (a newer slot value) still wins in Collect().
  st.held = soa->serial;
  st.held_at = now;
  st.verify_failed = false;
  st.last_error.clear();
  return VerifyReply::kAccepted;
}

}  // namespace xfr
