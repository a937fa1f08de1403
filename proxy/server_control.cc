// Server's side of `xfrproxy ctl` (proxy/control.h): each request is
// answered on the control thread, from state read or changed on the zone
// owner's thread. The control thread posts the work to the owner's loop and
// waits for it with a bound: a busy owner (a large zone being built) makes
// `ctl` answer "busy", never the DNS side wait.
#include <future>

#include "absl/strings/str_join.h"
#include "core/ascii.h"
#include "fmt/format.h"
#include "proxy/log.h"
#include "proxy/server.h"

namespace xfr {
namespace {

// Reading state or starting work takes the owner a moment; a reload builds
// every changed zone and may take longer (the client waits 75 s).
constexpr absl::Duration kOwnerBound = absl::Seconds(5);
constexpr absl::Duration kReloadBound = absl::Seconds(60);
// The status page polls every two seconds: a request that waits longer
// than that answers 503 and the page keeps what it showed.
constexpr absl::Duration kStatusPageBound = absl::Seconds(2);

// Runs `fn` on `loop` and waits for its result, at most `bound`, and not
// past `stopping` (the owner's loop has ended: it would never run).
template <typename T>
std::optional<T> OnOwner(EventLoop& loop, const std::atomic<bool>& stopping,
                         absl::Duration bound, std::function<T()> fn) {
  auto done = std::make_shared<std::promise<T>>();
  std::future<T> result = done->get_future();
  loop.Post([done, fn = std::move(fn)] { done->set_value(fn()); });
  absl::Time until = absl::Now() + bound;
  while (absl::Now() < until && !stopping.load()) {
    if (result.wait_for(std::chrono::milliseconds(100)) == std::future_status::ready) {
      return result.get();
    }
  }
  return std::nullopt;
}

absl::Status UnknownZone(const Name& zone) {
  return absl::NotFoundError(fmt::format("unknown zone {}", zone.ToText()));
}

}  // namespace

absl::Status Server::StartControl() {
  if (config_.control_socket.empty()) {
    LogInfo("control: no control socket (set `control:` or `state-dir:` for `xfrproxy ctl`)");
    return absl::OkStatus();
  }
  auto control = ControlServer::Start(config_.control_socket,
                                      [this](const ControlRequest& r) { return HandleControl(r); });
  if (!control.ok()) return control.status();
  control_ = std::move(*control);
  LogInfo("control: xfrproxy ctl on {}", control_->path());
  return absl::OkStatus();
}

ZoneStatus Server::StatusOf(const ZoneConfig& zc, std::vector<PeerReport>* peers) {
  ZoneStatus s;
  s.name = zc.name.ToText();
  // A produced catalog is, like a file, loaded here and never refreshed.
  s.file = zc.is_local();
  if (zc.produce_catalog) {
    size_t members = 0;
    for (const ZoneConfig& z : config_.zones) members += z.produce_catalog ? 0 : 1;
    s.source = fmt::format("catalog of {} zones", members);
  } else if (s.file) {
    s.source = "file " + zc.file;
  } else {
    std::vector<std::string> primaries;
    for (const SocketAddress& p : zc.primaries) primaries.push_back(p.ToString());
    s.source = "primaries " + absl::StrJoin(primaries, " ");
  }
  absl::Time now = owner_loop_->Now();
  LiveZone* e = store_->Find(zc.name);
  std::shared_ptr<const ServedZone> cur = e ? e->Current() : nullptr;
  if (cur) {
    s.serial = cur->serial().value();
    s.records = cur->version->size();
    s.journal = cur->journal.size();
  }
  if (s.file) {
    s.health = cur ? "ok" : "no-data";
    if (cur) s.last_refresh = cur->refreshed_at;
  } else if (auto it = upstream_.find(zc.name); it != upstream_.end()) {
    const UpstreamZone& up = *it->second;
    RefreshHealth h = up.Health();
    s.health = std::string(RefreshHealthName(h.state));
    s.last_refresh = h.last_success;
    // Restored from state-dir: the last contact of the previous run.
    if (!s.last_refresh && e) s.last_refresh = e->refreshed_at();
    if (h.next_check != absl::InfiniteFuture()) s.next_refresh = h.next_check;
    s.last_error = h.last_error;
    if (const auto& t = up.last_transfer()) {
      s.last_transfer_kind = t->incremental ? "IXFR" : "AXFR";
      s.last_transfer_from = t->from.ToString();
      s.last_transfer_at = t->at;
    }
    if (cur) s.expire_seconds = e->ExpireRemaining(*cur, now);
  }
  std::vector<PeerReport> reports = CollectPeerReports(zc.name, cur);
  for (const PeerReport& p : reports) {
    ++s.peers_total;
    if (p.state == PeerSyncName(PeerSync::kInSync)) ++s.peers_in_sync;
  }
  if (peers) *peers = std::move(reports);
  return s;
}

std::optional<std::vector<ZoneStatusReport>> Server::StatusReports() {
  return OnOwner<std::vector<ZoneStatusReport>>(
      *owner_loop_, control_stopping_, kStatusPageBound, [this] {
        std::vector<ZoneStatusReport> out;
        out.reserve(config_.zones.size());
        for (const ZoneConfig& z : config_.zones) {
          ZoneStatusReport& r = out.emplace_back();
          r.status = StatusOf(z, &r.peers);
          LiveZone* e = store_->Find(z.name);
          if (std::shared_ptr<const ServedZone> cur = e ? e->Current() : nullptr) {
            r.loaded_at = cur->refreshed_at;
          }
        }
        return out;
      });
}

// refresh, retransfer, notify: started on the owner's thread; the answer
// says what was started (the outcome follows in the log and in `status`).
absl::StatusOr<std::string> Server::ControlAction(const ControlRequest& r) {
  const Name& name = *r.zone;
  const ZoneConfig* zc = config_.FindZone(name);
  if (zc == nullptr) return UnknownZone(name);
  std::string zone = zc->name.ToText();
  if (r.verb == ControlVerb::kNotify) {
    LiveZone* e = store_->Find(name);
    std::shared_ptr<const ServedZone> cur = e ? e->Current() : nullptr;
    if (!cur) {
      return absl::FailedPreconditionError(
          fmt::format("zone {} has no data yet: no NOTIFY to send", zone));
    }
    std::optional<SocketAddress> peer;
    if (!r.peer.empty()) {
      auto a = SocketAddress::Parse(r.peer, 53);
      if (!a.ok()) {
        return absl::InvalidArgumentError(
            fmt::format("bad peer address '{}': {}", r.peer, ToStd(a.status().message())));
      }
      peer = *a;
    }
    if (!notify_) return absl::UnavailableError("NOTIFY is not running");
    auto n = notify_->Renotify(name, cur->serial(), cur->version->soa(), peer);
    if (!n.ok()) return n.status();
    return fmt::format("zone {}: NOTIFY for serial {} sent to {} secondar{}", zone,
                       cur->serial().ToString(), *n, *n == 1 ? "y" : "ies");
  }
  auto it = upstream_.find(name);
  if (zc->produce_catalog) {
    return absl::FailedPreconditionError(fmt::format(
        "zone {} is a catalog xfrproxy produces: it has no primary (`reload` updates it)",
        zone));
  }
  if (zc->has_file() || it == upstream_.end()) {
    return absl::FailedPreconditionError(fmt::format(
        "zone {} is served from the file {}: it has no primary to {} from (`reload` re-reads "
        "the file)",
        zone, zc->file, r.verb == ControlVerb::kRefresh ? "refresh" : "transfer"));
  }
  if (r.verb == ControlVerb::kRefresh) {
    LogInfo("zone {}: refresh asked for", zone);
    it->second->RefreshNow();
    return fmt::format("zone {}: SOA check of the primaries started", zone);
  }
  it->second->Retransfer();
  return fmt::format("zone {}: AXFR from the primaries started (retransfer)", zone);
}

ControlResponse Server::HandleControl(const ControlRequest& r) {
  bool json = r.json;
  auto fail = [json](std::string_view why) { return ControlMessage(json, false, why); };
  auto busy = [&](absl::Duration bound) {
    return fail(control_stopping_.load()
                    ? std::string("xfrproxy is shutting down")
                    : fmt::format("the zone owner did not answer within {} (busy with a large "
                                  "zone?); see the log, and try again",
                                  absl::FormatDuration(bound)));
  };
  EventLoop& loop = *owner_loop_;
  switch (r.verb) {
    case ControlVerb::kStatus: {
      auto zones = OnOwner<absl::StatusOr<std::vector<ZoneStatus>>>(
          loop, control_stopping_, kOwnerBound,
          [this, zone = r.zone]() -> absl::StatusOr<std::vector<ZoneStatus>> {
            std::vector<ZoneStatus> out;
            for (const ZoneConfig& z : config_.zones) {
              if (!zone || z.name == *zone) out.push_back(StatusOf(z));
            }
            if (zone && out.empty()) return UnknownZone(*zone);
            return out;
          });
      if (!zones) return busy(kOwnerBound);
      if (!zones->ok()) return fail(ToStd(zones->status().message()));
      ControlResponse resp;
      resp.body = json ? RenderStatusJson(**zones) : RenderStatusText(**zones, absl::Now());
      return resp;
    }
    case ControlVerb::kPeers: {
      auto peers = OnOwner<absl::StatusOr<std::vector<PeerReport>>>(
          loop, control_stopping_, kOwnerBound,
          [this, zone = *r.zone]() -> absl::StatusOr<std::vector<PeerReport>> {
            LiveZone* e = config_.FindZone(zone) ? store_->Find(zone) : nullptr;
            if (e == nullptr) return UnknownZone(zone);
            return CollectPeerReports(zone, e->Current());
          });
      if (!peers) return busy(kOwnerBound);
      if (!peers->ok()) return fail(ToStd(peers->status().message()));
      std::string zone = r.zone->ToText();
      ControlResponse resp;
      resp.body = json ? RenderPeersJsonBody(zone, **peers)
                       : RenderPeersText(zone, **peers, absl::Now());
      return resp;
    }
    case ControlVerb::kReload: {
      // The answer is worded on the owner's thread: config_ is its own.
      auto done = OnOwner<absl::StatusOr<std::string>>(
          loop, control_stopping_, kReloadBound, [this]() -> absl::StatusOr<std::string> {
            LogInfo("ctl: reloading {}", config_.path);
            auto st = Reload();
            if (!st.ok()) {
              LogError("reload failed, keeping the running configuration: {}",
                       std::string(ToStd(st.status().message())));
              return absl::InvalidArgumentError(
                  fmt::format("reload failed, keeping the running configuration: {}",
                              ToStd(st.status().message())));
            }
            if (!st->empty()) {
              return absl::FailedPreconditionError(
                  fmt::format("configuration reloaded, but:\n{}", absl::StrJoin(*st, "\n")));
            }
            return fmt::format("reloaded {}", config_.path);
          });
      if (!done) return busy(kReloadBound);
      if (!done->ok()) return fail(ToStd(done->status().message()));
      return ControlMessage(json, true, **done);
    }
    case ControlVerb::kRefresh:
    case ControlVerb::kRetransfer:
    case ControlVerb::kNotify: {
      auto done = OnOwner<absl::StatusOr<std::string>>(
          loop, control_stopping_, kOwnerBound, [this, r] { return ControlAction(r); });
      if (!done) return busy(kOwnerBound);
      if (!done->ok()) return fail(ToStd(done->status().message()));
      return ControlMessage(json, true, **done);
    }
  }
  return fail("unknown verb");
}

}  // namespace xfr
