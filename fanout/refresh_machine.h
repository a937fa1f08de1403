// The refresh logic of one zone that follows primaries (RFC 1034 §4.3.5,
// RFC 1995, RFC 1996, RFC 5936, RFC 7314), without I/O: the driver
// (proxy/upstream.cc) feeds it the clock, SOA answers, transfer results,
// NOTIFYs, hints from clients and reconfigurations, and carries out the
// actions it returns. Every decision a secondary makes lives here, so each
// is pinned by a table-driven test with a fake clock
// (tests/fanout/refresh_machine_test.cc).
//
// A refresh is a check (one SOA query to every primary at once, weighed in
// configuration order) and, when a primary is ahead, a transfer from the
// first primary with the newest serial, the others with that serial being
// the fallbacks:
//   - IXFR when we hold the primary's own data (the upstream base), AXFR
//     otherwise (no data yet, or a rewritten view restored from disk);
//   - an IXFR answered with any RCODE but NOERROR, or one that does not
//     apply to our version, is followed at once by an AXFR from the same
//     primary (RFC 1995 §4 leaves the fallback to the client; BIND and
//     Knot do this); so is the second IXFR in a row from a primary that
//     failed in any other way (cut, timed out, broken TSIG);
//   - a transfer that fails otherwise moves on to the next candidate.
// REFRESH after a good contact, RETRY after a failure (RFC 1035 §3.3.13);
// EXPIRE, bounded by the primary's RFC 7314 EXPIRE option, since the last
// good contact. A NOTIFY or a client ahead of us starts a check at once, or
// one more after the check in flight: any burst costs at most one check in
// flight and one queued (RFC 1996 §4.7).
//
// A retransfer (`xfrproxy ctl retransfer`, like `rndc retransfer` and
// `knotc zone-retransfer`) skips the SOA check: an AXFR from the first
// primary, the others in order as fallbacks, whatever the serials. Its
// version is published when its serial is the same as ours or newer (the
// content may differ at the same serial; BIND loads it too), never when
// older (RFC 1982: that is an older zone). A retransfer asked during an SOA
// check replaces the check; during a transfer or a publish it follows it;
// during another retransfer it adds nothing. One that fails is an ordinary
// failed refresh: RETRY, then a normal check.
//
// Exchanges are named by an id the machine hands out; a result for an id
// the machine no longer waits on (abandoned by a reconfiguration, or late)
// is ignored, so a completion can never reach the wrong primary.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "core/serial.h"
#include "core/types.h"
#include "fanout/peer_state.h"

namespace xfr {

// The SOA timers of the version being served (RFC 1035 §3.3.13).
struct RefreshTimers {
  uint32_t refresh = 0;
  uint32_t retry = 0;
  uint32_t expire = 0;
};

// What the zone holds when the machine starts, or after a publish.
struct RefreshSnapshot {
  std::optional<Serial> serial;
  RefreshTimers timers;
  // We hold the primary's own version of `serial`, so an IXFR can start
  // from it. False for a rewritten view restored from disk.
  bool upstream_base = false;
  // The data is valid until then (state-dir restores it); InfinitePast
  // when unknown.
  absl::Time expires_at = absl::InfinitePast();
};

struct RefreshOptions {
  // After the first SOA answer, how long the other primaries get.
  absl::Duration answer_grace = absl::Milliseconds(250);
  // With no data there is no SOA to take RETRY from: BIND retries a zone
  // that failed its first load within seconds.
  absl::Duration no_data_retry = absl::Seconds(10);
  // Floor of every SOA timer: a zone with REFRESH 0 must not spin.
  absl::Duration min_timer = absl::Seconds(1);
  // Failed IXFRs in a row from one primary before it is asked for AXFR.
  int ixfr_failures_before_axfr = 2;
  // Zones loaded together would otherwise fall due together, every REFRESH
  // from then on: a herd of SOA queries at the primary. Each REFRESH and
  // RETRY wait is drawn from [(1 - jitter) * timer, timer], so jitter only
  // shortens a wait and never pushes a check past EXPIRE (BIND draws from
  // [3/4, 1] of REFRESH). 0 keeps the nominal timers.
  double jitter = 0;
  // A zone that starts with data (restored from state-dir) is checked at a
  // point drawn from [now, now + start_spread), and always before half of
  // the time left until it expires; a zone without data, one whose expiry
  // is unknown or past, is checked at once. A NOTIFY or an operator's refresh checks
  // at once whatever was drawn.
  absl::Duration start_spread = absl::ZeroDuration();
  // Uniform in [0, 1): where in its range each wait falls. Unset, every
  // draw is 0, which is the nominal timer and no start spread; the driver
  // passes a real generator, tests a scripted one.
  std::function<double()> random;
};

// How an exchange with a primary went, as the driver saw it.
enum class ExchangeError : uint8_t {
  kCannotStart,  // no socket, no route, cannot sign: it never left
  kTimeout,
  kNetwork,      // refused, reset, unreachable
  kRcode,        // the primary answered an error RCODE (`rcode`)
  kTsig,         // the answer failed TSIG, or a TSIG error answer
  kMalformed,    // not a usable answer (broken message, no SOA, truncated)
  kNotApplicable,  // an IXFR that does not fit our version
  kTooLarge,     // over max-records
  kServing,      // the transfer was good but the version could not be built
};
std::string_view ExchangeErrorName(ExchangeError e);

struct ExchangeFailure {
  ExchangeError error = ExchangeError::kNetwork;
  std::optional<Rcode> rcode;  // kRcode, and the TSIG error for kTsig
  std::string detail;          // for logs: the real reason
};

struct SoaAnswer {
  Serial serial;
  std::optional<uint32_t> expire_option;  // RFC 7314 EXPIRE, when sent
};

struct TransferOutcome {
  enum Kind : uint8_t {
    kUpToDate,  // the primary has nothing newer (an SOA-only IXFR answer)
    kVersion,   // a whole new version was received and checked
  };
  Kind kind = kVersion;
  Serial serial;
  bool incremental = false;  // kVersion: it came by IXFR diffs
  std::optional<uint32_t> expire_option;
};

// The health the zone reports on /healthz and in metrics.
struct RefreshHealth {
  enum State : uint8_t { kOk, kNoData, kDegraded, kExpired };
  State state = kNoData;
  std::optional<absl::Time> last_success;    // last good contact
  std::optional<absl::Time> failing_since;   // first failure of the run
  // When a failing run becomes "degraded" (failing_since + REFRESH), so a
  // reader can tell without asking the machine again.
  absl::Time degraded_at = absl::InfiniteFuture();
  absl::Time next_check = absl::InfiniteFuture();
  absl::Time expires_at = absl::InfinitePast();
  std::string last_error;
  uint64_t failures = 0;  // failed refreshes in a row
};
std::string_view RefreshHealthName(RefreshHealth::State s);

struct RefreshAction {
  enum Kind : uint8_t {
    kQuerySoa,     // send an SOA query to `primary` as exchange `id`
    kTransfer,     // IXFR (ixfr) or AXFR from `primary` as exchange `id`
                   // for `serial`; `detail` says why when it falls back;
                   // `forced`: a retransfer, no serial expected
    kAbandon,      // exchange `id` is no longer wanted: cancel it
    kPublish,      // the version of exchange `id` is newer: build and
                   // publish it, then call OnPublished / OnPublishFailed
    kRefreshed,    // the primary confirmed our data at `at`, valid for
                   // `expire_seconds` (RFC 7314): persist and mark it;
                   // `detail` is a warning worth logging, if any
    kReleaseWaiters,  // requests waiting on this check get answered now
    kFailed,       // the refresh failed: `detail` is the real reason;
                   // the next check is at `at`
    kExpired,      // EXPIRE passed without contact (RFC 1035 §3.3.13)
    kDegraded,     // refresh has failed for longer than REFRESH: `detail`
                   // says how long and why
    kRecovered,    // a good contact after failures, degradation or expiry;
                   // `detail` says what it ends
  };
  Kind kind;
  uint64_t id = 0;
  size_t primary = 0;  // index in the current primaries list
  bool ixfr = false;
  bool forced = false;
  std::optional<Serial> serial;
  absl::Time at;
  uint32_t expire_seconds = 0;
  std::string detail;
};

class RefreshMachine {
 public:
  RefreshMachine(std::vector<PeerAddress> primaries, RefreshOptions options);

  // Starts following: a check right away, or within options.start_spread
  // for a zone that holds data (see RefreshOptions).
  std::vector<RefreshAction> Start(const RefreshSnapshot& have, absl::Time now);

  // A NOTIFY was accepted (RFC 1996 §3.11), with the serial it carried.
  std::vector<RefreshAction> OnNotify(std::optional<Serial> hint, absl::Time now);
  // A client asked for `serial`, newer than ours: the primary must have
  // told it of a change. Like a NOTIFY, and the request waits for the check.
  std::vector<RefreshAction> OnClientAhead(Serial serial, absl::Time now);
  // An operator asked for a check now (reload with new primaries, ctl).
  std::vector<RefreshAction> OnRefreshNow(absl::Time now);
  // An operator asked for an AXFR now, whatever the serial (see above).
  std::vector<RefreshAction> OnRetransfer(absl::Time now);

  std::vector<RefreshAction> OnSoaAnswer(uint64_t id, const SoaAnswer& answer, absl::Time now);
  std::vector<RefreshAction> OnSoaFailure(uint64_t id, const ExchangeFailure& f, absl::Time now);
  std::vector<RefreshAction> OnTransferDone(uint64_t id, const TransferOutcome& r, absl::Time now);
  std::vector<RefreshAction> OnTransferFailure(uint64_t id, const ExchangeFailure& f,
                                               absl::Time now);
  // The version of a kPublish action is served now, with its SOA timers.
  std::vector<RefreshAction> OnPublished(uint64_t id, const RefreshSnapshot& now_serving,
                                         absl::Time now);
  std::vector<RefreshAction> OnPublishFailed(uint64_t id, const std::string& why, absl::Time now);
  // A version was published by someone else (the served view changed on
  // reload): keep the timers and base in step.
  void SetSnapshot(const RefreshSnapshot& have);

  // A reload changed the primaries. Any change of the list (added,
  // removed, reordered) abandons what is in flight and checks again at
  // once; per-primary history follows the address.
  std::vector<RefreshAction> Reconfigure(std::vector<PeerAddress> primaries, absl::Time now);

  // Timers: call when the clock reaches NextWake().
  std::vector<RefreshAction> Tick(absl::Time now);
  absl::Time NextWake() const;

  RefreshHealth Health(absl::Time now) const;
  bool busy() const { return phase_ != Phase::kIdle; }
  const std::vector<PeerAddress>& primaries() const { return primaries_; }

 private:
  enum class Phase : uint8_t { kIdle, kSoaCheck, kTransfer, kPublishing };
  struct Primary {
    PeerAddress address;
    int ixfr_failures = 0;  // in a row
    uint64_t soa_id = 0;    // the SOA query in flight, 0 if none
    std::optional<SoaAnswer> answer;
    std::string error;      // this check's failure, for the summary
  };
  using Actions = std::vector<RefreshAction>;

  void BeginCheck(absl::Time now, Actions& out);
  void BeginRetransfer(absl::Time now, Actions& out);
  void Decide(absl::Time now, Actions& out);
  void StartTransfer(size_t primary, bool ixfr, std::string why, Actions& out);
  void NextCandidate(absl::Time now, Actions& out);
  void Succeed(std::optional<uint32_t> expire_option, absl::Time now, Actions& out);
  void Fail(std::string why, absl::Time now, Actions& out);
  void EndCheck(absl::Time now, Actions& out);
  void AbandonAll(Actions& out);
  void CheckExpiry(absl::Time now, Actions& out);
  void CheckDegraded(absl::Time now, Actions& out);
  bool WantsIxfr(size_t primary) const;
  absl::Duration Timer(uint32_t RefreshTimers::*field) const;
  absl::Duration Jittered(absl::Duration nominal);
  double Draw();
  int FindSoa(uint64_t id) const;

  std::vector<PeerAddress> primaries_;
  RefreshOptions options_;
  std::vector<Primary> state_;
  RefreshSnapshot have_;
  bool started_ = false;

  Phase phase_ = Phase::kIdle;
  uint64_t next_id_ = 1;
  size_t soa_pending_ = 0;
  absl::Time grace_until_ = absl::InfiniteFuture();
  // Primaries with the newest serial, in configuration order.
  std::vector<size_t> candidates_;
  size_t next_candidate_ = 0;
  std::optional<Serial> target_;  // the serial being transferred
  uint64_t transfer_id_ = 0;
  size_t transfer_primary_ = 0;
  bool transfer_ixfr_ = false;
  std::vector<std::string> transfer_errors_;
  bool forced_ = false;              // the refresh in flight is a retransfer
  bool retransfer_pending_ = false;  // asked while a transfer was in flight

  bool recheck_ = false;          // a NOTIFY came while busy
  bool recheck_any_ = false;      // ... one without a serial hint
  std::optional<Serial> recheck_hint_;
  std::optional<uint32_t> publish_expire_;
  bool waiters_ = false;          // requests wait on the check in flight

  absl::Time next_check_ = absl::InfiniteFuture();
  std::optional<absl::Time> last_success_;
  std::optional<absl::Time> failing_since_;
  std::string last_error_;
  uint64_t failures_ = 0;
  bool expired_ = false;
  bool degraded_ = false;  // kDegraded was said for the current failing run
};

}  // namespace xfr
