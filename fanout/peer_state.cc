#include "fanout/peer_state.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cstring>

#include "fmt/format.h"

namespace xfr {
namespace {

constexpr std::array<uint8_t, 12> kV4MappedPrefix = {0, 0, 0, 0, 0,    0,
                                                     0, 0, 0, 0, 0xff, 0xff};

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
  for (const auto& [ip, at_ip] : by_ip_) {
    if (at_ip.size() < 2) continue;
    for (uint32_t i : at_ip) states_[i].shared_address = true;
  }
}

void PeerTable::Inherit(const PeerTable& old) {
  for (size_t i = 0; i < states_.size(); ++i) {
    const absl::InlinedVector<uint32_t, 1>* from = old.FindExact(states_[i].address);
    if (from == nullptr) continue;
    uint32_t j = from->front();
    PeerState& p = states_[i];
    PeerState keep = p;  // what the new configuration says
    p = old.states_[j];
    p.address = keep.address;
    p.notify = keep.notify;
    p.keyed = keep.keyed;
    p.shared_address = keep.shared_address;
    // A report the old table had not collected yet.
    uint64_t v = old.slots_[j].load(std::memory_order_relaxed);
    if (v != 0 && v != old.seen_[j]) {
      p.held = Serial(static_cast<uint32_t>(v >> 32));
      p.held_at = old.epoch_ + absl::Seconds(static_cast<int64_t>(v & 0xffffffffu) - 1);
    }
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
      if (!p.converged_at) {
        p.converged_at = p.held_at;
        // It has the data: an earlier give-up or failed check is history.
        p.last_error.clear();
      }
    } else {
      p.converged_at.reset();
    }
  }
}

std::string_view PeerSyncName(PeerSync s) {
  switch (s) {
    case PeerSync::kInSync: return "in-sync";
    case PeerSync::kNotified: return "notified";
    case PeerSync::kLagging: return "lagging";
    case PeerSync::kUnreachable: return "unreachable";
    case PeerSync::kUnknown: break;
  }
  return "unknown";
}

PeerStatus ClassifyPeer(const PeerState& p, std::optional<Serial> served,
                        absl::Time published_at, absl::Time now,
                        absl::Duration grace) {
  PeerStatus out;
  if (!served) return out;
  // RFC 1982: a peer ahead of us (its primary told it first) lacks nothing
  // we serve.
  if (p.held && (*p.held == *served || *p.held > *served)) {
    out.sync = PeerSync::kInSync;
    return out;
  }
  out.seconds_behind =
      std::max<int64_t>(0, absl::ToInt64Seconds(now - published_at));
  bool told = p.last_notified && *p.last_notified == *served;
  if (told && ((p.gave_up && !p.answered) || p.verify_failed)) {
    out.sync = PeerSync::kUnreachable;
  } else if (told && (!p.answered || now < p.answered_at + grace)) {
    // Still being notified, or answered and given time to come.
    out.sync = PeerSync::kNotified;
  } else if (told || p.held) {
    out.sync = PeerSync::kLagging;
  }
  return out;
}

}  // namespace xfr
