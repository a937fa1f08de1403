#include "proxy/notify_sender.h"

#include <liburing.h>
#include <sys/random.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <random>

#include "core/message.h"
#include "fmt/format.h"
#include "proxy/log.h"

namespace xfr {
namespace {
constexpr unsigned kTagSend = 1;
constexpr unsigned kTagRecv = 2;
// Answers to NOTIFY are small (the question, maybe a TSIG RR); a larger
// datagram arrives truncated and is dropped.
constexpr unsigned kBufferSize = 2048;
constexpr unsigned kBufferCount = 256;
// Give-ups named in one log line; the rest are counted.
constexpr size_t kLogPeers = 8;

bool SamePeers(const std::vector<NotifyPeer>& a,
               const std::vector<NotifyPeer>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (!(a[i].address == b[i].address) || a[i].notify != b[i].notify || a[i].key != b[i].key) {
      return false;
    }
  }
  return true;
}

std::optional<PeerAddress> FromSockaddr(const sockaddr* sa, socklen_t len) {
  PeerAddress a;
  if (sa->sa_family == AF_INET && len >= sizeof(sockaddr_in)) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(sa);
    std::array<uint8_t, 4> b;
    std::memcpy(b.data(), &in->sin_addr, 4);
    return PeerAddress::V4(b, ntohs(in->sin_port));
  }
  if (sa->sa_family == AF_INET6 && len >= sizeof(sockaddr_in6)) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(sa);
    std::memcpy(a.ip.data(), &in6->sin6_addr, 16);
    a.port = ntohs(in6->sin6_port);
    return a;
  }
  return std::nullopt;
}

SocketAddress Wildcard(bool v6) {
  return SocketAddress(v6 ? IpAddress::V6({}) : IpAddress::V4({0, 0, 0, 0}), 0);
}

}  // namespace

PeerAddress ToPeerAddress(const SocketAddress& a) {
  PeerAddress p;
  p.ip = a.ip().bytes();
  p.port = a.port();
  return p;
}

struct NotifySender::Send : CompletionTarget {
  NotifySender* owner = nullptr;
  sockaddr_storage addr{};
  iovec iov{};
  msghdr msg{};
  std::vector<uint8_t> data;
  void OnCompletion(const Event& e) override {
    if (e.res < 0) ++owner->send_errors_;
    owner->Done(this);
  }
};

NotifySender::NotifySender(EventLoop& loop, NotifyOptions options)
    : loop_(loop), options_(options) {}

absl::StatusOr<std::unique_ptr<NotifySender>> NotifySender::Start(
    EventLoop& loop, uint16_t buffer_group, NotifyOptions options) {
  std::unique_ptr<NotifySender> s(new NotifySender(loop, options));
  auto buffers = loop.ring().CreateBufferRing(buffer_group, kBufferCount, kBufferSize);
  if (!buffers.ok()) return buffers.status();
  s->buffers_ = std::move(*buffers);
  // The wildcard sockets (the kernel picks the source) exist from the
  // start; Configure() adds one per configured source.
  if (absl::Status st = s->OpenSocket(Wildcard(/*v6=*/false)); !st.ok()) return st;
  s->any4_ = s->sockets_.back().get();
  if (s->OpenSocket(Wildcard(/*v6=*/true)).ok()) {
    s->any6_ = s->sockets_.back().get();
  } else {
    LogWarning("notify: no IPv6 socket; IPv6 secondaries will not be notified");
  }
  return s;
}

absl::Status NotifySender::OpenSocket(const SocketAddress& source) {
  bool v6 = !source.ip().is_v4();
  auto fd = OpenUdpClientSocket(v6);
  if (!fd.ok()) return fd.status();
  // Bound now rather than on the first send, so the receive armed below
  // waits on a socket that has its port.
  sockaddr_storage ss{};
  socklen_t len = source.ToSockaddr(ss);
  if (::bind(fd->get(), reinterpret_cast<sockaddr*>(&ss), len) != 0) {
    return absl::UnavailableError(
        fmt::format("notify socket: bind {}: {}", source.ToString(), std::strerror(errno)));
  }
  auto sock = std::make_unique<Socket>();
  sock->fd = std::move(*fd);
  sock->source = source;
  sock->owner = this;
  // Every receive shares the buffer group; each has its own msghdr, which
  // tells the kernel how much room the source address needs.
  sock->recv_msg.msg_namelen = sizeof(sockaddr_storage);
  sock->recv_msg.msg_controllen = 0;
  sockets_.push_back(std::move(sock));
  Arm(*sockets_.back());
  return absl::OkStatus();
}

NotifySender::Socket* NotifySender::SocketFor(const SocketAddress& source) {
  for (const auto& s : sockets_) {
    if (s->source == source) return s.get();
  }
  Socket* fallback = source.ip().is_v4() ? any4_ : any6_;
  if (stopped_) return fallback;
  if (absl::Status st = OpenSocket(source); !st.ok()) {
    LogError("notify-source {}: {}; the kernel chooses the source instead", source.ToString(),
             std::string(st.message()));
    return fallback;
  }
  return sockets_.back().get();
}

NotifySender::~NotifySender() {
  for (auto& [name, z] : zones_) {
    if (z.timer != 0) loop_.Cancel(z.timer);
  }
}

void NotifySender::Stop() {
  if (stopped_) return;
  stopped_ = true;
  for (auto& [name, z] : zones_) {
    if (z.timer != 0) loop_.Cancel(z.timer);
    z.timer = 0;
    z.timer_at = absl::InfiniteFuture();
  }
  for (const auto& sock : sockets_) loop_.ring().CancelFd(sock->fd.get());
}

void NotifySender::Arm(Socket& s) {
  loop_.ring().RecvMsgMultishot(s.fd.get(), &s.recv_msg, *buffers_, &s, kTagRecv);
}

uint16_t NotifySender::RandomId() {
  // IDs from the kernel's CSPRNG (RFC 5452 §9.2 spirit: an off-path host
  // must not guess the ID that would silence the retries), drawn in blocks
  // so a fan-out to 10,000 peers costs a handful of getrandom calls.
  if (random_used_ + 2 > random_pool_.size()) {
    random_pool_.resize(4096);
    ssize_t n = getrandom(random_pool_.data(), random_pool_.size(), 0);
    if (n != static_cast<ssize_t>(random_pool_.size())) {
      std::random_device rd;
      for (uint8_t& b : random_pool_) b = static_cast<uint8_t>(rd());
    }
    random_used_ = 0;
  }
  uint16_t id = static_cast<uint16_t>(random_pool_[random_used_] << 8 |
                                      random_pool_[random_used_ + 1]);
  random_used_ += 2;
  return id;
}

void NotifySender::Configure(const Config& config) {
  absl::flat_hash_map<Name, Zone> next;
  for (const ZoneConfig& zc : config.zones) {
    std::vector<NotifyPeer> peers;
    for (const SecondaryConfig& sc : zc.secondaries) {
      peers.push_back(NotifyPeer{ToPeerAddress(sc.address), FindTsigKeyConfig(config, sc.key),
                                 sc.notify});
    }
    if (peers.empty()) continue;
    Zone z;
    auto old = zones_.find(zc.name);
    if (old != zones_.end() && SamePeers(old->second.peers, peers)) {
      z = std::move(old->second);
      zones_.erase(old);
    } else {
      z.peers = peers;
      z.fanout = std::make_unique<NotifyFanout>(
          zc.name, std::move(peers), options_, [this] { return RandomId(); }, loop_.Now());
      // Secondaries kept across the reload keep their state on /peers.
      if (old != zones_.end()) z.fanout->peers()->Inherit(*old->second.fanout->peers());
    }
    auto source = [&](bool v6) {
      return config.SourceFor(zc, SourceKind::kNotify, v6).value_or(Wildcard(v6));
    };
    z.v4 = SocketFor(source(false));
    z.v6 = SocketFor(source(true));
    if (!zc.verify_peers) {
      z.verifier.reset();
    } else if (!z.verifier) {
      std::vector<std::optional<TsigKey>> keys;
      for (const NotifyPeer& p : z.peers) keys.push_back(p.key);
      VerifyOptions vo;
      // A peer that answered has the NOTIFY retry window to come for the
      // data; the same grace /peers uses before it calls a peer lagging.
      vo.grace = NotifyRetryWindow(options_);
      vo.initial_timeout = options_.initial_timeout;
      vo.tsig_fudge = options_.tsig_fudge;
      z.verifier = std::make_unique<PeerVerifier>(zc.name, std::move(keys), z.fanout->peers(),
                                                  vo, [this] { return RandomId(); });
    }
    next.emplace(zc.name, std::move(z));
  }
  // Zones dropped or replaced: their timers go with them.
  for (auto& [name, z] : zones_) {
    if (z.timer != 0) loop_.Cancel(z.timer);
  }
  zones_ = std::move(next);
}

void NotifySender::Notify(const Name& zone, Serial serial, RecordView soa) {
  if (stopped_) return;
  auto it = zones_.find(zone);
  if (it == zones_.end()) return;
  Zone& z = it->second;
  z.fanout->Start(serial, ToRecord(soa), loop_.Now());
  if (z.verifier) z.verifier->Start(serial, loop_.Now());
  LogInfo("notify: zone {} serial {} to {} secondaries", zone.ToText(), serial.ToString(),
          z.fanout->pending());
  Flush(it->first, z);
}

absl::StatusOr<size_t> NotifySender::Renotify(const Name& zone, Serial serial, RecordView soa,
                                              const std::optional<SocketAddress>& peer) {
  auto it = zones_.find(zone);
  if (stopped_ || it == zones_.end()) {
    return absl::FailedPreconditionError(
        fmt::format("zone {} has no secondaries to notify", zone.ToText()));
  }
  Zone& z = it->second;
  if (!peer) {
    Notify(zone, serial, soa);
    return z.fanout->pending();
  }
  PeerAddress want = ToPeerAddress(*peer);
  std::vector<std::string> known;
  for (uint32_t i = 0; i < z.peers.size(); ++i) {
    if (z.peers[i].address != want) {
      // A few, for the operator's eye: a zone may have thousands.
      if (known.size() < 8) known.push_back(z.peers[i].address.ToString());
      if (known.size() == 8 && i + 1 < z.peers.size()) known.back() = "...";
      continue;
    }
    if (!z.peers[i].notify) {
      return absl::FailedPreconditionError(fmt::format(
          "secondary {} of zone {} has notify: false", peer->ToString(), zone.ToText()));
    }
    if (!z.fanout->Restart(i, serial, ToRecord(soa), loop_.Now())) {
      return absl::InternalError(fmt::format("cannot sign the NOTIFY to {} (see the log)",
                                             peer->ToString()));
    }
    LogInfo("notify: zone {} serial {} to {} (asked for)", zone.ToText(), serial.ToString(),
            peer->ToString());
    Flush(it->first, z);
    return 1;
  }
  return absl::NotFoundError(fmt::format("{} is not a secondary of zone {} (secondaries: {})",
                                         peer->ToString(), zone.ToText(),
                                         fmt::join(known, ", ")));
}

void NotifySender::Flush(const Name& name, Zone& z) {
  std::vector<OutgoingNotify> due = z.fanout->Due(loop_.Now());
  for (OutgoingNotify& o : due) SendTo(z, o.to, std::move(o.bytes));
  if (z.verifier) {
    for (OutgoingQuery& q : z.verifier->Due(loop_.Now())) SendTo(z, q.to, std::move(q.bytes));
  }
  const NotifyCounters& c = z.fanout->counters();
  if (c.give_ups != z.give_ups_logged) {
    std::vector<std::string> names;
    const PeerTable& t = *z.fanout->peers();
    for (size_t i = 0; i < t.size() && names.size() < kLogPeers; ++i) {
      if (t.at(i).gave_up && !t.at(i).answered) names.push_back(t.at(i).address.ToString());
    }
    LogWarning("notify: zone {} serial {}: {} secondaries did not answer after {} tries ({}{})",
               name.ToText(), z.fanout->serial() ? z.fanout->serial()->ToString() : "-",
               c.give_ups - z.give_ups_logged, options_.max_sends, fmt::join(names, ", "),
               c.give_ups - z.give_ups_logged > names.size() ? ", ..." : "");
    z.give_ups_logged = c.give_ups;
  }
  Schedule(name, z);
}

void NotifySender::Schedule(const Name& name, Zone& z) {
  absl::Time next = z.fanout->NextDeadline();
  if (z.verifier) next = std::min(next, z.verifier->NextDeadline());
  if (next == z.timer_at) return;
  if (z.timer != 0) loop_.Cancel(z.timer);
  z.timer = 0;
  z.timer_at = next;
  if (next == absl::InfiniteFuture() || stopped_) return;
  Name key = name;
  z.timer = loop_.After(std::max(absl::ZeroDuration(), next - loop_.Now()), [this, key] {
    auto it = zones_.find(key);
    if (it == zones_.end()) return;
    it->second.timer = 0;
    it->second.timer_at = absl::InfiniteFuture();
    Flush(it->first, it->second);
  });
}

void NotifySender::SendTo(const Zone& z, const PeerAddress& to, std::vector<uint8_t> bytes) {
  Socket* sock = to.IsV4() ? z.v4 : z.v6;
  if (sock == nullptr) {
    ++send_errors_;
    return;
  }
  Send* s;
  if (!free_sends_.empty()) {
    s = free_sends_.back();
    free_sends_.pop_back();
  } else {
    sends_.push_back(std::make_unique<Send>());
    s = sends_.back().get();
    s->owner = this;
  }
  s->addr = sockaddr_storage{};
  socklen_t len;
  if (to.IsV4()) {
    auto* in = reinterpret_cast<sockaddr_in*>(&s->addr);
    in->sin_family = AF_INET;
    in->sin_port = htons(to.port);
    std::memcpy(&in->sin_addr, to.ip.data() + 12, 4);
    len = sizeof(sockaddr_in);
  } else {
    auto* in6 = reinterpret_cast<sockaddr_in6*>(&s->addr);
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons(to.port);
    std::memcpy(&in6->sin6_addr, to.ip.data(), 16);
    len = sizeof(sockaddr_in6);
  }
  s->data = std::move(bytes);
  s->iov = iovec{s->data.data(), s->data.size()};
  s->msg = msghdr{};
  s->msg.msg_name = &s->addr;
  s->msg.msg_namelen = len;
  s->msg.msg_iov = &s->iov;
  s->msg.msg_iovlen = 1;
  // Queued only: the loop submits every SQE of this turn in one
  // io_uring_enter, so a fan-out to thousands costs a few system calls.
  loop_.ring().SendMsg(sock->fd.get(), &s->msg, s, kTagSend);
}

void NotifySender::Done(Send* s) {
  s->data.clear();
  free_sends_.push_back(s);
}

void NotifySender::OnReceive(Socket& sock, const Event& e) {
  if (e.res >= 0 && e.buffer_id >= 0) {
    uint8_t* buf = buffers_->buffer(e.buffer_id);
    io_uring_recvmsg_out* out = io_uring_recvmsg_validate(buf, e.res, &sock.recv_msg);
    if (out != nullptr && !(out->flags & MSG_TRUNC) &&
        out->namelen <= sizeof(sockaddr_storage)) {
      auto* name = static_cast<const sockaddr*>(io_uring_recvmsg_name(out));
      const uint8_t* payload =
          static_cast<const uint8_t*>(io_uring_recvmsg_payload(out, &sock.recv_msg));
      size_t len = io_uring_recvmsg_payload_length(out, e.res, &sock.recv_msg);
      OnDatagram(name, out->namelen, Bytes(payload, len));
    }
    buffers_->Recycle(e.buffer_id);
  } else if (e.buffer_id >= 0) {
    buffers_->Recycle(e.buffer_id);
  }
  // A multishot receive is disarmed when the buffers run out (ENOBUFS) or
  // on an error; arm it again unless shutting down.
  if (!e.more && e.res != -ECANCELED && !stopped_ && !loop_.stopping()) Arm(sock);
}

void NotifySender::OnDatagram(const sockaddr* from, socklen_t len, Bytes payload) {
  std::optional<PeerAddress> peer = FromSockaddr(from, len);
  if (!peer) return;
  auto parsed = ParseMessage(payload);
  if (!parsed.ok() || parsed->question() == nullptr) {
    LogDebugLimited("notify: unparsable datagram from {}", peer->ToString());
    return;
  }
  auto it = zones_.find(parsed->question()->qname);
  if (it == zones_.end()) return;
  Zone& z = it->second;
  std::string zone = it->first.ToText();
  if (parsed->header.opcode != Opcode::kNotify) {
    // verify-peers: the answer to a SOA query.
    if (!z.verifier) return;
    VerifyReply r = z.verifier->OnReply(*peer, payload, *parsed, loop_.Now());
    if (r == VerifyReply::kAccepted) {
      LogDebug("notify: zone {}: {} answered the SOA check", zone, peer->ToString());
    } else if (r == VerifyReply::kBadTsig || r == VerifyReply::kRefused) {
      LogWarningLimited("notify: zone {}: {}: {}", zone, peer->ToString(),
                        z.verifier->last_reply_text());
    }
    return;
  }
  NotifyReply r = z.fanout->OnReply(*peer, payload, *parsed, loop_.Now());
  if (r == NotifyReply::kAccepted) {
    if (z.fanout->last_reply_text().empty()) {
      LogDebug("notify: zone {}: {} answered ({})", zone, peer->ToString(),
               parsed->rcode().ToString());
    } else {
      LogWarningLimited("notify: zone {}: {}: {}", zone, peer->ToString(),
                        z.fanout->last_reply_text());
    }
  } else if (r == NotifyReply::kBadTsig) {
    LogWarningLimited("notify: zone {}: {}: {}; ignored", zone, peer->ToString(),
                      z.fanout->last_reply_text());
  } else {
    LogDebugLimited("notify: zone {}: datagram from {} ignored", zone, peer->ToString());
  }
  // The next retry may be gone; the timer firing early finds nothing due
  // and re-arms, so it is not moved here.
}

std::shared_ptr<PeerTable> NotifySender::Peers(const Name& zone) const {
  auto it = zones_.find(zone);
  return it == zones_.end() ? nullptr : it->second.fanout->peers();
}

const NotifyFanout* NotifySender::Fanout(const Name& zone) const {
  auto it = zones_.find(zone);
  return it == zones_.end() ? nullptr : it->second.fanout.get();
}

}  // namespace xfr
