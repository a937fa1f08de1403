#include "proxy/tcp_server.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "core/wire.h"
#include "proxy/log.h"

namespace xfr {
namespace {
constexpr unsigned kTagAccept = 1;
constexpr unsigned kTagRecv = 2;
constexpr unsigned kTagSend = 3;
// One sendmsg carries up to this much: several 64 KiB transfer messages per
// system call, without holding more than a bounded amount per connection.
constexpr size_t kBatchBytes = 256 * 1024;
constexpr size_t kBatchIovecs = 256;
constexpr size_t kInitialReadBuffer = 2048;
constexpr absl::Duration kSweepInterval = absl::Seconds(1);
// How long a connection may sit idle while others of its address wait.
constexpr absl::Duration kIdleUnderPressure = absl::Seconds(1);
}  // namespace

class TcpServer::Connection : public CompletionTarget {
 public:
  Connection(TcpServer& server, int fd, SocketAddress peer, uint64_t ticket)
      : server_(server), fd_(fd), peer_(peer), ticket_(ticket) {
    last_activity_ = server_.loop_.Now();
    in_.resize(kInitialReadBuffer);
  }

  ~Connection() {
    if (fd_ >= 0) ::close(fd_);
  }

  void Start() { ArmRecv(); }

  // Over its address's cap: accepted but not read until admitted.
  void Wait() { waiting_admission_ = true; }
  void Admitted() {
    waiting_admission_ = false;
    // The idle timeout counts from now: the client never had a chance to
    // be active before.
    last_activity_ = server_.loop_.Now();
    Start();
  }
  bool waiting_admission() const { return waiting_admission_; }
  uint64_t ticket() const { return ticket_; }

  // Called by the sweep once a second; `pressure`: some connection waits
  // for a slot somewhere.
  void CheckTimeouts(absl::Time now, bool pressure) {
    if (closing_) return;
    const TcpLimits& l = server_.limiter_.limits();
    if (waiting_admission_) {
      // RFC 7766 §6.2.3: a connection the server does not serve within the
      // idle timeout is closed, waiting or not; its descriptor counts
      // against the global cap.
      if (now - last_activity_ > l.idle_timeout) {
        server_.stats_.tcp_wait_timeouts.Add();
        Close();
      }
      return;
    }
    if (!send_in_flight_ && !out_.empty() && out_.front().kind == Reply::Kind::kDeferred &&
        now >= out_.front().deferred_until) {
      ResolveDeferred(now);
      return;
    }
    if (send_in_flight_ && now - send_started_ > l.write_timeout) {
      server_.stats_.tcp_write_timeouts.Add();
      Close();
    } else if (!send_in_flight_ && out_.empty() && now - last_activity_ > l.idle_timeout) {
      // RFC 7766 §6.2.3: the server closes idle connections.
      server_.stats_.tcp_idle_closed.Add();
      Close();
    } else if (pressure && !send_in_flight_ && out_.empty() && in_len_ == 0 &&
               now - last_activity_ >= kIdleUnderPressure &&
               server_.limiter_.HasWaiters(peer_.ip())) {
      // RFC 7766 §6.2.3: under resource pressure a server may close idle
      // connections sooner. A client that keeps its connection open after
      // its answers must not starve its own later connections, which wait
      // behind it for the same address's slots.
      server_.stats_.tcp_idle_closed.Add();
      Close();
    }
  }

  void Close() {
    if (closing_) return;
    closing_ = true;
    if (holds_transfer_slot_) ReleaseTransferSlot();
    if (in_flight_ > 0) {
      // Completions still to come; the last one finishes the job.
      server_.loop_.ring().CancelFd(fd_);
      ::shutdown(fd_, SHUT_RDWR);
    } else if (!in_callback_) {
      Finish();
    }  // else OnCompletion finishes once the handler returns
  }

  void ResumeTransfer() {
    waiting_slot_ = false;
    MaybeSend();
  }

  const SocketAddress& peer() const { return peer_; }

  // Asks the responder again for a deferred request at the front: answered
  // now if the data arrived or the wait is over, else it keeps waiting.
  // `released`: the check it waited on for that zone has ended, so it is
  // answered with what we have now, new or not.
  void ResolveDeferred(absl::Time now, const Name* released = nullptr) {
    if (closing_ || out_.empty() || out_.front().kind != Reply::Kind::kDeferred) return;
    Reply& front = out_.front();
    bool done = released != nullptr && front.deferred_zone == *released;
    RequestContext ctx{peer_, Transport::kTcp, now, now < front.deferred_until && !done,
                       /*reasked=*/true};
    Reply r = server_.responder_.Handle(
        Bytes(front.deferred_request.data(), front.deferred_request.size()), ctx);
    if (r.kind == Reply::Kind::kDeferred) return;
    if (r.kind == Reply::Kind::kDrop) {
      out_.pop_front();
    } else {
      front = std::move(r);
    }
    MaybeSend();
    ArmRecv();
  }
  bool idle() const { return out_.empty() && !send_in_flight_; }

 private:
  void OnCompletion(const Event& e) override {
    --in_flight_;
    in_callback_ = true;
    if (e.tag == kTagRecv) {
      recv_armed_ = false;
      OnRecv(e.res);
    } else if (e.tag == kTagSend) {
      send_in_flight_ = false;
      OnSent(e.res);
    }
    in_callback_ = false;
    if (closing_ && in_flight_ == 0) Finish();  // deletes this
  }

  void Finish() {
    server_.loop_.ring().Close(fd_);
    fd_ = -1;
    server_.Destroy(this);  // deletes this
  }

  void ArmRecv() {
    if (closing_ || recv_armed_ || read_eof_) return;
    if (out_.size() >= server_.limiter_.limits().max_pending_replies) return;
    if (in_len_ == in_.size()) in_.resize(in_.size() * 2);
    recv_armed_ = true;
    ++in_flight_;
    server_.loop_.ring().Recv(fd_, in_.data() + in_len_, in_.size() - in_len_, this,
                              kTagRecv);
  }

  void OnRecv(int res) {
    if (closing_) return;
    if (res <= 0) {
      if (res < 0 && res != -ECONNRESET) server_.stats_.tcp_errors.Add();
      read_eof_ = true;
      if (res < 0 || (out_.empty() && !send_in_flight_)) Close();
      return;
    }
    in_len_ += static_cast<size_t>(res);
    last_activity_ = server_.loop_.Now();
    // Every complete length-prefixed message is a query (RFC 7766 §6.2.1:
    // pipelined queries on one connection).
    size_t pos = 0;
    while (in_len_ - pos >= 2) {
      size_t len = LoadU16(&in_[pos]);
      if (in_len_ - pos < 2 + len) {
        if (2 + len > in_.size()) in_.resize(2 + len);
        break;
      }
      server_.stats_.tcp_queries.Add();
      RequestContext ctx{peer_, Transport::kTcp, server_.loop_.Now(), /*may_defer=*/true};
      Bytes request(&in_[pos + 2], len);
      Reply r = server_.responder_.Handle(request, ctx);
      if (r.kind == Reply::Kind::kDeferred) {
        r.deferred_request.assign(request.begin(), request.end());
        r.deferred_until = ctx.now + server_.limiter_.limits().max_defer;
      }
      if (r.kind != Reply::Kind::kDrop) out_.push_back(std::move(r));
      pos += 2 + len;
    }
    if (pos > 0) {
      std::memmove(in_.data(), in_.data() + pos, in_len_ - pos);
      in_len_ -= pos;
    }
    MaybeSend();
    ArmRecv();
  }

  bool AcquireTransferSlot() {
    if (holds_transfer_slot_) return true;
    if (server_.limiter_.TryStartTransfer()) {
      holds_transfer_slot_ = true;
      server_.stats_.transfers_started.Add();
      return true;
    }
    return false;
  }
  void ReleaseTransferSlot() {
    holds_transfer_slot_ = false;
    server_.limiter_.EndTransfer();
    server_.TransferSlotFreed();
  }

  // Gathers as much queued output as one batch holds and sends it.
  void MaybeSend() {
    if (closing_ || send_in_flight_ || out_.empty() || waiting_slot_) return;
    iov_.clear();
    prefixes_.clear();
    prefixes_.reserve(2 * kBatchIovecs);  // never reallocates during a batch
    batch_bytes_ = 0;
    consumed_ = 0;
    partial_ = false;
    for (Reply& r : out_) {
      if (batch_bytes_ >= kBatchBytes || iov_.size() + 8 > kBatchIovecs) break;
      // Answers go out in order: a deferred request holds back the ones
      // after it (ZoneChanged() or the sweep resolves it).
      if (r.kind == Reply::Kind::kDeferred) break;
      if (r.kind == Reply::Kind::kMessage) {
        AddPrefix(r.message.size());
        iov_.push_back({r.message.data(), r.message.size()});
        batch_bytes_ += r.message.size();
        ++consumed_;
        continue;
      }
      if (!AcquireTransferSlot()) {
        if (iov_.empty()) {
          waiting_slot_ = true;
          server_.WaitForTransferSlot(this);
          return;
        }
        break;
      }
      bool finished = false;
      while (batch_bytes_ < kBatchBytes && iov_.size() + 8 <= kBatchIovecs) {
        size_t at = iov_.size();
        iov_.push_back({});  // the length prefix, filled in below
        size_t n = r.transfer->Next(iov_);
        if (n == 0) {
          iov_.resize(at);
          finished = true;
          break;
        }
        prefixes_.push_back(static_cast<uint8_t>(n >> 8));
        prefixes_.push_back(static_cast<uint8_t>(n));
        iov_[at] = {&prefixes_[prefixes_.size() - 2], 2};
        batch_bytes_ += n + 2;
        server_.stats_.transfer_messages.Add();
      }
      // One transfer per batch: a finished stream still owns the parts in
      // this batch and leaves the queue once they are sent.
      if (finished) {
        ++consumed_;
      } else {
        partial_ = true;
      }
      break;
    }
    if (iov_.empty()) {
      if (consumed_ == 0 && !partial_) return;  // a deferred request waits
      // Only a stream that had already sent everything was at the front.
      PopConsumed();
      MaybeSend();
      return;
    }
    Submit();
  }

  void PopConsumed() {
    for (size_t i = 0; i < consumed_ && !out_.empty(); ++i) {
      Reply& r = out_.front();
      if (r.kind == Reply::Kind::kTransfer) {
        r.transfer->Release();
        // Everything it handed out is sent: a FIN now follows the data,
        // and the receive then sees EOF and closes the connection.
        if (r.transfer->CloseAfter()) ::shutdown(fd_, SHUT_RDWR);
        server_.stats_.transfers_done.Add();
        server_.stats_.transfers_per_minute.Add(server_.loop_.Now());
        if (server_.on_transfer_sent_) {
          server_.on_transfer_sent_(*r.transfer, peer_, server_.loop_.Now());
        }
        if (holds_transfer_slot_) ReleaseTransferSlot();
      }
      out_.pop_front();
    }
    if (partial_ && !out_.empty()) out_.front().transfer->Release();
    consumed_ = 0;
    partial_ = false;
  }

  void AddPrefix(size_t n) {
    prefixes_.push_back(static_cast<uint8_t>(n >> 8));
    prefixes_.push_back(static_cast<uint8_t>(n));
    iov_.push_back({&prefixes_[prefixes_.size() - 2], 2});
    batch_bytes_ += 2;
  }

  void Submit() {
    msg_ = msghdr{};
    msg_.msg_iov = iov_.data() + iov_sent_;
    msg_.msg_iovlen = iov_.size() - iov_sent_;
    send_in_flight_ = true;
    send_started_ = server_.loop_.Now();
    ++in_flight_;
    server_.loop_.ring().SendMsg(fd_, &msg_, this, kTagSend);
  }

  void OnSent(int res) {
    if (closing_) return;
    if (res < 0) {
      if (res != -EPIPE && res != -ECONNRESET) server_.stats_.tcp_errors.Add();
      Close();
      return;
    }
    server_.stats_.transfer_bytes.Add(static_cast<uint64_t>(res));
    last_activity_ = server_.loop_.Now();
    // Skip what went out; a short send resumes mid-iovec.
    size_t sent = static_cast<size_t>(res);
    while (sent > 0 && iov_sent_ < iov_.size()) {
      iovec& v = iov_[iov_sent_];
      if (sent >= v.iov_len) {
        sent -= v.iov_len;
        ++iov_sent_;
      } else {
        v.iov_base = static_cast<uint8_t*>(v.iov_base) + sent;
        v.iov_len -= sent;
        sent = 0;
      }
    }
    if (iov_sent_ < iov_.size()) {
      Submit();
      return;
    }
    iov_sent_ = 0;
    iov_.clear();
    PopConsumed();
    MaybeSend();
    ArmRecv();
    if (read_eof_ && out_.empty() && !send_in_flight_) Close();
  }

  TcpServer& server_;
  int fd_;
  SocketAddress peer_;
  std::vector<uint8_t> in_;
  size_t in_len_ = 0;
  std::deque<Reply> out_;
  std::vector<iovec> iov_;
  std::vector<uint8_t> prefixes_;
  size_t iov_sent_ = 0;
  size_t batch_bytes_ = 0;
  size_t consumed_ = 0;
  bool partial_ = false;
  msghdr msg_{};
  int in_flight_ = 0;
  bool recv_armed_ = false;
  bool send_in_flight_ = false;
  bool read_eof_ = false;
  bool closing_ = false;
  bool holds_transfer_slot_ = false;
  bool waiting_slot_ = false;
  bool in_callback_ = false;
  bool waiting_admission_ = false;
  uint64_t ticket_;
  absl::Time last_activity_;
  absl::Time send_started_;

 public:
  std::list<std::unique_ptr<Connection>>::iterator self_;
};

TcpServer::TcpServer(EventLoop& loop, ScopedFd fd, Responder& r, ServerStats& s,
                     ConnectionLimiter& l)
    : loop_(loop), listener_(std::move(fd)), responder_(r), stats_(s), limiter_(l) {}

absl::StatusOr<std::unique_ptr<TcpServer>> TcpServer::Start(
    EventLoop& loop, ScopedFd listener, Responder& responder, ServerStats& stats,
    ConnectionLimiter& limiter) {
  std::unique_ptr<TcpServer> s(
      new TcpServer(loop, std::move(listener), responder, stats, limiter));
  loop.ring().AcceptMultishot(s->listener_.get(), s.get(), kTagAccept);
  TcpServer* raw = s.get();
  s->sweep_timer_ = loop.After(kSweepInterval, [raw] { raw->Sweep(); });
  return s;
}

TcpServer::~TcpServer() {
  loop_.Cancel(sweep_timer_);
}

void TcpServer::StopAccepting() {
  if (!accepting_) return;
  accepting_ = false;
  loop_.ring().CancelFd(listener_.get());
}

void TcpServer::ZoneChanged() {
  absl::Time now = loop_.Now();
  for (auto it = connections_.begin(); it != connections_.end();) {
    Connection* c = (it++)->get();
    c->ResolveDeferred(now);
  }
}

void TcpServer::ReleaseWaiting(const Name& zone) {
  absl::Time now = loop_.Now();
  for (auto it = connections_.begin(); it != connections_.end();) {
    Connection* c = (it++)->get();
    c->ResolveDeferred(now, &zone);
  }
}

void TcpServer::CloseIdle() {
  for (auto it = connections_.begin(); it != connections_.end();) {
    Connection* c = (it++)->get();  // Close may destroy c
    if (c->idle()) c->Close();
  }
}

void TcpServer::OnCompletion(const Event& e) {
  if (e.tag != kTagAccept) return;
  if (e.res >= 0) {
    int fd = e.res;
    sockaddr_storage ss{};
    socklen_t len = sizeof ss;
    std::optional<SocketAddress> peer;
    if (getpeername(fd, reinterpret_cast<sockaddr*>(&ss), &len) == 0) {
      peer = SocketAddress::FromSockaddr(reinterpret_cast<sockaddr*>(&ss), len);
    }
    uint64_t ticket = next_ticket_++;
    ConnectionLimiter::Admission a = ConnectionLimiter::Admission::kRefused;
    if (accepting_ && peer) a = limiter_.Admit(peer->ip(), {this, ticket});
    if (a == ConnectionLimiter::Admission::kRefused) {
      stats_.tcp_refused_cap.Add();
      if (accepting_ && peer) {
        LogWarningLimited("tcp: connection from {} closed: {} connections are open, the "
                          "tcp-connections limit",
                          peer->ToString(), limiter_.limits().max_connections);
      }
      ::close(fd);
    } else {
      stats_.tcp_accepted.Add();
      connections_.push_back(std::make_unique<Connection>(*this, fd, *peer, ticket));
      Connection* c = connections_.back().get();
      c->self_ = std::prev(connections_.end());
      if (a == ConnectionLimiter::Admission::kAdmitted) {
        c->Start();
      } else {
        // Over the per-address cap: the kernel has the connection, we just
        // do not read it yet (RFC 7766 §6.2.2 leaves the how to the server;
        // closing it would lose the client's query).
        c->Wait();
        LogInfoLimited("tcp: connection from {} waits: its address has {} connections open "
                       "(tcp-connections-per-ip)",
                       peer->ToString(), limiter_.limits().max_connections_per_ip);
        waiting_admission_.emplace(ticket, c);
        stats_.tcp_waits.Add();
        stats_.tcp_waiting.Add(1);
      }
    }
  }
  if (!e.more && accepting_ && e.res != -ECANCELED) {
    loop_.ring().AcceptMultishot(listener_.get(), this, kTagAccept);
  }
}

void TcpServer::Sweep() {
  absl::Time now = loop_.Now();
  bool pressure = limiter_.waiting() > 0;
  for (auto it = connections_.begin(); it != connections_.end();) {
    Connection* c = (it++)->get();  // CheckTimeouts may destroy c
    c->CheckTimeouts(now, pressure);
  }
  // A transfer slot freed on another thread wakes nobody here (the queue
  // of waiting transfers is this thread's): look again once a second.
  while (!waiting_transfer_.empty() && limiter_.TransferSlotFree()) {
    size_t before = waiting_transfer_.size();
    TransferSlotFreed();
    if (waiting_transfer_.size() >= before) break;  // lost the race: it queued again
  }
  sweep_timer_ = loop_.After(kSweepInterval, [this] { Sweep(); });
}

void TcpServer::Destroy(Connection* c) {
  const IpAddress& ip = c->peer().ip();
  if (c->waiting_admission()) {
    waiting_admission_.erase(c->ticket());
    stats_.tcp_waiting.Add(-1);
    // Granted while we were closing it: the slot is ours to pass on.
    if (!limiter_.CancelWait(ip, {this, c->ticket()})) ReleaseSlot(ip);
  } else {
    ReleaseSlot(ip);
  }
  waiting_transfer_.erase(
      std::remove(waiting_transfer_.begin(), waiting_transfer_.end(), c),
      waiting_transfer_.end());
  connections_.erase(c->self_);
}

void TcpServer::WaitForTransferSlot(Connection* c) { waiting_transfer_.push_back(c); }

void TcpServer::TransferSlotFreed() {
  if (waiting_transfer_.empty()) return;
  Connection* c = waiting_transfer_.front();
  waiting_transfer_.pop_front();
  c->ResumeTransfer();
}

}  // namespace xfr

namespace xfr {

void TcpServer::ReleaseSlot(const IpAddress& ip) {
  if (std::optional<ConnectionLimiter::Waiter> next = limiter_.Release(ip)) {
    next->owner->SlotGranted(next->ticket);
  }
}

void TcpServer::SlotGranted(uint64_t ticket) {
  // Always through the loop, even from this thread: the grant comes from
  // inside Destroy(), which is no place to start reading another
  // connection.
  loop_.Post([this, ticket] {
    auto it = waiting_admission_.find(ticket);
    if (it == waiting_admission_.end()) return;  // closed meanwhile; Destroy passed the slot on
    Connection* c = it->second;
    waiting_admission_.erase(it);
    stats_.tcp_waiting.Add(-1);
    c->Admitted();
  });
}

}  // namespace xfr
