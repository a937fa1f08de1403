#include "fanout/notify_fanout.h"

#include <algorithm>
#include <utility>

#include "core/tsig.h"
#include "fanout/answer_verdict.h"
#include "fmt/format.h"

namespace xfr {
namespace {

constexpr size_t kTsigRoom = 160;

std::vector<PeerState> InitialStates(const std::vector<NotifyPeer>& peers) {
  std::vector<PeerState> states(peers.size());
  for (size_t i = 0; i < peers.size(); ++i) {
    states[i].address = peers[i].address;
    states[i].notify = peers[i].notify;
    states[i].keyed = peers[i].key.has_value();
  }
  return states;
}

void StoreId(std::vector<uint8_t>& m, uint16_t id) {
  m[0] = static_cast<uint8_t>(id >> 8);
  m[1] = static_cast<uint8_t>(id);
}

}  // namespace

absl::Duration NotifyRetryWindow(const NotifyOptions& options) {
  absl::Duration total;
  absl::Duration t = options.initial_timeout;
  for (int i = 0; i < std::max(1, options.max_sends); ++i) {
    total += std::min(t, options.max_timeout);
    if (t < options.max_timeout) t *= 2;
  }
  return total;
}

NotifyFanout::NotifyFanout(Name zone, std::vector<NotifyPeer> peers,
                           NotifyOptions options, RandomSource random,
                           absl::Time now)
    : zone_(std::move(zone)),
      options_(options),
      random_(std::move(random)),
      table_(std::make_shared<PeerTable>(InitialStates(peers), now)),
      pending_(peers.size()) {
  options_.max_sends = std::max(1, options_.max_sends);
  keys_.reserve(peers.size());
  for (NotifyPeer& p : peers) keys_.push_back(std::move(p.key));
}

uint16_t NotifyFanout::NewId(uint16_t previous) {
  // A fresh ID per serial, so a late answer to the superseded NOTIFY is not
  // taken for an answer to the new one.
  uint16_t id = random_();
  for (int i = 0; i < 8 && id == previous; ++i) id = random_();
  if (id == previous) id = static_cast<uint16_t>(previous + 1);
  return id;
}

void NotifyFanout::Start(Serial serial, const Record& soa, absl::Time now) {
  ++counters_.starts;
  serial_ = serial;
  // RFC 1996 §3.7: QR=0, OPCODE=NOTIFY, AA=1, QDCOUNT=1 with <zone, SOA,
  // class>; the answer carries the new SOA as a hint (§3.7, and what BIND
  // and Knot send).
  // RFC 1035 §4.2.1 keeps a UDP message within 512 bytes. The SOA is only
  // a hint, so it goes in when it leaves room for a TSIG RR (SHA-512 MAC and
  // a key name of up to 64 octets: about 160 bytes); a builder refuses a
  // record that does not fit, and the question alone is a valid NOTIFY.
  MessageBuilder b(kMaxPlainUdpSize - kTsigRoom);
  Header& h = b.header();
  h.opcode = Opcode::kNotify;
  h.aa = true;
  if (b.AddQuestion(Question{zone_, RRType::kSOA, soa.rclass})) {
    (void)b.AddRecord(Section::kAnswer, soa);
  }
  message_ = b.Finish();
  // Every older timer belongs to a superseded NOTIFY.
  timers_ = {};
  pending_count_ = 0;
  for (uint32_t i = 0; i < pending_.size(); ++i) {
    Pending& p = pending_[i];
    if (p.active) ++counters_.superseded;
    p.active = false;
    Arm(i, now);
  }
}

bool NotifyFanout::Restart(uint32_t peer, Serial serial, const Record& soa, absl::Time now) {
  if (peer >= pending_.size() || !table_->at(peer).notify) return false;
  if (!serial_ || *serial_ != serial || message_.empty()) {
    Start(serial, soa, now);
    return pending_[peer].active;
  }
  ++counters_.starts;
  Pending& p = pending_[peer];
  if (p.active) {
    ++counters_.superseded;
    --pending_count_;
    p.active = false;
  }
  return Arm(peer, now);
}

bool NotifyFanout::Arm(uint32_t i, absl::Time now) {
  Pending& p = pending_[i];
  PeerState& st = table_->at(i);
  if (!st.notify) return false;
  Serial serial = *serial_;
  ++p.generation;
  p.id = NewId(p.id);
  p.signed_bytes.clear();
  p.request_mac.clear();
  st.last_notified = serial;
  st.notified_at = now;
  st.sends = 0;
  st.answered = false;
  st.answered_at = absl::InfinitePast();
  st.answer_rcode.reset();
  st.gave_up = false;
  st.verify_failed = false;
  if (keys_[i]) {
    p.signed_bytes = message_;
    StoreId(p.signed_bytes, p.id);
    auto mac = SignTsigQuery(*keys_[i], p.signed_bytes, now, options_.tsig_fudge);
    if (!mac.ok()) {
      ++counters_.sign_failures;
      p.signed_bytes.clear();
      return false;
    }
    p.request_mac = std::move(*mac);
  }
  p.active = true;
  p.deadline = now;
  ++pending_count_;
  timers_.push(Timer{now, i, p.generation});
  return true;
}

std::vector<uint8_t> NotifyFanout::Datagram(uint32_t peer) {
  const Pending& p = pending_[peer];
  if (keys_[peer]) return p.signed_bytes;
  std::vector<uint8_t> m = message_;
  StoreId(m, p.id);
  return m;
}

absl::Duration NotifyFanout::TimeoutAfter(int sends) const {
  absl::Duration t = options_.initial_timeout;
  for (int i = 1; i < sends && t < options_.max_timeout; ++i) t *= 2;
  return std::min(t, options_.max_timeout);
}

void NotifyFanout::DropStaleTimers() {
  while (!timers_.empty()) {
    const Timer& t = timers_.top();
    const Pending& p = pending_[t.peer];
    if (p.active && p.generation == t.generation) return;
    timers_.pop();
  }
}

absl::Time NotifyFanout::NextDeadline() {
  DropStaleTimers();
  return timers_.empty() ? absl::InfiniteFuture() : timers_.top().deadline;
}

void NotifyFanout::Finish(uint32_t peer) {
  Pending& p = pending_[peer];
  p.active = false;
  ++p.generation;
  p.signed_bytes.clear();
  p.signed_bytes.shrink_to_fit();
  --pending_count_;
}

std::vector<OutgoingNotify> NotifyFanout::Due(absl::Time now) {
  std::vector<OutgoingNotify> out;
  while (true) {
    DropStaleTimers();
    if (timers_.empty() || timers_.top().deadline > now) break;
    uint32_t i = timers_.top().peer;
    timers_.pop();
    Pending& p = pending_[i];
    PeerState& st = table_->at(i);
    if (st.sends >= options_.max_sends) {
      st.gave_up = true;
      // An unverifiable refusal seen on the way says more than the give-up.
      st.last_error = st.last_error.empty()
                          ? fmt::format("NOTIFY unanswered after {} tries", st.sends)
                          : fmt::format("{}; no valid answer after {} tries",
                                        st.last_error, st.sends);
      ++st.give_ups;
      ++counters_.give_ups;
      Finish(i);
      continue;
    }
    if (st.sends > 0) {
      ++st.retries;
      ++counters_.retries;
    }
    ++st.sends;
    ++st.datagrams;
    ++counters_.datagrams;
    ++p.generation;
    p.deadline = now + TimeoutAfter(st.sends);
    timers_.push(Timer{p.deadline, i, p.generation});
    out.push_back(OutgoingNotify{i, st.address, Datagram(i)});
  }
  return out;
}

NotifyReply NotifyFanout::OnReply(const PeerAddress& from, Bytes reply,
                                  absl::Time now) {
  auto parsed = ParseMessage(reply);
  if (!parsed.ok()) {
    // Still counted against the peer only when it is one of ours.
    ++counters_.ignored;
    return table_->FindExact(from) ? NotifyReply::kMalformed
                                   : NotifyReply::kUnknownPeer;
  }
  return OnReply(from, reply, *parsed, now);
}

NotifyReply NotifyFanout::OnReply(const PeerAddress& from, Bytes reply,
                                  const Message& m, absl::Time now) {
  last_reply_text_.clear();
  const auto* candidates = table_->FindExact(from);
  if (candidates == nullptr) {
    ++counters_.ignored;
    return NotifyReply::kUnknownPeer;
  }
  // Several configured secondaries may share an address and port (a config
  // listing one server under two keys); the ID tells them apart.
  uint32_t peer = 0;
  bool found = false;
  for (uint32_t i : *candidates) {
    if (pending_[i].active && pending_[i].id == m.header.id) {
      peer = i;
      found = true;
      break;
    }
  }
  if (!found) {
    ++counters_.ignored;
    return NotifyReply::kNoMatch;
  }
  // RFC 1996 §4.7: the answer has QR=1 and echoes the question; a message
  // that does not is not the answer to this NOTIFY (RFC 5452 §9.1 spirit).
  const Question* q = m.question();
  if (!m.header.qr || m.header.opcode != Opcode::kNotify ||
      m.questions.size() != 1 || !(q->qname == zone_) ||
      q->qtype != RRType::kSOA) {
    ++counters_.ignored;
    return NotifyReply::kMalformed;
  }
  PeerState& st = table_->at(peer);
  absl::Status verified;
  if (keys_[peer]) {
    // RFC 8945 §5.3: the answer to a signed request is signed with the same
    // key and covers the request MAC. An unsigned answer (including the
    // unsigned BADKEY/BADSIG ones, §5.3.2) cannot be told from a forgery.
    auto v = TsigStreamVerifier::Create(
        *keys_[peer], Bytes(pending_[peer].request_mac.data(),
                            pending_[peer].request_mac.size()));
    verified = v.ok() ? v->Feed(reply, m, now) : v.status();
    if (verified.ok()) verified = v->Finish();
  }
  Rcode rcode = m.rcode();
  AnswerVerdict verdict =
      DescribeAnswer("NOTIFY", rcode, m.tsig ? &*m.tsig : nullptr,
                     keys_[peer].has_value(), verified);
  last_reply_text_ = verdict.text;
  if (!verdict.accepted) {
    st.last_error = verdict.text;
    ++st.tsig_failures;
    ++counters_.tsig_failures;
    ++counters_.ignored;
    return NotifyReply::kBadTsig;
  }
  st.answered = true;
  st.answered_at = now;
  st.answer_rcode = rcode;
  st.last_error = verdict.text;
  if (rcode == Rcode::kNoError) {
    ++st.answers_ok;
    ++counters_.answers_ok;
  } else if (rcode == Rcode::kNotAuth || rcode == Rcode::kRefused) {
    ++st.answers_refused;
    ++counters_.answers_refused;
  } else {
    ++st.answers_other;
    ++counters_.answers_other;
  }
  Finish(peer);
  return NotifyReply::kAccepted;
}

}  // namespace xfr
