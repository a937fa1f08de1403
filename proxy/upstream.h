// The upstream role: xfrproxy as a secondary of a zone's primaries (RFC 1034
// §4.3.5, RFC 1995, RFC 1996, RFC 5936). Per zone a small state machine on
// the zone owner's loop: SOA checks on REFRESH (RETRY after a failure),
// primaries tried in order, IXFR with AXFR fallback, EXPIRE without a good
// contact, and NOTIFY bursts coalesced into one check. A new version is
// published only once the whole transfer is in and checked.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <vector>

#include "absl/time/time.h"
#include "core/serial.h"
#include "core/tsig_key.h"
#include "fanout/served_zone.h"
#include "proxy/config.h"
#include "proxy/event_loop.h"
#include "proxy/stats.h"
#include "proxy/zone_store.h"

namespace xfr {

class UpstreamZone {
 public:
  // `entry` finds the zone's current LiveZone (a reload replaces the store);
  // `published` is told of every new version (NOTIFY fan-out, persistence).
  using EntryLookup = std::function<LiveZone*()>;
  using PublishedHook =
      std::function<void(std::shared_ptr<const ServedZone>, std::shared_ptr<const ZoneDiff>)>;
  // The primary confirmed our data (same serial, or after a transfer).
  using RefreshedHook = std::function<void(absl::Time at, uint32_t expire_seconds)>;

  UpstreamZone(EventLoop& loop, ZoneConfig config, std::optional<TsigKey> key,
               LimitsConfig limits, ServerStats& stats, EntryLookup entry,
               PublishedHook published, RefreshedHook refreshed = nullptr);
  ~UpstreamZone();
  UpstreamZone(const UpstreamZone&) = delete;
  UpstreamZone& operator=(const UpstreamZone&) = delete;

  // Starts following: an SOA check right away.
  void Start();
  // A NOTIFY was accepted for the zone (RFC 1996 §3.11): check now, unless a
  // check or transfer is already in flight (then check once more after it,
  // if the hint says the primary may be ahead of what that finds).
  void Notified(const SocketAddress& from, std::optional<Serial> hint);
  // A downstream client asked for data newer than ours: same as a NOTIFY.
  void RefreshSoon() { Notified(SocketAddress(), std::nullopt); }
  // A reload changed the zone's settings (primaries, key, limits).
  void Reconfigure(ZoneConfig config, std::optional<TsigKey> key, LimitsConfig limits);

  const ZoneConfig& config() const { return config_; }
  bool busy() const { return state_ != State::kIdle; }

 private:
  class SoaQuery;
  class Transfer;
  friend class SoaQuery;
  friend class Transfer;
  enum class State { kIdle, kSoaCheck, kTransfer };

  void BeginCheck();
  void OnSoaAnswer(size_t primary, absl::StatusOr<std::pair<Serial, std::optional<uint32_t>>> r);
  void DecideAfterSoa();
  void NextCandidate();
  void StartTransfer(size_t primary, bool ixfr);
  void OnTransferDone(size_t primary, bool was_ixfr, bool fall_back_to_axfr,
                      absl::StatusOr<struct IngestResult> r);
  // `transferred`: the new version is persisted with its own timestamp, so
  // the refreshed hook is only for checks that found no change.
  void Succeeded(std::optional<uint32_t> expire_option, bool transferred = false);
  void Failed(const std::string& why);
  void ScheduleCheck(absl::Duration after);
  void CheckExpiry();
  std::shared_ptr<const ServedZone> Current();
  uint32_t SoaTimer(uint32_t SoaFields::*field, uint32_t fallback) const;

  EventLoop& loop_;
  ZoneConfig config_;
  std::optional<TsigKey> key_;
  LimitsConfig limits_;
  ServerStats& stats_;
  EntryLookup entry_;
  PublishedHook published_;
  RefreshedHook refreshed_;

  State state_ = State::kIdle;
  bool recheck_ = false;  // a NOTIFY arrived while busy
  std::optional<Serial> primary_serial_;
  TimerQueue::Id check_timer_ = 0;
  TimerQueue::Id expire_timer_ = 0;
  // One SOA query per primary while checking; each owns itself until its
  // operations complete.
  std::vector<SoaQuery*> soa_queries_;
  std::vector<std::optional<std::pair<Serial, std::optional<uint32_t>>>> answers_;
  size_t soa_pending_ = 0;
  TimerQueue::Id grace_timer_ = 0;
  // Primaries with the newest serial, in configuration order, to transfer
  // from in turn.
  std::vector<size_t> candidates_;
  size_t next_candidate_ = 0;
  Transfer* transfer_ = nullptr;  // likewise
  bool expired_logged_ = false;
};

}  // namespace xfr
