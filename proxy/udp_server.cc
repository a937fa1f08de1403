#include "proxy/udp_server.h"

#include <liburing.h>

#include <cerrno>
#include <cstring>

#include "fmt/format.h"

namespace xfr {
namespace {
constexpr unsigned kTagRecv = 1;
constexpr unsigned kTagSend = 2;
// 4 KiB holds any query we answer (EDNS payloads are advertised by the
// client for answers, not queries); a larger datagram arrives truncated and
// is dropped.
constexpr unsigned kBufferSize = 4096;
constexpr unsigned kBufferCount = 1024;
}  // namespace

struct UdpServer::Send : CompletionTarget {
  UdpServer* owner = nullptr;
  sockaddr_storage addr{};
  iovec iov{};
  msghdr msg{};
  std::vector<uint8_t> data;
  void OnCompletion(const Event&) override { owner->Done(this); }
};

UdpServer::UdpServer(EventLoop& loop, ScopedFd fd, Responder& r, ServerStats& s)
    : loop_(loop), fd_(std::move(fd)), responder_(r), stats_(s) {}

absl::StatusOr<std::unique_ptr<UdpServer>> UdpServer::Start(
    EventLoop& loop, ScopedFd fd, Responder& responder, ServerStats& stats,
    uint16_t group) {
  std::unique_ptr<UdpServer> s(new UdpServer(loop, std::move(fd), responder, stats));
  auto buffers = loop.ring().CreateBufferRing(group, kBufferCount, kBufferSize);
  if (!buffers.ok()) return buffers.status();
  s->buffers_ = std::move(*buffers);
  s->recv_msg_.msg_namelen = sizeof(sockaddr_storage);
  s->recv_msg_.msg_controllen = 0;
  s->Arm();
  return s;
}

UdpServer::~UdpServer() = default;

void UdpServer::Stop() {
  if (stopped_) return;
  stopped_ = true;
  loop_.ring().CancelFd(fd_.get());
}

void UdpServer::Arm() {
  loop_.ring().RecvMsgMultishot(fd_.get(), &recv_msg_, *buffers_, this, kTagRecv);
}

void UdpServer::OnCompletion(const Event& e) {
  if (e.tag != kTagRecv) return;
  if (e.res >= 0 && e.buffer_id >= 0) {
    uint8_t* buf = buffers_->buffer(e.buffer_id);
    io_uring_recvmsg_out* out =
        io_uring_recvmsg_validate(buf, e.res, &recv_msg_);
    if (out == nullptr || (out->flags & MSG_TRUNC) ||
        out->namelen > sizeof(sockaddr_storage)) {
      stats_.udp_dropped.Add();
    } else {
      auto* name = static_cast<const sockaddr*>(io_uring_recvmsg_name(out));
      auto peer = SocketAddress::FromSockaddr(name, out->namelen);
      const uint8_t* payload =
          static_cast<const uint8_t*>(io_uring_recvmsg_payload(out, &recv_msg_));
      size_t len = io_uring_recvmsg_payload_length(out, e.res, &recv_msg_);
      stats_.udp_queries.Add();
      if (peer) {
        RequestContext ctx{*peer, Transport::kUdp, loop_.Now()};
        xfr::Reply r = responder_.Handle(Bytes(payload, len), ctx);
        if (r.kind == xfr::Reply::Kind::kMessage) {
          Reply(name, out->namelen, std::move(r.message));
        }
      }
    }
    buffers_->Recycle(e.buffer_id);
  } else if (e.buffer_id >= 0) {
    buffers_->Recycle(e.buffer_id);
  }
  // The kernel disarms a multishot receive when it runs out of buffers
  // (ENOBUFS) or on an error; arm it again unless we are shutting down.
  if (!e.more && e.res != -ECANCELED && !stopped_ && !loop_.stopping()) Arm();
}

void UdpServer::Reply(const sockaddr* to, socklen_t len, std::vector<uint8_t> data) {
  std::unique_ptr<Send> s;
  if (!free_sends_.empty()) {
    s = std::move(free_sends_.back());
    free_sends_.pop_back();
  } else {
    s = std::make_unique<Send>();
    s->owner = this;
  }
  std::memcpy(&s->addr, to, len);
  s->data = std::move(data);
  s->iov = iovec{s->data.data(), s->data.size()};
  s->msg = msghdr{};
  s->msg.msg_name = &s->addr;
  s->msg.msg_namelen = len;
  s->msg.msg_iov = &s->iov;
  s->msg.msg_iovlen = 1;
  Send* raw = s.release();
  ++sends_in_flight_;
  loop_.ring().SendMsg(fd_.get(), &raw->msg, raw, kTagSend);
}

void UdpServer::Done(Send* s) {
  --sends_in_flight_;
  s->data.clear();
  if (free_sends_.size() < 256) {
    free_sends_.emplace_back(s);
  } else {
    delete s;
  }
}

}  // namespace xfr
