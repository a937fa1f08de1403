// Process-wide counters, exported on /metrics. Relaxed atomics: every thread
// bumps them, nobody needs them ordered with anything else.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>

#include "absl/time/time.h"

namespace xfr {

struct Counter {
  std::atomic<uint64_t> v{0};
  void Add(uint64_t n = 1) { v.fetch_add(n, std::memory_order_relaxed); }
  uint64_t Get() const { return v.load(std::memory_order_relaxed); }
};

// A level that goes up and down (a Prometheus gauge).
struct Gauge {
  std::atomic<int64_t> v{0};
  void Add(int64_t n) { v.fetch_add(n, std::memory_order_relaxed); }
  int64_t Get() const { return v.load(std::memory_order_relaxed); }
};

// Events per wall-clock minute over the last hour, for the status page's
// plot. One word per minute slot holds the minute it counts (high 32 bits)
// and the count (low 32 bits), so a thread that finds a slot from an hour
// ago claims it with one compare-and-swap and nothing needs a lock; a
// slot's count is good for 4 billion events a minute.
class PerMinute {
 public:
  static constexpr size_t kMinutes = 60;

  void Add(absl::Time now) {
    uint64_t minute = Minute(now);
    std::atomic<uint64_t>& slot = slots_[minute % kMinutes];
    uint64_t seen = slot.load(std::memory_order_relaxed);
    for (;;) {
      uint64_t next = (seen >> 32) == minute ? seen + 1 : (minute << 32) | 1;
      if (slot.compare_exchange_weak(seen, next, std::memory_order_relaxed)) return;
    }
  }

  // The counts of the kMinutes minutes up to and including the one of
  // `now`, oldest first; a minute nobody counted in is 0.
  std::array<uint64_t, kMinutes> Last(absl::Time now) const {
    std::array<uint64_t, kMinutes> out{};
    uint64_t current = Minute(now);
    for (size_t i = 0; i < kMinutes; ++i) {
      uint64_t minute = (current + 1 + i + (1ull << 32) - kMinutes) & 0xffffffffu;
      uint64_t v = slots_[minute % kMinutes].load(std::memory_order_relaxed);
      if ((v >> 32) == minute) out[i] = v & 0xffffffffu;
    }
    return out;
  }

 private:
  // Minutes since the epoch, modulo 2^32 (enough to tell an hour apart).
  static uint64_t Minute(absl::Time now) {
    return static_cast<uint64_t>(absl::ToUnixSeconds(now) / 60) & 0xffffffffu;
  }
  std::array<std::atomic<uint64_t>, kMinutes> slots_{};
};

struct ServerStats {
  Counter udp_queries;
  Counter udp_dropped;       // malformed beyond answering, or truncated reads
  Counter tcp_queries;
  Counter tcp_accepted;
  Counter tcp_refused_cap;   // connections closed at once: over a cap
  Counter tcp_idle_closed;
  Counter tcp_waits;          // connections that waited behind the per-address cap
  Counter tcp_wait_timeouts;  // ... and were closed, never admitted
  Gauge tcp_waiting;          // waiting now
  Counter tcp_write_timeouts;
  Counter tcp_errors;
  Counter responses;
  Counter transfers_started;
  Counter transfers_done;
  PerMinute transfers_per_minute;  // transfers_done, by the minute they ended
  Counter transfer_messages;
  Counter transfer_bytes;
  Counter formerr;
  Counter refused;
  Counter notauth;
  Counter notimp;
  Counter servfail;
  Counter notify_received;
  Counter notify_refused;
  Counter ahead_of_us;  // IXFR from a serial newer than ours: a refresh hint
  Counter deferred;     // requests that waited on the upstream transfer
  // Upstream (the secondary side).
  Counter upstream_soa_queries;
  Counter upstream_soa_failures;
  Counter upstream_transfers;        // completed, by kind below
  Counter upstream_axfr;
  Counter upstream_ixfr;
  Counter upstream_up_to_date;
  Counter upstream_transfer_failures;
  Counter upstream_axfr_fallbacks;
  Counter upstream_refresh_failures;  // checks that ended without success
  Counter zones_expired;
  Counter zone_file_refusals;  // file: zones whose new content was refused
};

}  // namespace xfr
