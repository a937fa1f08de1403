#include "proxy/http_routes.h"

#include "proxy/cli.h"
#include "proxy/status_page.h"

namespace xfr {

StatusPages::StatusPages(const ServerStats& stats, std::shared_ptr<const ZoneStore> store,
                         ClockFn clock)
    : stats_(stats), store_(std::move(store)), clock_(std::move(clock)), started_(clock_()) {}

HttpResponse StatusPages::Handle(const HttpRequest& request) const {
  HttpResponse r;
  if (request.path == "/") {
    r.content_type = "text/html; charset=utf-8";
    r.body = std::string(StatusPageHtml());
    r.headers.emplace_back("Content-Security-Policy", StatusPageCsp());
    r.headers.emplace_back("X-Content-Type-Options", "nosniff");
    r.headers.emplace_back("Referrer-Policy", "no-referrer");
    return r;
  }
  if (request.path == "/status.json") return StatusJson();

  std::shared_ptr<const ZoneStore> store = store_.load(std::memory_order_acquire);
  bool known = request.path == "/metrics" || request.path == "/healthz" ||
               request.path == "/peers";
  if (known && !store) {
    // Only before the server has built its first store.
    r.status = 503;
    r.body = "starting\n";
  } else if (request.path == "/metrics") {
    // The content type Prometheus negotiates for the text format.
    r.content_type = "text/plain; version=0.0.4; charset=utf-8";
    MetricsOptions options;
    options.per_zone = per_zone_.load(std::memory_order_relaxed);
    options.max_zone_series = max_zone_series_.load(std::memory_order_relaxed);
    r.body = RenderMetrics(stats_, *store, clock_(), GatherPeers(), options);
  } else if (request.path == "/healthz") {
    HealthReport h = RenderHealth(*store, clock_());
    r.status = h.healthy ? 200 : 503;
    r.body = std::move(h.text);
  } else if (request.path == "/peers") {
    r.content_type = "application/json";
    r.body = RenderPeersJson(*store, clock_(), GatherPeers());
  } else {
    r.status = 404;
    r.body = "not found\n";
  }
  return r;
}

PeerSource StatusPages::GatherPeers() const {
  if (!peers_) return nullptr;
  auto all = std::make_shared<const absl::flat_hash_map<Name, std::vector<PeerReport>>>(peers_());
  return [all](const LiveZone& zone) -> std::vector<PeerReport> {
    auto it = all->find(zone.name());
    return it == all->end() ? std::vector<PeerReport>{} : it->second;
  };
}

HttpResponse StatusPages::StatusJson() const {
  HttpResponse r;
  r.content_type = "application/json";
  // The page polls it; an intermediary must not answer with an old copy.
  r.headers.emplace_back("Cache-Control", "no-store");
  std::optional<std::vector<ZoneStatusReport>> zones;
  if (status_) zones = status_();
  if (!zones) {
    r.status = 503;
    r.body = status_ ? "{\"error\":\"the zone owner did not answer in time (busy with a large "
                       "zone?); try again\"}\n"
                     : "{\"error\":\"starting\"}\n";
    return r;
  }
  StatusDocument doc;
  doc.version = kXfrproxyVersion;
  doc.now = clock_();
  doc.started = started_;
  doc.zones = *std::move(zones);
  doc.transfers_per_minute = stats_.transfers_per_minute.Last(doc.now);
  r.body = RenderStatusDocument(doc);
  return r;
}

}  // namespace xfr
