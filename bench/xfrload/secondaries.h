// The secondaries mode of xfrload: N simulated secondaries, each with its
// own serial, against one server. In the polling modes they ask SOA over
// UDP or transfer with IXFR/AXFR over TCP, C requests in flight at once; with
// --listen-notify each listens on its own address and reacts to NOTIFY like a
// real secondary (answer, SOA check, IXFR from its serial, take the new
// serial). Every answer is verified (verifier.h).
//
// The work is split over --threads event loops (secondaries_shard.h), each
// on its own thread and io_uring with a contiguous slice of the
// secondaries. Within a loop nothing blocks and nothing costs a thread per
// peer: UDP answers and NOTIFYs arrive through multishot receives on shared
// provided buffers (one socket per NOTIFY address), each TCP connection has
// one receive armed into a buffer borrowed from a pool only while a
// transfer is in progress (secondaries_tcp.h). Per idle secondary that is
// about 100 bytes here, one UDP socket in kNotify mode, and nothing else.
//
// Embedding (xfrproxy demo):
//
//   auto load = SecondariesLoad::Create(options);   // sockets bound, checked
//   std::thread t([&] { report = (*load)->Run(); });  // blocks until done
//   ... (*load)->Snapshot() from any thread, at any time ...
//   (*load)->Stop();  t.join();                       // from any thread
//
// Create() does everything that can fail for a reason the user can fix
// (option values, the open-file limit, binding the NOTIFY addresses, the
// server's current serial, io_uring support) and starts nothing. Run() must
// be called once; it runs the first loop on the calling thread and the
// others on threads of its own. Stop() is thread-safe (not async-signal-
// safe: from a signal, use a thread that waits on the signal) and may come
// before Run(); Run() then returns at once.
#pragma once

#include <atomic>
#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "bench/xfrload/options.h"
#include "bench/xfrload/report.h"
#include "bench/xfrload/secondaries_stats.h"

namespace xfr::load {

class Shard;

class SecondariesLoad {
 public:
  static absl::StatusOr<std::unique_ptr<SecondariesLoad>> Create(
      SecondariesOptions options);
  ~SecondariesLoad();
  SecondariesLoad(const SecondariesLoad&) = delete;
  SecondariesLoad& operator=(const SecondariesLoad&) = delete;

  // Runs until the request count or the duration is reached and every
  // request in flight has finished or timed out (polling modes), or until
  // every secondary holds --expect-serial or the duration passed (kNotify),
  // or until Stop().
  LoadReport Run();
  // Ends Run() soon from any thread; requests in flight are abandoned.
  void Stop();
  // The live figures, from any thread, before, during or after Run().
  SecondariesSnapshot Snapshot() const;

  const SecondariesOptions& options() const { return options_; }

 private:
  explicit SecondariesLoad(SecondariesOptions options);
  absl::Status Setup();
  // Learns the zone's current serial with one blocking SOA query, before
  // the loops start (the base of --serial-spread when --serial is absent).
  absl::StatusOr<Serial> QueryCurrentSerial();
  void FillNotifySummary(LoadReport& report, absl::Time start) const;

  SecondariesOptions options_;
  Serial base_serial_;
  std::unique_ptr<LiveStats> stats_;
  std::vector<std::unique_ptr<Shard>> shards_;
  std::atomic<bool> ran_{false};
};

// Raises the soft open-file limit to the hard one (10,000 secondaries
// listening for NOTIFY are 10,000 sockets) and returns the limit now in
// force.
uint64_t RaiseFileLimit();

}  // namespace xfr::load
