#include "bench/xfrload/secondaries_udp.h"

#include <liburing.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "bench/xfrload/secondaries_shard.h"
#include "fmt/format.h"
#include "proxy/socket.h"

namespace xfr::load {
namespace {
// SOA answers are small; 4 KiB holds any EDNS answer we get.
constexpr unsigned kBufferSize = 4096;
constexpr unsigned kBufferCount = 1024;
}  // namespace

absl::StatusOr<std::unique_ptr<UdpChannel>> UdpChannel::Open(Shard& shard,
                                                             const SocketAddress& target,
                                                             const IpAddress* source,
                                                             uint16_t group) {
  int fd = ::socket(target.ip().is_v4() ? AF_INET : AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return absl::InternalError(fmt::format("socket: {}", std::strerror(errno)));
  ScopedFd guard(fd);
  // Room for a burst of answers while the loop is busy elsewhere.
  int rcvbuf = 4 << 20;
  ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
  sockaddr_storage ss{};
  if (source != nullptr) {
    socklen_t len = SocketAddress(*source, 0).ToSockaddr(ss);
    if (::bind(fd, reinterpret_cast<sockaddr*>(&ss), len) != 0) {
      return absl::UnavailableError(fmt::format("bind UDP source: {}", std::strerror(errno)));
    }
  }
  socklen_t len = target.ToSockaddr(ss);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&ss), len) != 0) {
    return absl::UnavailableError(
        fmt::format("connect UDP {}: {}", target.ToString(), std::strerror(errno)));
  }
  auto buffers = shard.loop().ring().CreateBufferRing(group, kBufferCount, kBufferSize);
  if (!buffers.ok()) return buffers.status();
  return std::unique_ptr<UdpChannel>(
      new UdpChannel(shard, guard.release(), *std::move(buffers)));
}

UdpChannel::UdpChannel(Shard& shard, int fd, std::unique_ptr<BufferRing> buffers)
    : shard_(shard), fd_(fd), buffers_(std::move(buffers)), pending_(65536, nullptr) {
  recv_msg_.msg_namelen = sizeof(sockaddr_storage);
  Arm();
}

UdpChannel::~UdpChannel() { ::close(fd_); }

void UdpChannel::Assign(Request* r) {
  // A free ID: in-flight requests per socket are capped well below 2^16.
  while (pending_[next_id_] != nullptr) ++next_id_;
  r->id = next_id_++;
  pending_[r->id] = r;
}

void UdpChannel::Submit(Request* r) {
  r->iov[0] = {r->wire.data(), r->wire.size()};
  r->msg = msghdr{};
  r->msg.msg_iov = r->iov;
  r->msg.msg_iovlen = 1;
  r->send_in_flight = true;
  shard_.loop().ring().SendMsg(fd_, &r->msg, r, kTagSend);
}

void UdpChannel::Forget(Request* r) {
  if (pending_[r->id] == r) pending_[r->id] = nullptr;
}

void UdpChannel::Cancel() {
  cancelled_ = true;
  if (armed_) shard_.loop().ring().Cancel(this, kTagRecv);
}

void UdpChannel::Arm() {
  armed_ = true;
  shard_.loop().ring().RecvMsgMultishot(fd_, &recv_msg_, *buffers_, this, kTagRecv);
}

void UdpChannel::OnCompletion(const Event& e) {
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
  if (!e.more) {
    armed_ = false;
    if (e.res != -ECANCELED && !cancelled_) Arm();
  }
}

void UdpChannel::OnAnswer(Bytes msg) {
  if (msg.size() < 2) return;
  Request* r = pending_[LoadU16(msg.data())];
  if (r == nullptr) {
    ++shard_.report().late_answers;
    return;
  }
  r->bytes += msg.size();
  // One message always ends an SOA answer.
  if (r->verifier.Feed(msg, absl::Now()) != AnswerVerifier::Step::kMore) shard_.Finish(r);
}

}  // namespace xfr::load
