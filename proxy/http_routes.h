// The operator's HTTP endpoint, I/O-free: which path gives what. /metrics,
// /healthz and /peers render from the published zone snapshots and the
// counters (proxy/metrics.h); / is the status page (proxy/status_page.h)
// and /status.json its data (proxy/status_json.h), gathered from the zone
// owner's thread through a StatusSource.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <optional>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/time/time.h"
#include "core/name.h"
#include "proxy/http_server.h"
#include "proxy/metrics.h"
#include "proxy/stats.h"
#include "proxy/status_json.h"
#include "proxy/zone_store.h"

namespace xfr {

// The peers of every zone that has secondaries, by zone, read in one pass
// (one bounded wait per request, however many zones); empty when the zone
// owner did not answer in time. It runs on the HTTP thread.
using AllPeersSource = std::function<absl::flat_hash_map<Name, std::vector<PeerReport>>()>;

// Every zone's status and peers, in configuration order; unset when the
// zone owner did not answer in time (busy building a large version). It
// runs on the HTTP thread and must bound its wait.
using StatusSource = std::function<std::optional<std::vector<ZoneStatusReport>>()>;

// The handler behind the HTTP server. The store is swapped on reload from
// another thread, hence the atomic pointer.
class StatusPages {
 public:
  using ClockFn = std::function<absl::Time()>;

  StatusPages(const ServerStats& stats, std::shared_ptr<const ZoneStore> store,
              ClockFn clock = [] { return absl::Now(); });

  // Any thread, e.g. after a reload built a new store.
  void SetStore(std::shared_ptr<const ZoneStore> store) {
    store_.store(std::move(store), std::memory_order_release);
  }
  // Any thread, e.g. after a reload changed `metrics:`.
  void SetMetricsOptions(const MetricsOptions& options) {
    per_zone_.store(options.per_zone, std::memory_order_relaxed);
    max_zone_series_.store(options.max_zone_series, std::memory_order_relaxed);
  }
  // Before the server starts.
  void SetPeerSource(AllPeersSource peers) { peers_ = std::move(peers); }
  void SetStatusSource(StatusSource status) { status_ = std::move(status); }

  HttpResponse Handle(const HttpRequest& request) const;
  // A handler for HttpServer::Start; `this` must outlive the server.
  HttpHandler AsHandler() const {
    return [this](const HttpRequest& r) { return Handle(r); };
  }

 private:
  HttpResponse StatusJson() const;
  // The peers of every zone, asked for once, as the renderers take them.
  PeerSource GatherPeers() const;

  const ServerStats& stats_;
  std::atomic<std::shared_ptr<const ZoneStore>> store_;
  ClockFn clock_;
  absl::Time started_;
  AllPeersSource peers_;
  StatusSource status_;
  // Two independent knobs: a scrape that sees one new and one old is still
  // a valid page.
  std::atomic<bool> per_zone_{true};
  std::atomic<uint32_t> max_zone_series_{MetricsOptions{}.max_zone_series};
};

}  // namespace xfr
