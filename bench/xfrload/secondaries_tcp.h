// The TCP side of the simulated secondaries: one connection per secondary
// (pipelined) or per transfer (fresh), one transfer at a time on it, and
// the receive buffers they borrow while a transfer is in progress.
#pragma once

#include <sys/socket.h>

#include <cstddef>
#include <cstdint>
#include <list>
#include <memory>
#include <string>
#include <vector>

#include "bench/xfrload/verifier.h"
#include "core/message.h"
#include "proxy/ring.h"

namespace xfr::load {

class Shard;
struct Secondary;
struct Request;

// Receive buffers in two sizes, taken only while a transfer is in progress
// (an idle pipelined connection waits on a few bytes of scratch). An IXFR
// of a few dozen changes fits a small buffer, so 10,000 concurrent IXFRs
// need 10,000 x 4 KiB rather than 10,000 x 128 KiB; a transfer whose next
// message does not fit moves to a large one, which holds one whole message
// (2 + 65535 bytes) beside the unprocessed tail of the previous read, so a
// read never waits for room.
class TcpBufferPool {
 public:
  static constexpr size_t kSmall = 4 * 1024;
  static constexpr size_t kLarge = 2 * (2 + kMaxMessageSize);

  uint8_t* Acquire(size_t size);  // kSmall or kLarge
  void Release(uint8_t* b, size_t size);
  // Buffers ever allocated, by size: the peak of concurrent transfers.
  size_t small_allocated() const { return small_.size(); }
  size_t large_allocated() const { return large_.size(); }

 private:
  std::vector<std::unique_ptr<uint8_t[]>> small_, large_;
  std::vector<uint8_t*> free_small_, free_large_;
};

// A TCP connection of one secondary. One transfer at a time; pipelined
// connections stay open between transfers with a small receive armed, so a
// server closing an idle connection is noticed.
class TcpConnection : public CompletionTarget {
 public:
  TcpConnection(Shard& shard, Secondary& owner, int fd);
  ~TcpConnection() override;

  bool usable() const { return !closing_ && !eof_; }

  // Starts the handshake on the ring; a request started meanwhile is sent
  // once it completes. `addr` must outlive the connection.
  void Connect(const sockaddr* addr, socklen_t len);
  void Start(Request* r);
  // The request ended elsewhere (timeout): drop the connection, since its
  // byte stream is now out of step.
  void Abort();
  // `cancel`: cancel the operations in flight on this socket. Without, the
  // shutdown alone ends them (a receive sees the end of the stream, a send
  // EPIPE), which spares the ring a scan of every request per connection
  // when thousands close at once.
  void Close(bool cancel = true);

  std::list<std::unique_ptr<TcpConnection>>::iterator self_;

 private:
  static constexpr size_t kScratchSize = 64;

  void SubmitSend();
  void ArmRecv();
  void OnCompletion(const Event& e) override;
  void Fail(ErrorKind kind, std::string detail);
  void OnConnected(int res);
  void OnSent(int res);
  void OnRecv(int res);
  // Feeds every complete length-prefixed message to the verifier. False
  // when the connection was closed (failure) or handed back.
  bool Consume();
  void ReleaseBuffer();

  Shard& shard_;
  Secondary* owner_;
  int fd_;
  Request* req_ = nullptr;
  uint8_t* buf_ = nullptr;
  size_t buf_size_ = 0;
  size_t in_len_ = 0;
  uint8_t scratch_[kScratchSize];
  size_t sent_iov_ = 0;
  int in_flight_ = 0;
  bool recv_armed_ = false;
  bool recv_scratch_ = false;
  bool connecting_ = false;
  bool connected_ = false;
  bool eof_ = false;
  bool closing_ = false;
  bool in_callback_ = false;
  bool reused_ = false;
  uint64_t uses_ = 0;
};

}  // namespace xfr::load
