// What the simulated secondaries hold and have seen, kept up to date by the
// event loops that drive them and readable at any moment from any thread
// (SecondariesLoad::Snapshot): how many secondaries hold each serial, the
// NOTIFYs received, checks and transfers, and the NOTIFY "rounds".
//
// A round starts when a NOTIFY announces a serial newer than any announced
// before (the SOA in its answer section: RFC 1996 §3.7 makes it a hint, and
// here it only names the round; the secondaries still check the SOA). Its
// fan-out spread runs from the first secondary receiving a NOTIFY for that
// serial to the last one receiving its first; it has converged when every
// secondary holds that serial or a newer one.
//
// Updates happen once per NOTIFY or finished request; they take one mutex
// that only the loops (a few) and readers touch, far cheaper than the
// datagram or transfer behind each update.
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <optional>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/time/time.h"
#include "core/serial.h"

namespace xfr::load {

struct NotifyRound {
  Serial serial;
  absl::Time first_notify;
  // When the last secondary to be notified for this serial got its first
  // NOTIFY for it.
  absl::Time last_notify;
  uint32_t notified = 0;  // secondaries that received a NOTIFY for it
  uint32_t holders = 0;   // secondaries holding it or a newer serial
  std::optional<absl::Time> converged;

  absl::Duration spread() const { return last_notify - first_notify; }
  // From the first NOTIFY until every secondary held the serial.
  std::optional<absl::Duration> convergence() const {
    if (!converged) return std::nullopt;
    return *converged - first_notify;
  }
};

// A consistent copy of the live figures.
struct SecondariesSnapshot {
  uint32_t secondaries = 0;
  // (serial, secondaries holding it) in ascending serial order; secondaries
  // with no copy of the zone come first, as nullopt.
  std::vector<std::pair<std::optional<Serial>, uint32_t>> serials;

  uint64_t notifies = 0;           // NOTIFYs for the zone, answered
  uint64_t notify_duplicates = 0;  // retransmissions (the ID answered last)
  uint64_t notify_rejected = 0;    // other zones, malformed, failed TSIG
  uint64_t checks = 0;             // SOA checks (or AXFRs when empty) begun
  uint64_t rechecks = 0;           // NOTIFYs during a check: one more queued
  uint64_t soa_retries = 0;        // SOA queries sent again after silence
  uint64_t incremental = 0;        // transfers applied: IXFR diffs
  uint64_t full = 0;               // transfers applied: AXFR or AXFR-style
  uint64_t up_to_date = 0;         // IXFR answered with the SOA alone
  uint64_t errors = 0;             // failed requests of any kind

  std::optional<NotifyRound> current;         // the newest serial announced
  std::optional<NotifyRound> last_converged;  // the newest that converged
  // --expect-serial: when every secondary first held it.
  std::optional<Serial> expect_serial;
  std::optional<absl::Time> expect_reached;
  uint32_t expect_holders = 0;
};

class LiveStats {
 public:
  // `serials[i]` is what secondary i holds at the start (nullopt: nothing).
  LiveStats(const std::vector<std::optional<Serial>>& serials,
            std::optional<Serial> expect);

  // A NOTIFY for the zone was answered. `first_for_serial`: the first this
  // secondary received announcing `hint`. `duplicate`: a retransmission.
  void OnNotify(std::optional<Serial> hint, bool first_for_serial, bool duplicate,
                absl::Time now);
  // A secondary went from `from` to `to`. True exactly once: when this
  // made every secondary hold the expected serial.
  bool OnSerial(std::optional<Serial> from, Serial to, absl::Time now);
  // True when every secondary already holds the expected serial.
  bool ExpectReached() const;

  void CountRejected() { notify_rejected_.fetch_add(1, std::memory_order_relaxed); }
  void CountCheck() { checks_.fetch_add(1, std::memory_order_relaxed); }
  void CountRecheck() { rechecks_.fetch_add(1, std::memory_order_relaxed); }
  void CountSoaRetry() { soa_retries_.fetch_add(1, std::memory_order_relaxed); }
  void CountIncremental() { incremental_.fetch_add(1, std::memory_order_relaxed); }
  void CountFull() { full_.fetch_add(1, std::memory_order_relaxed); }
  void CountUpToDate() { up_to_date_.fetch_add(1, std::memory_order_relaxed); }
  void CountError() { errors_.fetch_add(1, std::memory_order_relaxed); }

  SecondariesSnapshot Snapshot() const;

 private:
  // Secondaries at `s` or newer (RFC 1982), from the histogram.
  uint32_t HoldersOf(Serial s) const;

  const uint32_t count_;
  mutable std::mutex mu_;
  absl::flat_hash_map<uint32_t, uint32_t> held_;  // serial value -> secondaries
  uint32_t empty_ = 0;                            // secondaries without the zone
  uint64_t notifies_ = 0;
  uint64_t notify_duplicates_ = 0;
  std::optional<NotifyRound> current_;
  std::optional<NotifyRound> last_converged_;
  std::optional<Serial> expect_;
  uint32_t expect_holders_ = 0;
  std::optional<absl::Time> expect_reached_;

  std::atomic<uint64_t> notify_rejected_{0};
  std::atomic<uint64_t> checks_{0};
  std::atomic<uint64_t> rechecks_{0};
  std::atomic<uint64_t> soa_retries_{0};
  std::atomic<uint64_t> incremental_{0};
  std::atomic<uint64_t> full_{0};
  std::atomic<uint64_t> up_to_date_{0};
  std::atomic<uint64_t> errors_{0};
};

}  // namespace xfr::load
