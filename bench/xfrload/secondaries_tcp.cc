#include "bench/xfrload/secondaries_tcp.h"

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "bench/xfrload/secondaries_shard.h"
#include "fmt/format.h"

namespace xfr::load {

uint8_t* TcpBufferPool::Acquire(size_t size) {
  auto& all = size == kSmall ? small_ : large_;
  auto& free = size == kSmall ? free_small_ : free_large_;
  if (free.empty()) {
    // Not zeroed: every byte is written by a receive before it is read,
    // and zeroing thousands of buffers in a burst costs more than the
    // transfers they hold.
    all.push_back(std::unique_ptr<uint8_t[]>(new uint8_t[size]));
    return all.back().get();
  }
  uint8_t* b = free.back();
  free.pop_back();
  return b;
}

void TcpBufferPool::Release(uint8_t* b, size_t size) {
  (size == kSmall ? free_small_ : free_large_).push_back(b);
}

TcpConnection::TcpConnection(Shard& shard, Secondary& owner, int fd)
    : shard_(shard), owner_(&owner), fd_(fd) {}

TcpConnection::~TcpConnection() {
  if (fd_ >= 0) ::close(fd_);
  ReleaseBuffer();
}

void TcpConnection::ReleaseBuffer() {
  if (buf_ == nullptr) return;
  shard_.buffers().Release(buf_, buf_size_);
  buf_ = nullptr;
  buf_size_ = 0;
}

void TcpConnection::Connect(const sockaddr* addr, socklen_t len) {
  connecting_ = true;
  ++in_flight_;
  shard_.loop().ring().Connect(fd_, addr, len, this, kTagConnect);
}

void TcpConnection::Start(Request* r) {
  reused_ = uses_++ > 0;
  req_ = r;
  r->tcp = this;
  // An AXFR fills large messages from the start; an IXFR usually fits the
  // small buffer and moves up only when a message needs it (Consume).
  buf_size_ = r->kind == QueryKind::kAxfr ? TcpBufferPool::kLarge : TcpBufferPool::kSmall;
  buf_ = shard_.buffers().Acquire(buf_size_);
  in_len_ = 0;
  StoreU16(r->prefix, static_cast<uint16_t>(r->wire.size()));
  r->iov[0] = {r->prefix, 2};
  r->iov[1] = {r->wire.data(), r->wire.size()};
  sent_iov_ = 0;
  r->msg = msghdr{};
  r->msg.msg_iov = r->iov;
  r->msg.msg_iovlen = 2;
  if (connecting_) return;  // sent when the handshake completes
  SubmitSend();
  ArmRecv();
}

void TcpConnection::Abort() {
  req_ = nullptr;
  Close();
}

void TcpConnection::Close(bool cancel) {
  if (closing_) return;
  closing_ = true;
  if (owner_ != nullptr && owner_->conn == this) owner_->conn = nullptr;
  owner_ = nullptr;
  if (in_flight_ > 0) {
    // Completions still to come (with -ECANCELED); the last one finishes.
    ::shutdown(fd_, SHUT_RDWR);
    if (cancel) shard_.loop().ring().CancelFd(fd_);
  } else if (!in_callback_) {
    shard_.Destroy(this);  // deletes this
  }
}

void TcpConnection::SubmitSend() {
  Request* r = req_;
  r->msg.msg_iov = r->iov + sent_iov_;
  r->msg.msg_iovlen = 2 - sent_iov_;
  ++in_flight_;
  shard_.loop().ring().SendMsg(fd_, &r->msg, this, kTagSend);
}

void TcpConnection::ArmRecv() {
  if (closing_ || recv_armed_ || eof_ || connecting_) return;
  recv_armed_ = true;
  ++in_flight_;
  if (req_ != nullptr) {
    recv_scratch_ = false;
    shard_.loop().ring().Recv(fd_, buf_ + in_len_, buf_size_ - in_len_, this, kTagRecv);
  } else {
    recv_scratch_ = true;
    shard_.loop().ring().Recv(fd_, scratch_, kScratchSize, this, kTagRecv);
  }
}

void TcpConnection::OnCompletion(const Event& e) {
  --in_flight_;
  in_callback_ = true;
  if (e.tag == kTagConnect) {
    OnConnected(e.res);
  } else if (e.tag == kTagSend) {
    OnSent(e.res);
  } else if (e.tag == kTagRecv) {
    recv_armed_ = false;
    OnRecv(e.res);
  }
  in_callback_ = false;
  if (closing_ && in_flight_ == 0) shard_.Destroy(this);  // deletes this
}

void TcpConnection::Fail(ErrorKind kind, std::string detail) {
  Request* r = req_;
  req_ = nullptr;
  Shard& shard = shard_;
  // Closed first: a step that follows at once (AXFR after a refused IXFR)
  // must not pick this connection again.
  Close();
  if (r != nullptr) {
    r->tcp = nullptr;
    shard.FailRequest(r, kind, std::move(detail));
  }
}

void TcpConnection::OnConnected(int res) {
  connecting_ = false;
  if (closing_) return;
  if (res < 0) {
    Fail(ErrorKind::kConnect, fmt::format("connect {}: {}",
                                          shard_.options().target.ToString(),
                                          std::strerror(-res)));
    return;
  }
  connected_ = true;
  if (req_ == nullptr) return;
  SubmitSend();
  ArmRecv();
}

void TcpConnection::OnSent(int res) {
  if (closing_ || req_ == nullptr) return;
  if (res < 0) {
    Fail(connected_ ? ErrorKind::kIo : ErrorKind::kConnect,
         fmt::format("TCP send to {}: {}", shard_.options().target.ToString(),
                     std::strerror(-res)));
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

void TcpConnection::OnRecv(int res) {
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
      ReleaseBuffer();
      Close();
      shard_.StartTcp(r, /*allow_reuse=*/false);
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
             fmt::format("TCP receive: {}", std::strerror(-res)));
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
  if (req_ == nullptr && shard_.options().fresh_connections) {
    Close();
    return;
  }
  ArmRecv();
}

bool TcpConnection::Consume() {
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
      ReleaseBuffer();
      req_ = nullptr;
      r->tcp = nullptr;
      shard_.Finish(r);
      return !closing_;
    }
  }
  if (pos > 0) {
    std::memmove(buf_, buf_ + pos, in_len_ - pos);
    in_len_ -= pos;
  }
  if (buf_size_ == TcpBufferPool::kSmall && in_len_ >= 2 &&
      2 + size_t{LoadU16(buf_)} > buf_size_) {
    // The next message is larger than the small buffer.
    uint8_t* large = shard_.buffers().Acquire(TcpBufferPool::kLarge);
    std::memcpy(large, buf_, in_len_);
    ReleaseBuffer();
    buf_ = large;
    buf_size_ = TcpBufferPool::kLarge;
  }
  return true;
}

}  // namespace xfr::load
