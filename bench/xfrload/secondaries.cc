#include "bench/xfrload/secondaries.h"

#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <thread>

#include "bench/xfrload/notify_listener.h"
#include "bench/xfrload/secondaries_shard.h"
#include "core/ascii.h"
#include "fmt/format.h"
#include "proxy/ring.h"
#include "proxy/socket.h"

namespace xfr::load {

uint64_t RaiseFileLimit() {
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return 1024;
  if (rl.rlim_cur < rl.rlim_max) {
    rlimit raised = rl;
    raised.rlim_cur = rl.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &raised) == 0) rl = raised;
  }
  return rl.rlim_cur == RLIM_INFINITY ? UINT64_MAX : rl.rlim_cur;
}

SecondariesLoad::SecondariesLoad(SecondariesOptions options) : options_(std::move(options)) {}

SecondariesLoad::~SecondariesLoad() = default;

absl::StatusOr<std::unique_ptr<SecondariesLoad>> SecondariesLoad::Create(
    SecondariesOptions options) {
  std::unique_ptr<SecondariesLoad> l(new SecondariesLoad(std::move(options)));
  if (absl::Status s = l->Setup(); !s.ok()) return s;
  return l;
}

absl::StatusOr<Serial> SecondariesLoad::QueryCurrentSerial() {
  const SocketAddress& t = options_.target;
  int fd = ::socket(t.ip().is_v4() ? AF_INET : AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return absl::InternalError(fmt::format("socket: {}", std::strerror(errno)));
  ScopedFd guard(fd);
  sockaddr_storage ss{};
  socklen_t len = t.ToSockaddr(ss);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&ss), len) != 0) {
    return absl::UnavailableError(
        fmt::format("connect {}: {}", t.ToString(), std::strerror(errno)));
  }
  const TsigKey* key = options_.tsig ? &*options_.tsig : nullptr;
  for (int attempt = 0; attempt < 3; ++attempt) {
    std::vector<uint8_t> query, mac;
    uint16_t id = static_cast<uint16_t>(0x5000 + attempt);
    if (absl::Status s = BuildQuery(QueryKind::kSoa, options_.zone, id, Serial(), key,
                                    absl::Now(), query, mac);
        !s.ok()) {
      return s;
    }
    if (::send(fd, query.data(), query.size(), 0) < 0) {
      return absl::UnavailableError(
          fmt::format("send to {}: {}", t.ToString(), std::strerror(errno)));
    }
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 2000) <= 0) continue;
    uint8_t buf[4096];
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n < 0) {
      return absl::UnavailableError(
          fmt::format("SOA query to {}: {}", t.ToString(), std::strerror(errno)));
    }
    AnswerVerifier v;
    if (absl::Status s = v.Begin(QueryKind::kSoa, options_.zone, id, Serial(), key, Bytes(mac));
        !s.ok()) {
      return s;
    }
    if (v.Feed(Bytes(buf, static_cast<size_t>(n)), absl::Now()) != AnswerVerifier::Step::kDone) {
      return absl::UnavailableError(fmt::format("SOA answer from {}: {}: {}", t.ToString(),
                                                ErrorKindName(v.error_kind()),
                                                v.error_detail()));
    }
    return v.server_serial();
  }
  return absl::DeadlineExceededError(fmt::format(
      "no answer to 3 SOA queries for {} from {}", options_.zone.ToText(), t.ToString()));
}

absl::Status SecondariesLoad::Setup() {
  const SecondariesOptions& o = options_;
  if (o.print_config) {
    // Nothing to run: the caller prints SecondariesConfigYaml(options).
    return absl::InvalidArgumentError("--print-config: print SecondariesConfigYaml() instead");
  }
  const bool notify = o.mode == Mode::kNotify;
  // Descriptors: a NOTIFY socket per secondary, a few per loop, and a TCP
  // connection per request in flight (fresh) or per secondary (pipelined).
  // Fresh connections may be fewer than --concurrency allows: then fewer
  // requests are in flight, and the report's concurrency says so.
  const uint64_t limit = RaiseFileLimit();
  const uint64_t fixed = (notify ? uint64_t{o.count} : 0) + 16 * uint64_t{o.threads} + 32;
  const bool tcp = o.mode != Mode::kSoa;
  const uint64_t tcp_min = !tcp ? 0 : o.fresh_connections ? o.threads : o.count;
  if (fixed + tcp_min > limit) {
    return absl::ResourceExhaustedError(fmt::format(
        "{} secondaries{} need at least {} open files, but the limit is {}: raise the hard "
        "limit (ulimit -Hn as root, LimitNOFILE= in systemd, nofile in limits.conf){}",
        o.count, notify ? " (a NOTIFY socket each)" : "", fixed + tcp_min, limit,
        o.fresh_connections ? "" : " or use --fresh-connections"));
  }
  if (tcp && o.fresh_connections && fixed + o.concurrency > limit) {
    options_.concurrency = static_cast<uint32_t>(limit - fixed);
  }
  // io_uring support is checked here, where the user sees the message,
  // though each loop makes its ring on its own thread.
  if (auto probe = Ring::Create(8); !probe.ok()) return probe.status();

  bool needs_serial = (o.mode == Mode::kIxfr || o.mode == Mode::kMixed ||
                       (notify && !o.start_empty));
  if (o.serial) {
    base_serial_ = *o.serial;
  } else if (needs_serial) {
    auto s = QueryCurrentSerial();
    if (!s.ok()) return s.status();
    base_serial_ = *s;
  }

  std::vector<std::optional<Serial>> initial(o.count);
  for (uint32_t i = 0; i < o.count; ++i) initial[i] = Shard::InitialSerial(o, base_serial_, i);
  stats_ = std::make_unique<LiveStats>(initial, o.expect_serial);

  const uint32_t threads = std::max<uint32_t>(1, std::min(o.threads, o.count));
  uint32_t first = 0;
  for (uint32_t k = 0; k < threads; ++k) {
    Shard::Slice slice;
    slice.first = first;
    slice.count = o.count / threads + (k < o.count % threads ? 1 : 0);
    slice.concurrency = std::max<uint32_t>(
        1, std::min(slice.count, o.concurrency / threads + (k < o.concurrency % threads ? 1 : 0)));
    if (o.requests) {
      uint64_t share = *o.requests / threads + (k < *o.requests % threads ? 1 : 0);
      slice.requests = share;
    }
    std::vector<ScopedFd> fds;
    if (notify) {
      auto opened = NotifyListener::OpenSockets(*o.listen_notify, slice.first, slice.count);
      if (!opened.ok()) return opened.status();
      fds = *std::move(opened);
    }
    shards_.push_back(std::make_unique<Shard>(options_, slice, base_serial_, *stats_,
                                              std::move(fds), [this] { Stop(); }));
    first += slice.count;
  }
  return absl::OkStatus();
}

void SecondariesLoad::Stop() {
  for (auto& s : shards_) s->Stop();
}

SecondariesSnapshot SecondariesLoad::Snapshot() const { return stats_->Snapshot(); }

LoadReport SecondariesLoad::Run() {
  LoadReport report;
  if (ran_.exchange(true)) return report;
  absl::Time start = absl::Now();
  absl::Time end = options_.duration ? start + *options_.duration : absl::InfiniteFuture();
  if (stats_->ExpectReached()) Stop();  // nothing to wait for

  std::vector<LoadReport> reports(shards_.size());
  std::vector<std::thread> threads;
  for (size_t k = 1; k < shards_.size(); ++k) {
    threads.emplace_back([this, k, end, &reports] { reports[k] = shards_[k]->Run(end); });
  }
  reports[0] = shards_[0]->Run(end);
  for (std::thread& t : threads) t.join();

  report = std::move(reports[0]);
  for (size_t k = 1; k < reports.size(); ++k) report.Merge(reports[k]);
  report.elapsed = absl::Now() - start;
  report.mode = std::string(ModeName(options_.mode));
  report.target = options_.target.ToString();
  report.zone = options_.zone.ToText();
  report.secondaries = options_.count;
  report.concurrency = options_.concurrency;
  report.fresh_connections = options_.fresh_connections;
  report.base_serial = base_serial_.value();
  report.threads = static_cast<uint32_t>(shards_.size());
  if (options_.mode == Mode::kNotify) FillNotifySummary(report, start);
  return report;
}

void SecondariesLoad::FillNotifySummary(LoadReport& report, absl::Time start) const {
  SecondariesSnapshot s = stats_->Snapshot();
  NotifySummary& n = report.notify;
  n.enabled = true;
  n.listen = options_.listen_notify->ToString();
  n.received = s.notifies;
  n.duplicates = s.notify_duplicates;
  n.rejected = s.notify_rejected;
  n.checks = s.checks;
  n.rechecks = s.rechecks;
  n.soa_retries = s.soa_retries;
  n.incremental = s.incremental;
  n.full = s.full;
  n.up_to_date = s.up_to_date;
  if (s.current) {
    n.round_serial = s.current->serial.value();
    n.notified = s.current->notified;
    n.first_notify_s = absl::ToDoubleSeconds(s.current->first_notify - start);
    n.spread_ms = absl::ToDoubleMilliseconds(s.current->spread());
    if (auto c = s.current->convergence()) n.converged_ms = absl::ToDoubleMilliseconds(*c);
  }
  if (s.expect_serial) {
    n.expect_serial = s.expect_serial->value();
    n.expect_holders = s.expect_holders;
    if (s.expect_reached) {
      n.expect_reached_s = absl::ToDoubleSeconds(*s.expect_reached - start);
    } else {
      // Each secondary still behind is an error of the run.
      uint32_t behind = s.secondaries - s.expect_holders;
      report.errors[static_cast<size_t>(ErrorKind::kUnconverged)] += behind;
      if (report.first_error.empty()) {
        report.first_error = fmt::format(
            "unconverged: {} of {} secondaries below serial {} when the run ended", behind,
            s.secondaries, s.expect_serial->value());
      }
    }
  }
  for (const auto& [serial, count] : s.serials) {
    n.serials.emplace_back(serial ? std::optional<uint32_t>(serial->value()) : std::nullopt,
                           count);
  }
}

}  // namespace xfr::load
