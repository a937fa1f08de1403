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
constexpr unsigned kTagRecv4 = 1;
constexpr unsigned kTagRecv6 = 2;
constexpr unsigned kTagSend = 3;
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
    if (!(a[i].address == b[i].address) || a[i].notify != b[i].notify ||
        a[i].key.has_value() != b[i].key.has_value()) {
      return false;
    }
    if (a[i].key && (!a[i].key->name.Identical(b[i].key->name) ||
                     a[i].key->algorithm != b[i].key->algorithm ||
                     a[i].key->secret != b[i].key->secret)) {
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
  auto v4 = OpenUdpClientSocket(/*v6=*/false);
  if (!v4.ok()) return v4.status();
  s->v4_.fd = std::move(*v4);
  s->v4_.tag = kTagRecv4;
  // Bound now rather than on the first send, so the receive armed below
  // waits on a socket that has its port.
  sockaddr_in any4{};
  any4.sin_family = AF_INET;
  if (::bind(s->v4_.fd.get(), reinterpret_cast<sockaddr*>(&any4), sizeof any4) != 0) {
    return absl::UnavailableError(fmt::format("notify socket: bind: {}", std::strerror(errno)));
  }
  if (auto v6 = OpenUdpClientSocket(/*v6=*/true); v6.ok()) {
    sockaddr_in6 any6{};
    any6.sin6_family = AF_INET6;
    if (::bind(v6->get(), reinterpret_cast<sockaddr*>(&any6), sizeof any6) == 0) {
      s->v6_.fd = std::move(*v6);
      s->v6_.tag = kTagRecv6;
    }
  }
  if (s->v6_.fd.get() < 0) {
    LogWarning("notify: no IPv6 socket; IPv6 secondaries will not be notified");
  }
  auto buffers = loop.ring().CreateBufferRing(buffer_group, kBufferCount, kBufferSize);
  if (!buffers.ok()) return buffers.status();
  s->buffers_ = std::move(*buffers);
  // Both receives share the buffer group; each has its own msghdr, which
  // tells the kernel how much room the source address needs.
  for (Socket* sock : {&s->v4_, &s->v6_}) {
    if (sock->fd.get() < 0) continue;
    sock->recv_msg.msg_namelen = sizeof(sockaddr_storage);
    sock->recv_msg.msg_controllen = 0;
    s->Arm(*sock);
  }
  return s;
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
  if (v4_.fd.get() >= 0) loop_.ring().CancelFd(v4_.fd.get());
  if (v6_.fd.get() >= 0) loop_.ring().CancelFd(v6_.fd.get());
}

void NotifySender::Arm(Socket& s) {
  loop_.ring().RecvMsgMultishot(s.fd.get(), &s.recv_msg, *buffers_, this, s.tag);
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
    auto old = zones_.find(zc.name);
    if (old != zones_.end() && SamePeers(old->second.peers, peers)) {
      next.emplace(zc.name, std::move(old->second));
      zones_.erase(old);
      continue;
    }
    Zone z;
    z.peers = peers;
    z.fanout = std::make_unique<NotifyFanout>(
        zc.name, std::move(peers), options_, [this] { return RandomId(); }, loop_.Now());
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
  LogInfo("notify: zone {} serial {} to {} secondaries", zone.ToText(), serial.ToString(),
          z.fanout->pending());
  Flush(it->first, z);
}

void NotifySender::Flush(const Name& name, Zone& z) {
  std::vector<OutgoingNotify> due = z.fanout->Due(loop_.Now());
  for (OutgoingNotify& o : due) SendTo(o.to, std::move(o.bytes));
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

void NotifySender::SendTo(const PeerAddress& to, std::vector<uint8_t> bytes) {
  Socket& sock = to.IsV4() ? v4_ : v6_;
  if (sock.fd.get() < 0) {
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
  // io_uring_enter, which is the batching DESIGN.md asks for.
  loop_.ring().SendMsg(sock.fd.get(), &s->msg, s, kTagSend);
}

void NotifySender::Done(Send* s) {
  s->data.clear();
  free_sends_.push_back(s);
}

void NotifySender::OnCompletion(const Event& e) {
  if (e.tag != kTagRecv4 && e.tag != kTagRecv6) return;
  Socket& sock = e.tag == kTagRecv4 ? v4_ : v6_;
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
    LogDebug("notify: unparsable datagram from {}", peer->ToString());
    return;
  }
  auto it = zones_.find(parsed->question()->qname);
  if (it == zones_.end()) return;
  NotifyReply r = it->second.fanout->OnReply(*peer, payload, *parsed, loop_.Now());
  if (r == NotifyReply::kAccepted) {
    LogDebug("notify: zone {}: {} answered ({})", it->first.ToText(), peer->ToString(),
             parsed->rcode().ToString());
  } else if (r == NotifyReply::kBadTsig) {
    LogWarning("notify: zone {}: answer from {} fails TSIG; ignored", it->first.ToText(),
               peer->ToString());
  } else {
    LogDebug("notify: zone {}: datagram from {} ignored", it->first.ToText(), peer->ToString());
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

std::string NotifySender::PeersJson() {
  std::string out = "{";
  bool first = true;
  for (auto& [name, z] : zones_) {
    PeerTable& t = *z.fanout->peers();
    t.Collect(z.fanout->serial(), loop_.Now());
    if (!first) out += ",";
    first = false;
    out += fmt::format("\"{}\":{}", name.ToText(), t.ToJson(loop_.Now()));
  }
  out += "}";
  return out;
}

}  // namespace xfr
