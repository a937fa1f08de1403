#include "fanout/peer_state.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cstring>

#include "fmt/format.h"

namespace xfr {
namespace {

constexpr std::array<uint8_t, 12> kV4MappedPrefix = {0, 0, 0, 0, 0,    0,
                                                     0, 0, 0, 0, 0xff, 0xff};

// Seconds as a JSON number with millisecond precision, or null.
std::string JsonAge(absl::Time now, absl::Time then) {
  if (then == absl::InfinitePast()) return "null";
  return fmt::format("{:.3f}", absl::ToDoubleSeconds(now - then));
}

std::string JsonSerial(const std::optional<Serial>& s) {
  return s ? std::to_string(s->value()) : "null";
}

}  // namespace

PeerAddress PeerAddress::V4(std::array<uint8_t, 4> b, uint16_t port) {
  PeerAddress a;
  std::copy(kV4MappedPrefix.begin(), kV4MappedPrefix.end(), a.ip.begin());
  std::copy(b.begin(), b.end(), a.ip.begin() + 12);
  a.port = port;
  return a;
}

bool PeerAddress::IsV4() const {
  return std::equal(kV4MappedPrefix.begin(), kV4MappedPrefix.end(), ip.begin());
}

std::string PeerAddress::ToString() const {
  char text[INET6_ADDRSTRLEN] = {};
  if (IsV4()) {
    inet_ntop(AF_INET, ip.data() + 12, text, sizeof text);
    return fmt::format("{}:{}", text, port);
  }
  inet_ntop(AF_INET6, ip.data(), text, sizeof text);
  return fmt::format("[{}]:{}", text, port);
}

PeerTable::PeerTable(std::vector<PeerState> peers, absl::Time epoch)
    : epoch_(epoch),
      states_(std::move(peers)),
      slots_(new std::atomic<uint64_t>[states_.size()]),
      seen_(states_.size(), 0) {
  for (size_t i = 0; i < states_.size(); ++i) {
    slots_[i].store(0, std::memory_order_relaxed);
    by_ip_[states_[i].address.ip].push_back(static_cast<uint32_t>(i));
    by_address_[states_[i].address].push_back(static_cast<uint32_t>(i));
  }
}

void PeerTable::ReportHeldSerial(const std::array<uint8_t, 16>& ip,
                                 Serial serial, absl::Time now) const {
  auto it = by_ip_.find(ip);
  if (it == by_ip_.end()) return;
  int64_t secs = absl::ToInt64Seconds(now - epoch_);
  uint32_t clamped = static_cast<uint32_t>(
      std::clamp<int64_t>(secs, 0, int64_t{0xfffffffe}));
  // Relaxed: the slot is self-contained (serial and time in one word) and
  // nothing else is published through it.
  for (uint32_t i : it->second) {
    slots_[i].store(Pack(serial, clamped), std::memory_order_relaxed);
  }
}

const absl::InlinedVector<uint32_t, 1>* PeerTable::FindExact(
    const PeerAddress& a) const {
  auto it = by_address_.find(a);
  return it == by_address_.end() ? nullptr : &it->second;
}

void PeerTable::Collect(std::optional<Serial> current, absl::Time now) {
  for (size_t i = 0; i < states_.size(); ++i) {
    PeerState& p = states_[i];
    uint64_t v = slots_[i].load(std::memory_order_relaxed);
    if (v != 0 && v != seen_[i]) {
      seen_[i] = v;
      p.held = Serial(static_cast<uint32_t>(v >> 32));
      p.held_at = std::min(
          now, epoch_ + absl::Seconds(static_cast<int64_t>(v & 0xffffffffu) - 1));
    }
    if (current && p.held && *p.held == *current) {
      if (!p.converged_at) p.converged_at = p.held_at;
    } else {
      p.converged_at.reset();
    }
  }
}

std::string PeerTable::ToJson(absl::Time now) const {
  std::string out = "[";
  for (size_t i = 0; i < states_.size(); ++i) {
    const PeerState& p = states_[i];
    if (i > 0) out += ",";
    out += fmt::format(
        "{{\"address\":\"{}\",\"notify\":{},\"keyed\":{},"
        "\"last_notified\":{},\"notified_age\":{},\"sends\":{},"
        "\"answered\":{},\"answer_rcode\":{},\"gave_up\":{},"
        "\"held_serial\":{},\"held_age\":{},\"converged\":{},"
        "\"converged_age\":{},\"datagrams\":{},\"retries\":{},"
        "\"answers_ok\":{},\"answers_refused\":{},\"answers_other\":{},"
        "\"give_ups\":{},\"tsig_failures\":{}}}",
        p.address.ToString(), p.notify, p.keyed, JsonSerial(p.last_notified),
        JsonAge(now, p.notified_at), p.sends, p.answered,
        p.answer_rcode ? fmt::format("\"{}\"", p.answer_rcode->ToString())
                       : std::string("null"),
        p.gave_up, JsonSerial(p.held), JsonAge(now, p.held_at),
        p.converged_at.has_value(),
        p.converged_at ? JsonAge(now, *p.converged_at) : std::string("null"),
        p.datagrams, p.retries, p.answers_ok, p.answers_refused,
        p.answers_other, p.give_ups, p.tsig_failures);
  }
  out += "]";
  return out;
}

}  // namespace xfr
