// The caps on downstream TCP (RFC 7766 §6.2.2: a server should limit its
// connections, and those of one client), shared by every serving thread's
// TcpServer. No I/O: it counts, queues and decides; the TcpServers accept,
// read and close.
//
// Over the per-address cap a connection is not closed (that loses the
// query: a provider's transfer server asking for 2,000 zones at once from
// one address lost all but 64 of them): it waits, unread, in a FIFO of its
// address, and is admitted when a connection of that address closes. The
// global cap still closes at once (each waiting connection holds a file
// descriptor), and the TcpServer closes a waiter that is not admitted within
// the idle timeout (RFC 7766 §6.2.3).
//
// With SO_REUSEPORT the connections of one address land on every thread, so
// the queues live here, under the lock: a slot freed on thread A goes to the
// oldest waiter wherever it is, and A tells that waiter's owner, which runs
// it on its own thread (EventLoop::Post).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>

#include "absl/container/flat_hash_map.h"
#include "absl/time/time.h"
#include "proxy/net_address.h"

namespace xfr {

struct TcpLimits {
  size_t max_connections = 10000;
  // 256, not Knot's "no cap" nor the 64 of before: a provider's single
  // transfer server pulling hundreds of zones at once stays under it, and
  // beyond it connections wait instead of being closed.
  size_t max_connections_per_ip = 256;
  absl::Duration idle_timeout = absl::Seconds(30);
  // A send that makes no progress for this long means the reader stalled.
  absl::Duration write_timeout = absl::Seconds(30);
  size_t max_concurrent_transfers = 1024;
  // Replies queued per connection before it stops reading more queries.
  size_t max_pending_replies = 16;
  // How long a request for data newer than ours waits for the upstream
  // transfer before it gets the answer we have.
  absl::Duration max_defer = absl::Seconds(10);
};

class ConnectionLimiter {
 public:
  // Whoever holds waiting connections (a TcpServer, one per thread). Told,
  // from any thread and without the limiter's lock held, that the waiter
  // `ticket` now holds a slot of its address.
  class Owner {
   public:
    virtual void SlotGranted(uint64_t ticket) = 0;

   protected:
    ~Owner() = default;
  };
  struct Waiter {
    Owner* owner = nullptr;
    uint64_t ticket = 0;
    bool operator==(const Waiter&) const = default;
  };
  enum class Admission {
    kAdmitted,  // holds a slot of its address: read it
    kWaiting,   // queued behind its address's cap: do not read it yet
    kRefused,   // over the global cap: close it
  };

  explicit ConnectionLimiter(const TcpLimits& l) : limits_(l) {}

  // A new connection from `ip`, known as `w` if it has to wait.
  Admission Admit(const IpAddress& ip, Waiter w);
  // A connection that held a slot of `ip` is gone. The slot goes to the
  // oldest waiter of `ip`, returned for the caller to wake through its
  // owner's SlotGranted().
  [[nodiscard]] std::optional<Waiter> Release(const IpAddress& ip);
  // A waiting connection is gone (timeout, client gone, shutdown). True if
  // it was still queued; false if it had been granted a slot already (the
  // SlotGranted() call may still be on its way), which the caller must then
  // Release() like any admitted connection.
  [[nodiscard]] bool CancelWait(const IpAddress& ip, Waiter w);

  size_t connections() const;  // admitted and waiting
  size_t waiting() const;
  // Connections from `ip` wait for a slot now.
  bool HasWaiters(const IpAddress& ip) const;

  bool TryStartTransfer();
  void EndTransfer();
  bool TransferSlotFree() const {
    return transfers_.load(std::memory_order_relaxed) < limits_.max_concurrent_transfers;
  }
  const TcpLimits& limits() const { return limits_; }

 private:
  struct PerIp {
    size_t active = 0;
    std::deque<Waiter> waiting;
  };
  TcpLimits limits_;
  mutable std::mutex mu_;
  size_t total_ = 0;  // admitted + waiting: each holds a descriptor
  size_t waiting_ = 0;
  absl::flat_hash_map<IpAddress, PerIp> per_ip_;
  std::atomic<size_t> transfers_{0};
};

}  // namespace xfr
