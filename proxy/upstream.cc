#include "proxy/upstream.h"

#include <algorithm>
#include <random>
#include <utility>

#include "core/diff.h"
#include "fmt/format.h"
#include "proxy/log.h"
#include "proxy/served_view.h"

namespace xfr {
namespace {

PeerAddress ToPeer(const SocketAddress& a) { return PeerAddress{a.ip().bytes(), a.port()}; }

std::vector<PeerAddress> ToPeers(const std::vector<SocketAddress>& v) {
  std::vector<PeerAddress> out;
  for (const SocketAddress& a : v) out.push_back(ToPeer(a));
  return out;
}

constexpr double kRefreshJitter = 0.1;
constexpr absl::Duration kStartSpreadPerZone = absl::Milliseconds(3);
constexpr absl::Duration kStartSpreadCap = absl::Minutes(1);

}  // namespace

RefreshOptions UpstreamRefreshOptions(size_t zones_starting) {
  // Seeds come from one generator per thread, so 10,000 zones starting do
  // not cost 10,000 reads of the kernel's randomness.
  thread_local std::mt19937_64 seeds{std::random_device{}()};
  RefreshOptions o;
  o.jitter = kRefreshJitter;
  o.start_spread = std::min(kStartSpreadCap,
                            kStartSpreadPerZone * static_cast<int64_t>(zones_starting));
  // A small generator per zone: a few bytes each, and no lock between zones.
  o.random = [gen = std::minstd_rand(static_cast<uint32_t>(seeds()))]() mutable {
    return std::uniform_real_distribution<double>(0.0, 1.0)(gen);
  };
  return o;
}

UpstreamZone::UpstreamZone(ExchangePool& pool, ZoneConfig config, std::optional<TsigKey> key,
                           LimitsConfig limits, std::optional<IpAddress> transfer_source_v4,
                           std::optional<IpAddress> transfer_source_v6, ServerStats& stats,
                           EntryLookup entry, UpstreamHooks hooks, RefreshOptions refresh)
    : pool_(pool),
      loop_(pool.loop()),
      config_(std::move(config)),
      key_(std::move(key)),
      limits_(limits),
      source_v4_(std::move(transfer_source_v4)),
      source_v6_(std::move(transfer_source_v6)),
      stats_(stats),
      entry_(std::move(entry)),
      hooks_(std::move(hooks)),
      machine_(ToPeers(config_.primaries), std::move(refresh)) {}

UpstreamZone::~UpstreamZone() {
  loop_.Cancel(wake_timer_);
  for (auto& [id, x] : waiting_) pool_.Abandon(x);
}

std::shared_ptr<const ServedZone> UpstreamZone::Current() const {
  LiveZone* e = entry_();
  return e ? e->Current() : nullptr;
}

RefreshSnapshot UpstreamZone::Snapshot() const {
  RefreshSnapshot s;
  LiveZone* e = entry_();
  std::shared_ptr<const ServedZone> cur = e ? e->Current() : nullptr;
  if (!cur) return s;
  s.serial = cur->serial();
  const SoaFields& f = cur->version->soa_fields();
  s.timers = RefreshTimers{f.refresh, f.retry, f.expire};
  // IXFR needs the primary's own version; a rewritten view restored from
  // state-dir does not carry it.
  s.upstream_base = cur->upstream != nullptr;
  std::optional<absl::Time> refreshed = e->refreshed_at();
  if (refreshed) s.expires_at = *refreshed + absl::Seconds(e->expire_seconds());
  return s;
}

std::optional<IpAddress> UpstreamZone::SourceFor(const SocketAddress& to) const {
  return to.ip().IsV4Mapped() ? source_v4_ : source_v6_;
}

void UpstreamZone::Start() { Execute(machine_.Start(Snapshot(), loop_.Now())); }

void UpstreamZone::Notified(const SocketAddress& from, std::optional<Serial> hint) {
  LogDebug("zone {}: NOTIFY from {}{}", Name(), from.ToString(),
           hint ? " for serial " + hint->ToString() : std::string());
  Execute(machine_.OnNotify(hint, loop_.Now()));
}

void UpstreamZone::ClientAhead(Serial serial) {
  Execute(machine_.OnClientAhead(serial, loop_.Now()));
}

void UpstreamZone::RefreshNow() { Execute(machine_.OnRefreshNow(loop_.Now())); }

void UpstreamZone::Retransfer() {
  LogInfo("zone {}: retransfer asked for: AXFR from the primaries", Name());
  Execute(machine_.OnRetransfer(loop_.Now()));
}

void UpstreamZone::Reconfigure(ZoneConfig config, std::optional<TsigKey> key,
                               LimitsConfig limits, std::optional<IpAddress> transfer_source_v4,
                               std::optional<IpAddress> transfer_source_v6) {
  // A new key or source address may be what the primary was refusing:
  // try it at once rather than at the next RETRY.
  bool ask_again = key_ != key || source_v4_ != transfer_source_v4 ||
                   source_v6_ != transfer_source_v6;
  config_ = std::move(config);
  key_ = std::move(key);
  limits_ = limits;
  source_v4_ = std::move(transfer_source_v4);
  source_v6_ = std::move(transfer_source_v6);
  // A new version may have been published from disk or by a policy change.
  machine_.SetSnapshot(Snapshot());
  std::vector<RefreshAction> actions =
      machine_.Reconfigure(ToPeers(config_.primaries), loop_.Now());
  // Reconfigure() checks at once when the list changed; otherwise ask.
  if (actions.empty() && ask_again) actions = machine_.OnRefreshNow(loop_.Now());
  Execute(std::move(actions));
}

RefreshHealth UpstreamZone::Health() const { return machine_.Health(loop_.Now()); }

void UpstreamZone::Execute(std::vector<RefreshAction> actions) {
  if (executing_) {
    // Re-entered from an input fed while carrying out a list: queue them.
    deferred_.push_back([a = std::move(actions)] { return a; });
    return;
  }
  executing_ = true;
  for (const RefreshAction& a : actions) Do(a);
  while (!deferred_.empty()) {
    auto next = std::move(deferred_.front());
    deferred_.pop_front();
    for (const RefreshAction& a : next()) Do(a);
  }
  executing_ = false;
  ArmWake();
  ReportHealth();
}

void UpstreamZone::ArmWake() {
  absl::Time at = machine_.NextWake();
  if (at == wake_at_ && wake_timer_ != 0) return;
  loop_.Cancel(wake_timer_);
  wake_timer_ = 0;
  wake_at_ = at;
  if (at == absl::InfiniteFuture()) return;
  wake_timer_ = loop_.After(std::max(absl::ZeroDuration(), at - loop_.Now()), [this] {
    wake_timer_ = 0;
    wake_at_ = absl::InfiniteFuture();
    Execute(machine_.Tick(loop_.Now()));
  });
}

void UpstreamZone::ReportHealth() {
  if (LiveZone* e = entry_()) e->SetRefreshHealth(machine_.Health(loop_.Now()));
}

void UpstreamZone::Do(const RefreshAction& a) {
  switch (a.kind) {
    case RefreshAction::kQuerySoa: return QuerySoa(a);
    case RefreshAction::kTransfer: return StartTransfer(a);
    case RefreshAction::kAbandon: {
      auto it = waiting_.find(a.id);
      if (it != waiting_.end()) {
        pool_.Abandon(it->second);
        waiting_.erase(it);
      }
      targets_.erase(a.id);
      received_.erase(a.id);
      return;
    }
    case RefreshAction::kPublish: return Publish(a);
    case RefreshAction::kRefreshed:
      if (!a.detail.empty()) LogWarning("zone {}: {}", Name(), a.detail);
      if (LiveZone* e = entry_()) e->MarkRefreshed(a.at, a.expire_seconds);
      if (hooks_.refreshed) hooks_.refreshed(a.at, a.expire_seconds);
      return;
    case RefreshAction::kReleaseWaiters:
      if (hooks_.release_waiters) hooks_.release_waiters();
      return;
    case RefreshAction::kFailed:
      stats_.upstream_refresh_failures.Add();
      LogWarning("zone {}: refresh failed: {}; next check in {}s", Name(), a.detail,
                 absl::ToInt64Seconds(a.at - loop_.Now()));
      return;
    case RefreshAction::kExpired:
      stats_.zones_expired.Add();
      LogError("zone {}: EXPIRED ({}); answering SERVFAIL until a primary answers", Name(),
               a.detail);
      return;
    case RefreshAction::kDegraded:
      LogWarning("zone {}: DEGRADED: {}", Name(), a.detail);
      return;
    case RefreshAction::kRecovered:
      LogInfo("zone {}: {}", Name(), a.detail);
      return;
  }
}

void UpstreamZone::QuerySoa(const RefreshAction& a) {
  const SocketAddress& to = config_.primaries[a.primary];
  uint64_t id = a.id;
  stats_.upstream_soa_queries.Add();
  auto fail = [this, to](const ExchangeFailure& f) {
    stats_.upstream_soa_failures.Add();
    LogInfo("zone {}: SOA query to {}: {}", Name(), to.ToString(), Describe(f));
  };
  ExchangeFailure failure;
  SoaQuery q{config_.name, to, SourceFor(to), key_ ? &*key_ : nullptr,
             limits_.upstream_query_timeout};
  UpstreamExchange* x = StartSoaQuery(
      pool_, q,
      [this, id, fail](absl::StatusOr<SoaAnswer> r, ExchangeFailure f) {
        waiting_.erase(id);
        targets_.erase(id);
        if (r.ok()) return Execute(machine_.OnSoaAnswer(id, *r, loop_.Now()));
        fail(f);
        Execute(machine_.OnSoaFailure(id, f, loop_.Now()));
      },
      failure);
  if (x != nullptr) {
    waiting_[id] = x;
    targets_[id] = to;
    return;
  }
  // Counted and logged like any other failure, and fed to the machine once
  // the current list of actions is done.
  fail(failure);
  deferred_.push_back([this, id, failure] {
    return machine_.OnSoaFailure(id, failure, loop_.Now());
  });
}

void UpstreamZone::StartTransfer(const RefreshAction& a) {
  const SocketAddress& to = config_.primaries[a.primary];
  uint64_t id = a.id;
  bool ixfr = a.ixfr;
  const char* kind = ixfr ? "IXFR" : "AXFR";
  if (a.forced) {
    LogInfo("zone {}: retransfer: AXFR from {}", Name(), to.ToString());
  } else if (!a.detail.empty()) {
    // RFC 1995 §4: the machine falls back to AXFR from the same primary.
    stats_.upstream_axfr_fallbacks.Add();
    LogInfo("zone {}: {}; trying AXFR from {}", Name(), a.detail, to.ToString());
  }
  auto fail = [this, kind, to](const ExchangeFailure& f) {
    stats_.upstream_transfer_failures.Add();
    LogWarning("zone {}: {} from {} failed, keeping the served version: {}", Name(), kind,
               to.ToString(), Describe(f));
  };
  std::shared_ptr<const ServedZone> cur = Current();
  // An IXFR's base is the primary's data, not our rewritten view of it.
  std::shared_ptr<const ZoneVersion> base = cur ? cur->upstream : nullptr;
  ExchangeFailure failure;
  TransferRequest req{config_.name, to,   SourceFor(to),       ixfr,
                      base,         key_ ? &*key_ : nullptr, config_.max_records, limits_};
  UpstreamExchange* x = StartUpstreamTransfer(
      pool_, std::move(req),
      [this, id, fail](std::optional<IngestResult> r, ExchangeFailure f) {
        waiting_.erase(id);
        if (!r) {
          targets_.erase(id);
          fail(f);
          return Execute(machine_.OnTransferFailure(id, f, loop_.Now()));
        }
        TransferOutcome out;
        out.kind = r->kind == IngestResult::kUpToDate || !r->version ? TransferOutcome::kUpToDate
                                                                     : TransferOutcome::kVersion;
        out.serial = r->version ? r->version->serial() : r->serial;
        out.incremental = r->kind == IngestResult::kIncremental;
        out.expire_option = r->expire;
        if (out.kind == TransferOutcome::kUpToDate) stats_.upstream_up_to_date.Add();
        received_[id] = std::move(*r);
        Execute(machine_.OnTransferDone(id, out, loop_.Now()));
        // Publish() took it if the machine wanted it; else it is dropped.
        received_.erase(id);
      },
      failure);
  if (x != nullptr) {
    waiting_[id] = x;
    targets_[id] = to;
    return;
  }
  fail(failure);
  deferred_.push_back([this, id, failure] {
    return machine_.OnTransferFailure(id, failure, loop_.Now());
  });
}

void UpstreamZone::Publish(const RefreshAction& a) {
  auto it = received_.find(a.id);
  uint64_t id = a.id;
  if (it == received_.end()) {
    deferred_.push_back([this, id] {
      return machine_.OnPublishFailed(id, "the transfer's data is gone", loop_.Now());
    });
    return;
  }
  IngestResult r = std::move(it->second);
  received_.erase(it);
  SocketAddress from = targets_.contains(id) ? targets_[id] : SocketAddress();
  targets_.erase(id);
  std::shared_ptr<const ServedZone> cur = Current();
  std::shared_ptr<const ZoneVersion> next = r.version;
  BuildOptions build;
  build.max_records = config_.max_records;
  PublishOptions opts;
  opts.max_diffs = config_.journal_max_diffs;
  std::shared_ptr<const RewritePolicy> policy = MakeRewritePolicy(config_.proxied);
  // A retransfer may bring the serial we serve (the machine publishes it:
  // the content may differ). The same data changes nothing; other data is
  // served from scratch, with an empty journal: the old diffs lead to the
  // old content of that serial, and no IXFR can describe the change.
  // Secondaries that hold the serial keep their copy until the next one
  // (their serial did not move); the rest get the new data.
  bool same_serial = cur && next && cur->serial() == next->serial();
  if (same_serial) {
    std::shared_ptr<const ServedZone> same = SameSerialView(cur, next, policy, build);
    if (same != nullptr) {
      // A rewritten view restored from state-dir learns its primary data.
      if (LiveZone* le = entry_(); le != nullptr && same != cur) le->Publish(same);
      LogInfo("zone {}: AXFR from {} brought serial {} with the data already served",
              Name(), from.ToString(), next->serial().ToString());
      last_transfer_ = TransferRecord{false, from, loop_.Now()};
      deferred_.push_back([this, id] { return machine_.OnPublished(id, Snapshot(), loop_.Now()); });
      return;
    }
    LogWarning("zone {}: AXFR from {} brought serial {} with other data than served: serving "
               "it with an empty journal (secondaries at serial {} keep their copy until the "
               "next serial)",
               Name(), from.ToString(), next->serial().ToString(), next->serial().ToString());
  }
  auto view = MakeServedView(config_.name, next, same_serial ? nullptr : cur.get(), policy,
                             loop_.Now(), opts, build);
  LiveZone* e = entry_();
  if (!view.ok() || e == nullptr) {
    std::string why = e == nullptr ? std::string("zone removed from the configuration")
                                   : std::string(view.status().message());
    stats_.upstream_transfer_failures.Add();
    deferred_.push_back([this, id, why] { return machine_.OnPublishFailed(id, why, loop_.Now()); });
    return;
  }
  std::shared_ptr<const ServedZone> served = std::move(view->served);
  std::shared_ptr<const ZoneDiff> diff = std::move(view->diff);
  e->Publish(served);
  last_transfer_ = TransferRecord{r.kind == IngestResult::kIncremental, from, loop_.Now()};
  stats_.upstream_transfers.Add();
  (r.kind == IngestResult::kIncremental ? stats_.upstream_ixfr : stats_.upstream_axfr).Add();
  // Received counts what came over the wire (an AXFR's closing SOA, an
  // IXFR's deletions); served is the zone now served, rewritten if proxied.
  LogInfo("zone {}: serial {} -> {} by {} from {} ({} records received in {} messages, {} "
          "served)",
          Name(), cur ? cur->serial().ToString() : std::string("none"), next->serial().ToString(),
          r.kind == IngestResult::kIncremental ? "IXFR" : "AXFR", from.ToString(), r.records,
          r.messages, served->version->size());
  deferred_.push_back([this, id] { return machine_.OnPublished(id, Snapshot(), loop_.Now()); });
  if (hooks_.published) hooks_.published(served, diff);
}

}  // namespace xfr
