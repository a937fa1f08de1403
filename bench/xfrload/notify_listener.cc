#include "bench/xfrload/notify_listener.h"

#include <liburing.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "bench/xfrload/options.h"
#include "core/message.h"
#include "core/tsig.h"
#include "core/zone.h"
#include "fmt/format.h"

namespace xfr::load {
namespace {

constexpr unsigned kTagRecv = 1;
constexpr unsigned kTagSend = 2;
// A NOTIFY (even signed) and an SOA answer to a query without EDNS fit in
// 512 bytes; the rest of 2 KiB holds the recvmsg header and the address.
constexpr unsigned kBufferSize = 2048;
constexpr unsigned kMaxBuffers = 4096;

unsigned BufferCount(size_t sockets) {
  unsigned n = 64;
  while (n < sockets && n < kMaxBuffers) n *= 2;
  return n;
}

}  // namespace

struct NotifyListener::Socket : CompletionTarget {
  NotifyListener* owner = nullptr;
  uint32_t local = 0;
  int fd = -1;
  msghdr msg{};  // for the multishot receive: only the name length is used
  void OnCompletion(const Event& e) override {
    owner->OnReceive(*this, e.res, e.more, e.buffer_id);
  }
};

// A datagram being sent: its bytes, address and msghdr must outlive the
// send, so each has a slot from a pool that grows to the largest burst.
struct NotifyListener::Out : CompletionTarget {
  NotifyListener* owner = nullptr;
  std::vector<uint8_t> bytes;
  sockaddr_storage to{};
  iovec iov{};
  msghdr msg{};
  void OnCompletion(const Event&) override {
    --owner->sending_;
    owner->free_outs_.push_back(this);
  }
};

absl::StatusOr<std::vector<ScopedFd>> NotifyListener::OpenSockets(const SocketAddress& base,
                                                                  uint32_t first,
                                                                  uint32_t count) {
  std::vector<ScopedFd> fds;
  fds.reserve(count);
  for (uint32_t i = first; i < first + count; ++i) {
    SocketAddress a = NotifyListenAddress(base, i);
    int fd = ::socket(a.ip().is_v4() ? AF_INET : AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
      int err = errno;
      return absl::ResourceExhaustedError(fmt::format(
          "socket for the NOTIFY address of secondary {}: {}{}", i, std::strerror(err),
          err == EMFILE || err == ENFILE ? " (raise the open-file limit, ulimit -n)" : ""));
    }
    ScopedFd guard(fd);
    sockaddr_storage ss{};
    socklen_t len = a.ToSockaddr(ss);
    int rc = ::bind(fd, reinterpret_cast<sockaddr*>(&ss), len);
    // The sockets of a run that just ended (in this process or another)
    // can stay bound for a few milliseconds after they are closed, while
    // the kernel finishes releasing what io_uring held: wait that out
    // rather than fail a back-to-back run.
    for (int retry = 0; rc != 0 && errno == EADDRINUSE && retry < 40; ++retry) {
      ::usleep(5000);
      rc = ::bind(fd, reinterpret_cast<sockaddr*>(&ss), len);
    }
    if (rc != 0) {
      int err = errno;
      return absl::UnavailableError(
          fmt::format("bind {} (NOTIFY address of secondary {}): {}", a.ToString(), i,
                      std::strerror(err)));
    }
    fds.push_back(std::move(guard));
  }
  return fds;
}

NotifyListener::NotifyListener(EventLoop& loop, const Name& zone, const TsigKey* key,
                               const SocketAddress& target, Handler& handler)
    : loop_(loop), zone_(zone), key_(key), target_(target), handler_(handler) {}

absl::StatusOr<std::unique_ptr<NotifyListener>> NotifyListener::Start(
    EventLoop& loop, uint16_t group, std::vector<ScopedFd> fds, const Name& zone,
    const TsigKey* key, const SocketAddress& target, Handler& handler) {
  std::unique_ptr<NotifyListener> l(new NotifyListener(loop, zone, key, target, handler));
  auto buffers = loop.ring().CreateBufferRing(group, BufferCount(fds.size()), kBufferSize);
  if (!buffers.ok()) return buffers.status();
  l->buffers_ = *std::move(buffers);
  l->sockets_.reserve(fds.size());
  for (uint32_t i = 0; i < fds.size(); ++i) {
    auto s = std::make_unique<Socket>();
    s->owner = l.get();
    s->local = i;
    s->fd = fds[i].release();
    s->msg.msg_namelen = sizeof(sockaddr_storage);
    l->sockets_.push_back(std::move(s));
  }
  for (auto& s : l->sockets_) l->Arm(*s);
  return l;
}

NotifyListener::~NotifyListener() {
  for (auto& s : sockets_) ::close(s->fd);
}

int NotifyListener::fd(uint32_t local) const { return sockets_[local]->fd; }

void NotifyListener::Cancel() {
  cancelled_ = true;
  // By user_data, not by fd: see Ring::Cancel.
  for (auto& s : sockets_) loop_.ring().Cancel(s.get(), kTagRecv);
}

void NotifyListener::Arm(Socket& s) {
  ++armed_;
  loop_.ring().RecvMsgMultishot(s.fd, &s.msg, *buffers_, &s, kTagRecv);
}

void NotifyListener::OnReceive(Socket& s, int res, bool more, int buffer_id) {
  if (res >= 0 && buffer_id >= 0) {
    uint8_t* buf = buffers_->buffer(buffer_id);
    io_uring_recvmsg_out* out = io_uring_recvmsg_validate(buf, res, &s.msg);
    if (out != nullptr && !(out->flags & MSG_TRUNC) && !(out->flags & MSG_CTRUNC)) {
      auto* payload = static_cast<const uint8_t*>(io_uring_recvmsg_payload(out, &s.msg));
      size_t len = io_uring_recvmsg_payload_length(out, res, &s.msg);
      OnDatagram(s, static_cast<const sockaddr*>(io_uring_recvmsg_name(out)),
                 static_cast<socklen_t>(out->namelen), Bytes(payload, len));
    }
    buffers_->Recycle(buffer_id);
  } else if (buffer_id >= 0) {
    buffers_->Recycle(buffer_id);
  }
  // A multishot receive ends on ENOBUFS (a burst took every buffer before
  // the loop recycled them: the datagrams wait in the socket) or on an
  // error; arm it again.
  if (!more) {
    --armed_;
    if (res != -ECANCELED && !cancelled_) Arm(s);
  }
}

void NotifyListener::OnDatagram(Socket& s, const sockaddr* from, socklen_t from_len,
                                Bytes msg) {
  if (msg.size() < kHeaderSize) {
    handler_.OnRejected();
    return;
  }
  Header h = Header::Load(msg.data());
  if (!h.qr && h.opcode == Opcode::kNotify) {
    HandleNotify(s, from, from_len, msg);
    return;
  }
  // A response is the answer to one of this secondary's SOA queries only
  // when it comes from the target (RFC 5452 §9.1 spirit); the shard
  // matches the ID.
  std::optional<SocketAddress> sender = SocketAddress::FromSockaddr(from, from_len);
  if (h.qr && sender && *sender == target_) {
    handler_.OnAnswer(s.local, msg);
    return;
  }
  handler_.OnRejected();
}

void NotifyListener::HandleNotify(Socket& s, const sockaddr* from, socklen_t from_len,
                                  Bytes msg) {
  absl::Time now = absl::Now();
  auto parsed = ParseMessage(msg);
  if (!parsed.ok()) {
    handler_.OnRejected();  // nothing trustworthy to echo
    return;
  }
  const Message& m = *parsed;
  const Question* q = m.question();
  bool ours = m.questions.size() == 1 && q->qtype == RRType::kSOA &&
              q->qclass == RRClass::kIN && q->qname == zone_;
  MessageBuilder b = StartResponse(m, kMaxPlainUdpSize);
  b.header().aa = true;
  std::optional<TsigRequestCheck> check;
  if (key_ != nullptr && m.tsig) {
    check = VerifyTsigRequest(absl::Span<const TsigKey>(key_, 1), msg, *m.tsig,
                              m.tsig_offset, now);
  }
  bool accepted = ours && (key_ == nullptr || (check && check->ok()));
  if (!accepted) b.SetRcode(check && check->error == Rcode::kFormErr ? Rcode::kFormErr
                                                                     : Rcode::kRefused);
  std::vector<uint8_t> answer = b.Finish();
  if (check && check->ok()) {
    // RFC 8945 §5.3: the answer to a signed request is signed, covering the
    // request's MAC.
    auto signer = TsigStreamSigner::Create(*key_, Bytes(check->request.mac));
    if (!signer.ok() || !signer->SignMessage(answer, now).ok()) {
      handler_.OnRejected();
      return;
    }
  } else if (check && check->error != Rcode::kFormErr) {
    // §5.3.2: BADKEY, BADSIG and BADTIME answers carry the TSIG error.
    if (!AppendTsigErrorAnswer(*check, answer, now).ok()) {
      handler_.OnRejected();
      return;
    }
  }
  Send(s, from, from_len, std::move(answer));
  if (!accepted) {
    handler_.OnRejected();
    return;
  }
  // RFC 1996 §3.7: the SOA in the answer section is a hint of the new
  // serial, nothing more.
  std::optional<Serial> hint;
  for (const Record& rr : m.answer) {
    if (rr.type == RRType::kSOA && rr.owner == zone_) {
      if (auto soa = ParseSoaRdata(Bytes(rr.rdata.data(), rr.rdata.size()))) {
        hint = soa->serial;
      }
      break;
    }
  }
  handler_.OnNotify(s.local, m.header.id, hint, now);
}

void NotifyListener::Send(Socket& s, const sockaddr* to, socklen_t to_len,
                          std::vector<uint8_t> bytes) {
  if (free_outs_.empty()) {
    outs_.push_back(std::make_unique<Out>());
    outs_.back()->owner = this;
    free_outs_.push_back(outs_.back().get());
  }
  Out* o = free_outs_.back();
  free_outs_.pop_back();
  o->bytes = std::move(bytes);
  std::memcpy(&o->to, to, std::min<size_t>(to_len, sizeof o->to));
  o->iov = {o->bytes.data(), o->bytes.size()};
  o->msg = msghdr{};
  o->msg.msg_name = &o->to;
  o->msg.msg_namelen = to_len;
  o->msg.msg_iov = &o->iov;
  o->msg.msg_iovlen = 1;
  ++sending_;
  loop_.ring().SendMsg(s.fd, &o->msg, o, kTagSend);
}

}  // namespace xfr::load
