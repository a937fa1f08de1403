// The io_uring backend: the only file pair in the project that includes
// liburing. Everything above sees operations (accept, receive, send, read,
// close, cancel) that complete on a CompletionTarget, in the manner of
// Seastar's reactor backend. One Ring per thread; it is not thread-safe.
#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

struct io_uring;
struct io_uring_sqe;
struct io_uring_buf_ring;

namespace xfr {

// Receives completions. The ring packs the target pointer and a 3-bit
// operation tag into user_data, so one object can have several kinds of
// operation in flight and dispatch on the tag (liburing examples/proxy.c).
class CompletionTarget {
 public:
  // res is the CQE result (negative errno on failure); `more` is true when a
  // multishot operation stays armed; `buffer_id` is set when the kernel
  // picked a provided buffer.
  struct Event {
    unsigned tag;
    int res;
    bool more;
    int buffer_id;  // -1 when none
  };
  virtual void OnCompletion(const Event& e) = 0;
  virtual ~CompletionTarget() = default;
};

// Kernel features the engine uses, probed once at start-up.
struct RingFeatures {
  bool multishot_accept = false;   // 5.19
  bool recvmsg_multishot = false;  // 6.0
  bool provided_buffer_ring = false;  // 5.19
  bool single_issuer = false;      // 6.0
  bool defer_taskrun = false;      // 6.1
  std::string Describe() const;
};

// A ring of provided buffers (IORING_REGISTER_PBUF_RING): the kernel picks a
// free buffer per received datagram, so thousands of idle UDP receives cost
// no memory until data arrives.
class BufferRing {
 public:
  ~BufferRing();
  uint16_t group() const { return group_; }
  unsigned buffer_size() const { return size_; }
  uint8_t* buffer(int id) { return base_ + size_t(id) * size_; }
  // Gives buffer `id` back to the kernel.
  void Recycle(int id);

 private:
  friend class Ring;
  BufferRing() = default;
  io_uring* ring_ = nullptr;
  io_uring_buf_ring* br_ = nullptr;
  uint8_t* base_ = nullptr;
  size_t map_size_ = 0;
  uint16_t group_ = 0;
  unsigned count_ = 0;
  unsigned size_ = 0;
};

class Ring {
 public:
  // Sets up a ring with `entries` SQEs and probes features. Fails with a
  // message naming what the kernel lacks when a required feature is absent.
  static absl::StatusOr<std::unique_ptr<Ring>> Create(unsigned entries);
  ~Ring();
  Ring(const Ring&) = delete;
  Ring& operator=(const Ring&) = delete;

  const RingFeatures& features() const { return features_; }

  absl::StatusOr<std::unique_ptr<BufferRing>> CreateBufferRing(uint16_t group,
                                                               unsigned count,
                                                               unsigned size);

  // Operations. They are queued and submitted together by Wait(): one
  // io_uring_enter per loop turn however many peers are served.
  void AcceptMultishot(int fd, CompletionTarget* t, unsigned tag);
  // `msg` must stay valid while armed; it describes name/control lengths.
  void RecvMsgMultishot(int fd, msghdr* msg, const BufferRing& buffers,
                        CompletionTarget* t, unsigned tag);
  void Recv(int fd, void* buf, size_t len, CompletionTarget* t, unsigned tag);
  // `addr` must stay valid until the completion.
  void Connect(int fd, const sockaddr* addr, socklen_t len, CompletionTarget* t,
               unsigned tag);
  void SendMsg(int fd, const msghdr* msg, CompletionTarget* t, unsigned tag);
  void Read(int fd, void* buf, size_t len, CompletionTarget* t, unsigned tag);
  // Cancels every operation on fd (their completions arrive with -ECANCELED).
  void CancelFd(int fd);
  // Cancels the operation of `t` with `tag`. The kernel finds it by its
  // user_data in a hash table, where CancelFd (and a cancel-all) scans every
  // request in flight: cancelling the receives of N sockets one by one
  // costs O(N) this way, O(N^2) with CancelFd.
  void Cancel(CompletionTarget* t, unsigned tag);
  // Closes without a completion callback.
  void Close(int fd);

  // Submits what is queued, waits up to `max_wait` for at least one
  // completion and dispatches every completion available. Returns the number
  // dispatched.
  int Wait(absl::Duration max_wait);

 private:
  Ring() = default;
  io_uring_sqe* Sqe();

  std::unique_ptr<io_uring> ring_;
  RingFeatures features_;
};

}  // namespace xfr
