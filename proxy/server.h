// The running xfrproxy: serving threads (one ring each, SO_REUSEPORT
// listeners) and one zone-owner thread, the one that calls Run(), with a
// ring of its own and no listener. The owner makes every change to the
// zones: it follows the primaries, builds, rewrites, encodes and persists
// new versions, sends NOTIFY, reloads on SIGHUP and stops on SIGTERM.
// Serving threads only pick up the versions it publishes (an atomic
// pointer swap), so a million-record version being built never stalls a
// transfer being served (docs/architecture.md, "Threads").
#pragma once

#include <atomic>
#include <memory>
#include <thread>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "proxy/config.h"
#include "proxy/control_server.h"
#include "proxy/event_loop.h"
#include "proxy/http_routes.h"
#include "proxy/http_server.h"
#include "proxy/metrics.h"
#include "proxy/notify_sender.h"
#include "proxy/primary.h"
#include "proxy/state_store.h"
#include "proxy/stats.h"
#include "proxy/tcp_server.h"
#include "proxy/udp_server.h"
#include "proxy/upstream.h"
#include "proxy/zone_store.h"

namespace xfr {

class Server {
 public:
  static absl::StatusOr<std::unique_ptr<Server>> Create(const Config& config);
  ~Server();

  // Serves until SIGTERM or SIGINT; returns the process exit code.
  int Run();

  ServerStats& stats() { return stats_; }

 private:
  struct Worker;
  class SignalWatcher;
  Server() = default;
  absl::Status StartWorkers();
  absl::Status SetupWorker(Worker& w);
  // Loads (or reloads) every file zone of the current config; a zone whose
  // file is broken keeps serving its last good version. Returns (and logs)
  // what went wrong, a line per zone.
  std::vector<std::string> LoadFileZones();
  // Re-reads the config (SIGHUP, `ctl reload`); an error keeps the running
  // configuration and says why. Applied, it returns the zone files that
  // could not be loaded.
  // Tells systemd it is reloading, and ready again after (ReloadConfig).
  absl::StatusOr<std::vector<std::string>> Reload();
  absl::StatusOr<std::vector<std::string>> ReloadConfig();
  void BeginShutdown();
  // Every second on the owner's loop: FlushLogSuppression (proxy/log.h).
  void ScheduleLogFlush();
  // Creates, reconfigures or drops the upstream state machines to match
  // the config (zone owner thread only).
  void SyncUpstreams();
  std::optional<TsigKey> PrimaryKey(const ZoneConfig& z) const;
  // Requests waiting on `zone`'s check are answered now (every thread).
  void ReleaseWaiters(const Name& zone);
  // Stops the owner's loop once every serving thread has drained.
  void WaitForWorkers();
  // A new version of `zone` is servable: RFC 1996 §3.7 NOTIFY to its
  // secondaries (and, later, persistence).
  // `changed`: a new version (persisted first: what was served survives a
  // crash); false for the start-up NOTIFY of what is already on disk.
  void Published(const Name& zone, const ServedZone& z,
                 std::shared_ptr<const ZoneDiff> diff, bool changed);
  // Serves every zone's persisted version and journal at once (state-dir).
  void RestoreZones();
  void Persist(const Name& zone, const ServedZone& z, std::shared_ptr<const ZoneDiff> diff);
  std::string RewrittenMarkerPath(const Name& zone) const;
  void MarkRewritten(const Name& zone, bool on);
  void AttachPeers();
  // `metrics:` to /metrics, and a warning when the zones outnumber the bound.
  void ApplyMetricsOptions();
  // Per-peer NOTIFY state of every zone for /peers and /metrics, read on
  // the owner's thread in one pass; empty when it did not answer in time.
  absl::flat_hash_map<Name, std::vector<PeerReport>> AllPeerReports();
  // The same, on the owner's thread itself.
  std::vector<PeerReport> CollectPeerReports(const Name& zone,
                                             std::shared_ptr<const ServedZone> current);

  // `xfrproxy ctl` (proxy/server_control.cc): runs on the control thread;
  // zone and peer state is read and changed on the owner's thread, waited
  // for with a bound.
  absl::Status StartControl();
  ControlResponse HandleControl(const ControlRequest& request);
  // With `peers`, also the zone's peers, as gathered for the count.
  ZoneStatus StatusOf(const ZoneConfig& zone, std::vector<PeerReport>* peers = nullptr);
  // Every zone's status and peers for /status.json, read on the owner's
  // thread in one pass (one wait for the HTTP thread, however many zones);
  // unset when the owner did not answer within a bound.
  std::optional<std::vector<ZoneStatusReport>> StatusReports();
  absl::StatusOr<std::string> ControlAction(const ControlRequest& request);

  Config config_;
  std::shared_ptr<ZoneStore> store_;
  ServerStats stats_;
  std::unique_ptr<ConnectionLimiter> limiter_;
  std::vector<std::unique_ptr<Worker>> workers_;
  // The zone owner's loop, run by Run() on the calling thread.
  std::unique_ptr<EventLoop> owner_;
  EventLoop* owner_loop_ = nullptr;
  std::atomic<size_t> workers_running_{0};
  std::unique_ptr<SignalWatcher> signals_;
  // NOTIFY fan-out to the secondaries (first worker's loop); declared after
  // the workers so it goes before their loops do.
  std::unique_ptr<NotifySender> notify_;
  // Exchanges with primaries; outlives the zones that start them.
  std::unique_ptr<ExchangePool> exchanges_;
  // Zones that follow a primary, owned by the zone owner's thread.
  absl::flat_hash_map<Name, std::unique_ptr<UpstreamZone>> upstream_;
  bool shutting_down_ = false;
  std::optional<StateStore> state_;  // when state-dir is set
  // /, /status.json, /metrics, /healthz, /peers on their own thread;
  // destroyed first.
  std::unique_ptr<StatusPages> status_pages_;
  std::unique_ptr<HttpServer> http_;
  // `xfrproxy ctl` on its own thread; destroyed first. `control_stopping_`
  // ends its waits on an owner that no longer runs.
  std::atomic<bool> control_stopping_{false};
  std::unique_ptr<ControlServer> control_;
};

// The run function for CliMain.
int RunServer(const Config& config);

}  // namespace xfr
