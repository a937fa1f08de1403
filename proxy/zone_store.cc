#include "proxy/zone_store.h"

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "fmt/ranges.h"
#include "fmt/format.h"
#include "proxy/log.h"

namespace xfr {

uint32_t LiveZone::ExpireRemaining(const ServedZone& z, absl::Time now) const {
  if (z.never_expires) return z.expire_seconds;
  int64_t ms = refreshed_ms_.load(std::memory_order_acquire);
  if (ms == kNever) return z.ExpireRemaining(now);
  int64_t elapsed = (absl::ToUnixMillis(now) - ms) / 1000;
  uint32_t expire = expire_.load(std::memory_order_relaxed);
  if (elapsed < 0) elapsed = 0;
  return elapsed >= expire ? 0 : expire - static_cast<uint32_t>(elapsed);
}

namespace {

bool IsUnspecified(const IpAddress& ip) {
  return ip == IpAddress() || ip == IpAddress::V4({0, 0, 0, 0});
}

// Transfers come from ephemeral ports, so the serving side knows a
// secondary by its IP address alone; say so when that cannot tell two apart.
void WarnSharedAddresses(const ZoneConfig& z) {
  absl::flat_hash_map<IpAddress, std::vector<std::string>> by_ip;
  for (const SecondaryConfig& s : z.secondaries) {
    by_ip[s.address.ip()].push_back(s.address.ToString());
  }
  for (const auto& [ip, names] : by_ip) {
    if (names.size() < 2) continue;
    LogWarning("zone {}: secondaries {} share one IP address: a transfer is credited to each "
               "of them on /peers{}",
               z.name.ToText(), fmt::join(names, ", "),
               z.verify_peers ? "; verify-peers checks each at its own port"
                              : " (verify-peers would check each at its own port)");
  }
}

}  // namespace

absl::StatusOr<std::shared_ptr<ZoneStore>> ZoneStore::FromConfig(
    const Config& config, const ZoneStore* previous) {
  auto store = std::make_shared<ZoneStore>();
  for (const TsigKeyConfig& k : config.keys) {
    std::optional<TsigKey> key = TsigKeyFromConfig(k);
    if (!key) {
      return absl::InvalidArgumentError(fmt::format("key {}: unknown algorithm {}",
                                                    k.name.ToText(), k.algorithm));
    }
    store->keys_.push_back(std::move(*key));
  }
  for (const ZoneConfig& z : config.zones) {
    TransferPolicy policy;
    policy.allow = z.allow_transfer;
    absl::flat_hash_set<IpAddress> keyless;
    for (const SecondaryConfig& s : z.secondaries) {
      if (!s.key) {
        keyless.insert(s.address.ip());
        continue;
      }
      if (IsUnspecified(s.address.ip())) {
        policy.required_keys_anywhere.push_back(*s.key);
        continue;
      }
      policy.required_keys[s.address.ip()].push_back(*s.key);
      if (!policy.allow.Contains(s.address.ip())) {
        // Before issue 10 such a key admitted its holder from anywhere; now
        // the ACL always applies, so say why this secondary will be refused.
        LogWarning("zone {}: secondary {} has a key but is outside allow-transfer: its "
                   "transfers are refused (add its address to allow-transfer)",
                   z.name.ToText(), s.address.ToString());
      }
    }
    for (const IpAddress& ip : keyless) policy.required_keys.erase(ip);
    WarnSharedAddresses(z);
    NotifyPolicy notify;
    notify.follows_primary = !z.is_local();
    notify.allow = z.notify_from;
    notify.key = z.primary_key;
    notify.key_required = z.notify_key_required;
    auto entry = std::make_shared<LiveZone>(z.name, std::move(policy), std::move(notify));
    if (previous != nullptr) {
      if (LiveZone* old = previous->Find(z.name)) {
        entry->Publish(old->Current());
        entry->CopyRefreshFrom(*old);
      }
    }
    store->zones_.emplace(z.name, std::move(entry));
  }
  return store;
}

LiveZone* ZoneStore::Find(const Name& name) const {
  auto it = zones_.find(name);
  return it == zones_.end() ? nullptr : it->second.get();
}

std::vector<LiveZone*> ZoneStore::entries() const {
  std::vector<LiveZone*> out;
  for (const auto& [name, e] : zones_) out.push_back(e.get());
  return out;
}

}  // namespace xfr
