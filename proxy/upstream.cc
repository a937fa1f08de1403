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
#include "core/xfr_ingest.h"
#include "fmt/format.h"
#include "proxy/log.h"
#include "proxy/served_view.h"
#include "proxy/socket.h"

namespace xfr {
namespace {

constexpr unsigned kTagSend = 1;
constexpr unsigned kTagRecv = 2;
constexpr unsigned kTagConnect = 3;
// With no data yet there is no SOA to take timers from: retry soon, as BIND
// does for a zone that failed its first load.
constexpr uint32_t kNoDataRetrySeconds = 10;
constexpr uint32_t kMinTimerSeconds = 1;
// After the first SOA answer, how long the other primaries get to answer.
constexpr absl::Duration kAnswerGrace = absl::Milliseconds(250);

uint16_t RandomId() {
  thread_local std::mt19937 rng{std::random_device{}()};
  return static_cast<uint16_t>(rng());
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

// Base class for one exchange on its own socket: it owns the fd and frees
// itself once abandoned and every operation it started has completed, so
// a late completion never reaches a zone that gave up on it.
class Exchange : public CompletionTarget {
 public:
  Exchange(EventLoop& loop, int fd) : loop_(loop), fd_(fd) {}
  ~Exchange() override {
    if (fd_ >= 0) ::close(fd_);
  }
  void Abandon() {
    if (abandoned_) return;
    abandoned_ = true;
    loop_.Cancel(timer_);
    if (in_flight_ > 0) {
      loop_.ring().CancelFd(fd_);
    } else if (!in_callback_) {
      delete this;
    }
  }

 protected:
  void OnCompletion(const Event& e) override {
    --in_flight_;
    in_callback_ = true;
    if (!abandoned_) Handle(e);
    in_callback_ = false;
    if (abandoned_ && in_flight_ == 0) delete this;
  }
  virtual void Handle(const Event& e) = 0;
  void Arm(absl::Duration d, std::function<void()> fn) {
    loop_.Cancel(timer_);
    timer_ = loop_.After(d, std::move(fn));
  }

  EventLoop& loop_;
  int fd_;
  int in_flight_ = 0;
  bool abandoned_ = false;
  bool in_callback_ = false;
  TimerQueue::Id timer_ = 0;
};

}  // namespace

// One SOA query over UDP to one primary (RFC 1034 §4.3.5 refresh check).
class UpstreamZone::SoaQuery : public Exchange {
 public:
  SoaQuery(UpstreamZone& zone, size_t primary, int fd)
      : Exchange(zone.loop_, fd), zone_(&zone), primary_(primary) {}

  absl::Status Send() {
    const SocketAddress& to = zone_->config_.primaries[primary_];
    sockaddr_storage ss;
    socklen_t len = to.ToSockaddr(ss);
    // A connected UDP socket only hears the primary it asked.
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&ss), len) != 0) {
      return absl::UnavailableError(fmt::format("connect: {}", std::strerror(errno)));
    }
    id_ = RandomId();
    query_ = BuildUpstreamQuery(id_, zone_->config_.name, RRType::kSOA, nullptr);
    if (zone_->key_) {
      auto mac = SignTsigQuery(*zone_->key_, query_, loop_.Now());
      if (!mac.ok()) return mac.status();
      mac_ = std::move(*mac);
    }
    iov_ = {query_.data(), query_.size()};
    msg_.msg_iov = &iov_;
    msg_.msg_iovlen = 1;
    ++in_flight_;
    loop_.ring().SendMsg(fd_, &msg_, this, kTagSend);
    ArmRecv();
    Arm(zone_->limits_.upstream_query_timeout, [this] { Report(absl::DeadlineExceededError("timed out")); });
    return absl::OkStatus();
  }

 private:
  void ArmRecv() {
    ++in_flight_;
    loop_.ring().Recv(fd_, buf_, sizeof buf_, this, kTagRecv);
  }

  void Handle(const Event& e) override {
    if (e.tag == kTagSend) {
      if (e.res < 0) Report(absl::UnavailableError(fmt::format("send: {}", std::strerror(-e.res))));
      return;
    }
    if (e.res < 0) {
      // ICMP port unreachable arrives as ECONNREFUSED on a connected socket.
      Report(absl::UnavailableError(fmt::format("receive: {}", std::strerror(-e.res))));
      return;
    }
    Bytes wire(buf_, static_cast<size_t>(e.res));
    auto m = ParseMessage(wire);
    // Anything that is not the answer to our query (another ID, a stray or
    // forged packet) is ignored; we keep listening until the timeout.
    if (!m.ok() || !m->header.qr || m->header.id != id_ || m->questions.size() != 1 ||
        !(m->questions[0].qname == zone_->config_.name) ||
        m->questions[0].qtype != RRType::kSOA) {
      ArmRecv();
      return;
    }
    if (zone_->key_) {
      auto v = TsigStreamVerifier::Create(*zone_->key_, mac_);
      absl::Status st = v.ok() ? v->Feed(wire, *m, loop_.Now()) : v.status();
      if (st.ok()) st = v->Finish();
      if (!st.ok()) {
        Report(absl::PermissionDeniedError(fmt::format("TSIG: {}", std::string(st.message()))));
        return;
      }
    }
    if (m->rcode() != Rcode::kNoError) {
      Report(absl::UnavailableError(fmt::format("answered {}", m->rcode().ToString())));
      return;
    }
    for (const Record& r : m->answer) {
      if (r.type != RRType::kSOA || !(r.owner == zone_->config_.name)) continue;
      auto f = ParseSoaRdata(r.rdata);
      if (!f) break;
      std::optional<uint32_t> expire;
      if (m->edns && m->edns->expire) expire = m->edns->expire;
      Report(std::make_pair(f->serial, expire));
      return;
    }
    Report(absl::UnavailableError("answer without the zone's SOA (not authoritative?)"));
  }

  void Report(absl::StatusOr<std::pair<Serial, std::optional<uint32_t>>> r) {
    // Abandon() may free this: take what the zone needs first.
    UpstreamZone* z = zone_;
    size_t primary = primary_;
    zone_ = nullptr;
    Abandon();
    if (z != nullptr) z->OnSoaAnswer(primary, std::move(r));
  }

 public:
  void Detach() {
    zone_ = nullptr;
    Abandon();
  }

 private:
  UpstreamZone* zone_;
  size_t primary_;
  uint16_t id_ = 0;
  std::vector<uint8_t> query_;
  std::vector<uint8_t> mac_;
  iovec iov_{};
  msghdr msg_{};
  uint8_t buf_[4096];
};

// One IXFR or AXFR over TCP from one primary, fed message by message to
// the I/O-free XfrIngest.
class UpstreamZone::Transfer : public Exchange {
 public:
  Transfer(UpstreamZone& zone, size_t primary, bool ixfr, int fd)
      : Exchange(zone.loop_, fd), zone_(&zone), primary_(primary), ixfr_(ixfr) {}

  absl::Status Start(std::shared_ptr<const ServedZone> current) {
    const SocketAddress& to = zone_->config_.primaries[primary_];
    addr_len_ = to.ToSockaddr(addr_);
    uint16_t id = RandomId();
    RRType type = ixfr_ ? RRType::kIXFR : RRType::kAXFR;
    // An IXFR's base is the primary's data, not our rewritten view of it.
    std::shared_ptr<const ZoneVersion> ours = current ? current->upstream : nullptr;
    std::vector<uint8_t> q = BuildUpstreamQuery(id, zone_->config_.name, type, ours.get());
    IngestOptions opts;
    opts.max_records = zone_->config_.max_records;
    if (zone_->key_) {
      auto mac = SignTsigQuery(*zone_->key_, q, loop_.Now());
      if (!mac.ok()) return mac.status();
      opts.key = &*zone_->key_;
      opts.request_mac = std::move(*mac);
    }
    auto ingest = XfrIngest::Create(id, Question{zone_->config_.name, type, RRClass::kIN},
                                    ixfr_ ? ours : nullptr, std::move(opts));
    if (!ingest.ok()) return ingest.status();
    ingest_.emplace(std::move(*ingest));
    out_.resize(2);
    StoreU16(out_.data(), static_cast<uint16_t>(q.size()));
    out_.insert(out_.end(), q.begin(), q.end());
    ++in_flight_;
    loop_.ring().Connect(fd_, reinterpret_cast<sockaddr*>(&addr_), addr_len_, this, kTagConnect);
    Arm(zone_->limits_.upstream_connect_timeout,
        [this] { Report(absl::DeadlineExceededError("connect timed out"), false); });
    deadline_ = loop_.Now() + zone_->limits_.upstream_transfer_timeout;
    return absl::OkStatus();
  }

  void Detach() {
    zone_ = nullptr;
    Abandon();
  }

 private:
  void Handle(const Event& e) override {
    switch (e.tag) {
      case kTagConnect:
        if (e.res < 0) {
          Report(absl::UnavailableError(fmt::format("connect: {}", std::strerror(-e.res))), false);
          return;
        }
        iov_ = {out_.data() + sent_, out_.size() - sent_};
        msg_ = msghdr{};
        msg_.msg_iov = &iov_;
        msg_.msg_iovlen = 1;
        ++in_flight_;
        loop_.ring().SendMsg(fd_, &msg_, this, kTagSend);
        ArmIdle();
        return;
      case kTagSend:
        if (e.res < 0) {
          Report(absl::UnavailableError(fmt::format("send: {}", std::strerror(-e.res))), false);
          return;
        }
        sent_ += static_cast<size_t>(e.res);
        if (sent_ < out_.size()) {
          Handle(Event{kTagConnect, 0, false, -1});  // send the rest
          return;
        }
        in_.resize(64 * 1024 + 2);
        ArmRecv();
        return;
      case kTagRecv:
        OnRecv(e.res);
        return;
    }
  }

  void ArmRecv() {
    if (in_len_ == in_.size()) in_.resize(in_.size() * 2);
    ++in_flight_;
    loop_.ring().Recv(fd_, in_.data() + in_len_, in_.size() - in_len_, this, kTagRecv);
  }

  void ArmIdle() {
    absl::Duration idle = zone_->limits_.upstream_idle_timeout;
    absl::Duration left = deadline_ - loop_.Now();
    Arm(std::min(idle, left), [this] {
      Report(absl::DeadlineExceededError(loop_.Now() >= deadline_ ? "transfer took too long"
                                                                  : "primary went silent"),
             false);
    });
  }

  void OnRecv(int res) {
    if (res < 0) {
      Report(absl::UnavailableError(fmt::format("receive: {}", std::strerror(-res))), false);
      return;
    }
    if (res == 0) {
      // The primary closed before the closing SOA: a truncated transfer.
      Report(ingest_->Finish(), ingest_->FallBackToAxfr());
      return;
    }
    in_len_ += static_cast<size_t>(res);
    size_t pos = 0;
    while (in_len_ - pos >= 2) {
      size_t len = LoadU16(&in_[pos]);
      if (in_len_ - pos < 2 + len) break;
      absl::Status st = ingest_->Consume(Bytes(&in_[pos + 2], len), loop_.Now());
      pos += 2 + len;
      if (!st.ok()) {
        Report(st, ingest_->FallBackToAxfr());
        return;
      }
      if (ingest_->done()) {
        Report(ingest_->Finish(), false);
        return;
      }
    }
    std::memmove(in_.data(), in_.data() + pos, in_len_ - pos);
    in_len_ -= pos;
    ArmIdle();
    ArmRecv();
  }

  void Report(absl::StatusOr<IngestResult> r, bool fall_back) {
    // Abandon() may free this: take what the zone needs first.
    UpstreamZone* z = zone_;
    size_t primary = primary_;
    bool ixfr = ixfr_;
    zone_ = nullptr;
    Abandon();
    if (z != nullptr) z->OnTransferDone(primary, ixfr, fall_back, std::move(r));
  }

  UpstreamZone* zone_;
  size_t primary_;
  bool ixfr_;
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

UpstreamZone::UpstreamZone(EventLoop& loop, ZoneConfig config, std::optional<TsigKey> key,
                           LimitsConfig limits, ServerStats& stats, EntryLookup entry,
                           PublishedHook published, RefreshedHook refreshed)
    : loop_(loop),
      config_(std::move(config)),
      key_(std::move(key)),
      limits_(limits),
      stats_(stats),
      entry_(std::move(entry)),
      published_(std::move(published)),
      refreshed_(std::move(refreshed)) {}

UpstreamZone::~UpstreamZone() {
  loop_.Cancel(check_timer_);
  loop_.Cancel(expire_timer_);
  loop_.Cancel(grace_timer_);
  for (SoaQuery* q : soa_queries_) {
    if (q != nullptr) q->Detach();
  }
  if (transfer_ != nullptr) transfer_->Detach();
}

void UpstreamZone::Reconfigure(ZoneConfig config, std::optional<TsigKey> key,
                               LimitsConfig limits) {
  config_ = std::move(config);
  key_ = std::move(key);
  limits_ = limits;
}

std::shared_ptr<const ServedZone> UpstreamZone::Current() {
  LiveZone* e = entry_();
  return e ? e->Current() : nullptr;
}

uint32_t UpstreamZone::SoaTimer(uint32_t SoaFields::*field, uint32_t fallback) const {
  LiveZone* e = entry_();
  std::shared_ptr<const ServedZone> z = e ? e->Current() : nullptr;
  if (!z) return fallback;
  return std::max(kMinTimerSeconds, z->version->soa_fields().*field);
}

void UpstreamZone::Start() {
  BeginCheck();
}

void UpstreamZone::Notified(const SocketAddress& from, std::optional<Serial> hint) {
  std::shared_ptr<const ServedZone> cur = Current();
  if (hint && cur && !(cur->serial() < *hint)) {
    // RFC 1996 §4.7: the SOA in a NOTIFY is a hint; ours is already as new.
    LogDebug("zone {}: NOTIFY from {} for serial {}: already current", config_.name.ToText(),
             from.ToString(), hint->ToString());
    return;
  }
  if (state_ != State::kIdle) {
    // One check in flight per zone: a burst of NOTIFYs becomes one more
    // check after the current one.
    recheck_ = true;
    return;
  }
  BeginCheck();
}

void UpstreamZone::ScheduleCheck(absl::Duration after) {
  loop_.Cancel(check_timer_);
  check_timer_ = loop_.After(after, [this] { BeginCheck(); });
}

void UpstreamZone::BeginCheck() {
  if (state_ != State::kIdle) {
    recheck_ = true;
    return;
  }
  loop_.Cancel(check_timer_);
  state_ = State::kSoaCheck;
  // Every primary is asked at once: with dozens of addresses of which few
  // answer (a provider's list), asking in turn would wait a timeout per
  // silent one before reaching a live one. The answers are then weighed in
  // configuration order (RFC 1996 §3.11 leaves the choice to us).
  size_t n = config_.primaries.size();
  soa_queries_.assign(n, nullptr);
  answers_.assign(n, std::nullopt);
  soa_pending_ = 0;
  for (size_t i = 0; i < n; ++i) {
    const SocketAddress& to = config_.primaries[i];
    auto fd = OpenUdpClientSocket(!to.ip().IsV4Mapped());
    if (!fd.ok()) {
      LogWarning("zone {}: {}", config_.name.ToText(), std::string(fd.status().message()));
      continue;
    }
    stats_.upstream_soa_queries.Add();
    auto* q = new SoaQuery(*this, i, fd->release());
    if (absl::Status st = q->Send(); !st.ok()) {
      q->Detach();
      LogWarning("zone {}: SOA query to {}: {}", config_.name.ToText(), to.ToString(),
                 std::string(st.message()));
      continue;
    }
    soa_queries_[i] = q;
    ++soa_pending_;
  }
  if (soa_pending_ == 0) Failed("no SOA query could be sent");
}

void UpstreamZone::OnSoaAnswer(size_t primary,
                               absl::StatusOr<std::pair<Serial, std::optional<uint32_t>>> r) {
  soa_queries_[primary] = nullptr;
  --soa_pending_;
  const SocketAddress& from = config_.primaries[primary];
  if (!r.ok()) {
    stats_.upstream_soa_failures.Add();
    LogInfo("zone {}: SOA check at {}: {}", config_.name.ToText(), from.ToString(),
            std::string(r.status().message()));
  } else {
    answers_[primary] = *r;
    // An earlier primary may still answer: give the rest a moment, not a
    // full timeout, once one has.
    if (grace_timer_ == 0 && soa_pending_ > 0) {
      grace_timer_ = loop_.After(kAnswerGrace, [this] {
        grace_timer_ = 0;
        DecideAfterSoa();
      });
    }
  }
  if (soa_pending_ == 0) DecideAfterSoa();
}

void UpstreamZone::DecideAfterSoa() {
  loop_.Cancel(grace_timer_);
  grace_timer_ = 0;
  for (SoaQuery*& q : soa_queries_) {
    if (q != nullptr) q->Detach();
    q = nullptr;
  }
  soa_pending_ = 0;
  std::optional<Serial> best;
  std::optional<uint32_t> best_expire;
  for (const auto& a : answers_) {
    if (a && (!best || *best < a->first)) {
      best = a->first;
      best_expire = a->second;
    }
  }
  if (!best) {
    Failed("no primary answered the SOA query");
    return;
  }
  std::shared_ptr<const ServedZone> cur = Current();
  if (cur && !(cur->serial() < *best)) {
    if (*best < cur->serial()) {
      // RFC 1982: a smaller serial is an older zone, not a reset.
      LogWarning("zone {}: primaries have serial {}, older than our {}; keeping ours",
                 config_.name.ToText(), best->ToString(), cur->serial().ToString());
    }
    Succeeded(best_expire);
    return;
  }
  // Transfer from the first primary (in configuration order) that has the
  // newest serial; the others with it are the fallbacks.
  candidates_.clear();
  for (size_t i = 0; i < answers_.size(); ++i) {
    if (answers_[i] && answers_[i]->first == *best) candidates_.push_back(i);
  }
  next_candidate_ = 1;
  StartTransfer(candidates_[0], cur != nullptr);
}

void UpstreamZone::NextCandidate() {
  if (next_candidate_ < candidates_.size()) {
    size_t p = candidates_[next_candidate_++];
    // IXFR needs the primary's version we hold; a rewritten view restored
    // from state-dir does not know it, so that zone asks for an AXFR once.
    std::shared_ptr<const ServedZone> cur = Current();
    StartTransfer(p, cur != nullptr && cur->upstream != nullptr);
    return;
  }
  Failed("no primary gave a usable transfer");
}

void UpstreamZone::StartTransfer(size_t primary, bool ixfr) {
  state_ = State::kTransfer;
  const SocketAddress& to = config_.primaries[primary];
  sockaddr_storage ss;
  socklen_t len = to.ToSockaddr(ss);
  (void)len;
  int fd = ::socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    Failed(fmt::format("TCP socket: {}", std::strerror(errno)));
    return;
  }
  transfer_ = new Transfer(*this, primary, ixfr, fd);
  if (absl::Status st = transfer_->Start(Current()); !st.ok()) {
    Transfer* t = transfer_;
    transfer_ = nullptr;
    t->Detach();
    Failed(fmt::format("transfer from {}: {}", to.ToString(), std::string(st.message())));
  }
}

void UpstreamZone::OnTransferDone(size_t primary, bool was_ixfr, bool fall_back_to_axfr,
                                  absl::StatusOr<IngestResult> r) {
  transfer_ = nullptr;
  const SocketAddress& from = config_.primaries[primary];
  const char* kind = was_ixfr ? "IXFR" : "AXFR";
  if (!r.ok()) {
    stats_.upstream_transfer_failures.Add();
    if (was_ixfr && fall_back_to_axfr) {
      // RFC 1995 §4 / DESIGN.md: NOTIMP, REFUSED, FORMERR or a diff that does
      // not apply: ask the same primary for the whole zone.
      stats_.upstream_axfr_fallbacks.Add();
      LogInfo("zone {}: IXFR from {} failed ({}); trying AXFR", config_.name.ToText(),
              from.ToString(), std::string(r.status().message()));
      StartTransfer(primary, false);
      return;
    }
    // The old version keeps being served; the next primary gets a chance.
    LogWarning("zone {}: {} from {} failed, keeping the served version: {}",
               config_.name.ToText(), kind, from.ToString(), std::string(r.status().message()));
    NextCandidate();
    return;
  }
  std::shared_ptr<const ServedZone> cur = Current();
  if (r->kind == IngestResult::kUpToDate || !r->version) {
    stats_.upstream_up_to_date.Add();
    Succeeded(r->expire);
    return;
  }
  std::shared_ptr<const ZoneVersion> next = r->version;
  if (cur && !(cur->serial() < next->serial())) {
    LogWarning("zone {}: {} from {} brought serial {}, not newer than our {}; ignored",
               config_.name.ToText(), kind, from.ToString(), next->serial().ToString(),
               cur->serial().ToString());
    Succeeded(r->expire);
    return;
  }
  BuildOptions build;
  build.max_records = config_.max_records;
  PublishOptions opts;
  opts.max_diffs = config_.journal_max_diffs;
  auto view = MakeServedView(config_.name, next, cur.get(), MakeRewritePolicy(config_.proxied),
                             loop_.Now(), opts, build);
  if (!view.ok()) {
    stats_.upstream_transfer_failures.Add();
    Failed(fmt::format("serving serial {}: {}", next->serial().ToString(),
                       std::string(view.status().message())));
    return;
  }
  std::shared_ptr<const ServedZone> served = std::move(view->served);
  std::shared_ptr<const ZoneDiff> diff = std::move(view->diff);
  LiveZone* e = entry_();
  if (e == nullptr) {
    Failed("zone removed from the configuration");
    return;
  }
  e->Publish(served);
  stats_.upstream_transfers.Add();
  (r->kind == IngestResult::kIncremental ? stats_.upstream_ixfr : stats_.upstream_axfr).Add();
  LogInfo("zone {}: serial {} -> {} by {} from {} ({} records, {} messages)",
          config_.name.ToText(), cur ? cur->serial().ToString() : std::string("none"),
          next->serial().ToString(),
          r->kind == IngestResult::kIncremental ? "IXFR" : (was_ixfr ? "AXFR-style IXFR" : "AXFR"),
          from.ToString(), r->records, r->messages);
  Succeeded(r->expire, /*transferred=*/true);
  if (published_) published_(served, diff);
}

void UpstreamZone::Succeeded(std::optional<uint32_t> expire_option, bool transferred) {
  state_ = State::kIdle;
  std::shared_ptr<const ServedZone> cur = Current();
  if (cur) {
    uint32_t expire = cur->version->soa_fields().expire;
    // RFC 7314 §4: a primary that is itself a secondary tells us how long
    // its data stays valid; never hold the zone longer than that.
    if (expire_option) expire = std::min(expire, *expire_option);
    if (LiveZone* e = entry_()) e->MarkRefreshed(loop_.Now(), expire);
    if (refreshed_ && !transferred) refreshed_(loop_.Now(), expire);
    if (expired_logged_) {
      LogInfo("zone {}: no longer expired", config_.name.ToText());
      expired_logged_ = false;
    }
    loop_.Cancel(expire_timer_);
    expire_timer_ = loop_.After(absl::Seconds(std::max<uint32_t>(expire, 1)) + absl::Milliseconds(10),
                                [this] { CheckExpiry(); });
  }
  ScheduleCheck(absl::Seconds(SoaTimer(&SoaFields::refresh, kNoDataRetrySeconds)));
  if (recheck_) {
    recheck_ = false;
    BeginCheck();
  }
}

void UpstreamZone::Failed(const std::string& why) {
  state_ = State::kIdle;
  uint32_t retry = SoaTimer(&SoaFields::retry, kNoDataRetrySeconds);
  LogWarning("zone {}: refresh failed ({}); retrying in {}s", config_.name.ToText(), why, retry);
  CheckExpiry();
  ScheduleCheck(absl::Seconds(retry));
  if (recheck_) {
    recheck_ = false;
    BeginCheck();
  }
}

void UpstreamZone::CheckExpiry() {
  LiveZone* e = entry_();
  std::shared_ptr<const ServedZone> cur = e ? e->Current() : nullptr;
  if (!cur || expired_logged_) return;
  if (e->ExpireRemaining(*cur, loop_.Now()) == 0) {
    // RFC 1035 §3.3.13: past EXPIRE without contact the data is no longer
    // authoritative; queries get SERVFAIL until a transfer succeeds.
    expired_logged_ = true;
    stats_.zones_expired.Add();
    LogError("zone {}: EXPIRED (no successful contact with a primary for {}s); answering SERVFAIL",
             config_.name.ToText(), cur->version->soa_fields().expire);
  }
}

}  // namespace xfr
