#include "proxy/server.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <future>

#include "fmt/format.h"
#include "proxy/file_zone.h"
#include "proxy/log.h"
#include "proxy/run_as.h"
#include "proxy/socket.h"
#include "proxy/systemd_notify.h"
#include "proxy/transfer_stream.h"

namespace xfr {
namespace {
// In-flight transfers get this long to finish after SIGTERM.
constexpr absl::Duration kShutdownGrace = absl::Seconds(10);
constexpr absl::Duration kShutdownPoll = absl::Milliseconds(50);
constexpr uint16_t kUdpBufferGroupBase = 1;
constexpr uint16_t kNotifyBufferGroup = 1000;

// The local address upstream queries and transfers leave from (the port,
// if one is configured, is not used: each exchange has its own socket).
std::optional<IpAddress> TransferSource(const Config& config, const ZoneConfig& zone, bool v6) {
  std::optional<SocketAddress> a = config.SourceFor(zone, SourceKind::kTransfer, v6);
  if (!a) return std::nullopt;
  return a->ip();
}

// The one-line status `systemctl status` shows.
std::string ServingStatus(const Config& config) {
  std::string out = fmt::format("serving {} zones on", config.zones.size());
  for (const SocketAddress& a : config.listen) {
    out += ' ';
    out += a.ToString();
  }
  return out;
}

sigset_t HandledSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGHUP);
  return set;
}
}  // namespace

struct Server::Worker {
  int index = 0;
  std::unique_ptr<EventLoop> loop;
  std::unique_ptr<PrimaryResponder> responder;
  std::vector<std::unique_ptr<UdpServer>> udp;
  std::vector<std::unique_ptr<TcpServer>> tcp;
  std::thread thread;
  absl::Time stop_deadline = absl::InfiniteFuture();

  // Stops taking new work, then polls until open transfers are done or the
  // grace period is over.
  void Drain() {
    for (auto& t : tcp) t->StopAccepting();
    for (auto& u : udp) u->Stop();
    stop_deadline = loop->Now() + kShutdownGrace;
    Poll();
  }
  void Poll() {
    size_t open = 0;
    for (auto& t : tcp) {
      t->CloseIdle();
      open += t->connection_count();
    }
    if (open == 0 || loop->Now() >= stop_deadline) {
      if (open > 0) LogWarning("thread {}: closing {} connections at shutdown", index, open);
      loop->Stop();
      return;
    }
    loop->After(kShutdownPoll, [this] { Poll(); });
  }
};

// Reads SIGHUP/SIGTERM/SIGINT through a signalfd on the first ring, so
// signals are ordinary completions handled on the thread that owns zones.
class Server::SignalWatcher : public CompletionTarget {
 public:
  SignalWatcher(Server& s, EventLoop& loop, int fd) : server_(s), loop_(loop), fd_(fd) {
    Arm();
  }
  ~SignalWatcher() override { ::close(fd_); }

 private:
  void Arm() { loop_.ring().Read(fd_, &info_, sizeof info_, this, 1); }
  void OnCompletion(const Event& e) override {
    if (e.res == static_cast<int>(sizeof info_)) {
      if (info_.ssi_signo == SIGHUP) {
        LogInfo("SIGHUP: reloading {}", server_.config_.path);
        // Zone file problems are logged as they are found.
        if (auto st = server_.Reload(); !st.ok()) {
          LogError("reload failed, keeping the running configuration: {}",
                   std::string(st.status().message()));
        }
      } else {
        LogInfo("signal {}: stopping", info_.ssi_signo == SIGINT ? "SIGINT" : "SIGTERM");
        server_.BeginShutdown();
      }
    }
    if (e.res != -ECANCELED && !server_.shutting_down_) Arm();
  }

  Server& server_;
  EventLoop& loop_;
  int fd_;
  signalfd_siginfo info_{};
};

absl::StatusOr<std::unique_ptr<Server>> Server::Create(const Config& config) {
  std::unique_ptr<Server> s(new Server());
  s->config_ = config;
  auto store = ZoneStore::FromConfig(config, nullptr);
  if (!store.ok()) return store.status();
  s->store_ = std::move(*store);
  TcpLimits limits;
  limits.max_connections = config.limits.tcp_connections;
  limits.max_connections_per_ip = config.limits.tcp_connections_per_ip;
  limits.idle_timeout = config.limits.tcp_idle_timeout;
  limits.write_timeout = config.limits.tcp_write_timeout;
  limits.max_concurrent_transfers = config.limits.max_concurrent_transfers;
  s->limiter_ = std::make_unique<ConnectionLimiter>(limits);
  if (!config.state_dir.empty()) {
    auto state = StateStore::Open(config.state_dir);
    if (!state.ok()) return state.status();
    s->state_.emplace(std::move(*state));
    s->RestoreZones();
  }
  s->LoadFileZones();
  if (absl::Status st = s->StartWorkers(); !st.ok()) return st;
  s->SyncUpstreams();
  if (config.http) {
    Server* raw = s.get();
    s->status_pages_ = std::make_unique<StatusPages>(s->stats_, s->store_);
    s->status_pages_->SetPeerSource([raw] { return raw->AllPeerReports(); });
    s->status_pages_->SetStatusSource([raw] { return raw->StatusReports(); });
    s->ApplyMetricsOptions();
    // Two threads: /healthz and /metrics are answered while a /status.json
    // or /peers request waits for a busy zone owner.
    HttpServerOptions http_options;
    http_options.threads = 2;
    auto http = HttpServer::Start(*config.http, s->status_pages_->AsHandler(), http_options);
    if (!http.ok()) {
      s->BeginShutdown();
      return http.status();
    }
    s->http_ = std::move(*http);
    LogInfo("http: / /status.json /metrics /healthz /peers on {}",
            s->http_->address().ToString());
  }
  if (absl::Status st = s->StartControl(); !st.ok()) {
    s->BeginShutdown();
    return st;
  }
  // Everything that needed root is done: the listeners, the http and
  // control sockets and state-dir. The account switched to keeps state-dir
  // and the control socket.
  std::vector<std::string> hand_over;
  if (!config.state_dir.empty()) hand_over.push_back(config.state_dir);
  if (!config.control_socket.empty()) hand_over.push_back(config.control_socket);
  if (absl::Status st = ApplyRunAs(config.run_as, hand_over); !st.ok()) {
    s->BeginShutdown();
    return st;
  }
  return s;
}

Server::~Server() {
  for (auto& w : workers_) {
    if (w->thread.joinable()) w->thread.join();
  }
}

std::vector<std::string> Server::LoadFileZones() {
  std::vector<std::string> problems;
  absl::Time now = absl::Now();
  // A produced catalog lists every zone configured, whether served yet or
  // not (a consumer then follows it from us, and waits as we do), but no
  // catalog: those provision nothing.
  std::vector<Name> members;
  for (const ZoneConfig& z : config_.zones) {
    if (!z.produce_catalog) members.push_back(z.name);
  }
  for (const ZoneConfig& z : config_.zones) {
    if (!z.is_local()) continue;
    LiveZone* entry = store_->Find(z.name);
    std::shared_ptr<const ServedZone> current = entry->Current();
    auto loaded = z.produce_catalog ? ProduceCatalogZone(z, members, current, now)
                                    : LoadFileZone(z, current, now);
    if (!loaded.ok()) {
      problems.push_back(fmt::format(
          "zone {}: {}{}", z.name.ToText(), std::string(loaded.status().message()),
          current ? fmt::format("; still serving serial {}", current->serial().ToString())
                  : std::string("; not served until the file is fixed")));
      LogError("{}", problems.back());
      stats_.zone_file_refusals.Add();
      continue;
    }
    if (*loaded == current) continue;
    // The same serial again is a restored view learning its file's data,
    // not a change: nothing to persist, nobody waits for it.
    bool changed = !current || current->serial() != (*loaded)->serial();
    entry->Publish(*loaded);
    const ServedZone& sz = **loaded;
    LogInfo("zone {}: serving serial {} ({} records, {} AXFR messages, {} journal diffs)",
            z.name.ToText(), sz.serial().ToString(), sz.version->size(), sz.axfr.size(),
            sz.journal.size());
    std::shared_ptr<const ZoneDiff> diff;
    if (current && !sz.journal.empty() && sz.journal.back()->from() == current->serial()) {
      diff = sz.journal.back();
    }
    Published(z.name, sz, diff, changed);
  }
  return problems;
}

absl::Status Server::SetupWorker(Worker& w) {
  auto loop = EventLoop::Create();
  if (!loop.ok()) return loop.status();
  w.loop = std::move(*loop);
  // NOTIFYs and clients ahead of us reach the zone owner, whichever thread
  // took them (RFC 1996: answer at once, act on the owner's schedule).
  EventLoop* owner = owner_loop_;
  NotifyHook hook = [this, owner](const Name& zone, const SocketAddress& from,
                                  std::optional<Serial> hint, RefreshTrigger why) {
    owner->Post([this, zone, from, hint, why] {
      auto it = upstream_.find(zone);
      if (it == upstream_.end()) return;
      if (why == RefreshTrigger::kClientAhead && hint) {
        it->second->ClientAhead(*hint);
      } else {
        it->second->Notified(from, hint);
      }
    });
  };
  w.responder = std::make_unique<PrimaryResponder>(store_, stats_, std::move(hook));
  uint16_t group = kUdpBufferGroupBase;
  for (const SocketAddress& addr : config_.listen) {
    auto ufd = OpenUdpSocket(addr, /*reuse_port=*/true);
    if (!ufd.ok()) return ufd.status();
    auto udp = UdpServer::Start(*w.loop, std::move(*ufd), *w.responder, stats_, group++);
    if (!udp.ok()) return udp.status();
    w.udp.push_back(std::move(*udp));
    auto tfd = OpenTcpListener(addr, /*reuse_port=*/true);
    if (!tfd.ok()) return tfd.status();
    auto tcp = TcpServer::Start(*w.loop, std::move(*tfd), *w.responder, stats_, *limiter_);
    if (!tcp.ok()) return tcp.status();
    // A finished transfer tells /peers what the peer now holds.
    (*tcp)->OnTransferSent([resp = w.responder.get()](const TransferStream& t,
                                                      const SocketAddress& peer, absl::Time now) {
      ReportTransferSent(*resp->store(), t, peer, now);
      // Off unless asked for: a busy server would write a line per peer
      // per change.
      if (LogTransfersEnabled()) LogInfo("{}", DescribeTransferSent(t, peer, now));
    });
    w.tcp.push_back(std::move(*tcp));
  }
  return absl::OkStatus();
}

absl::Status Server::StartWorkers() {
  // Signals are taken by the signalfd only: block them in every thread
  // (threads inherit the mask) before any thread starts.
  sigset_t set = HandledSignals();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  int n = std::max(1, config_.threads);
  for (const SocketAddress& addr : config_.listen) {
    if (absl::Status st = CheckAddressFree(addr); !st.ok()) return st;
  }
  // The zone owner's ring: set up on this thread, which runs it in Run().
  auto owner = EventLoop::Create();
  if (!owner.ok()) return owner.status();
  owner_ = std::move(*owner);
  owner_loop_ = owner_.get();
  exchanges_ = std::make_unique<ExchangePool>(*owner_loop_);
  auto sender = NotifySender::Start(*owner_loop_, kNotifyBufferGroup);
  if (!sender.ok()) return sender.status();
  notify_ = std::move(*sender);
  notify_->Configure(config_);
  AttachPeers();
  // Each serving ring is created, armed and driven by one thread:
  // SINGLE_ISSUER and DEFER_TASKRUN tie it to the thread that set it up.
  for (int i = 0; i < n; ++i) {
    auto w = std::make_unique<Worker>();
    w->index = i;
    std::promise<absl::Status> ready;
    std::future<absl::Status> setup = ready.get_future();
    Worker* raw = w.get();
    workers_running_.fetch_add(1);
    w->thread = std::thread([this, raw, &ready] {
      absl::Status st = SetupWorker(*raw);
      bool ok = st.ok();
      ready.set_value(std::move(st));
      if (ok) raw->loop->Run();
      workers_running_.fetch_sub(1);
    });
    workers_.push_back(std::move(w));
    if (absl::Status st = setup.get(); !st.ok()) {
      workers_.back()->thread.join();
      workers_.pop_back();
      BeginShutdown();
      return st;
    }
  }
  for (const ZoneConfig& z : config_.zones) {
    // Like BIND and Knot, tell the secondaries at start-up what we serve.
    LiveZone* e = store_->Find(z.name);
    if (auto cur = e ? e->Current() : nullptr) Published(z.name, *cur, nullptr, false);
  }
  int sfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
  if (sfd < 0) {
    BeginShutdown();
    return absl::InternalError(fmt::format("signalfd: {}", std::strerror(errno)));
  }
  signals_ = std::make_unique<SignalWatcher>(*this, *owner_loop_, sfd);
  ScheduleLogFlush();
  LogInfo("serving {} zones on {} addresses with {} threads and a zone owner ({})",
          config_.zones.size(), config_.listen.size(), n,
          owner_loop_->ring().features().Describe());
  return absl::OkStatus();
}

void Server::ScheduleLogFlush() {
  // Rate-limited lines report what they held back when their window
  // closes; this makes that happen even after the flood has stopped.
  owner_loop_->After(absl::Seconds(1), [this] {
    FlushLogSuppression();
    if (!owner_loop_->stopping()) ScheduleLogFlush();
  });
}

absl::StatusOr<std::vector<std::string>> Server::Reload() {
  NotifyService(ServiceState::kReloading, fmt::format("reloading {}", config_.path));
  auto result = ReloadConfig();
  // Serving never stopped, so systemd hears READY whatever the outcome.
  std::string status = ServingStatus(config_);
  if (!result.ok()) {
    status += fmt::format("; reload failed: {}", std::string(result.status().message()));
  } else if (!result->empty()) {
    status += fmt::format("; {} zone files failed to load", result->size());
  }
  NotifyService(ServiceState::kReady, status);
  return result;
}

absl::StatusOr<std::vector<std::string>> Server::ReloadConfig() {
  // A broken zone file is not a reload error: that zone keeps serving its
  // last good version (LoadFileZones says so in the log).
  auto config = LoadConfig(config_.path);
  if (!config.ok()) return config.status();
  if (config->listen != config_.listen || config->threads != config_.threads ||
      config->control_socket != config_.control_socket || config->run_as != config_.run_as ||
      config->http != config_.http) {
    LogWarning("listen addresses, threads, the control socket, the http endpoint, user and "
               "group change only on restart");
    config->listen = config_.listen;
    config->http = config_.http;
    config->threads = config_.threads;
    config->control_socket = config_.control_socket;
    config->run_as = config_.run_as;
  }
  auto store = ZoneStore::FromConfig(*config, store_.get());
  if (!store.ok()) return store.status();
  ApplyLogSettings(config->log);
  if (config->log != config_.log) {
    // Written at the new level: lowering it to debug shows at once.
    LogInfo("log: level {}, target {}, transfers {}", LogLevelName(config->log.level),
            LogTargetName(config->log.target), config->log.transfers ? "on" : "off");
  }
  config_ = std::move(*config);
  store_ = std::move(*store);
  if (notify_) notify_->Configure(config_);
  AttachPeers();
  std::vector<std::string> problems = LoadFileZones();
  for (auto& w : workers_) w->responder->SetStore(store_);
  if (status_pages_) status_pages_->SetStore(store_);
  ApplyMetricsOptions();
  SyncUpstreams();
  return problems;
}

void Server::ApplyMetricsOptions() {
  if (!status_pages_) return;
  status_pages_->SetMetricsOptions(config_.metrics);
  const MetricsOptions& m = config_.metrics;
  if (m.per_zone && !m.PerZone(config_.zones.size())) {
    LogWarning("metrics: {} zones, over max-zone-series ({}): per-zone series are left out, "
               "the zone totals stay", config_.zones.size(), m.max_zone_series);
  }
}

std::optional<TsigKey> Server::PrimaryKey(const ZoneConfig& z) const {
  return FindTsigKeyConfig(config_, z.primary_key);
}

void Server::SyncUpstreams() {
  absl::flat_hash_map<Name, std::unique_ptr<UpstreamZone>> next;
  // Zones starting together spread their first checks over a window sized
  // by how many of them there are.
  size_t starting = 0;
  for (const ZoneConfig& z : config_.zones) {
    if (!z.has_file() && !upstream_.contains(z.name)) ++starting;
  }
  for (const ZoneConfig& z : config_.zones) {
    if (z.is_local()) continue;
    std::optional<IpAddress> v4 = TransferSource(config_, z, /*v6=*/false);
    std::optional<IpAddress> v6 = TransferSource(config_, z, /*v6=*/true);
    auto it = upstream_.find(z.name);
    if (it != upstream_.end()) {
      // A changed list of primaries is checked at once (the machine does it).
      it->second->Reconfigure(z, PrimaryKey(z), config_.limits, v4, v6);
      next.emplace(z.name, std::move(it->second));
      continue;
    }
    Name name = z.name;
    UpstreamHooks hooks;
    hooks.published = [this, name](std::shared_ptr<const ServedZone> served,
                                   std::shared_ptr<const ZoneDiff> diff) {
      Published(name, *served, std::move(diff), /*changed=*/true);
    };
    hooks.refreshed = [this, name](absl::Time at, uint32_t expire) {
      if (!state_) return;
      if (absl::Status st = state_->SaveRefresh(name, at, expire); !st.ok()) {
        LogError("zone {}: state-dir: {}", name.ToText(), std::string(st.message()));
      }
    };
    hooks.release_waiters = [this, name] { ReleaseWaiters(name); };
    auto up = std::make_unique<UpstreamZone>(
        *exchanges_, z, PrimaryKey(z), config_.limits, v4, v6, stats_,
        [this, name] { return store_->Find(name); }, std::move(hooks),
        UpstreamRefreshOptions(starting));
    up->Start();
    next.emplace(z.name, std::move(up));
  }
  upstream_ = std::move(next);  // zones gone from the config stop here
}

void Server::ReleaseWaiters(const Name& zone) {
  for (auto& w : workers_) {
    Worker* raw = w.get();
    w->loop->Post([raw, zone] {
      for (auto& t : raw->tcp) t->ReleaseWaiting(zone);
    });
  }
}

void Server::AttachPeers() {
  if (!notify_) return;
  for (LiveZone* e : store_->entries()) e->SetPeers(notify_->Peers(e->name()));
}

absl::flat_hash_map<Name, std::vector<PeerReport>> Server::AllPeerReports() {
  // PeerTable state belongs to the owner's thread: ask it once for every
  // zone, and wait a bounded time (a busy owner makes /peers slow, never
  // the DNS side).
  using Reports = absl::flat_hash_map<Name, std::vector<PeerReport>>;
  auto done = std::make_shared<std::promise<Reports>>();
  std::future<Reports> result = done->get_future();
  if (!notify_ || shutting_down_) return {};
  owner_loop_->Post([this, done] {
    Reports out;
    for (LiveZone* e : store_->entries()) {
      out.emplace(e->name(), CollectPeerReports(e->name(), e->Current()));
    }
    done->set_value(std::move(out));
  });
  if (result.wait_for(std::chrono::seconds(2)) != std::future_status::ready) return {};
  return result.get();
}

std::vector<PeerReport> Server::CollectPeerReports(const Name& name,
                                                   std::shared_ptr<const ServedZone> cur) {
  std::shared_ptr<PeerTable> peers = notify_ ? notify_->Peers(name) : nullptr;
  if (!peers) return {};
  PeerTable& table = *peers;
  std::optional<Serial> current;
  absl::Time published = absl::InfinitePast();
  if (cur) {
    current = cur->serial();
    published = cur->refreshed_at;
  }
  absl::Time now = owner_loop_->Now();
  table.Collect(current, now);
  // A peer that answered has the NOTIFY retry window to come for the data.
  absl::Duration grace = NotifyRetryWindow(notify_->options());
  std::vector<PeerReport> out;
  for (size_t i = 0; i < table.size(); ++i) {
    const PeerState& p = table.at(i);
    PeerStatus st = ClassifyPeer(p, current, published, now, grace);
    PeerReport r;
    r.address = p.address.ToString();
    r.state = std::string(PeerSyncName(st.sync));
    r.seconds_behind = st.seconds_behind;
    r.serial = p.held;
    if (p.last_notified) r.last_notify = p.notified_at;
    if (p.held) r.last_seen = p.held_at;
    if (p.answered && (!r.last_seen || *r.last_seen < p.answered_at)) {
      r.last_seen = p.answered_at;
    }
    r.last_error = p.last_error;
    r.shared_address = p.shared_address;
    out.push_back(std::move(r));
  }
  return out;
}

void Server::Published(const Name& zone, const ServedZone& z,
                       std::shared_ptr<const ZoneDiff> diff, bool changed) {
  if (changed) {
    Persist(zone, z, std::move(diff));
    // Requests that were waiting for this data are answered now.
    for (auto& w : workers_) {
      Worker* raw = w.get();
      w->loop->Post([raw] {
        for (auto& t : raw->tcp) t->ZoneChanged();
      });
    }
  }
  if (notify_) notify_->Notify(zone, z.serial(), z.version->soa());
}

void Server::Persist(const Name& zone, const ServedZone& z,
                     std::shared_ptr<const ZoneDiff> diff) {
  if (!state_) return;
  const ZoneConfig* cfg = config_.FindZone(zone);
  size_t max_diffs = cfg ? cfg->journal_max_diffs : 100;
  absl::Time at = absl::Now();
  uint32_t expire = z.version->soa_fields().expire;
  if (LiveZone* e = store_->Find(zone)) expire = e->ExpireRemaining(z, at);
  // The marker goes down before a rewritten view is written and comes off
  // only after a plain one is: a crash in between costs one AXFR, never an
  // IXFR applied to edge addresses.
  bool rewritten = z.policy != nullptr;
  if (rewritten) MarkRewritten(zone, true);
  absl::Status st;
  if (diff) {
    // A change costs about its own size on disk, not the zone's.
    st = state_->AppendDiff(zone, *diff, at, expire);
    if (st.ok() && state_->ShouldCompact(zone)) {
      StateStore::SaveOptions keep;
      keep.keep_journal = true;
      keep.max_diffs = max_diffs;
      st = state_->SaveVersion(zone, *z.version, at, expire, keep);
    }
  }
  if (!diff || !st.ok()) {
    if (!st.ok()) {
      LogError("zone {}: state-dir journal: {}; writing a full snapshot", zone.ToText(),
               std::string(st.message()));
    }
    st = state_->SaveVersion(zone, *z.version, at, expire);
  }
  if (!st.ok()) {
    LogError("zone {}: state-dir: {} (serving continues; a restart would fall back to "
             "the last saved version)", zone.ToText(), std::string(st.message()));
  } else if (!rewritten) {
    MarkRewritten(zone, false);
  }
}

std::string Server::RewrittenMarkerPath(const Name& zone) const {
  return fmt::format("{}/{}.rewritten", state_->dir(), ZoneFileStem(zone));
}

void Server::MarkRewritten(const Name& zone, bool on) {
  // What state-dir holds for a zone with a `proxied` policy is the
  // rewritten view, not the primary's data: an empty file next to the
  // snapshot says so, so that a restart asks the primary for an AXFR instead
  // of an IXFR on top of edge addresses.
  std::string path = RewrittenMarkerPath(zone);
  if (on) {
    if (::access(path.c_str(), F_OK) == 0) return;
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0640);
    if (fd < 0) {
      LogError("zone {}: state-dir: {}: {}", zone.ToText(), path, std::strerror(errno));
      return;
    }
    ::close(fd);
    if (int dfd = ::open(state_->dir().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC); dfd >= 0) {
      ::fsync(dfd);
      ::close(dfd);
    }
  } else if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
    LogError("zone {}: state-dir: {}: {}", zone.ToText(), path, std::strerror(errno));
  }
}

void Server::RestoreZones() {
  absl::Time now = absl::Now();
  for (const ZoneConfig& z : config_.zones) {
    BuildOptions build;
    build.max_records = z.max_records;
    auto loaded = state_->Load(z.name, z.journal_max_diffs, build);
    if (!loaded.ok()) {
      LogError("zone {}: cannot use its state-dir files, starting without them: {}",
               z.name.ToText(), std::string(loaded.status().message()));
      continue;
    }
    if (!loaded->has_value()) continue;
    LoadedZone& lz = **loaded;
    PublishOptions opts;
    opts.max_diffs = z.journal_max_diffs;
    opts.never_expires = z.is_local();
    // A rewritten view is served as saved; the primary's data behind it is
    // learnt again with the next transfer (see MarkRewritten).
    ViewSource source;
    if (::access(RewrittenMarkerPath(z.name).c_str(), F_OK) == 0) {
      source.rewritten = true;
      LogInfo("zone {}: state-dir holds a rewritten view; the next transfer from the primary "
              "is an AXFR", z.name.ToText());
    }
    auto served =
        RestoreServedZone(lz.version, std::move(lz.journal), lz.refreshed_at, opts, source);
    if (!served.ok()) {
      LogError("zone {}: state-dir journal unusable, starting without it: {}", z.name.ToText(),
               std::string(served.status().message()));
      continue;
    }
    LiveZone* e = store_->Find(z.name);
    e->Publish(*served);
    if (!z.is_local()) e->MarkRefreshed(lz.refreshed_at, lz.expire_seconds);
    LogInfo("zone {}: serving serial {} from {} ({} journal diffs{})", z.name.ToText(),
            (*served)->serial().ToString(), config_.state_dir, (*served)->journal.size(),
            z.is_local() ? "" : fmt::format(", expires in {}s",
                                            e->ExpireRemaining(**served, now)));
  }
}

void Server::BeginShutdown() {
  if (shutting_down_) return;
  shutting_down_ = true;
  NotifyService(ServiceState::kStopping, "stopping");
  if (notify_) notify_->Stop();
  upstream_.clear();  // abandons every exchange with a primary
  for (auto& w : workers_) {
    Worker* raw = w.get();
    w->loop->Post([raw] { raw->Drain(); });
  }
  if (owner_loop_ != nullptr) WaitForWorkers();
}

void Server::WaitForWorkers() {
  if (workers_running_.load() == 0) {
    owner_loop_->Stop();
    return;
  }
  owner_loop_->After(kShutdownPoll, [this] { WaitForWorkers(); });
}

int Server::Run() {
  // Listening, with what state-dir and the zone files held loaded: a
  // Type=notify unit counts as started from here.
  NotifyService(ServiceState::kReady, ServingStatus(config_));
  // The serving threads already run; this thread owns the zones.
  owner_loop_->Run();
  // Clean shutdown: the control socket goes (a crash leaves it stale, and
  // the next start replaces it).
  control_stopping_.store(true);
  if (control_) control_->Stop();
  for (auto& w : workers_) {
    if (w->thread.joinable()) w->thread.join();
  }
  LogInfo("stopped: {} queries, {} transfers served",
          stats_.udp_queries.Get() + stats_.tcp_queries.Get(), stats_.transfers_done.Get());
  return 0;
}

int RunServer(const Config& config) {
  ApplyLogSettings(config.log);
  auto server = Server::Create(config);
  if (!server.ok()) {
    LogError("{}", std::string(server.status().message()));
    return 1;
  }
  return (*server)->Run();
}

}  // namespace xfr
