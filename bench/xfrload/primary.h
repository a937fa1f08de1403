// xfrload's synthetic primary (`xfrload primary`): serves SOA (UDP
// and TCP), AXFR and IXFR of a generated zone (bench/xfrload/zone_gen.h)
// that changes R times a second, keeps a journal so IXFR from recent
// serials is a diff, and NOTIFYs given targets after every change, retrying
// as xfrproxy does. On request it misbehaves (primary_faults.h).
//
// With `zones` set it serves that many generated zones instead (z00001.ZONE
// and on), each with its own serial, journal and NOTIFYs, so a secondary's
// cost per zone can be measured; a change then moves `change_zones` of them.
//
// It is xfrproxy's own primary side, assembled in-process: a ZoneStore with
// the zones, PrimaryResponder behind the fault wrapper, UdpServer/TcpServer
// per listen address on each serving thread's EventLoop, and NotifySender on
// the first. Versions are made on a thread of their own (ApplyDiff of a
// small diff, then BuildServedZone encodes the answers) and published with
// the LiveZone's pointer swap, so a slow build of a large zone never holds
// up an answer; the NOTIFY is then posted to the first serving loop.
//
// Used by `xfrload primary` and embedded by `xfrproxy demo`: Start() returns
// once it serves, Stats() may be called from any thread, Stop() (or the
// destructor) joins every thread it started.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "bench/xfrload/primary_faults.h"
#include "bench/xfrload/zone_gen.h"
#include "core/name.h"
#include "core/serial.h"
#include "core/tsig_key.h"
#include "proxy/config.h"
#include "proxy/net_address.h"
#include "proxy/stats.h"
#include "proxy/zone_store.h"

namespace xfr {
class ConnectionLimiter;
class HttpServer;
}  // namespace xfr

namespace xfr::load {

// One new version, as reported to PrimaryOptions::on_change.
struct ChangeEvent {
  Serial serial;  // of the first zone changed
  uint32_t zones = 1;  // zones changed by this change
  uint64_t version = 0;  // 1 for the first change after start
  ChangeCounts counts;
  size_t records = 0;
  absl::Duration build_time;  // the diff, ApplyDiff and encoding the answers
  absl::Duration apply_time;  // ApplyDiff alone
};

struct PrimaryOptions {
  std::vector<SocketAddress> listen;  // UDP and TCP on each
  Name zone;
  // 0: serve `zone` alone. N: serve z00001.<zone> ... zN.<zone> (five
  // digits at least), generated from seed + index so they differ.
  uint32_t zones = 0;
  // Zones that each change moves, taken in turn (with `zones`).
  uint32_t change_zones = 1;
  uint64_t records = 1000;  // per zone
  uint64_t seed = 1;
  Serial serial{1};  // of the generated zone; +1 per change
  // Versions per second; 0: the zone only changes on ChangeNow().
  double changes_per_second = 1;
  uint32_t changes_per_version = 10;
  // The timer stops changing the zone after this many versions.
  std::optional<uint64_t> max_changes;
  uint32_t journal = 100;  // diffs kept for IXFR
  std::vector<SocketAddress> notify;
  // Transfers must be signed with this key (then nobody else may transfer),
  // and the NOTIFYs are signed with it. Without a key anyone may transfer.
  std::optional<TsigKey> tsig;
  Fault fault = Fault::kNone;
  int threads = 1;  // serving threads (SO_REUSEPORT listeners)
  uint32_t refresh = 60;  // SOA timers of the zone
  uint32_t retry = 10;
  // /metrics (the proxy's counters and ours) and /stats (JSON).
  std::optional<SocketAddress> http;
  // Called on the change thread after each version is published; it may
  // call Stats(), SetFault() and ChangeNow(), not Stop().
  std::function<void(const ChangeEvent&)> on_change;
};

struct PrimaryStats {
  Serial serial;  // of the first zone
  uint64_t zones = 1;
  uint64_t versions = 0;  // changes made since start
  uint64_t records = 0;   // in the current version of the first zone
  uint64_t soa_queries = 0;
  uint64_t axfr = 0;
  uint64_t ixfr = 0;          // incremental answers
  uint64_t ixfr_full = 0;     // IXFR answered AXFR-style
  uint64_t ixfr_current = 0;  // IXFR from the current serial
  uint64_t transfers_done = 0;  // completely sent, AXFR and IXFR
  uint64_t tcp_bytes = 0;       // sent over TCP, transfers and the rest
  uint64_t notifies_sent = 0;   // datagrams, retries included
  uint64_t notifies_acked = 0;
  uint64_t notify_give_ups = 0;
  uint64_t faults = 0;  // answers a fault changed
  absl::Duration generation_time;  // of the first version's records
  absl::Duration encode_time;      // of its AXFR answer
  absl::Duration last_build_time;
  absl::Duration uptime;

  // Transfers that carried zone data: what a primary pays for per change.
  uint64_t transfers() const { return axfr + ixfr + ixfr_full; }
  std::string ToJson() const;  // one line, no newline
};

class SyntheticPrimary {
 public:
  explicit SyntheticPrimary(PrimaryOptions options);
  ~SyntheticPrimary();
  SyntheticPrimary(const SyntheticPrimary&) = delete;
  SyntheticPrimary& operator=(const SyntheticPrimary&) = delete;

  // Generates the zone, starts serving and the change timer, NOTIFYs the
  // targets of the first version. Returns once every listener is open.
  absl::Status Start();
  // Stops changing, lets open transfers finish for a moment, closes
  // everything and joins the threads. Idempotent.
  void Stop();

  PrimaryStats Stats() const;
  // Any thread; takes effect for the next request.
  void SetFault(Fault f) { fault_.store(f, std::memory_order_relaxed); }
  // Makes one version now, besides the timer's (also after max_changes).
  void ChangeNow();
  // The bound HTTP address, when options.http was given.
  std::optional<SocketAddress> http_address() const;
  // The names served, in order (the one zone, or z00001.<zone> and on).
  static std::vector<Name> ZoneNames(const PrimaryOptions& options);

  // The current serial of each zone served, in ZoneNames() order.
  std::vector<Serial> Serials() const;

 private:
  struct Worker;
  struct Served {
    Name name;
    LiveZone* live = nullptr;
    ZoneChanger changer;
    std::atomic<uint32_t> serial{0};
    explicit Served(uint64_t seed) : changer(seed) {}
  };
  absl::Status BuildConfig();
  absl::Status SetupWorker(Worker& w, bool first);
  // On the worker's loop: stop taking work, close connections as they go
  // idle (at most kDrainTime), then stop the loop.
  void Drain(Worker& w);
  void Poll(Worker& w);
  void ChangeLoop();
  absl::Status MakeVersion();
  // One new version of zone i; fills `ev` (counts are added up).
  absl::Status ChangeZone(size_t i, ChangeEvent& ev);
  void PublishLiar(const Name& zone, const ServedZone& z);
  // On the first worker's loop: copies the NOTIFY fan-out's counters to
  // the atomics Stats() reads.
  void SyncNotifyCounters(Worker& w);
  std::string RenderMetrics() const;

  PrimaryOptions options_;
  Config config_;
  std::shared_ptr<ZoneStore> store_;
  std::shared_ptr<ZoneStore> liar_store_;  // the zone's SOA, serial + 1
  std::vector<std::unique_ptr<Served>> zones_;
  size_t next_change_ = 0;  // the next zone a change moves; change thread
  ServerStats server_stats_;
  PrimaryCounters counters_;
  std::atomic<Fault> fault_{Fault::kNone};
  std::unique_ptr<ConnectionLimiter> limiter_;
  std::vector<std::unique_ptr<Worker>> workers_;
  std::unique_ptr<HttpServer> http_;

  std::thread change_thread_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;   // under mu_
  int change_requests_ = 0;  // under mu_
  bool started_ = false;
  bool stopped_ = false;

  absl::Time start_time_;
  absl::Duration generation_time_;
  absl::Duration encode_time_;
  std::atomic<uint32_t> serial_{0};
  std::atomic<uint64_t> versions_{0};
  std::atomic<uint64_t> records_{0};
  std::atomic<int64_t> last_build_us_{0};
  std::atomic<uint64_t> notifies_sent_{0};
  std::atomic<uint64_t> notifies_acked_{0};
  std::atomic<uint64_t> notify_give_ups_{0};
};

}  // namespace xfr::load
