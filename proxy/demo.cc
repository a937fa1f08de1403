#include "proxy/demo.h"

#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <mutex>
#include <thread>

#include "absl/container/flat_hash_map.h"
#include "bench/xfrload/primary.h"
#include "bench/xfrload/secondaries.h"
#include "bench/xfrload/verifier.h"
#include "fmt/format.h"
#include "proxy/log.h"
#include "proxy/server.h"

namespace xfr {
namespace {

constexpr char kZone[] = "demo.example.";
constexpr uint16_t kPreferredProxyPort = 5300;
// Proxied: the apex's www and the first CDN names, whose CNAMEs to the CDN
// are flattened into the edge addresses.
constexpr int kProxiedCdnNames = 20;

// A port that is free for both UDP and TCP on `ip` right now (the kernel
// picks it; the demo binds it a moment later).
absl::StatusOr<uint16_t> FreePort(const IpAddress& ip, uint16_t preferred = 0) {
  for (uint16_t want : {preferred, uint16_t{0}}) {
    SocketAddress probe(ip, want);
    sockaddr_storage ss{};
    socklen_t len = probe.ToSockaddr(ss);
    int t = ::socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int u = ::socket(ss.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    bool ok = t >= 0 && u >= 0 && ::bind(t, reinterpret_cast<sockaddr*>(&ss), len) == 0;
    uint16_t port = 0;
    if (ok) {
      sockaddr_storage got{};
      socklen_t got_len = sizeof got;
      ::getsockname(t, reinterpret_cast<sockaddr*>(&got), &got_len);
      port = ntohs(reinterpret_cast<sockaddr_in*>(&got)->sin_port);
      SocketAddress same(ip, port);
      len = same.ToSockaddr(ss);
      ok = ::bind(u, reinterpret_cast<sockaddr*>(&ss), len) == 0;
    }
    if (t >= 0) ::close(t);
    if (u >= 0) ::close(u);
    if (ok) return port;
  }
  return absl::UnavailableError(fmt::format("no free port on {}", ip.ToString()));
}

// The serial a server answers for the zone, by one SOA query over UDP.
std::optional<Serial> QuerySerial(const SocketAddress& server, const Name& zone) {
  sockaddr_storage ss{};
  socklen_t len = server.ToSockaddr(ss);
  int fd = ::socket(ss.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return std::nullopt;
  std::optional<Serial> out;
  std::vector<uint8_t> query, mac;
  uint16_t id = static_cast<uint16_t>(std::rand());
  if (load::BuildQuery(load::QueryKind::kSoa, zone, id, Serial(), nullptr, absl::Now(), query,
                       mac)
          .ok() &&
      ::connect(fd, reinterpret_cast<sockaddr*>(&ss), len) == 0 &&
      ::send(fd, query.data(), query.size(), 0) >= 0) {
    pollfd p{fd, POLLIN, 0};
    uint8_t buf[4096];
    ssize_t n = ::poll(&p, 1, 300) > 0 ? ::recv(fd, buf, sizeof buf, 0) : -1;
    load::AnswerVerifier v;
    if (n > 0 && v.Begin(load::QueryKind::kSoa, zone, id, Serial(), nullptr, Bytes(mac)).ok() &&
        v.Feed(Bytes(buf, static_cast<size_t>(n)), absl::Now()) ==
            load::AnswerVerifier::Step::kDone) {
      out = v.server_serial();
    }
  }
  ::close(fd);
  return out;
}

std::string Ms(absl::Duration d) {
  double ms = absl::ToDoubleMilliseconds(d);
  return ms < 10 ? fmt::format("{:.2f} ms", ms) : fmt::format("{:.0f} ms", ms);
}

std::string SerialText(std::optional<Serial> s) { return s ? s->ToString() : "-"; }

// When the primary published each serial, for the end-to-end time.
class Timeline {
 public:
  void Published(Serial s, absl::Time at) {
    std::lock_guard<std::mutex> l(mu_);
    at_[s.value()] = at;
  }
  std::optional<absl::Time> When(Serial s) const {
    std::lock_guard<std::mutex> l(mu_);
    auto it = at_.find(s.value());
    if (it == at_.end()) return std::nullopt;
    return it->second;
  }

 private:
  mutable std::mutex mu_;
  absl::flat_hash_map<uint32_t, absl::Time> at_;
};

struct Parts {
  DemoSettings settings;
  SocketAddress primary_addr, proxy_addr, http_addr, notify_base;
  std::string dir;
  load::SyntheticPrimary* primary = nullptr;
  Server* proxy = nullptr;
  load::SecondariesLoad* secondaries = nullptr;
  Timeline* timeline = nullptr;
  std::optional<Serial> proxy_serial;  // the last the proxy answered
};

// One frame of the live view.
std::string Frame(Parts& p, absl::Time started, bool final_frame) {
  Name zone = *Name::FromText(kZone);
  load::PrimaryStats ps = p.primary->Stats();
  if (!final_frame) {
    if (auto s = QuerySerial(p.proxy_addr, zone)) p.proxy_serial = s;
  }
  std::optional<Serial> proxy_serial = p.proxy_serial;
  ServerStats& xs = p.proxy->stats();
  load::SecondariesSnapshot ss = p.secondaries->Snapshot();
  uint32_t in_sync = 0;
  for (const auto& [serial, n] : ss.serials) {
    if (serial && proxy_serial && *serial == *proxy_serial) in_sync += n;
  }
  uint64_t upstream = xs.upstream_transfers.Get();
  uint64_t served = xs.transfers_done.Get();
  std::string out;
  out += fmt::format(
      "xfrproxy demo: synthetic primary -> xfrproxy -> {} simulated secondaries, on loopback "
      "({}s{})\n\n",
      p.settings.secondaries, absl::ToInt64Seconds(absl::Now() - started),
      final_frame ? ", stopped" : ", Ctrl-C stops");
  out += fmt::format("  zone {}  {} records, {} record changes every {} s\n", kZone, ps.records, 10,
                     p.settings.interval_seconds);
  out += fmt::format("  primary      {:<22} serial {:<10} versions {:<5} transfers served {}\n",
                     p.primary_addr.ToString(), ps.serial.ToString(), ps.versions,
                     ps.transfers());
  out += fmt::format("  xfrproxy     {:<22} serial {:<10} upstream transfers {:<5} served {} "
                     "({} per upstream transfer)\n",
                     p.proxy_addr.ToString(), SerialText(proxy_serial), upstream, served,
                     upstream ? fmt::format("{:.0f}", double(served) / double(upstream))
                              : std::string("-"));
  out += fmt::format("  secondaries  {:<22} in sync {}/{}  NOTIFYs {}  IXFR {}  AXFR {}  "
                     "errors {}\n",
                     fmt::format("{}...", p.notify_base.ToString()), in_sync, ss.secondaries,
                     ss.notifies, ss.incremental, ss.full, ss.errors);
  if (ss.last_converged) {
    const load::NotifyRound& r = *ss.last_converged;
    std::optional<absl::Time> published = p.timeline->When(r.serial);
    out += fmt::format(
        "  last change  serial {}: NOTIFY fan-out {} (first to last secondary), all {} "
        "in sync {} after the first NOTIFY{}\n",
        r.serial.ToString(), Ms(r.spread()), ss.secondaries, Ms(*r.convergence()),
        published && *r.converged > *published
            ? fmt::format(", {} after the primary's change", Ms(*r.converged - *published))
            : std::string());
  } else {
    out += "  last change  (waiting for the first change to reach every secondary)\n";
  }
  out += fmt::format(
      "\n  proxied: www.{} and cdn-00000000..{:08} (CNAMEs to the CDN, flattened) -> "
      "203.0.113.10, 2001:db8:ed9e::10\n",
      kZone, kProxiedCdnNames - 1);
  out += fmt::format("  try: dig @{} -p {} {} AXFR   |   curl http://{}/metrics\n",
                     p.proxy_addr.ip().ToString(), p.proxy_addr.port(), kZone,
                     p.http_addr.ToString());
  out += fmt::format("  config and log: {}\n", p.dir);
  return out;
}

std::string ProxyConfig(const Parts& p, const load::SecondariesOptions& so) {
  std::string names = fmt::format("\"www.{}\"", kZone);
  for (int i = 0; i < kProxiedCdnNames; ++i) {
    names += fmt::format(", \"cdn-{:08}.{}\"", i, kZone);
  }
  std::string secondaries = load::SecondariesConfigYaml(so);
  std::string indented;
  size_t start = 0;
  while (start < secondaries.size()) {
    size_t end = secondaries.find('\n', start);
    if (end == std::string::npos) end = secondaries.size();
    indented += "    " + secondaries.substr(start, end - start) + "\n";
    start = end + 1;
  }
  return fmt::format(
      "# Written by `xfrproxy demo`.\n"
      "listen: [\"{}\"]\n"
      "threads: 1\n"
      "http: \"{}\"\n"
      "zones:\n"
      "  - name: {}\n"
      "    primaries: [\"{}\"]\n"
      "    allow-transfer: [\"127.0.0.0/8\"]\n"
      "    proxied:\n"
      "      names: [{}]\n"
      "      edge-v4: [\"203.0.113.10\", \"203.0.113.11\"]\n"
      "      edge-v6: [\"2001:db8:ed9e::10\"]\n"
      "      ttl: 300\n"
      "{}",
      p.proxy_addr.ToString(), p.http_addr.ToString(), kZone, p.primary_addr.ToString(), names,
      indented);
}

}  // namespace

int RunDemo(const DemoSettings& settings) {
  // Every thread started from here on inherits the mask: the signals reach
  // the proxy's signalfd only, and Ctrl-C stops the proxy, then the rest.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);

  auto fail = [](const std::string& what) {
    std::fprintf(stderr, "xfrproxy demo: %s\n", what.c_str());
    return kExitFailure;
  };
  Parts p;
  p.settings = settings;
  char dir_template[] = "/tmp/xfrproxy-demo-XXXXXX";
  if (::mkdtemp(dir_template) == nullptr) return fail(std::strerror(errno));
  p.dir = dir_template;
  IpAddress lo = *IpAddress::Parse("127.0.0.1");
  IpAddress notify_ip = *IpAddress::Parse("127.2.0.1");
  auto primary_port = FreePort(lo);
  auto proxy_port = FreePort(lo, kPreferredProxyPort);
  auto http_port = FreePort(lo);
  auto notify_port = FreePort(notify_ip);
  for (auto* port : {&primary_port, &proxy_port, &http_port, &notify_port}) {
    if (!port->ok()) return fail(std::string(port->status().message()));
  }
  p.primary_addr = SocketAddress(lo, *primary_port);
  p.proxy_addr = SocketAddress(lo, *proxy_port);
  p.http_addr = SocketAddress(lo, *http_port);
  p.notify_base = SocketAddress(notify_ip, *notify_port);
  Name zone = *Name::FromText(kZone);

  // The proxy logs to a file: the terminal is the live view's.
  std::string log_path = p.dir + "/xfrproxy.log";
  std::FILE* log = std::fopen(log_path.c_str(), "w");
  if (log == nullptr) return fail(fmt::format("{}: {}", log_path, std::strerror(errno)));
  int saved_stderr = ::dup(2);
  ::dup2(::fileno(log), 2);
  std::fclose(log);
  auto restore_stderr = [&] {
    if (saved_stderr >= 0) {
      ::dup2(saved_stderr, 2);
      ::close(saved_stderr);
      saved_stderr = -1;
    }
  };

  Timeline timeline;
  p.timeline = &timeline;
  load::PrimaryOptions po;
  po.listen = {p.primary_addr};
  po.zone = zone;
  po.records = settings.records;
  po.serial = Serial(2026120100);
  po.changes_per_second = 1.0 / settings.interval_seconds;
  po.changes_per_version = 10;
  po.notify = {p.proxy_addr};
  po.on_change = [&timeline](const load::ChangeEvent& e) {
    timeline.Published(e.serial, absl::Now());
  };
  load::SyntheticPrimary primary(po);
  if (absl::Status st = primary.Start(); !st.ok()) {
    restore_stderr();
    return fail(fmt::format("primary: {}", std::string(st.message())));
  }
  p.primary = &primary;

  load::SecondariesOptions so;
  so.target = p.proxy_addr;
  so.zone = zone;
  so.count = settings.secondaries;
  so.mode = load::Mode::kNotify;
  so.listen_notify = p.notify_base;
  so.start_empty = true;
  so.concurrency = settings.secondaries;
  so.fresh_connections = true;
  so.timeout = absl::Seconds(30);

  std::string config_path = p.dir + "/xfrproxy.yaml";
  {
    std::ofstream f(config_path);
    f << ProxyConfig(p, so);
    if (!f) {
      restore_stderr();
      return fail(fmt::format("{}: cannot write", config_path));
    }
  }
  auto config = LoadConfig(config_path);
  if (!config.ok()) {
    restore_stderr();
    return fail(std::string(config.status().message()));
  }
  auto server = Server::Create(*config);
  if (!server.ok()) {
    restore_stderr();
    return fail(fmt::format("proxy: {}", std::string(server.status().message())));
  }
  p.proxy = server->get();

  // The proxy's first ring belongs to this thread (it was set up here), so
  // the proxy runs here; the rest of the demo runs beside it. The proxy
  // serves once its first AXFR from the primary is in; the secondaries start
  // from nothing and AXFR the zone from the proxy.
  std::mutex mu;
  std::condition_variable cv;
  bool stop = false;
  std::string error, last;
  std::unique_ptr<load::SecondariesLoad> secondaries;
  std::thread secondaries_thread;
  std::thread side([&] {
    absl::Time deadline = absl::Now() + absl::Seconds(60);
    while (!QuerySerial(p.proxy_addr, zone) && absl::Now() < deadline) {
      absl::SleepFor(absl::Milliseconds(50));
    }
    if (!QuerySerial(p.proxy_addr, zone)) {
      error = fmt::format("the proxy did not load {} from the primary (see {})", kZone, log_path);
    } else if (auto created = load::SecondariesLoad::Create(so); !created.ok()) {
      error = fmt::format("secondaries: {}", std::string(created.status().message()));
    } else {
      secondaries = std::move(*created);
    }
    if (!secondaries) {
      ::kill(::getpid(), SIGTERM);  // the proxy's signalfd takes it
      return;
    }
    p.secondaries = secondaries.get();
    secondaries_thread = std::thread([&] { secondaries->Run(); });
    // The view: redrawn in place on a terminal, a block per second otherwise.
    absl::Time started = absl::Now();
    bool tty = ::isatty(1);
    std::unique_lock<std::mutex> l(mu);
    while (!cv.wait_for(l, std::chrono::seconds(1), [&] { return stop; })) {
      std::string frame = Frame(p, started, false);
      std::fputs(((tty ? "\x1b[H\x1b[2J" : "") + frame + (tty ? "" : "\n")).c_str(), stdout);
      std::fflush(stdout);
      if (settings.duration_seconds > 0 &&
          absl::Now() - started >= absl::Seconds(settings.duration_seconds)) {
        ::kill(::getpid(), SIGINT);
        cv.wait(l, [&] { return stop; });
        break;
      }
    }
    last = std::string(tty ? "\x1b[H\x1b[2J" : "") + Frame(p, started, true);
  });

  (*server)->Run();  // until SIGINT/SIGTERM
  {
    std::lock_guard<std::mutex> l(mu);
    stop = true;
  }
  cv.notify_all();
  side.join();
  if (secondaries) {
    secondaries->Stop();
    secondaries_thread.join();
  }
  primary.Stop();
  restore_stderr();
  if (!error.empty()) return fail(error);
  std::fputs(last.c_str(), stdout);
  std::fflush(stdout);
  return kExitOk;
}

}  // namespace xfr
