#include "proxy/ring.h"

#include <liburing.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "fmt/format.h"

namespace xfr {
namespace {

constexpr uint64_t kTagBits = 3;
constexpr uint64_t kTagMask = (1u << kTagBits) - 1;
// user_data 0 marks fire-and-forget operations (close, cancel).
constexpr uint64_t kNoTarget = 0;

uint64_t Pack(CompletionTarget* t, unsigned tag) {
  auto p = reinterpret_cast<uint64_t>(t);
  return p | (tag & kTagMask);
}

}  // namespace

std::string RingFeatures::Describe() const {
  return fmt::format(
      "multishot-accept={} recvmsg-multishot={} buffer-ring={} "
      "single-issuer={} defer-taskrun={}",
      multishot_accept, recvmsg_multishot, provided_buffer_ring, single_issuer,
      defer_taskrun);
}

absl::StatusOr<std::unique_ptr<Ring>> Ring::Create(unsigned entries) {
  std::unique_ptr<Ring> r(new Ring());
  r->ring_ = std::make_unique<io_uring>();
  io_uring_params p{};
  // SINGLE_ISSUER + DEFER_TASKRUN: each ring is driven by exactly one thread,
  // so the kernel can run completion work when we wait instead of
  // interrupting us with task-work IPIs (6.1+). COOP_TASKRUN is the weaker
  // form for older kernels; plain rings work everywhere.
  const unsigned attempts[] = {
      IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN,
      IORING_SETUP_COOP_TASKRUN, 0};
  int rc = -EINVAL;
  for (unsigned flags : attempts) {
    p = io_uring_params{};
    p.flags = flags | IORING_SETUP_CQSIZE;
    // Multishot receives and accepts can post many completions per
    // submission; a CQ four times the SQ keeps overflow rare.
    p.cq_entries = entries * 4;
    rc = io_uring_queue_init_params(entries, r->ring_.get(), &p);
    if (rc == 0) {
      r->features_.single_issuer = flags & IORING_SETUP_SINGLE_ISSUER;
      r->features_.defer_taskrun = flags & IORING_SETUP_DEFER_TASKRUN;
      break;
    }
    if (rc != -EINVAL) break;
  }
  if (rc != 0) {
    r->ring_.reset();
    return absl::UnavailableError(fmt::format(
        "io_uring_setup failed: {} (io_uring disabled by the kernel or a "
        "seccomp policy? check /proc/sys/kernel/io_uring_disabled)",
        std::strerror(-rc)));
  }
  io_uring_probe* probe = io_uring_get_probe_ring(r->ring_.get());
  if (probe == nullptr) {
    return absl::UnavailableError("io_uring opcode probe failed (Linux 5.6+)");
  }
  struct Need {
    int op;
    const char* what;
  };
  const Need needs[] = {{IORING_OP_ACCEPT, "accept (5.5)"},
                        {IORING_OP_CONNECT, "connect (5.5)"},
                        {IORING_OP_RECVMSG, "recvmsg (5.3)"},
                        {IORING_OP_SENDMSG, "sendmsg (5.3)"},
                        {IORING_OP_RECV, "recv (5.6)"},
                        {IORING_OP_READ, "read (5.6)"},
                        {IORING_OP_ASYNC_CANCEL, "async cancel (5.5)"},
                        {IORING_OP_CLOSE, "close (5.6)"}};
  for (const Need& n : needs) {
    if (!io_uring_opcode_supported(probe, n.op)) {
      io_uring_free_probe(probe);
      return absl::UnavailableError(fmt::format(
          "the kernel's io_uring lacks the {} operation", n.what));
    }
  }
  // No opcode marks the multishot flags; they arrived with opcodes of the
  // same release: SOCKET with multishot accept and buffer rings (5.19),
  // SEND_ZC with multishot recvmsg (6.0).
  r->features_.multishot_accept = io_uring_opcode_supported(probe, IORING_OP_SOCKET);
  r->features_.provided_buffer_ring = r->features_.multishot_accept;
  r->features_.recvmsg_multishot = io_uring_opcode_supported(probe, IORING_OP_SEND_ZC);
  io_uring_free_probe(probe);
  if (!r->features_.recvmsg_multishot || !r->features_.provided_buffer_ring) {
    return absl::UnavailableError(
        "the kernel's io_uring lacks multishot recvmsg with provided buffer "
        "rings (Linux 6.0 or newer is required for the UDP path)");
  }
  return r;
}

Ring::~Ring() {
  if (ring_) io_uring_queue_exit(ring_.get());
}

absl::StatusOr<std::unique_ptr<BufferRing>> Ring::CreateBufferRing(
    uint16_t group, unsigned count, unsigned size) {
  if (count == 0 || (count & (count - 1)) != 0 || count > 32768) {
    return absl::InvalidArgumentError("buffer count must be a power of two <= 32768");
  }
  std::unique_ptr<BufferRing> b(new BufferRing());
  b->ring_ = ring_.get();
  b->group_ = group;
  b->count_ = count;
  b->size_ = size;
  size_t ring_bytes = sizeof(io_uring_buf) * count;
  b->map_size_ = ring_bytes + size_t(count) * size;
  void* mem = mmap(nullptr, b->map_size_, PROT_READ | PROT_WRITE,
                   MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
  if (mem == MAP_FAILED) {
    return absl::ResourceExhaustedError(
        fmt::format("mmap of {} bytes for receive buffers: {}", b->map_size_,
                    std::strerror(errno)));
  }
  b->br_ = static_cast<io_uring_buf_ring*>(mem);
  b->base_ = static_cast<uint8_t*>(mem) + ring_bytes;
  io_uring_buf_ring_init(b->br_);
  io_uring_buf_reg reg{};
  reg.ring_addr = reinterpret_cast<uint64_t>(b->br_);
  reg.ring_entries = count;
  reg.bgid = group;
  if (int rc = io_uring_register_buf_ring(ring_.get(), &reg, 0); rc != 0) {
    munmap(mem, b->map_size_);
    b->br_ = nullptr;
    return absl::UnavailableError(fmt::format(
        "registering a provided buffer ring: {} (Linux 5.19+)", std::strerror(-rc)));
  }
  int mask = io_uring_buf_ring_mask(count);
  for (unsigned i = 0; i < count; ++i) {
    io_uring_buf_ring_add(b->br_, b->buffer(i), size, i, mask, i);
  }
  io_uring_buf_ring_advance(b->br_, count);
  return b;
}

BufferRing::~BufferRing() {
  if (br_ != nullptr) {
    io_uring_unregister_buf_ring(ring_, group_);
    munmap(br_, map_size_);
  }
}

void BufferRing::Recycle(int id) {
  io_uring_buf_ring_add(br_, buffer(id), size_, id, io_uring_buf_ring_mask(count_), 0);
  io_uring_buf_ring_advance(br_, 1);
}

io_uring_sqe* Ring::Sqe() {
  io_uring_sqe* sqe = io_uring_get_sqe(ring_.get());
  while (sqe == nullptr) {
    // The SQ is full: hand what we have to the kernel and take a fresh slot.
    io_uring_submit(ring_.get());
    sqe = io_uring_get_sqe(ring_.get());
  }
  return sqe;
}

void Ring::AcceptMultishot(int fd, CompletionTarget* t, unsigned tag) {
  io_uring_sqe* sqe = Sqe();
  io_uring_prep_multishot_accept(sqe, fd, nullptr, nullptr, SOCK_CLOEXEC);
  io_uring_sqe_set_data64(sqe, Pack(t, tag));
}

void Ring::RecvMsgMultishot(int fd, msghdr* msg, const BufferRing& buffers,
                            CompletionTarget* t, unsigned tag) {
  io_uring_sqe* sqe = Sqe();
  io_uring_prep_recvmsg_multishot(sqe, fd, msg, 0);
  sqe->flags |= IOSQE_BUFFER_SELECT;
  sqe->buf_group = buffers.group();
  io_uring_sqe_set_data64(sqe, Pack(t, tag));
}

void Ring::Recv(int fd, void* buf, size_t len, CompletionTarget* t, unsigned tag) {
  io_uring_sqe* sqe = Sqe();
  io_uring_prep_recv(sqe, fd, buf, len, 0);
  io_uring_sqe_set_data64(sqe, Pack(t, tag));
}

void Ring::Connect(int fd, const sockaddr* addr, socklen_t len, CompletionTarget* t,
                   unsigned tag) {
  io_uring_sqe* sqe = Sqe();
  io_uring_prep_connect(sqe, fd, addr, len);
  io_uring_sqe_set_data64(sqe, Pack(t, tag));
}

void Ring::SendMsg(int fd, const msghdr* msg, CompletionTarget* t, unsigned tag) {
  io_uring_sqe* sqe = Sqe();
  // MSG_NOSIGNAL: a peer that resets mid-transfer must give EPIPE, not kill
  // the process.
  io_uring_prep_sendmsg(sqe, fd, msg, MSG_NOSIGNAL);
  io_uring_sqe_set_data64(sqe, Pack(t, tag));
}

void Ring::Read(int fd, void* buf, size_t len, CompletionTarget* t, unsigned tag) {
  io_uring_sqe* sqe = Sqe();
  io_uring_prep_read(sqe, fd, buf, static_cast<unsigned>(len), 0);
  io_uring_sqe_set_data64(sqe, Pack(t, tag));
}

void Ring::CancelFd(int fd) {
  io_uring_sqe* sqe = Sqe();
  io_uring_prep_cancel_fd(sqe, fd, IORING_ASYNC_CANCEL_ALL);
  io_uring_sqe_set_data64(sqe, kNoTarget);
}

void Ring::Cancel(CompletionTarget* t, unsigned tag) {
  io_uring_sqe* sqe = Sqe();
  io_uring_prep_cancel64(sqe, Pack(t, tag), 0);
  io_uring_sqe_set_data64(sqe, kNoTarget);
}

void Ring::Close(int fd) {
  io_uring_sqe* sqe = Sqe();
  io_uring_prep_close(sqe, fd);
  io_uring_sqe_set_data64(sqe, kNoTarget);
}

int Ring::Wait(absl::Duration max_wait) {
  io_uring_cqe* cqe = nullptr;
  __kernel_timespec ts{};
  if (max_wait < absl::ZeroDuration()) max_wait = absl::ZeroDuration();
  ts.tv_sec = absl::ToInt64Seconds(max_wait);
  ts.tv_nsec = absl::ToInt64Nanoseconds(max_wait - absl::Seconds(ts.tv_sec));
  int rc = io_uring_submit_and_wait_timeout(ring_.get(), &cqe, 1, &ts, nullptr);
  if (rc < 0 && rc != -ETIME && rc != -EINTR && rc != -EBUSY) {
    // Nothing to dispatch; the caller's loop goes round again.
    return 0;
  }
  int n = 0;
  unsigned head;
  io_uring_for_each_cqe(ring_.get(), head, cqe) {
    ++n;
    uint64_t ud = io_uring_cqe_get_data64(cqe);
    if (ud == kNoTarget) continue;
    auto* t = reinterpret_cast<CompletionTarget*>(ud & ~kTagMask);
    CompletionTarget::Event e;
    e.tag = static_cast<unsigned>(ud & kTagMask);
    e.res = cqe->res;
    e.more = cqe->flags & IORING_CQE_F_MORE;
    e.buffer_id = (cqe->flags & IORING_CQE_F_BUFFER)
                      ? static_cast<int>(cqe->flags >> IORING_CQE_BUFFER_SHIFT)
                      : -1;
    t->OnCompletion(e);
  }
  io_uring_cq_advance(ring_.get(), n);
  return n;
}

}  // namespace xfr
