// The zones being served, as the serving threads see them: per zone the
// access policy and the current snapshot, published by the zone's owner
// with an atomic pointer swap. Serving threads take no lock.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "core/name.h"
#include "core/tsig_key.h"
#include "fanout/peer_state.h"
#include "fanout/refresh_machine.h"
#include "fanout/served_zone.h"
#include "proxy/config.h"
#include "proxy/net_address.h"

namespace xfr {

// Who may transfer a zone (README "Access"). `allow` is the address ACL
// and always applies: nothing, not even a valid key, admits an address it
// leaves out (a key is a shared secret that can leak; the ACL is what the
// operator wrote about where transfers may go). At an address where
// secondaries are configured with keys, `required_keys` adds a second
// requirement: the request must be signed with one of them (RFC 8945 §5.2
// has already verified the signature). Elsewhere in the ACL a request may
// be unsigned, or signed with any valid key: signing never makes a request
// less welcome. Requests come from ephemeral ports, so the address is all we
// can match: when several secondaries share an address, any of their keys
// will do, and if one of them has no key, unsigned requests from there are
// accepted.
struct TransferPolicy {
  CidrSet allow;
  absl::flat_hash_map<IpAddress, std::vector<Name>> required_keys;
  // Keys of secondaries at the unspecified address (:: or 0.0.0.0, "any
  // address"): every allowed address without keys of its own must sign
  // with one of them.
  std::vector<Name> required_keys_anywhere;
};

// Who may NOTIFY a zone that follows a primary (RFC 1996 §3.10): sources in
// notify-from only. As in BIND and Knot, an unsigned NOTIFY from there is
// accepted unless `key_required`: it only triggers an SOA check, and that
// check is signed with the zone's key. A signed NOTIFY (verified by RFC 8945
// §5.2 before this applies) must be signed with the zone's key: any other
// key, even one we know, is refused.
struct NotifyPolicy {
  bool follows_primary = false;
  CidrSet allow;
  std::optional<Name> key;    // primary-key
  bool key_required = false;  // notify-key: required
};

class LiveZone {
 public:
  LiveZone(Name name, TransferPolicy policy, NotifyPolicy notify = {})
      : name_(std::move(name)), policy_(std::move(policy)), notify_(std::move(notify)) {}

  const Name& name() const { return name_; }
  const TransferPolicy& policy() const { return policy_; }
  const NotifyPolicy& notify_policy() const { return notify_; }

  // Null until the first version is loaded.
  std::shared_ptr<const ServedZone> Current() const {
    return current_.load(std::memory_order_acquire);
  }
  void Publish(std::shared_ptr<const ServedZone> z) {
    current_.store(std::move(z), std::memory_order_release);
  }

  // The primary confirmed the data at `at` (an SOA check with the same
  // serial, or a transfer), and it stays valid `expire` seconds from then
  // (RFC 1035 §3.3.13 EXPIRE, or less per RFC 7314). Kept beside the
  // snapshot: a refresh changes no data, so nothing is re-encoded.
  void MarkRefreshed(absl::Time at, uint32_t expire) {
    expire_.store(expire, std::memory_order_relaxed);
    refreshed_ms_.store(absl::ToUnixMillis(at), std::memory_order_release);
  }
  // Seconds before the data expires, 0 when expired (RFC 7314 §3).
  uint32_t ExpireRemaining(const ServedZone& z, absl::Time now) const;
  // The zone's secondaries as the NOTIFY fan-out tracks them; serving
  // threads report the serial a peer holds (from its IXFR request) here.
  void SetPeers(std::shared_ptr<const PeerTable> peers) {
    peers_.store(std::move(peers), std::memory_order_release);
  }
  std::shared_ptr<const PeerTable> peers() const {
    return peers_.load(std::memory_order_acquire);
  }

  // When the primary last confirmed the data, and for how long it stays
  // valid from then; unset until the first contact (or a restore).
  std::optional<absl::Time> refreshed_at() const {
    int64_t ms = refreshed_ms_.load(std::memory_order_acquire);
    if (ms == kNever) return std::nullopt;
    return absl::FromUnixMillis(ms);
  }
  uint32_t expire_seconds() const { return expire_.load(std::memory_order_relaxed); }

  // The refresh machine's view of a zone that follows primaries, for
  // /healthz, metrics and status (read off the owner's thread, rarely: a
  // mutex, never on the serving path). Unset for file zones.
  void SetRefreshHealth(const RefreshHealth& h) {
    std::lock_guard<std::mutex> lock(health_mu_);
    health_ = h;
  }
  // The health at `now`: a refresh failing for longer than REFRESH turns
  // "ok" into "degraded" without waiting for the owner to say so.
  std::optional<RefreshHealth> refresh_health(absl::Time now) const {
    std::lock_guard<std::mutex> lock(health_mu_);
    if (!health_) return std::nullopt;
    RefreshHealth h = *health_;
    if (h.state == RefreshHealth::kOk && now >= h.degraded_at) h.state = RefreshHealth::kDegraded;
    return h;
  }

  void CopyRefreshFrom(const LiveZone& o) {
    expire_.store(o.expire_.load());
    refreshed_ms_.store(o.refreshed_ms_.load());
    std::lock_guard<std::mutex> lock(o.health_mu_);
    std::lock_guard<std::mutex> mine(health_mu_);
    health_ = o.health_;
  }

 private:
  Name name_;
  TransferPolicy policy_;
  NotifyPolicy notify_;
  std::atomic<std::shared_ptr<const ServedZone>> current_;
  std::atomic<std::shared_ptr<const PeerTable>> peers_;
  static constexpr int64_t kNever = INT64_MIN;
  std::atomic<int64_t> refreshed_ms_{kNever};
  std::atomic<uint32_t> expire_{0};
  mutable std::mutex health_mu_;
  std::optional<RefreshHealth> health_;
};

class ZoneStore {
 public:
  // Builds the store for `config`, keeping the snapshots of zones that
  // `previous` already serves (a reload does not drop data).
  static absl::StatusOr<std::shared_ptr<ZoneStore>> FromConfig(
      const Config& config, const ZoneStore* previous);

  // Exact (case-insensitive) match of a zone apex.
  LiveZone* Find(const Name& name) const;
  const std::vector<TsigKey>& keys() const { return keys_; }
  std::vector<LiveZone*> entries() const;

 private:
  absl::flat_hash_map<Name, std::shared_ptr<LiveZone>> zones_;
  std::vector<TsigKey> keys_;
};

}  // namespace xfr
