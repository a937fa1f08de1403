#include "bench/xfrload/secondaries.h"

#include <fcntl.h>
#include <liburing.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "core/ascii.h"
#include "fmt/format.h"
#include "proxy/socket.h"

namespace xfr::load {
namespace {

constexpr unsigned kTagSend = 1;
constexpr unsigned kTagRecv = 2;
// A TCP receive buffer holds one whole message (2 + 65535 bytes) beside the
// unprocessed tail of the previous read, so a read never waits for room.
constexpr size_t kTcpBufferSize = 2 * (2 + kMaxMessageSize);
constexpr size_t kScratchSize = 64;
// UDP answers to SOA queries are small; 4 KiB holds any EDNS answer we get.
constexpr unsigned kUdpBufferSize = 4096;
constexpr unsigned kUdpBufferCount = 1024;
// IDs in flight per UDP socket: fewer than 2^16 so an ID is free to pick.
constexpr uint32_t kMaxInFlightPerUdpSocket = 32768;
constexpr absl::Duration kSweepInterval = absl::Milliseconds(50);

std::string Errno(int err) { return std::strerror(err); }

}  // namespace

struct SecondariesLoad::Secondary {
  uint32_t index = 0;
  Serial serial;
  uint32_t step = 0;  // mixed mode: position in the SOA, IXFR, AXFR cycle
  TcpConnection* conn = nullptr;  // pipelined connection, when open
};

struct SecondariesLoad::Request : CompletionTarget {
  SecondariesLoad* load = nullptr;
  Secondary* secondary = nullptr;
  QueryKind kind = QueryKind::kSoa;
  uint16_t id = 0;
  absl::Time start;
  absl::Time deadline;
  std::vector<uint8_t> wire;
  std::vector<uint8_t> request_mac;
  uint8_t prefix[2] = {0, 0};
  iovec iov[2] = {};
  msghdr msg = {};
  AnswerVerifier verifier;
  uint64_t bytes = 0;
  UdpChannel* udp = nullptr;
  TcpConnection* tcp = nullptr;
  size_t active_index = 0;
  bool active = false;
  bool send_in_flight = false;  // UDP: the pool must not reuse it yet
  bool release_when_sent = false;

  // UDP send completions.
  void OnCompletion(const Event& e) override;
};

// One UDP socket, connected to the target, with a multishot receive; SOA
// answers are matched to requests by ID.
class SecondariesLoad::UdpChannel : public CompletionTarget {
 public:
  UdpChannel(SecondariesLoad& load, int fd, std::unique_ptr<BufferRing> buffers)
      : load_(load), fd_(fd), buffers_(std::move(buffers)), pending_(65536, nullptr) {
    recv_msg_.msg_namelen = sizeof(sockaddr_storage);
    Arm();
  }
  ~UdpChannel() override { ::close(fd_); }

  void Send(Request* r) {
    // A free ID: in-flight requests per socket are capped well below 2^16.
    while (pending_[next_id_] != nullptr) ++next_id_;
    r->id = next_id_++;
    pending_[r->id] = r;
  }
  void Submit(Request* r) {
    r->iov[0] = {r->wire.data(), r->wire.size()};
    r->msg = msghdr{};
    r->msg.msg_iov = r->iov;
    r->msg.msg_iovlen = 1;
    r->send_in_flight = true;
    load_.loop_->ring().SendMsg(fd_, &r->msg, r, kTagSend);
  }
  void Forget(Request* r) {
    if (pending_[r->id] == r) pending_[r->id] = nullptr;
  }

 private:
  void Arm() {
    load_.loop_->ring().RecvMsgMultishot(fd_, &recv_msg_, *buffers_, this, kTagRecv);
  }
  void OnCompletion(const Event& e) override {
    if (e.res >= 0 && e.buffer_id >= 0) {
      uint8_t* buf = buffers_->buffer(e.buffer_id);
      io_uring_recvmsg_out* out = io_uring_recvmsg_validate(buf, e.res, &recv_msg_);
      if (out != nullptr && !(out->flags & MSG_TRUNC)) {
        auto* payload = static_cast<const uint8_t*>(io_uring_recvmsg_payload(out, &recv_msg_));
        size_t len = io_uring_recvmsg_payload_length(out, e.res, &recv_msg_);
        OnAnswer(Bytes(payload, len));
      }
      buffers_->Recycle(e.buffer_id);
    } else if (e.buffer_id >= 0) {
      buffers_->Recycle(e.buffer_id);
    }
    // Re-armed after ENOBUFS or an error (an ICMP port unreachable gives
    // ECONNREFUSED on a connected socket: the requests then time out).
    if (!e.more && e.res != -ECANCELED && !closed_) Arm();
  }
  void OnAnswer(Bytes msg) {
    if (msg.size() < 2) return;
    Request* r = pending_[LoadU16(msg.data())];
    if (r == nullptr) {
      ++load_.report_.late_answers;
      return;
    }
    r->bytes += msg.size();
    AnswerVerifier::Step step = r->verifier.Feed(msg, absl::Now());
    if (step != AnswerVerifier::Step::kMore) {
      load_.Finish(r);
    }
    // kMore cannot happen for an SOA answer: one message always ends it.
  }

  SecondariesLoad& load_;
  int fd_;
  std::unique_ptr<BufferRing> buffers_;
  msghdr recv_msg_{};
  std::vector<Request*> pending_;
  uint16_t next_id_ = 1;
  bool closed_ = false;

 public:
  friend class SecondariesLoad;
};

void SecondariesLoad::Request::OnCompletion(const Event& e) {
  send_in_flight = false;
  if (release_when_sent) {
    release_when_sent = false;
    load->free_requests_.push_back(this);
    return;
  }
  if (e.res < 0 && active) {
    load->FailRequest(this, ErrorKind::kIo, fmt::format("UDP send: {}", Errno(-e.res)));
  }
}

// A TCP connection of one secondary. One transfer at a time; pipelined
// connections stay open between transfers with a small receive armed, so a
// server closing an idle connection is noticed.
class SecondariesLoad::TcpConnection : public CompletionTarget {
 public:
  TcpConnection(SecondariesLoad& load, Secondary& owner, int fd)
      : load_(load), owner_(&owner), fd_(fd) {}
  ~TcpConnection() override {
    if (fd_ >= 0) ::close(fd_);
    if (buf_ != nullptr) load_.ReleaseBuffer(buf_);
  }

  bool usable() const { return !closing_ && !eof_; }

  void Start(Request* r) {
    reused_ = uses_++ > 0;
    req_ = r;
    r->tcp = this;
    buf_ = load_.AcquireBuffer();
    in_len_ = 0;
    StoreU16(r->prefix, static_cast<uint16_t>(r->wire.size()));
    r->iov[0] = {r->prefix, 2};
    r->iov[1] = {r->wire.data(), r->wire.size()};
    sent_iov_ = 0;
    r->msg = msghdr{};
    r->msg.msg_iov = r->iov;
    r->msg.msg_iovlen = 2;
    SubmitSend();
    if (!recv_armed_) ArmRecv();
  }

  // The request ended elsewhere (timeout): drop the connection, since its
  // byte stream is now out of step.
  void Abort() {
    req_ = nullptr;
    Close();
  }

  void Close() {
    if (closing_) return;
    closing_ = true;
    if (owner_ != nullptr && owner_->conn == this) owner_->conn = nullptr;
    owner_ = nullptr;
    if (in_flight_ > 0) {
      // Completions still to come (with -ECANCELED); the last one finishes.
      ::shutdown(fd_, SHUT_RDWR);
      load_.loop_->ring().CancelFd(fd_);
    } else if (!in_callback_) {
      load_.Destroy(this);  // deletes this
    }
  }

  std::list<std::unique_ptr<TcpConnection>>::iterator self_;

 private:
  void SubmitSend() {
    Request* r = req_;
    r->msg.msg_iov = r->iov + sent_iov_;
    r->msg.msg_iovlen = 2 - sent_iov_;
    ++in_flight_;
    load_.loop_->ring().SendMsg(fd_, &r->msg, this, kTagSend);
  }

  void ArmRecv() {
    if (closing_ || recv_armed_ || eof_) return;
    recv_armed_ = true;
    ++in_flight_;
    if (req_ != nullptr) {
      recv_scratch_ = false;
      load_.loop_->ring().Recv(fd_, buf_ + in_len_, kTcpBufferSize - in_len_, this, kTagRecv);
    } else {
      recv_scratch_ = true;
      load_.loop_->ring().Recv(fd_, scratch_, kScratchSize, this, kTagRecv);
    }
  }

  void OnCompletion(const Event& e) override {
    --in_flight_;
    in_callback_ = true;
    if (e.tag == kTagSend) {
      OnSent(e.res);
    } else if (e.tag == kTagRecv) {
      recv_armed_ = false;
      OnRecv(e.res);
    }
    in_callback_ = false;
    if (closing_ && in_flight_ == 0) load_.Destroy(this);  // deletes this
  }

  void Fail(ErrorKind kind, std::string detail) {
    Request* r = req_;
    req_ = nullptr;
    if (r != nullptr) load_.FailRequest(r, kind, std::move(detail));
    Close();
  }

  void OnSent(int res) {
    if (closing_ || req_ == nullptr) return;
    if (res < 0) {
      Fail(connected_ ? ErrorKind::kIo : ErrorKind::kConnect,
           fmt::format("TCP send to {}: {}", load_.options_.target.ToString(), Errno(-res)));
      return;
    }
    connected_ = true;
    size_t sent = static_cast<size_t>(res);
    Request* r = req_;
    while (sent > 0 && sent_iov_ < 2) {
      iovec& v = r->iov[sent_iov_];
      if (sent >= v.iov_len) {
        sent -= v.iov_len;
        ++sent_iov_;
      } else {
        v.iov_base = static_cast<uint8_t*>(v.iov_base) + sent;
        v.iov_len -= sent;
        sent = 0;
      }
    }
    if (sent_iov_ < 2) SubmitSend();
  }

  void OnRecv(int res) {
    if (closing_) return;
    if (res <= 0) {
      eof_ = true;
      if (req_ != nullptr && reused_ && sent_iov_ == 2 && in_len_ == 0 &&
          req_->verifier.messages() == 0) {
        // A server may close an idle connection at any time (RFC 7766
        // §6.2.3): like a real secondary, ask again on a new one.
        Request* r = req_;
        req_ = nullptr;
        r->tcp = nullptr;
        Close();
        load_.StartTcp(r, /*allow_reuse=*/false);
        return;
      }
      if (req_ != nullptr) {
        if (res == 0) {
          Fail(ErrorKind::kIncomplete,
               fmt::format("the server closed the connection after {} messages and "
                           "{} records, before the answer was complete",
                           req_->verifier.messages(), req_->verifier.records()));
        } else {
          Fail(connected_ || res != -ECONNREFUSED ? ErrorKind::kIo : ErrorKind::kConnect,
               fmt::format("TCP receive: {}", Errno(-res)));
        }
      } else {
        Close();  // an idle pipelined connection the server closed
      }
      return;
    }
    connected_ = true;
    if (recv_scratch_) {
      if (req_ == nullptr) {
        Close();  // bytes nobody asked for: the stream is out of step
        return;
      }
      std::memcpy(buf_ + in_len_, scratch_, static_cast<size_t>(res));
    }
    in_len_ += static_cast<size_t>(res);
    if (!Consume()) return;
    if (req_ == nullptr && load_.options_.fresh_connections) {
      Close();
      return;
    }
    ArmRecv();
  }

  // Feeds every complete length-prefixed message to the verifier. False
  // when the connection was closed (failure) or handed back.
  bool Consume() {
    size_t pos = 0;
    Request* r = req_;
    while (in_len_ - pos >= 2) {
      size_t len = LoadU16(buf_ + pos);
      if (in_len_ - pos < 2 + len) break;
      r->bytes += 2 + len;
      AnswerVerifier::Step step = r->verifier.Feed(Bytes(buf_ + pos + 2, len), absl::Now());
      pos += 2 + len;
      if (step == AnswerVerifier::Step::kFailed) {
        Fail(r->verifier.error_kind(), r->verifier.error_detail());
        return false;
      }
      if (step == AnswerVerifier::Step::kDone) {
        if (pos != in_len_) {
          r->verifier.Fail(ErrorKind::kStructure,
                           fmt::format("{} bytes after the end of the answer", in_len_ - pos));
          Fail(r->verifier.error_kind(), r->verifier.error_detail());
          return false;
        }
        in_len_ = 0;
        load_.ReleaseBuffer(buf_);
        buf_ = nullptr;
        req_ = nullptr;
        r->tcp = nullptr;
        load_.Finish(r);
        return !closing_;
      }
    }
    if (pos > 0) {
      std::memmove(buf_, buf_ + pos, in_len_ - pos);
      in_len_ -= pos;
    }
    return true;
  }

  SecondariesLoad& load_;
  Secondary* owner_;
  int fd_;
  Request* req_ = nullptr;
  uint8_t* buf_ = nullptr;
  size_t in_len_ = 0;
  uint8_t scratch_[kScratchSize];
  size_t sent_iov_ = 0;
  int in_flight_ = 0;
  bool recv_armed_ = false;
  bool recv_scratch_ = false;
  bool connected_ = false;
  bool eof_ = false;
  bool closing_ = false;
  bool in_callback_ = false;
  bool reused_ = false;
  uint64_t uses_ = 0;
};

SecondariesLoad::SecondariesLoad(SecondariesOptions options)
    : options_(std::move(options)) {}

SecondariesLoad::~SecondariesLoad() {
  connections_.clear();
  udp_.clear();
}

absl::StatusOr<std::unique_ptr<SecondariesLoad>> SecondariesLoad::Create(
    SecondariesOptions options) {
  std::unique_ptr<SecondariesLoad> l(new SecondariesLoad(std::move(options)));
  if (absl::Status s = l->Setup(); !s.ok()) return s;
  return l;
}

absl::StatusOr<Serial> SecondariesLoad::QueryCurrentSerial() {
  const SocketAddress& t = options_.target;
  int fd = ::socket(t.ip().is_v4() ? AF_INET : AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return absl::InternalError(fmt::format("socket: {}", Errno(errno)));
  ScopedFd guard(fd);
  sockaddr_storage ss{};
  socklen_t len = t.ToSockaddr(ss);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&ss), len) != 0) {
    return absl::UnavailableError(fmt::format("connect {}: {}", t.ToString(), Errno(errno)));
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
      return absl::UnavailableError(fmt::format("send to {}: {}", t.ToString(), Errno(errno)));
    }
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 2000) <= 0) continue;
    uint8_t buf[4096];
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n < 0) {
      return absl::UnavailableError(fmt::format("SOA query to {}: {}", t.ToString(), Errno(errno)));
    }
    AnswerVerifier v;
    if (absl::Status s = v.Begin(QueryKind::kSoa, options_.zone, id, Serial(), key, Bytes(mac));
        !s.ok()) {
      return s;
    }
    if (v.Feed(Bytes(buf, static_cast<size_t>(n)), absl::Now()) != AnswerVerifier::Step::kDone) {
      return absl::UnavailableError(fmt::format("SOA answer from {}: {}: {}", t.ToString(),
                                                ErrorKindName(v.error_kind()), v.error_detail()));
    }
    return v.server_serial();
  }
  return absl::DeadlineExceededError(
      fmt::format("no answer to 3 SOA queries for {} from {}", options_.zone.ToText(),
                  t.ToString()));
}

absl::Status SecondariesLoad::Setup() {
  if ((options_.mode == Mode::kIxfr || options_.mode == Mode::kMixed) && !options_.serial) {
    auto s = QueryCurrentSerial();
    if (!s.ok()) return s.status();
    base_serial_ = *s;
  } else if (options_.serial) {
    base_serial_ = *options_.serial;
  }
  auto loop = EventLoop::Create(4096);
  if (!loop.ok()) return loop.status();
  loop_ = *std::move(loop);

  secondaries_.resize(options_.count);
  for (uint32_t i = 0; i < options_.count; ++i) {
    Secondary& s = secondaries_[i];
    s.index = i;
    s.serial = Serial(base_serial_.value() - i % options_.serial_spread);
    idle_.push_back(&s);
  }
  requests_.reserve(options_.concurrency);
  for (uint32_t i = 0; i < options_.concurrency; ++i) {
    auto r = std::make_unique<Request>();
    r->load = this;
    free_requests_.push_back(r.get());
    requests_.push_back(std::move(r));
  }

  if (options_.mode == Mode::kSoa || options_.mode == Mode::kMixed) {
    size_t channels = std::max<size_t>(
        options_.sources.empty() ? 1 : options_.sources.size(),
        (options_.concurrency + kMaxInFlightPerUdpSocket - 1) / kMaxInFlightPerUdpSocket);
    const SocketAddress& t = options_.target;
    for (size_t i = 0; i < channels; ++i) {
      int fd = ::socket(t.ip().is_v4() ? AF_INET : AF_INET6,
                        SOCK_DGRAM | SOCK_CLOEXEC, 0);
      if (fd < 0) return absl::InternalError(fmt::format("socket: {}", Errno(errno)));
      ScopedFd guard(fd);
      // Room for a burst of answers while the loop is busy elsewhere.
      int rcvbuf = 4 << 20;
      ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
      sockaddr_storage ss{};
      if (!options_.sources.empty()) {
        socklen_t len = SocketAddress(options_.sources[i % options_.sources.size()], 0)
                            .ToSockaddr(ss);
        if (::bind(fd, reinterpret_cast<sockaddr*>(&ss), len) != 0) {
          return absl::UnavailableError(fmt::format("bind UDP source: {}", Errno(errno)));
        }
      }
      socklen_t len = t.ToSockaddr(ss);
      if (::connect(fd, reinterpret_cast<sockaddr*>(&ss), len) != 0) {
        return absl::UnavailableError(fmt::format("connect UDP {}: {}", t.ToString(), Errno(errno)));
      }
      auto buffers = loop_->ring().CreateBufferRing(static_cast<uint16_t>(i + 1),
                                                    kUdpBufferCount, kUdpBufferSize);
      if (!buffers.ok()) return buffers.status();
      udp_.push_back(std::make_unique<UdpChannel>(*this, guard.release(), *std::move(buffers)));
    }
  }

  report_.mode = std::string(ModeName(options_.mode));
  report_.target = options_.target.ToString();
  report_.zone = options_.zone.ToText();
  report_.secondaries = options_.count;
  report_.concurrency = options_.concurrency;
  report_.fresh_connections = options_.fresh_connections;
  report_.base_serial = base_serial_.value();
  return absl::OkStatus();
}

uint8_t* SecondariesLoad::AcquireBuffer() {
  if (free_buffers_.empty()) {
    buffers_.push_back(std::make_unique<uint8_t[]>(kTcpBufferSize));
    return buffers_.back().get();
  }
  uint8_t* b = free_buffers_.back();
  free_buffers_.pop_back();
  return b;
}

void SecondariesLoad::ReleaseBuffer(uint8_t* b) { free_buffers_.push_back(b); }

void SecondariesLoad::Destroy(TcpConnection* c) { connections_.erase(c->self_); }

bool SecondariesLoad::Issuing() const {
  if (stop_issuing_) return false;
  if (options_.requests && issued_ >= *options_.requests) return false;
  return true;
}

void SecondariesLoad::SchedulePump() {
  if (pump_scheduled_) return;
  pump_scheduled_ = true;
  // Runs after this turn's completions: one pass issues every request that
  // the finished ones made room for.
  loop_->After(absl::ZeroDuration(), [this] {
    pump_scheduled_ = false;
    Pump();
  });
}

void SecondariesLoad::Pump() {
  if (!stop_issuing_ && absl::Now() >= end_issuing_) stop_issuing_ = true;
  while (Issuing() && active_.size() < options_.concurrency && !idle_.empty() &&
         !free_requests_.empty()) {
    Secondary* s = idle_.front();
    idle_.pop_front();
    Issue(*s);
  }
  MaybeStop();
}

void SecondariesLoad::Issue(Secondary& s) {
  static constexpr QueryKind kCycle[] = {QueryKind::kSoa, QueryKind::kIxfr, QueryKind::kAxfr};
  QueryKind kind = options_.mode == Mode::kSoa    ? QueryKind::kSoa
                   : options_.mode == Mode::kIxfr ? QueryKind::kIxfr
                   : options_.mode == Mode::kAxfr ? QueryKind::kAxfr
                                                  : kCycle[s.step++ % 3];
  Request* r = free_requests_.back();
  free_requests_.pop_back();
  ++issued_;
  r->secondary = &s;
  r->kind = kind;
  r->bytes = 0;
  r->udp = nullptr;
  r->tcp = nullptr;
  r->active = true;
  r->active_index = active_.size();
  active_.push_back(r);
  ++report_.kinds[static_cast<size_t>(kind)].started;

  const TsigKey* key = options_.tsig ? &*options_.tsig : nullptr;
  if (kind == QueryKind::kSoa) {
    r->udp = udp_[s.index % udp_.size()].get();
    r->udp->Send(r);
  } else {
    r->id = next_tcp_id_++;
  }
  r->start = absl::Now();
  r->deadline = r->start + options_.timeout;
  absl::Status st = BuildQuery(kind, options_.zone, r->id, s.serial, key, r->start,
                               r->wire, r->request_mac);
  if (st.ok()) {
    st = r->verifier.Begin(kind, options_.zone, r->id, s.serial, key, Bytes(r->request_mac));
  }
  if (!st.ok()) {
    FailRequest(r, ErrorKind::kIo, fmt::format("building the query: {}", ToStd(st.message())));
    return;
  }
  if (kind == QueryKind::kSoa) {
    r->udp->Submit(r);
    return;
  }

  StartTcp(r, /*allow_reuse=*/true);
}

void SecondariesLoad::StartTcp(Request* r, bool allow_reuse) {
  Secondary& s = *r->secondary;
  TcpConnection* c = allow_reuse && !options_.fresh_connections ? s.conn : nullptr;
  if (c == nullptr || !c->usable()) {
    if (s.conn != nullptr) s.conn->Close();
    c = OpenConnection(r);
    if (c == nullptr) return;
  }
  c->Start(r);
}

SecondariesLoad::TcpConnection* SecondariesLoad::OpenConnection(Request* r) {
  Secondary& s = *r->secondary;
  const SocketAddress& t = options_.target;
  int fd = ::socket(t.ip().is_v4() ? AF_INET : AF_INET6,
                    SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    FailRequest(r, ErrorKind::kConnect, fmt::format("socket: {}", Errno(errno)));
    return nullptr;
  }
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  sockaddr_storage ss{};
  if (!options_.sources.empty()) {
    // The port is picked at connect time, so many sources do not each
    // reserve a port per socket at bind.
    ::setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
    socklen_t len =
        SocketAddress(options_.sources[s.index % options_.sources.size()], 0).ToSockaddr(ss);
    if (::bind(fd, reinterpret_cast<sockaddr*>(&ss), len) != 0) {
      int err = errno;
      ::close(fd);
      FailRequest(r, ErrorKind::kConnect, fmt::format("bind source: {}", Errno(err)));
      return nullptr;
    }
  }
  socklen_t len = t.ToSockaddr(ss);
  // The Ring has no connect operation: a non-blocking connect starts the
  // handshake, then the socket goes back to blocking mode so that the
  // ring's first send waits (in the kernel, not here) for the handshake to
  // finish, and reports a refused connection as its result.
  if (::connect(fd, reinterpret_cast<sockaddr*>(&ss), len) != 0 && errno != EINPROGRESS) {
    int err = errno;
    ::close(fd);
    FailRequest(r, ErrorKind::kConnect, fmt::format("connect {}: {}", t.ToString(), Errno(err)));
    return nullptr;
  }
  int flags = ::fcntl(fd, F_GETFL);
  ::fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
  ++report_.connections;
  connections_.push_back(std::make_unique<TcpConnection>(*this, s, fd));
  TcpConnection* c = connections_.back().get();
  c->self_ = std::prev(connections_.end());
  if (!options_.fresh_connections) s.conn = c;
  return c;
}

void SecondariesLoad::FailRequest(Request* r, ErrorKind kind, std::string detail) {
  r->verifier.Fail(kind, std::move(detail));
  Finish(r);
}

void SecondariesLoad::Finish(Request* r) {
  if (!r->active) return;
  r->active = false;
  absl::Time now = absl::Now();
  KindStats& ks = report_.kinds[static_cast<size_t>(r->kind)];
  if (r->udp != nullptr) r->udp->Forget(r);
  if (r->verifier.done() && !r->verifier.failed()) {
    ++ks.completed;
    ks.records += r->verifier.records();
    ks.bytes += r->bytes;
    ks.messages += r->verifier.messages();
    ks.latency.Add(now - r->start);
    switch (r->verifier.style()) {
      case AnswerStyle::kSoa:
        if (r->kind != QueryKind::kSoa) ++ks.soa_only;
        break;
      case AnswerStyle::kIncremental:
        ++ks.incremental;
        break;
      case AnswerStyle::kFull:
        ++ks.full;
        ks.zone_records_min = std::min(ks.zone_records_min, r->verifier.zone_records());
        ks.zone_records_max = std::max(ks.zone_records_max, r->verifier.zone_records());
        break;
      case AnswerStyle::kNone:
        break;
    }
  } else {
    ++ks.failed;
    ErrorKind k = r->verifier.error_kind();
    ++report_.errors[static_cast<size_t>(k)];
    if (report_.first_error.empty()) {
      report_.first_error = fmt::format("{} ({} request of secondary {}): {}",
                                        ErrorKindName(k), QueryKindName(r->kind),
                                        r->secondary->index, r->verifier.error_detail());
    }
  }
  // Swap-remove from the active list.
  Request* last = active_.back();
  active_[r->active_index] = last;
  last->active_index = r->active_index;
  active_.pop_back();
  if (r->send_in_flight) {
    r->release_when_sent = true;  // its msghdr is still the kernel's
  } else {
    free_requests_.push_back(r);
  }
  idle_.push_back(r->secondary);
  SchedulePump();
}

void SecondariesLoad::Sweep() {
  absl::Time now = absl::Now();
  if (!stop_issuing_ && now >= end_issuing_) {
    stop_issuing_ = true;
    SchedulePump();
  }
  for (size_t i = 0; i < active_.size();) {
    Request* r = active_[i];
    if (now < r->deadline) {
      ++i;
      continue;
    }
    TcpConnection* c = r->tcp;
    r->tcp = nullptr;
    FailRequest(r, ErrorKind::kTimeout,
                fmt::format("no complete answer after {} ({} messages, {} records so far)",
                            absl::FormatDuration(options_.timeout), r->verifier.messages(),
                            r->verifier.records()));
    if (c != nullptr) c->Abort();
    // FailRequest swapped another request into slot i: look at it next.
  }
  loop_->After(kSweepInterval, [this] { Sweep(); });
}

void SecondariesLoad::MaybeStop() {
  if (!Issuing() && active_.empty()) loop_->Stop();
}

LoadReport SecondariesLoad::Run() {
  start_ = absl::Now();
  if (options_.duration) end_issuing_ = start_ + *options_.duration;
  double user0 = 0, sys0 = 0;
  ProcessCpu(user0, sys0);
  Pump();
  loop_->After(kSweepInterval, [this] { Sweep(); });
  if (!loop_->stopping()) loop_->Run();
  report_.elapsed = absl::Now() - start_;
  double user1 = 0, sys1 = 0;
  ProcessCpu(user1, sys1);
  report_.cpu_user_s = user1 - user0;
  report_.cpu_system_s = sys1 - sys0;
  return report_;
}

}  // namespace xfr::load
