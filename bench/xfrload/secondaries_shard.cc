#include "bench/xfrload/secondaries_shard.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "bench/xfrload/secondaries_tcp.h"
#include "bench/xfrload/secondaries_udp.h"
#include "core/ascii.h"
#include "fmt/format.h"

namespace xfr::load {
namespace {

constexpr absl::Duration kSweepInterval = absl::Milliseconds(50);
// kNotify SOA queries: sent again after 2 s, then 4 s, 8 s... until
// --timeout (RFC 1035 §4.2.1 suggests 2 to 5 s). A burst of thousands of
// queries can overflow the server's socket buffer, and a real secondary
// would not wait for its refresh timer; sooner would only add load to a
// server that is slow because of the burst.
constexpr absl::Duration kSoaRetryFirst = absl::Seconds(2);
// The polling modes' UDP sockets take buffer groups 1..n; the NOTIFY
// sockets (kNotify has no polling socket) group 1.
constexpr uint16_t kNotifyBufferGroup = 1;

std::string Errno(int err) { return std::strerror(err); }

}  // namespace

void Request::OnCompletion(const Event& e) { shard->OnUdpSent(this, e.res); }

std::optional<Serial> Shard::InitialSerial(const SecondariesOptions& options, Serial base,
                                           uint32_t index) {
  if (options.start_empty) return std::nullopt;
  return Serial(base.value() - index % options.serial_spread);
}

Shard::Shard(const SecondariesOptions& options, Slice slice, Serial base_serial,
             LiveStats& stats, std::vector<ScopedFd> notify_fds,
             std::function<void()> on_expect_reached)
    : options_(options),
      slice_(slice),
      stats_(stats),
      on_expect_reached_(std::move(on_expect_reached)),
      notify_fds_(std::move(notify_fds)) {
  target_sa_len_ = options_.target.ToSockaddr(target_sa_);
  secondaries_.resize(slice_.count);
  for (uint32_t i = 0; i < slice_.count; ++i) {
    Secondary& s = secondaries_[i];
    s.index = slice_.first + i;
    std::optional<Serial> initial = InitialSerial(options_, base_serial, s.index);
    s.has_serial = initial.has_value();
    if (initial) s.serial = *initial;
  }
  requests_.reserve(slice_.concurrency);
  for (uint32_t i = 0; i < slice_.concurrency; ++i) {
    auto r = std::make_unique<Request>();
    r->shard = this;
    free_requests_.push_back(r.get());
    requests_.push_back(std::move(r));
  }
}

Shard::~Shard() {
  connections_.clear();
  udp_.clear();
  listener_.reset();
}

absl::Status Shard::Setup() {
  // Rings of up to 4096 entries suit most runs; a shard with more
  // secondaries than that gets room for one receive re-arm each, so a
  // burst of NOTIFYs seldom waits for the submission queue.
  auto loop = EventLoop::Create(slice_.count > 4096 ? 8192 : 4096);
  if (!loop.ok()) return loop.status();
  {
    std::lock_guard<std::mutex> lock(loop_mu_);
    loop_ = *std::move(loop);
    if (stop_requested_) StopNow();
  }
  if (options_.mode == Mode::kSoa || options_.mode == Mode::kMixed) {
    size_t sources = options_.sources.empty() ? 1 : options_.sources.size();
    size_t channels = std::max<size_t>(
        sources, (slice_.concurrency + UdpChannel::kMaxInFlight - 1) / UdpChannel::kMaxInFlight);
    for (size_t i = 0; i < channels; ++i) {
      const IpAddress* source =
          options_.sources.empty() ? nullptr : &options_.sources[i % options_.sources.size()];
      auto c = UdpChannel::Open(*this, options_.target, source, static_cast<uint16_t>(i + 1));
      if (!c.ok()) return c.status();
      udp_.push_back(*std::move(c));
    }
  }
  if (options_.mode == Mode::kNotify) {
    auto l = NotifyListener::Start(*loop_, kNotifyBufferGroup, std::move(notify_fds_),
                                   options_.zone, options_.tsig ? &*options_.tsig : nullptr,
                                   options_.target, *this);
    if (!l.ok()) return l.status();
    listener_ = *std::move(l);
  }
  for (Secondary& s : secondaries_) {
    if (options_.mode != Mode::kNotify) {
      idle_.push_back(&s);
    } else if (!s.has_serial) {
      // A secondary without the zone fetches it at once.
      s.checking = true;
      idle_.push_back(&s);
    }
  }
  return absl::OkStatus();
}

LoadReport Shard::Run(absl::Time end_issuing) {
  double user0 = 0, sys0 = 0;
  ThreadCpu(user0, sys0);
  end_issuing_ = end_issuing;
  if (absl::Status st = Setup(); !st.ok()) {
    ++report_.errors[static_cast<size_t>(ErrorKind::kIo)];
    report_.first_error = fmt::format("setting up event loop for secondaries {}..{}: {}",
                                      slice_.first, slice_.first + slice_.count - 1,
                                      ToStd(st.message()));
  } else {
    Pump();
    loop_->After(kSweepInterval, [this] { Sweep(); });
    if (!loop_->stopping()) loop_->Run();
  }
  TearDown();
  {
    std::lock_guard<std::mutex> lock(loop_mu_);
    loop_.reset();
  }
  report_.tcp_buffers_small = buffers_.small_allocated();
  report_.tcp_buffers_large = buffers_.large_allocated();
  double user1 = 0, sys1 = 0;
  ThreadCpu(user1, sys1);
  report_.cpu_user_s = user1 - user0;
  report_.cpu_system_s = sys1 - sys0;
  return report_;
}

void Shard::TearDown() {
  if (loop_ == nullptr) return;
  // Requests in flight are abandoned, not failed: the failures their
  // cancelled operations report find them inactive.
  for (Request* r : active_) {
    if (r->active) ++report_.abandoned;
    r->active = false;
  }
  std::vector<TcpConnection*> open;
  for (auto& c : connections_) open.push_back(c.get());
  for (TcpConnection* c : open) c->Close(/*cancel=*/false);
  for (auto& u : udp_) u->Cancel();
  if (listener_) listener_->Cancel();
  // Reap the cancellations, so every socket is closed for good when Run()
  // returns (a ring still holding a receive keeps its socket bound).
  auto idle = [this] {
    if (!connections_.empty()) return false;
    for (auto& u : udp_) {
      if (!u->idle()) return false;
    }
    for (auto& r : requests_) {
      if (r->send_in_flight) return false;
    }
    return listener_ == nullptr || listener_->idle();
  };
  absl::Time deadline = absl::Now() + absl::Seconds(2);
  while (!idle() && absl::Now() < deadline) loop_->ring().Wait(absl::Milliseconds(10));
  connections_.clear();
  udp_.clear();
  listener_.reset();
}

void Shard::Stop() {
  std::lock_guard<std::mutex> lock(loop_mu_);
  stop_requested_ = true;
  if (loop_) loop_->Post([this] { StopNow(); });
}

void Shard::StopNow() {
  stop_issuing_ = true;
  if (loop_) loop_->Stop();
}

void Shard::Destroy(TcpConnection* c) { connections_.erase(c->self_); }

bool Shard::Issuing() const {
  if (stop_issuing_) return false;
  if (slice_.requests && issued_ >= *slice_.requests) return false;
  return true;
}

void Shard::SchedulePump() {
  if (pump_scheduled_ || loop_ == nullptr) return;
  pump_scheduled_ = true;
  // Runs after this turn's completions: one pass issues every request that
  // the finished ones made room for.
  loop_->After(absl::ZeroDuration(), [this] {
    pump_scheduled_ = false;
    Pump();
  });
}

void Shard::Pump() {
  if (!stop_issuing_ && absl::Now() >= end_issuing_) {
    if (options_.mode == Mode::kNotify) {
      StopNow();  // the run's time is up: checks in flight are abandoned
      return;
    }
    stop_issuing_ = true;
  }
  while (Issuing() && active_.size() < slice_.concurrency && !idle_.empty() &&
         !free_requests_.empty()) {
    Secondary* s = idle_.front();
    idle_.pop_front();
    Issue(*s);
  }
  MaybeStop();
}

void Shard::MaybeStop() {
  // kNotify runs until every secondary converged, its time is up, or Stop().
  if (options_.mode != Mode::kNotify && !Issuing() && active_.empty()) StopNow();
}

void Shard::Issue(Secondary& s) {
  static constexpr QueryKind kCycle[] = {QueryKind::kSoa, QueryKind::kIxfr, QueryKind::kAxfr};
  QueryKind kind = QueryKind::kSoa;
  switch (options_.mode) {
    case Mode::kSoa: kind = QueryKind::kSoa; break;
    case Mode::kIxfr: kind = QueryKind::kIxfr; break;
    case Mode::kAxfr: kind = QueryKind::kAxfr; break;
    case Mode::kMixed: kind = kCycle[s.step++ % 3]; break;
    case Mode::kNotify:
      // RFC 1996 §3.11 / RFC 1034 §4.3.5: check the SOA first; without a
      // zone there is nothing to compare, so transfer it whole.
      kind = s.has_serial ? QueryKind::kSoa : QueryKind::kAxfr;
      stats_.CountCheck();
      break;
  }
  Request* r = free_requests_.back();
  free_requests_.pop_back();
  ++issued_;
  r->secondary = &s;
  s.request = r;
  r->in_list = true;
  r->active_index = active_.size();
  active_.push_back(r);
  Begin(r, kind);
}

void Shard::Begin(Request* r, QueryKind kind) {
  Secondary& s = *r->secondary;
  r->kind = kind;
  r->bytes = 0;
  r->udp = nullptr;
  r->tcp = nullptr;
  r->on_notify_socket = false;
  r->active = true;
  r->retry_at = absl::InfiniteFuture();
  ++report_.kinds[static_cast<size_t>(kind)].started;

  const TsigKey* key = options_.tsig ? &*options_.tsig : nullptr;
  if (kind == QueryKind::kSoa && listener_ != nullptr) {
    // One query in flight per socket: any ID will do, and the answer must
    // come from the target to that socket.
    r->on_notify_socket = true;
    r->id = next_tcp_id_++;
  } else if (kind == QueryKind::kSoa) {
    r->udp = udp_[s.index % udp_.size()].get();
    r->udp->Assign(r);
  } else {
    r->id = next_tcp_id_++;
  }
  r->start = absl::Now();
  r->deadline = r->start + options_.timeout;
  absl::Status st = BuildQuery(kind, options_.zone, r->id, s.serial, key, r->start, r->wire,
                               r->request_mac);
  if (st.ok()) {
    st = r->verifier.Begin(kind, options_.zone, r->id, s.serial, key, Bytes(r->request_mac));
  }
  if (!st.ok()) {
    FailRequest(r, ErrorKind::kIo, fmt::format("building the query: {}", ToStd(st.message())));
    return;
  }
  if (r->on_notify_socket) {
    r->retry_interval = kSoaRetryFirst;
    SendSoaFromNotifySocket(r);
  } else if (r->udp != nullptr) {
    r->udp->Submit(r);
  } else {
    StartTcp(r, /*allow_reuse=*/true);
  }
}

void Shard::SendSoaFromNotifySocket(Request* r) {
  r->iov[0] = {r->wire.data(), r->wire.size()};
  r->msg = msghdr{};
  r->msg.msg_name = &target_sa_;
  r->msg.msg_namelen = target_sa_len_;
  r->msg.msg_iov = r->iov;
  r->msg.msg_iovlen = 1;
  r->send_in_flight = true;
  r->retry_at = absl::Now() + r->retry_interval;
  loop_->ring().SendMsg(listener_->fd(r->secondary->index - slice_.first), &r->msg, r,
                        kTagSend);
}

void Shard::OnUdpSent(Request* r, int res) {
  r->send_in_flight = false;
  if (r->release_when_sent) {
    r->release_when_sent = false;
    free_requests_.push_back(r);
    SchedulePump();
    return;
  }
  // The request may have moved on to its transfer since: a late send
  // completion of its SOA query is no news then.
  if (res < 0 && r->active && r->kind == QueryKind::kSoa) {
    FailRequest(r, ErrorKind::kIo, fmt::format("UDP send: {}", Errno(-res)));
  }
}

void Shard::OnAnswer(uint32_t local, Bytes message) {
  Request* r = secondaries_[local].request;
  if (r == nullptr || !r->active || !r->on_notify_socket || message.size() < 2 ||
      LoadU16(message.data()) != r->id) {
    ++report_.late_answers;
    return;
  }
  r->bytes += message.size();
  if (r->verifier.Feed(message, absl::Now()) != AnswerVerifier::Step::kMore) Finish(r);
}

void Shard::OnNotify(uint32_t local, uint16_t id, std::optional<Serial> hint, absl::Time now) {
  Secondary& s = secondaries_[local];
  // RFC 1996 §3.6: a NOTIFY that went unanswered is sent again with the
  // same ID; it asks for nothing new.
  bool duplicate = s.has_notify_id && s.last_notify_id == id && s.last_notify_hint == hint;
  s.has_notify_id = true;
  s.last_notify_id = id;
  s.last_notify_hint = hint;
  bool first_for_serial = hint && (!s.has_notified || *hint > s.notified);
  if (first_for_serial) {
    s.notified = *hint;
    s.has_notified = true;
  }
  stats_.OnNotify(hint, first_for_serial, duplicate, now);
  if (duplicate || stop_issuing_) return;
  NeedCheck(s);
}

void Shard::NeedCheck(Secondary& s) {
  if (s.checking) {
    // Queued and not started: that check will see the newest serial. In
    // flight: one more after it (RFC 1996 §4.7), however many NOTIFYs come.
    if (s.request != nullptr && !s.recheck) {
      s.recheck = true;
      stats_.CountRecheck();
    }
    return;
  }
  s.checking = true;
  idle_.push_back(&s);
  SchedulePump();
}

void Shard::StartTcp(Request* r, bool allow_reuse) {
  Secondary& s = *r->secondary;
  TcpConnection* c = allow_reuse && !options_.fresh_connections ? s.conn : nullptr;
  if (c == nullptr || !c->usable()) {
    if (s.conn != nullptr) s.conn->Close();
    c = OpenConnection(r);
    if (c == nullptr) return;
  }
  c->Start(r);
}

TcpConnection* Shard::OpenConnection(Request* r) {
  Secondary& s = *r->secondary;
  const SocketAddress& t = options_.target;
  // Three system calls per connection; the handshake, the query and the
  // answer go through the ring. No TCP_NODELAY: each query is the only
  // unacknowledged data on its connection, which Nagle never delays.
  int fd = ::socket(t.ip().is_v4() ? AF_INET : AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    FailRequest(r, ErrorKind::kConnect, fmt::format("socket: {}", Errno(errno)));
    return nullptr;
  }
  // The secondary's own address (kNotify over IPv4) or one of --source, so
  // the server sees the peer it notified, or many clients.
  std::optional<IpAddress> source;
  if (options_.listen_notify && options_.listen_notify->ip().is_v4()) {
    source = NotifyListenAddress(*options_.listen_notify, s.index).ip();
  } else if (!options_.sources.empty()) {
    source = options_.sources[s.index % options_.sources.size()];
  }
  if (source) {
    // The port is picked at connect time, so many sources do not each
    // reserve a port per socket at bind.
    int one = 1;
    ::setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
    sockaddr_storage ss{};
    socklen_t len = SocketAddress(*source, 0).ToSockaddr(ss);
    if (::bind(fd, reinterpret_cast<sockaddr*>(&ss), len) != 0) {
      int err = errno;
      ::close(fd);
      FailRequest(r, ErrorKind::kConnect, fmt::format("bind source: {}", Errno(err)));
      return nullptr;
    }
  }
  ++report_.connections;
  connections_.push_back(std::make_unique<TcpConnection>(*this, s, fd));
  TcpConnection* c = connections_.back().get();
  c->self_ = std::prev(connections_.end());
  c->Connect(reinterpret_cast<const sockaddr*>(&target_sa_), target_sa_len_);
  if (!options_.fresh_connections) s.conn = c;
  return c;
}

void Shard::FailRequest(Request* r, ErrorKind kind, std::string detail) {
  r->verifier.Fail(kind, std::move(detail));
  Finish(r);
}

void Shard::Finish(Request* r) {
  if (!r->active) return;
  r->active = false;
  if (r->udp != nullptr) r->udp->Forget(r);
  Record(r);
  if (options_.mode == Mode::kNotify && Continue(r)) return;
  Release(r);
}

void Shard::Record(Request* r) {
  absl::Time now = absl::Now();
  KindStats& ks = report_.kinds[static_cast<size_t>(r->kind)];
  if (r->verifier.done() && !r->verifier.failed()) {
    ++ks.completed;
    ks.records += r->verifier.records();
    ks.bytes += r->bytes;
    ks.messages += r->verifier.messages();
    ks.latency.Add(now - r->start);
    switch (r->verifier.style()) {
      case AnswerStyle::kSoa:
        if (r->kind != QueryKind::kSoa) {
          ++ks.soa_only;
          stats_.CountUpToDate();
        }
        break;
      case AnswerStyle::kIncremental:
        ++ks.incremental;
        stats_.CountIncremental();
        break;
      case AnswerStyle::kFull:
        ++ks.full;
        stats_.CountFull();
        ks.zone_records_min = std::min(ks.zone_records_min, r->verifier.zone_records());
        ks.zone_records_max = std::max(ks.zone_records_max, r->verifier.zone_records());
        break;
      case AnswerStyle::kNone:
        break;
    }
    return;
  }
  ++ks.failed;
  stats_.CountError();
  ErrorKind k = r->verifier.error_kind();
  ++report_.errors[static_cast<size_t>(k)];
  if (report_.first_error.empty()) {
    report_.first_error =
        fmt::format("{} ({} request of secondary {}): {}", ErrorKindName(k),
                    QueryKindName(r->kind), r->secondary->index, r->verifier.error_detail());
  }
}

bool Shard::Continue(Request* r) {
  Secondary& s = *r->secondary;
  const AnswerVerifier& v = r->verifier;
  std::optional<QueryKind> next;
  if (v.done() && !v.failed()) {
    if (r->kind == QueryKind::kSoa) {
      // RFC 1996 §4.7 / RFC 1034 §4.3.5: transfer only for a newer serial.
      if (!s.has_serial) {
        next = QueryKind::kAxfr;
      } else if (v.server_serial() > s.serial) {
        next = QueryKind::kIxfr;
      }
    } else if (v.style() == AnswerStyle::kIncremental || v.style() == AnswerStyle::kFull) {
      TakeSerial(s, v.server_serial());
    }
  } else if (r->kind == QueryKind::kIxfr && v.error_kind() == ErrorKind::kRcode &&
             (v.answer_rcode() == Rcode::kNotImp || v.answer_rcode() == Rcode::kRefused ||
              v.answer_rcode() == Rcode::kFormErr)) {
    // A server that does not do IXFR (RFC 1995 §2: NOTIMP, or the REFUSED
    // and FORMERR older servers give): fall back to AXFR, as BIND and
    // Knot do.
    next = QueryKind::kAxfr;
  }
  if (!next || stop_issuing_) return false;
  Begin(r, *next);
  return true;
}

void Shard::TakeSerial(Secondary& s, Serial serial) {
  std::optional<Serial> from = s.held();
  s.serial = serial;
  s.has_serial = true;
  if (stats_.OnSerial(from, serial, absl::Now())) on_expect_reached_();
}

void Shard::Release(Request* r) {
  Secondary& s = *r->secondary;
  if (s.request == r) s.request = nullptr;
  if (r->in_list) {
    r->in_list = false;
    Request* last = active_.back();
    active_[r->active_index] = last;
    last->active_index = r->active_index;
    active_.pop_back();
  }
  if (r->send_in_flight) {
    r->release_when_sent = true;  // its msghdr is still the kernel's
  } else {
    free_requests_.push_back(r);
  }
  if (options_.mode == Mode::kNotify) {
    s.checking = false;
    if (s.recheck && !stop_issuing_) {
      s.recheck = false;
      s.checking = true;
      idle_.push_back(&s);
    }
  } else {
    idle_.push_back(&s);
  }
  SchedulePump();
}

void Shard::Sweep() {
  absl::Time now = absl::Now();
  if (!stop_issuing_ && now >= end_issuing_) {
    if (options_.mode == Mode::kNotify) {
      StopNow();
      return;
    }
    stop_issuing_ = true;
    SchedulePump();
  }
  for (size_t i = 0; i < active_.size();) {
    Request* r = active_[i];
    if (!r->active) {
      ++i;
      continue;
    }
    if (now >= r->deadline) {
      // The connection goes first, so a step that follows the failure does
      // not pick it up again.
      TcpConnection* c = r->tcp;
      r->tcp = nullptr;
      if (c != nullptr) c->Abort();
      FailRequest(r, ErrorKind::kTimeout,
                  fmt::format("no complete answer after {} ({} messages, {} records so far)",
                              absl::FormatDuration(options_.timeout), r->verifier.messages(),
                              r->verifier.records()));
      // Slot i now holds another request, or this one at its next step:
      // look at it again.
      continue;
    }
    if (r->on_notify_socket && now >= r->retry_at && !r->send_in_flight) {
      r->retry_interval *= 2;
      stats_.CountSoaRetry();
      SendSoaFromNotifySocket(r);
    }
    ++i;
  }
  loop_->After(kSweepInterval, [this] { Sweep(); });
}

}  // namespace xfr::load
