// Process-wide counters, exported on /metrics. Relaxed atomics: every thread
// bumps them, nobody needs them ordered with anything else.
#pragma once

#include <atomic>
#include <cstdint>

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
};

}  // namespace xfr
