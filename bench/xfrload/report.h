// What a load run measured, and how it is printed: counters per request
// kind, errors by kind, latency percentiles, throughput and the tool's own
// CPU time, as text for people or as one JSON object for scripts.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/time/time.h"
#include "bench/xfrload/verifier.h"

namespace xfr::load {

// Latencies in microseconds; percentiles by selection at report time, so
// recording one costs a push_back.
class LatencyRecorder {
 public:
  void Add(absl::Duration d) {
    samples_.push_back(static_cast<uint32_t>(
        std::min<int64_t>(absl::ToInt64Microseconds(d), UINT32_MAX)));
  }
  size_t count() const { return samples_.size(); }
  // q in [0, 1]; nearest-rank; 0 when empty. Reorders the samples.
  double PercentileMs(double q);
  double MaxMs() const;
  void Merge(const LatencyRecorder& o) {
    samples_.insert(samples_.end(), o.samples_.begin(), o.samples_.end());
  }

 private:
  std::vector<uint32_t> samples_;
};

struct KindStats {
  uint64_t started = 0;
  uint64_t completed = 0;  // verified
  uint64_t failed = 0;
  uint64_t records = 0;    // answer records of verified answers
  uint64_t bytes = 0;      // bytes received for them (TCP prefixes included)
  uint64_t messages = 0;
  uint64_t soa_only = 0;     // IXFR answered with the SOA alone
  uint64_t incremental = 0;  // IXFR diff sequences
  uint64_t full = 0;         // AXFR, or AXFR-style IXFR
  // Zone records of full answers: a server that cut a zone short shows as
  // min < max.
  uint64_t zone_records_min = UINT64_MAX;
  uint64_t zone_records_max = 0;
  LatencyRecorder latency;
};

// kNotify: what the NOTIFY-driven secondaries saw, from the final
// SecondariesSnapshot (secondaries_stats.h has the definitions).
struct NotifySummary {
  bool enabled = false;
  std::string listen;  // the first secondary's address
  uint64_t received = 0;
  uint64_t duplicates = 0;
  uint64_t rejected = 0;
  uint64_t checks = 0;
  uint64_t rechecks = 0;
  uint64_t soa_retries = 0;
  uint64_t incremental = 0;  // transfers applied
  uint64_t full = 0;
  uint64_t up_to_date = 0;   // IXFR answered with the SOA alone
  // The newest serial a NOTIFY announced, and its fan-out.
  std::optional<uint32_t> round_serial;
  uint32_t notified = 0;
  double first_notify_s = 0;  // after the start of the run
  double spread_ms = 0;       // first to last secondary notified
  std::optional<double> converged_ms;  // first NOTIFY to all holding it
  std::optional<uint32_t> expect_serial;
  std::optional<double> expect_reached_s;  // after the start of the run
  uint32_t expect_holders = 0;
  // (serial or none, secondaries holding it) at the end.
  std::vector<std::pair<std::optional<uint32_t>, uint32_t>> serials;
};

struct LoadReport {
  std::string mode;
  std::string target;
  std::string zone;
  uint32_t secondaries = 0;
  uint32_t concurrency = 0;
  bool fresh_connections = false;
  uint32_t base_serial = 0;
  std::array<KindStats, 3> kinds;  // by QueryKind
  std::array<uint64_t, kErrorKinds> errors{};
  std::string first_error;  // "kind: detail" of the first failure
  uint64_t late_answers = 0;  // UDP answers after their request timed out
  uint64_t connections = 0;   // TCP connections opened
  // Requests in flight when the run was stopped (kNotify's end, Stop()):
  // neither verified nor errors.
  uint64_t abandoned = 0;
  uint32_t threads = 1;
  // TCP receive buffers allocated (the peak of concurrent transfers).
  uint64_t tcp_buffers_small = 0;
  uint64_t tcp_buffers_large = 0;
  absl::Duration elapsed;
  double cpu_user_s = 0;  // of the threads that drove the secondaries
  double cpu_system_s = 0;
  NotifySummary notify;

  uint64_t TotalErrors() const;
  // Adds another event loop's counts (not the run's description).
  void Merge(const LoadReport& o);
  std::string ToText();
  std::string ToJson();
};

// This process's user and system CPU seconds so far (getrusage).
void ProcessCpu(double& user_s, double& system_s);
// The calling thread's (RUSAGE_THREAD): a load embedded in another program
// counts only its own loops.
void ThreadCpu(double& user_s, double& system_s);

}  // namespace xfr::load
