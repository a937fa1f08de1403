#include "proxy/upstream.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <random>

#include "core/diff.h"
#include "core/message.h"
#include "core/tsig.h"
#include "fmt/format.h"
#include "proxy/log.h"
#include "proxy/served_view.h"
#include "proxy/socket.h"

namespace xfr {
namespace {

constexpr unsigned kTagSend = 1;
constexpr unsigned kTagRecv = 2;
constexpr unsigned kTagConnect = 3;

uint16_t RandomId() {
  thread_local std::mt19937 rng{std::random_device{}()};
  return static_cast<uint16_t>(rng());
}

PeerAddress ToPeer(const SocketAddress& a) { return PeerAddress{a.ip().bytes(), a.port()}; }

std::vector<PeerAddress> ToPeers(const std::vector<SocketAddress>& v) {
  std::vector<PeerAddress> out;
  for (const SocketAddress& a : v) out.push_back(ToPeer(a));
  return out;
}

ExchangeFailure Failure(ExchangeError e, std::string detail, std::optional<Rcode> rcode = {}) {
  return ExchangeFailure{e, rcode, std::move(detail)};
}

ExchangeFailure Errno(const char* what, int err) {
  return Failure(ExchangeError::kNetwork, fmt::format("{}: {}", what, std::strerror(err)));
}

// The query the upstream side sends: SOA, AXFR, or IXFR with our SOA in
// the authority section (RFC 1995 §3), asking for EDNS EXPIRE (RFC 7314 §4).
std::vector<uint8_t> BuildUpstreamQuery(uint16_t id, const Name& zone, RRType type,
                                        const ZoneVersion* ours) {
  MessageBuilder b;
  b.header().id = id;
  (void)b.AddQuestion(Question{zone, type, RRClass::kIN});
  if (type == RRType::kIXFR && ours != nullptr) {
    (void)b.AddRecord(Section::kAuthority, ours->soa());
  }
  Edns e;
  e.expire_present = true;
  (void)b.SetEdns(e);
  return b.Finish();
}

// A TSIG error answer (RFC 8945 §5.3.2: unsigned, the error in the TSIG
// RR) says what the primary thinks of our key; name it.
std::optional<ExchangeFailure> TsigErrorAnswer(const Message& m) {
  if (!m.tsig || m.tsig->error == Rcode::kNoError) return std::nullopt;
  return Failure(ExchangeError::kTsig,
                 fmt::format("the primary answered {} with TSIG error {}", m.rcode().ToString(),
                             TsigErrorName(m.tsig->error)),
                 m.tsig->error);
}

// "error RCODE: the primary answered SERVFAIL", for the log.
std::string Describe(const ExchangeFailure& f) {
  if (!f.detail.empty()) return fmt::format("{}: {}", ExchangeErrorName(f.error), f.detail);
  if (f.rcode) return fmt::format("{} {}", ExchangeErrorName(f.error), f.rcode->ToString());
  return std::string(ExchangeErrorName(f.error));
}

ExchangeFailure FromIngest(const XfrIngest& x, const absl::Status& st) {
  std::string detail(st.message());
  switch (x.failure()) {
    case IngestFailure::kServerRcode:
      return Failure(ExchangeError::kRcode, detail, x.server_rcode());
    case IngestFailure::kTsig: return Failure(ExchangeError::kTsig, detail);
    case IngestFailure::kNotOurSerial:
    case IngestFailure::kInconsistent: return Failure(ExchangeError::kNotApplicable, detail);
    case IngestFailure::kTooLarge: return Failure(ExchangeError::kTooLarge, detail);
    default: return Failure(ExchangeError::kMalformed, detail);
  }
}

}  // namespace

// One exchange with a primary on its own socket. The pool owns it; the
// zone that started it gets exactly one report, unless it abandons it
// first.
class UpstreamExchange : public CompletionTarget {
 public:
  UpstreamExchange(ExchangePool& pool, int fd) : pool_(pool), loop_(pool.loop()), fd_(fd) {}
  ~UpstreamExchange() override {
    loop_.Cancel(timer_);
    if (fd_ >= 0) ::close(fd_);
  }

  // No report will be made; what is in flight is cancelled.
  void Abandon() {
    if (ended_) return;
    End();
    pool_.MaybeReap(this);
  }
  bool finished() const { return ended_ && in_flight_ == 0; }
  bool reap_posted = false;

 protected:
  void OnCompletion(const Event& e) final {
    --in_flight_;
    if (!ended_) Handle(e);
    pool_.MaybeReap(this);
  }
  virtual void Handle(const Event& e) = 0;

  void Submitted() { ++in_flight_; }
  void Arm(absl::Duration d, std::function<void()> fn) {
    loop_.Cancel(timer_);
    timer_ = loop_.After(d, std::move(fn));
  }
  // Ends the exchange before its report: nothing after it reaches Handle.
  void End() {
    ended_ = true;
    loop_.Cancel(timer_);
    timer_ = 0;
    if (in_flight_ > 0) loop_.ring().CancelFd(fd_);
  }
  // Binds the socket to the configured source address (transfer-source).
  bool Bind(const std::optional<IpAddress>& source, const SocketAddress& to,
            ExchangeFailure& failure) {
    if (!source) return true;
    SocketAddress from(*source, 0);
    sockaddr_storage ss;
    socklen_t len = from.ToSockaddr(ss);
    (void)to;
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&ss), len) != 0) {
      failure = Failure(ExchangeError::kCannotStart,
                        fmt::format("bind to transfer-source {}: {}", source->ToString(),
                                    std::strerror(errno)));
      return false;
    }
    return true;
  }

  ExchangePool& pool_;
  EventLoop& loop_;
  int fd_;

 private:
  int in_flight_ = 0;
  bool ended_ = false;
  TimerQueue::Id timer_ = 0;
};

ExchangePool::ExchangePool(EventLoop& loop) : loop_(loop) {}
ExchangePool::~ExchangePool() = default;

UpstreamExchange* ExchangePool::Add(std::unique_ptr<UpstreamExchange> x) {
  UpstreamExchange* raw = x.get();
  live_.emplace(raw, std::move(x));
  return raw;
}

void ExchangePool::MaybeReap(UpstreamExchange* x) {
  if (!x->finished() || x->reap_posted) return;
  x->reap_posted = true;
  // Not now: we may be inside x's own completion handler.
  loop_.Post([this, x] { live_.erase(x); });
}

namespace {

// One SOA query over UDP (RFC 1034 §4.3.5 refresh check).
class SoaExchange : public UpstreamExchange {
 public:
  using Report = std::function<void(absl::StatusOr<SoaAnswer>, ExchangeFailure)>;

  SoaExchange(ExchangePool& pool, int fd, Name zone, const TsigKey* key, Report report)
      : UpstreamExchange(pool, fd), zone_(std::move(zone)), key_(key), report_(std::move(report)) {}

  // False when it could not start; `failure` says why.
  bool Send(const SocketAddress& to, const std::optional<IpAddress>& source,
            absl::Duration timeout, ExchangeFailure& failure) {
    if (!Bind(source, to, failure)) return false;
    sockaddr_storage ss;
    socklen_t len = to.ToSockaddr(ss);
    // A connected UDP socket only hears the primary it asked.
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&ss), len) != 0) {
      failure = Failure(ExchangeError::kCannotStart, fmt::format("connect: {}", std::strerror(errno)));
      return false;
    }
    id_ = RandomId();
    query_ = BuildUpstreamQuery(id_, zone_, RRType::kSOA, nullptr);
    if (key_ != nullptr) {
      auto mac = SignTsigQuery(*key_, query_, loop_.Now());
      if (!mac.ok()) {
        failure = Failure(ExchangeError::kCannotStart, std::string(mac.status().message()));
        return false;
      }
      mac_ = std::move(*mac);
    }
    iov_ = {query_.data(), query_.size()};
    msg_.msg_iov = &iov_;
    msg_.msg_iovlen = 1;
    Submitted();
    loop_.ring().SendMsg(fd_, &msg_, this, kTagSend);
    ArmRecv();
    Arm(timeout, [this] { Finish(Failure(ExchangeError::kTimeout, "no answer")); });
    return true;
  }

 private:
  void ArmRecv() {
    Submitted();
    loop_.ring().Recv(fd_, buf_, sizeof buf_, this, kTagRecv);
  }

  void Handle(const Event& e) override {
    if (e.tag == kTagSend) {
      if (e.res < 0) Finish(Errno("send", -e.res));
      return;
    }
    // ICMP port unreachable arrives as ECONNREFUSED on a connected socket.
    if (e.res < 0) return Finish(Errno("receive", -e.res));
    Bytes wire(buf_, static_cast<size_t>(e.res));
    auto m = ParseMessage(wire);
    // Anything that is not the answer to our query (another ID, a stray or
    // forged packet) is ignored; we keep listening until the timeout.
    if (!m.ok() || !m->header.qr || m->header.id != id_ || m->questions.size() != 1 ||
        !(m->questions[0].qname == zone_) || m->questions[0].qtype != RRType::kSOA) {
      ArmRecv();
      return;
    }
    if (auto f = TsigErrorAnswer(*m)) return Finish(*f);
    if (key_ != nullptr) {
      auto v = TsigStreamVerifier::Create(*key_, mac_);
      absl::Status st = v.ok() ? v->Feed(wire, *m, loop_.Now()) : v.status();
      if (st.ok()) st = v->Finish();
      if (!st.ok()) {
        return Finish(Failure(ExchangeError::kTsig,
                              fmt::format("answer fails TSIG: {}", std::string(st.message()))));
      }
    }
    if (m->rcode() != Rcode::kNoError) {
      return Finish(Failure(ExchangeError::kRcode,
                            fmt::format("the primary answered {}", m->rcode().ToString()),
                            m->rcode()));
    }
    for (const Record& r : m->answer) {
      if (r.type != RRType::kSOA || !(r.owner == zone_)) continue;
      auto f = ParseSoaRdata(r.rdata);
      if (!f) break;
      SoaAnswer a{f->serial};
      if (m->edns && m->edns->expire) a.expire_option = m->edns->expire;
      End();
      report_(a, {});
      return;
    }
    Finish(Failure(ExchangeError::kMalformed, "answer without the zone's SOA (not authoritative?)"));
  }

  void Finish(ExchangeFailure f) {
    End();
    report_(absl::UnknownError("failed"), std::move(f));
  }

  Name zone_;
  const TsigKey* key_;
  Report report_;
  uint16_t id_ = 0;
  std::vector<uint8_t> query_;
  std::vector<uint8_t> mac_;
  iovec iov_{};
  msghdr msg_{};
  uint8_t buf_[4096];
};

// One IXFR or AXFR over TCP, fed message by message to XfrIngest.
class TransferExchange : public UpstreamExchange {
 public:
  using Report = std::function<void(std::optional<IngestResult>, ExchangeFailure)>;

  TransferExchange(ExchangePool& pool, int fd, Report report)
      : UpstreamExchange(pool, fd), report_(std::move(report)) {}

  bool Start(const SocketAddress& to, const std::optional<IpAddress>& source, const Name& zone,
             bool ixfr, std::shared_ptr<const ZoneVersion> base, const TsigKey* key,
             uint64_t max_records, const LimitsConfig& limits, ExchangeFailure& failure) {
    if (!Bind(source, to, failure)) return false;
    limits_ = limits;
    addr_len_ = to.ToSockaddr(addr_);
    uint16_t id = RandomId();
    RRType type = ixfr ? RRType::kIXFR : RRType::kAXFR;
    std::vector<uint8_t> q = BuildUpstreamQuery(id, zone, type, base.get());
    IngestOptions opts;
    opts.max_records = max_records;
    if (key != nullptr) {
      auto mac = SignTsigQuery(*key, q, loop_.Now());
      if (!mac.ok()) {
        failure = Failure(ExchangeError::kCannotStart, std::string(mac.status().message()));
        return false;
      }
      opts.key = key;
      opts.request_mac = std::move(*mac);
    }
    auto ingest = XfrIngest::Create(id, Question{zone, type, RRClass::kIN},
                                    ixfr ? std::move(base) : nullptr, std::move(opts));
    if (!ingest.ok()) {
      failure = Failure(ExchangeError::kCannotStart, std::string(ingest.status().message()));
      return false;
    }
    ingest_.emplace(std::move(*ingest));
    out_.resize(2);
    StoreU16(out_.data(), static_cast<uint16_t>(q.size()));
    out_.insert(out_.end(), q.begin(), q.end());
    Submitted();
    loop_.ring().Connect(fd_, reinterpret_cast<sockaddr*>(&addr_), addr_len_, this, kTagConnect);
    Arm(limits_.upstream_connect_timeout,
        [this] { Fail(Failure(ExchangeError::kTimeout, "connect timed out")); });
    deadline_ = loop_.Now() + limits_.upstream_transfer_timeout;
    return true;
  }

 private:
  void Handle(const Event& e) override {
    switch (e.tag) {
      case kTagConnect:
        if (e.res < 0) return Fail(Errno("connect", -e.res));
        SendRest();
        ArmIdle();
        return;
      case kTagSend:
        if (e.res < 0) return Fail(Errno("send", -e.res));
        sent_ += static_cast<size_t>(e.res);
        if (sent_ < out_.size()) return SendRest();
        in_.resize(64 * 1024 + 2);
        ArmRecv();
        return;
      case kTagRecv:
        OnRecv(e.res);
        return;
    }
  }

  void SendRest() {
    iov_ = {out_.data() + sent_, out_.size() - sent_};
    msg_ = msghdr{};
    msg_.msg_iov = &iov_;
    msg_.msg_iovlen = 1;
    Submitted();
    loop_.ring().SendMsg(fd_, &msg_, this, kTagSend);
  }

  void ArmRecv() {
    if (in_len_ == in_.size()) in_.resize(in_.size() * 2);
    Submitted();
    loop_.ring().Recv(fd_, in_.data() + in_len_, in_.size() - in_len_, this, kTagRecv);
  }

  void ArmIdle() {
    absl::Duration left = deadline_ - loop_.Now();
    Arm(std::min(limits_.upstream_idle_timeout, left), [this] {
      Fail(Failure(ExchangeError::kTimeout, loop_.Now() >= deadline_ ? "transfer took too long"
                                                                     : "primary went silent"));
    });
  }

  void OnRecv(int res) {
    if (res < 0) return Fail(Errno("receive", -res));
    if (res == 0) {
      // The primary closed before the closing SOA: a truncated transfer.
      absl::StatusOr<IngestResult> r = ingest_->Finish();
      if (!r.ok()) return Fail(FromIngest(*ingest_, r.status()));
      return Succeed(std::move(*r));
    }
    in_len_ += static_cast<size_t>(res);
    size_t pos = 0;
    while (in_len_ - pos >= 2) {
      size_t len = LoadU16(&in_[pos]);
      if (in_len_ - pos < 2 + len) break;
      absl::Status st = ingest_->Consume(Bytes(&in_[pos + 2], len), loop_.Now());
      pos += 2 + len;
      if (!st.ok()) return Fail(FromIngest(*ingest_, st));
      if (ingest_->done()) {
        absl::StatusOr<IngestResult> r = ingest_->Finish();
        if (!r.ok()) return Fail(FromIngest(*ingest_, r.status()));
        return Succeed(std::move(*r));
      }
    }
    std::memmove(in_.data(), in_.data() + pos, in_len_ - pos);
    in_len_ -= pos;
    ArmIdle();
    ArmRecv();
  }

  void Succeed(IngestResult r) {
    End();
    report_(std::move(r), {});
  }
  void Fail(ExchangeFailure f) {
    End();
    report_(std::nullopt, std::move(f));
  }

  Report report_;
  LimitsConfig limits_;
  sockaddr_storage addr_{};
  socklen_t addr_len_ = 0;
  std::optional<XfrIngest> ingest_;
  std::vector<uint8_t> out_;
  size_t sent_ = 0;
  iovec iov_{};
  msghdr msg_{};
  std::vector<uint8_t> in_;
  size_t in_len_ = 0;
  absl::Time deadline_;
};

}  // namespace

UpstreamZone::UpstreamZone(ExchangePool& pool, ZoneConfig config, std::optional<TsigKey> key,
                           LimitsConfig limits, std::optional<IpAddress> transfer_source_v4,
                           std::optional<IpAddress> transfer_source_v6, ServerStats& stats,
                           EntryLookup entry, UpstreamHooks hooks)
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
      machine_(ToPeers(config_.primaries), RefreshOptions{}) {}

UpstreamZone::~UpstreamZone() {
  loop_.Cancel(wake_timer_);
  for (auto& [id, x] : waiting_) x->Abandon();
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

void UpstreamZone::Reconfigure(ZoneConfig config, std::optional<TsigKey> key,
                               LimitsConfig limits, std::optional<IpAddress> transfer_source_v4,
                               std::optional<IpAddress> transfer_source_v6) {
  config_ = std::move(config);
  key_ = std::move(key);
  limits_ = limits;
  source_v4_ = std::move(transfer_source_v4);
  source_v6_ = std::move(transfer_source_v6);
  // A new version may have been published from disk or by a policy change.
  machine_.SetSnapshot(Snapshot());
  Execute(machine_.Reconfigure(ToPeers(config_.primaries), loop_.Now()));
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
        it->second->Abandon();
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
    case RefreshAction::kRecovered:
      LogInfo("zone {}: no longer expired", Name());
      return;
  }
}

void UpstreamZone::QuerySoa(const RefreshAction& a) {
  const SocketAddress& to = config_.primaries[a.primary];
  uint64_t id = a.id;
  stats_.upstream_soa_queries.Add();
  auto fail = [this, id, to](const ExchangeFailure& f) {
    stats_.upstream_soa_failures.Add();
    LogInfo("zone {}: SOA query to {}: {}", Name(), to.ToString(), Describe(f));
  };
  auto fd = OpenUdpClientSocket(!to.ip().IsV4Mapped());
  ExchangeFailure failure;
  if (fd.ok()) {
    auto x = std::make_unique<SoaExchange>(
        pool_, fd->release(), config_.name, key_ ? &*key_ : nullptr,
        [this, id, fail](absl::StatusOr<SoaAnswer> r, ExchangeFailure f) {
          waiting_.erase(id);
          targets_.erase(id);
          if (r.ok()) return Execute(machine_.OnSoaAnswer(id, *r, loop_.Now()));
          fail(f);
          Execute(machine_.OnSoaFailure(id, f, loop_.Now()));
        });
    SoaExchange* raw = static_cast<SoaExchange*>(pool_.Add(std::move(x)));
    if (raw->Send(to, SourceFor(to), limits_.upstream_query_timeout, failure)) {
      waiting_[id] = raw;
      targets_[id] = to;
      return;
    }
    raw->Abandon();
  } else {
    failure = Failure(ExchangeError::kCannotStart, std::string(fd.status().message()));
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
  if (!a.detail.empty()) {
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
  sockaddr_storage ss;
  (void)to.ToSockaddr(ss);
  int fd = ::socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd >= 0) {
    auto x = std::make_unique<TransferExchange>(
        pool_, fd, [this, id, fail](std::optional<IngestResult> r, ExchangeFailure f) {
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
        });
    auto* raw = static_cast<TransferExchange*>(pool_.Add(std::move(x)));
    if (raw->Start(to, SourceFor(to), config_.name, ixfr && base != nullptr, base,
                   key_ ? &*key_ : nullptr, config_.max_records, limits_, failure)) {
      waiting_[id] = raw;
      targets_[id] = to;
      return;
    }
    raw->Abandon();
  } else {
    failure = Failure(ExchangeError::kCannotStart,
                      fmt::format("TCP socket: {}", std::strerror(errno)));
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
  auto view = MakeServedView(config_.name, next, cur.get(), MakeRewritePolicy(config_.proxied),
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
  stats_.upstream_transfers.Add();
  (r.kind == IngestResult::kIncremental ? stats_.upstream_ixfr : stats_.upstream_axfr).Add();
  LogInfo("zone {}: serial {} -> {} by {} from {} ({} records, {} messages)", Name(),
          cur ? cur->serial().ToString() : std::string("none"), next->serial().ToString(),
          r.kind == IngestResult::kIncremental ? "IXFR" : "AXFR", from.ToString(), r.records,
          r.messages);
  deferred_.push_back([this, id] { return machine_.OnPublished(id, Snapshot(), loop_.Now()); });
  if (hooks_.published) hooks_.published(served, diff);
}

}  // namespace xfr
