#include "proxy/upstream_exchange.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <random>

#include "core/message.h"
#include "core/tsig.h"
#include "fmt/format.h"
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
      failure = Failure(ExchangeError::kCannotStart,
                        fmt::format("connect: {}", std::strerror(errno)));
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
    Finish(Failure(ExchangeError::kMalformed,
                   "answer without the zone's SOA (not authoritative?)"));
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

std::string Describe(const ExchangeFailure& f) {
  if (!f.detail.empty()) return fmt::format("{}: {}", ExchangeErrorName(f.error), f.detail);
  if (f.rcode) return fmt::format("{} {}", ExchangeErrorName(f.error), f.rcode->ToString());
  return std::string(ExchangeErrorName(f.error));
}

void ExchangePool::Abandon(UpstreamExchange* x) { x->Abandon(); }

UpstreamExchange* StartSoaQuery(ExchangePool& pool, const SoaQuery& q, SoaReport report,
                                ExchangeFailure& failure) {
  auto fd = OpenUdpClientSocket(!q.to.ip().IsV4Mapped());
  if (!fd.ok()) {
    failure = Failure(ExchangeError::kCannotStart, std::string(fd.status().message()));
    return nullptr;
  }
  auto* x = static_cast<SoaExchange*>(pool.Add(
      std::make_unique<SoaExchange>(pool, fd->release(), q.zone, q.key, std::move(report))));
  if (x->Send(q.to, q.source, q.timeout, failure)) return x;
  x->Abandon();
  return nullptr;
}

UpstreamExchange* StartUpstreamTransfer(ExchangePool& pool, TransferRequest r,
                                        TransferReport report, ExchangeFailure& failure) {
  sockaddr_storage ss;
  (void)r.to.ToSockaddr(ss);
  int fd = ::socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    failure = Failure(ExchangeError::kCannotStart,
                      fmt::format("TCP socket: {}", std::strerror(errno)));
    return nullptr;
  }
  auto* x = static_cast<TransferExchange*>(
      pool.Add(std::make_unique<TransferExchange>(pool, fd, std::move(report))));
  bool ixfr = r.ixfr && r.base != nullptr;
  if (x->Start(r.to, r.source, r.zone, ixfr, std::move(r.base), r.key, r.max_records, r.limits,
               failure)) {
    return x;
  }
  x->Abandon();
  return nullptr;
}

}  // namespace xfr
