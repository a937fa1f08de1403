// The upstream role: xfrproxy as a secondary of a zone's primaries. Every
// decision is fanout/refresh_machine.h's; this is its driver on the zone
// owner's loop. It turns the machine's actions into exchanges with the
// primaries (an SOA query over UDP, an IXFR or AXFR over TCP fed to the
// I/O-free XfrIngest), feeds their results back, builds and publishes the
// versions the machine accepts, and keeps the zone's health where /healthz
// and the metrics read it.
#pragma once

#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/time/time.h"
#include "core/tsig_key.h"
#include "fanout/refresh_machine.h"
#include "fanout/served_zone.h"
#include "proxy/config.h"
#include "proxy/event_loop.h"
#include "proxy/stats.h"
#include "proxy/upstream_exchange.h"
#include "proxy/zone_store.h"

namespace xfr {

// Where a zone's upstream side reports, besides LiveZone.
struct UpstreamHooks {
  // A new version is served: persist it, NOTIFY the secondaries.
  std::function<void(std::shared_ptr<const ServedZone>, std::shared_ptr<const ZoneDiff>)>
      published;
  // The primary confirmed our data at `at`, valid `expire` seconds.
  std::function<void(absl::Time at, uint32_t expire)> refreshed;
  // Requests that waited on the check that just ended get answered.
  std::function<void()> release_waiters;
};

// The refresh options of zones that start together: REFRESH and RETRY
// drawn from [90%, 100%] of their value, and the first checks of zones
// restored from state-dir spread over 3 s per 1,000 zones starting (at most
// a minute), each zone with its own generator seeded at random.
RefreshOptions UpstreamRefreshOptions(size_t zones_starting);

class UpstreamZone {
 public:
  using EntryLookup = std::function<LiveZone*()>;

  UpstreamZone(ExchangePool& pool, ZoneConfig config, std::optional<TsigKey> key,
               LimitsConfig limits, std::optional<IpAddress> transfer_source_v4,
               std::optional<IpAddress> transfer_source_v6, ServerStats& stats,
               EntryLookup entry, UpstreamHooks hooks,
               RefreshOptions refresh = RefreshOptions{});
  ~UpstreamZone();
  UpstreamZone(const UpstreamZone&) = delete;
  UpstreamZone& operator=(const UpstreamZone&) = delete;

  // Starts following: a check right away, or within the start spread of
  // `refresh` for a zone that already has data.
  void Start();
  // A NOTIFY was accepted (RFC 1996 §3.11), with the serial it carried.
  void Notified(const SocketAddress& from, std::optional<Serial> hint);
  // A client asked for a serial newer than ours; its request waits.
  void ClientAhead(Serial serial);
  // Check now (a reload with new primaries, an operator's request).
  void RefreshNow();
  // An operator asked for an AXFR now, whatever the serial (`xfrproxy ctl
  // retransfer`; fanout/refresh_machine.h says when it starts and what of
  // it is published).
  void Retransfer();
  // A reload changed the zone's settings.
  void Reconfigure(ZoneConfig config, std::optional<TsigKey> key, LimitsConfig limits,
                   std::optional<IpAddress> transfer_source_v4,
                   std::optional<IpAddress> transfer_source_v6);

  const ZoneConfig& config() const { return config_; }
  RefreshHealth Health() const;

  // The last transfer published since start, for `ctl status`.
  struct TransferRecord {
    bool incremental = false;
    SocketAddress from;
    absl::Time at;
  };
  const std::optional<TransferRecord>& last_transfer() const { return last_transfer_; }

 private:
  void Execute(std::vector<RefreshAction> actions);
  void Do(const RefreshAction& a);
  void QuerySoa(const RefreshAction& a);
  void StartTransfer(const RefreshAction& a);
  void Publish(const RefreshAction& a);
  void ArmWake();
  void ReportHealth();
  RefreshSnapshot Snapshot() const;
  std::shared_ptr<const ServedZone> Current() const;
  std::optional<IpAddress> SourceFor(const SocketAddress& to) const;
  std::string Name() const { return config_.name.ToText(); }

  ExchangePool& pool_;
  EventLoop& loop_;
  ZoneConfig config_;
  std::optional<TsigKey> key_;
  LimitsConfig limits_;
  std::optional<IpAddress> source_v4_;
  std::optional<IpAddress> source_v6_;
  ServerStats& stats_;
  EntryLookup entry_;
  UpstreamHooks hooks_;

  RefreshMachine machine_;
  // Exchanges the machine waits on, by id; not owned (see the pool).
  absl::flat_hash_map<uint64_t, UpstreamExchange*> waiting_;
  // Where each exchange went, for logs after a reload changed the list.
  absl::flat_hash_map<uint64_t, SocketAddress> targets_;
  // Transfers received and waiting for the machine's kPublish.
  absl::flat_hash_map<uint64_t, IngestResult> received_;
  // Inputs that arrived while actions were being carried out (an exchange
  // that could not start): fed to the machine once the list is done.
  std::deque<std::function<std::vector<RefreshAction>()>> deferred_;
  bool executing_ = false;
  std::optional<TransferRecord> last_transfer_;
  TimerQueue::Id wake_timer_ = 0;
  absl::Time wake_at_ = absl::InfiniteFuture();
};

}  // namespace xfr
