// RefreshMachine with a fake clock, scenario by scenario: each step is an
// input (a NOTIFY, an SOA answer from a primary, a transfer result, the
// clock moving on, a reload) and the actions it must produce, written as
// text so a table reads like a transcript of what a secondary does.
//
// Inputs:
//   start S|- [nobase] [expires=N]   the zone holds serial S (or nothing);
//                                    SOA timers REFRESH 100 RETRY 10 EXPIRE 1000
//   notify [S]  ahead S  refresh     NOTIFY, a client ahead of us, ctl refresh
//   retransfer                       ctl retransfer: an AXFR whatever the serial
//   soa P S [expire=N]               the SOA query in flight to P answers S
//   soafail P KIND                   it fails (timeout, network, tsig (BADKEY),
//                                    badsig, cannot, rcode:NAME)
//   stale P S                        an answer to P's previous, abandoned query
//   ixfr S | axfr S | uptodate       the transfer in flight delivers
//   xfrfail KIND                     it fails (as soafail, plus notapply, cut)
//   stalexfr S                       the previous, abandoned transfer delivers
//   published S | pubfail            the version of the publish action
//   wait N                           N seconds pass, timers run
//   reconf PQ... | reconf -          a reload sets the primaries (or none)
//   health                           the health state (expect its name)
// Actions: "SOA a", "IXFR a 12", "AXFR a 12 (why)", "AXFR a (forced)", "ABANDON a",
// "PUBLISH 12", "REFRESHED 1000", "RELEASE", "FAILED", "EXPIRED",
// "DEGRADED", "RECOVERED"; joined by ", ".
#include "fanout/refresh_machine.h"

#include <map>
#include <ostream>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"

namespace xfr {
namespace {

const absl::Time kT0 = absl::FromUnixSeconds(1'700'000'000);

PeerAddress Primary(char letter) {
  return PeerAddress::V4({192, 0, 2, static_cast<uint8_t>(letter - 'a' + 1)}, 53);
}

char Letter(const PeerAddress& a) { return static_cast<char>('a' + a.ip[15] - 1); }

std::vector<PeerAddress> Primaries(std::string_view letters) {
  std::vector<PeerAddress> out;
  for (char c : letters) {
    if (c != ',' && c != '-') out.push_back(Primary(c));
  }
  return out;
}

RefreshTimers Timers() { return RefreshTimers{100, 10, 1000}; }

ExchangeFailure Failure(std::string_view kind) {
  ExchangeFailure f;
  if (kind == "timeout") f.error = ExchangeError::kTimeout;
  if (kind == "network") f.error = ExchangeError::kNetwork;
  if (kind == "cannot") f.error = ExchangeError::kCannotStart;
  if (kind == "notapply") f.error = ExchangeError::kNotApplicable;
  if (kind == "cut") f.error = ExchangeError::kMalformed;
  if (kind == "tsig") {
    f.error = ExchangeError::kTsig;
    f.rcode = Rcode(static_cast<uint16_t>(17));  // BADKEY
  }
  if (kind == "badsig") {
    f.error = ExchangeError::kTsig;
    f.rcode = Rcode(static_cast<uint16_t>(16));  // BADVERS as an RCODE
  }
  if (kind.starts_with("rcode:")) {
    f.error = ExchangeError::kRcode;
    std::string_view name = kind.substr(6);
    f.rcode = name == "SERVFAIL" ? Rcode::kServFail
            : name == "NOTAUTH"  ? Rcode::kNotAuth
            : name == "REFUSED"  ? Rcode::kRefused
                                 : Rcode::kNotImp;
  }
  f.detail = std::string(kind);
  return f;
}

struct Step {
  std::string input;
  std::string expect;
};

class Harness {
 public:
  explicit Harness(std::string_view primaries)
      : machine_(Primaries(primaries), RefreshOptions{}), letters_(Primaries(primaries)) {}

  std::string Run(const std::string& input) {
    std::vector<std::string> w = absl::StrSplit(input, ' ', absl::SkipEmpty());
    const std::string& verb = w[0];
    auto serial = [&](size_t i) {
      uint32_t v = 0;
      EXPECT_TRUE(absl::SimpleAtoi(w.at(i), &v)) << input;
      return Serial(v);
    };
    std::vector<RefreshAction> a;
    if (verb == "start") {
      RefreshSnapshot s;
      if (w[1] != "-") {
        s.serial = serial(1);
        s.timers = Timers();
        s.upstream_base = true;
      }
      for (size_t i = 2; i < w.size(); ++i) {
        if (w[i] == "nobase") s.upstream_base = false;
        if (w[i].starts_with("expires=")) {
          int secs = 0;
          EXPECT_TRUE(absl::SimpleAtoi(w[i].substr(8), &secs));
          s.expires_at = now_ + absl::Seconds(secs);
        }
      }
      serving_ = s;
      a = machine_.Start(s, now_);
    } else if (verb == "notify") {
      a = machine_.OnNotify(w.size() > 1 ? std::optional<Serial>(serial(1)) : std::nullopt, now_);
    } else if (verb == "ahead") {
      a = machine_.OnClientAhead(serial(1), now_);
    } else if (verb == "refresh") {
      a = machine_.OnRefreshNow(now_);
    } else if (verb == "retransfer") {
      a = machine_.OnRetransfer(now_);
    } else if (verb == "soa" || verb == "stale") {
      SoaAnswer ans{serial(2)};
      if (w.size() > 3 && w[3].starts_with("expire=")) {
        uint32_t e = 0;
        EXPECT_TRUE(absl::SimpleAtoi(w[3].substr(7), &e));
        ans.expire_option = e;
      }
      // "stale": the query to P that was abandoned, or else its last one.
      uint64_t id = soa_id_.at(Primary(w[1][0]));
      if (verb == "stale" && abandoned_.count(w[1][0])) id = abandoned_[w[1][0]];
      a = machine_.OnSoaAnswer(id, ans, now_);
    } else if (verb == "soafail") {
      a = machine_.OnSoaFailure(soa_id_.at(Primary(w[1][0])), Failure(w[2]), now_);
    } else if (verb == "ixfr" || verb == "axfr" || verb == "stalexfr") {
      TransferOutcome r;
      r.kind = TransferOutcome::kVersion;
      r.serial = serial(1);
      r.incremental = verb == "ixfr";
      a = machine_.OnTransferDone(verb == "stalexfr" ? old_transfer_id_ : transfer_id_, r, now_);
    } else if (verb == "uptodate") {
      TransferOutcome r;
      r.kind = TransferOutcome::kUpToDate;
      r.serial = serving_.serial.value_or(Serial(0));
      a = machine_.OnTransferDone(transfer_id_, r, now_);
    } else if (verb == "xfrfail") {
      a = machine_.OnTransferFailure(transfer_id_, Failure(w[1]), now_);
    } else if (verb == "published") {
      serving_.serial = serial(1);
      serving_.timers = Timers();
      serving_.upstream_base = true;
      a = machine_.OnPublished(publish_id_, serving_, now_);
    } else if (verb == "pubfail") {
      a = machine_.OnPublishFailed(publish_id_, "too big", now_);
    } else if (verb == "wait") {
      int secs = 0;
      EXPECT_TRUE(absl::SimpleAtoi(w[1], &secs));
      absl::Time until = now_ + absl::Seconds(secs);
      // Wake exactly when the machine asks, as the driver's timer does.
      while (machine_.NextWake() <= until) {
        now_ = std::max(now_, machine_.NextWake());
        for (RefreshAction& x : machine_.Tick(now_)) a.push_back(std::move(x));
      }
      now_ = until;
    } else if (verb == "reconf") {
      letters_ = Primaries(w[1]);
      a = machine_.Reconfigure(letters_, now_);
    } else if (verb == "health") {
      return std::string(RefreshHealthName(machine_.Health(now_).state));
    } else {
      ADD_FAILURE() << "unknown input " << input;
    }
    return Render(a);
  }

  const RefreshMachine& machine() const { return machine_; }
  absl::Time now() const { return now_; }
  const std::vector<std::string>& details() const { return details_; }

 private:
  std::string Render(const std::vector<RefreshAction>& actions) {
    std::vector<std::string> out;
    for (const RefreshAction& a : actions) {
      char p = a.primary < letters_.size() ? Letter(letters_[a.primary]) : '?';
      if (a.kind == RefreshAction::kQuerySoa || a.kind == RefreshAction::kTransfer) {
        exchange_letter_[a.id] = p;
      }
      if (!a.detail.empty()) details_.push_back(a.detail);
      switch (a.kind) {
        case RefreshAction::kQuerySoa:
          soa_id_[letters_[a.primary]] = a.id;
          out.push_back(std::string("SOA ") + p);
          break;
        case RefreshAction::kTransfer:
          if (transfer_id_ != 0) old_transfer_id_ = transfer_id_;
          transfer_id_ = a.id;
          if (a.forced) {
            EXPECT_FALSE(a.ixfr);
            out.push_back(std::string("AXFR ") + p + " (forced)");
            break;
          }
          out.push_back(std::string(a.ixfr ? "IXFR " : "AXFR ") + p + " " +
                        (a.serial ? a.serial->ToString() : "?") +
                        (a.detail.empty() ? "" : " (fallback)"));
          break;
        case RefreshAction::kAbandon:
          // Named by the exchange: its index may be of the list before a reload.
          abandoned_[exchange_letter_[a.id]] = a.id;
          out.push_back(std::string("ABANDON ") + exchange_letter_[a.id]);
          break;
        case RefreshAction::kPublish:
          publish_id_ = a.id;
          out.push_back("PUBLISH " + a.serial->ToString());
          break;
        case RefreshAction::kRefreshed:
          out.push_back("REFRESHED " + std::to_string(a.expire_seconds));
          break;
        case RefreshAction::kReleaseWaiters: out.push_back("RELEASE"); break;
        case RefreshAction::kFailed: out.push_back("FAILED"); break;
        case RefreshAction::kExpired: out.push_back("EXPIRED"); break;
        case RefreshAction::kDegraded: out.push_back("DEGRADED"); break;
        case RefreshAction::kRecovered: out.push_back("RECOVERED"); break;
      }
    }
    return absl::StrJoin(out, ", ");
  }

  RefreshMachine machine_;
  std::vector<PeerAddress> letters_;
  absl::Time now_ = kT0;
  RefreshSnapshot serving_;
  std::map<PeerAddress, uint64_t, bool (*)(const PeerAddress&, const PeerAddress&)> soa_id_{
      [](const PeerAddress& x, const PeerAddress& y) { return x.ip < y.ip; }};
  std::map<char, uint64_t> abandoned_;
  uint64_t transfer_id_ = 0;
  uint64_t old_transfer_id_ = 0;
  uint64_t publish_id_ = 0;
  std::vector<std::string> details_;
  std::map<uint64_t, char> exchange_letter_;
};

struct Scenario {
  std::string name;
  std::string primaries;
  std::vector<Step> steps;
};

// ctest lists a scenario by its name, not its bytes.
void PrintTo(const Scenario& s, std::ostream* os) { *os << s.name; }

class RefreshScenario : public testing::TestWithParam<Scenario> {};

TEST_P(RefreshScenario, ProducesTheExpectedActions) {
  const Scenario& s = GetParam();
  Harness h(s.primaries);
  for (size_t i = 0; i < s.steps.size(); ++i) {
    EXPECT_EQ(h.Run(s.steps[i].input), s.steps[i].expect)
        << "step " << i << ": " << s.steps[i].input;
  }
}

const Scenario kScenarios[] = {
    // --- The normal paths ---------------------------------------------------
    {"FirstLoadIsAnAxfr", "ab",
     {{"start -", "SOA a, SOA b"},
      {"soa a 10", ""},
      {"soa b 10", "AXFR a 10"},
      {"axfr 10", "PUBLISH 10"},
      {"published 10", "REFRESHED 1000"},
      {"health", "ok"}}},
    {"NothingNewRefreshesAndWaitsRefresh", "a",
     {{"start 10", "SOA a"},
      {"soa a 10", "REFRESHED 1000"},
      {"wait 99", ""},
      {"wait 1", "SOA a"},
      {"soa a 10", "REFRESHED 1000"}}},
    {"NewerSerialIsAnIxfrFromTheHeldBase", "a",
     {{"start 10", "SOA a"},
      {"soa a 11", "IXFR a 11"},
      {"ixfr 11", "PUBLISH 11"},
      {"published 11", "REFRESHED 1000"}}},
    {"OlderSerialOnThePrimaryKeepsOurs", "a",
     {{"start 10", "SOA a"}, {"soa a 9", "REFRESHED 1000"}}},
    {"SerialWrapIsNewerByRfc1982", "a",
     {{"start 4294967290", "SOA a"}, {"soa a 5", "IXFR a 5"}}},
    {"IxfrAnsweredWithJustTheSoaIsUpToDate", "a",
     {{"start 10", "SOA a"}, {"soa a 11", "IXFR a 11"}, {"uptodate", "REFRESHED 1000"}}},
    {"TransferOfNoNewerSerialIsIgnored", "a",
     {{"start 10", "SOA a"}, {"soa a 11", "IXFR a 11"}, {"axfr 10", "REFRESHED 1000"}}},
    {"ExpireOptionBoundsTheExpiry", "a",
     {{"start 10", "SOA a"},
      {"soa a 10 expire=50", "REFRESHED 50"},
      {"wait 50", "SOA a, EXPIRED"},
      {"health", "expired"},
      {"soa a 10", "RECOVERED, REFRESHED 1000"},
      {"health", "ok"}}},

    // --- Primaries in order, and grace after the first answer ----------------
    {"FirstPrimaryWithTheNewestSerialIsChosen", "abc",
     {{"start 10", "SOA a, SOA b, SOA c"},
      {"soa c 12", ""},
      {"soa a 11", ""},
      {"soa b 12", "IXFR b 12"}}},
    {"SilentPrimaryIsAbandonedAfterTheGrace", "ab",
     {{"start 10", "SOA a, SOA b"},
      {"soa b 11", ""},
      {"wait 1", "ABANDON a, IXFR b 11"},
      {"stale a 12", ""}}},
    {"FailedTransferMovesToTheNextCandidate", "ab",
     {{"start 10", "SOA a, SOA b"},
      {"soa a 11", ""},
      {"soa b 11", "IXFR a 11"},
      {"xfrfail timeout", "IXFR b 11"},
      {"ixfr 11", "PUBLISH 11"}}},
    {"NoPrimaryAnsweringFailsAndRetries", "ab",
     {{"start 10", "SOA a, SOA b"},
      {"soafail a timeout", ""},
      {"soafail b tsig", "FAILED"},
      {"wait 9", ""},
      {"wait 1", "SOA a, SOA b"}}},
    {"QueryThatCannotStartCountsAsAFailure", "a",
     {{"start 10", "SOA a"}, {"soafail a cannot", "FAILED"}, {"health", "ok"}}},
    {"NoDataRetriesSoon", "a",
     {{"start -", "SOA a"}, {"soafail a network", "FAILED"}, {"wait 10", "SOA a"},
      {"health", "no-data"}}},

    // --- IXFR fallback to AXFR (issue 10, 3) ---------------------------------
    {"IxfrServfailFallsBackToAxfrAtOnce", "a",
     {{"start 10", "SOA a"},
      {"soa a 11", "IXFR a 11"},
      {"xfrfail rcode:SERVFAIL", "AXFR a 11 (fallback)"},
      {"axfr 11", "PUBLISH 11"},
      {"published 11", "REFRESHED 1000"}}},
    {"IxfrNotauthFallsBackToAxfr", "a",
     {{"start 10", "SOA a"},
      {"soa a 11", "IXFR a 11"},
      {"xfrfail rcode:NOTAUTH", "AXFR a 11 (fallback)"}}},
    {"IxfrThatDoesNotApplyFallsBackToAxfr", "a",
     {{"start 10", "SOA a"},
      {"soa a 11", "IXFR a 11"},
      {"xfrfail notapply", "AXFR a 11 (fallback)"}}},
    {"SecondCutIxfrInARowFallsBackToAxfr", "a",
     {{"start 10", "SOA a"},
      {"soa a 11", "IXFR a 11"},
      {"xfrfail cut", "FAILED"},
      {"wait 10", "SOA a"},
      {"soa a 11", "IXFR a 11"},
      {"xfrfail cut", "AXFR a 11 (fallback)"},
      {"axfr 11", "PUBLISH 11"},
      {"published 11", "RECOVERED, REFRESHED 1000"},
      {"notify 12", "SOA a"},
      {"soa a 12", "IXFR a 12"}}},
    {"FailedAxfrFallbackMovesOn", "ab",
     {{"start 10", "SOA a, SOA b"},
      {"soa a 11", ""},
      {"soa b 11", "IXFR a 11"},
      {"xfrfail rcode:SERVFAIL", "AXFR a 11 (fallback)"},
      {"xfrfail timeout", "IXFR b 11"}}},
    {"RestoredRewrittenViewStartsWithAxfr", "a",
     {{"start 10 nobase", "SOA a"},
      {"soa a 11", "AXFR a 11"},
      {"axfr 11", "PUBLISH 11"},
      {"published 11", "REFRESHED 1000"},
      {"notify 12", "SOA a"},
      {"soa a 12", "IXFR a 12"}}},
    {"RestoredViewAlreadyCurrentStillNeedsAxfrForTheNextChange", "a",
     {{"start 10 nobase", "SOA a"},
      {"soa a 10", "REFRESHED 1000"},
      {"notify 11", "SOA a"},
      {"soa a 11", "AXFR a 11"}}},
    {"PublishFailureIsARefreshFailure", "a",
     {{"start 10", "SOA a"}, {"soa a 11", "IXFR a 11"}, {"ixfr 11", "PUBLISH 11"},
      {"pubfail", "FAILED"}}},

    // --- NOTIFY coalescing (RFC 1996 §4.7) ------------------------------------
    {"NotifyStartsACheckAtOnce", "a",
     {{"start 10", "SOA a"}, {"soa a 10", "REFRESHED 1000"}, {"notify 11", "SOA a"}}},
    {"NotifyForWhatWeHoldIsIgnored", "a",
     {{"start 10", "SOA a"}, {"soa a 10", "REFRESHED 1000"}, {"notify 10", ""},
      {"notify 9", ""}}},
    {"NotifyBurstDuringACheckCostsOneMore", "a",
     {{"start 10", "SOA a"},
      {"notify", ""},
      {"notify 11", ""},
      {"notify", ""},
      {"soa a 10", "REFRESHED 1000, SOA a"},
      {"soa a 11", "IXFR a 11"}}},
    {"NotifyForTheSerialInFlightAddsNothing", "a",
     {{"start 10", "SOA a"},
      {"soa a 12", "IXFR a 12"},
      {"notify 12", ""},
      {"notify 11", ""},
      {"ixfr 12", "PUBLISH 12"},
      {"published 12", "REFRESHED 1000"}}},
    {"NotifyForANewerSerialThanInFlightChecksAgain", "a",
     {{"start 10", "SOA a"},
      {"soa a 11", "IXFR a 11"},
      {"notify 12", ""},
      {"ixfr 11", "PUBLISH 11"},
      {"published 11", "REFRESHED 1000, SOA a"}}},
    {"QueuedHintAlreadyReachedNeedsNoRecheck", "a",
     {{"start 10", "SOA a"},
      {"notify 11", ""},
      {"soa a 11", "IXFR a 11"},
      {"ixfr 11", "PUBLISH 11"},
      {"published 11", "REFRESHED 1000"}}},

    // --- Clients ahead of us (issue 10, 4) ------------------------------------
    {"WaitersAreReleasedWhenNothingIsNewer", "a",
     {{"start 10", "SOA a"},
      {"soa a 10", "REFRESHED 1000"},
      {"ahead 11", "SOA a"},
      {"ahead 12", ""},
      // 12 came during the check, which may have asked before the primary
      // had it: one more check (the waiters have their answer already).
      {"soa a 10", "REFRESHED 1000, RELEASE, SOA a"},
      {"soa a 10", "REFRESHED 1000"}}},
    {"WaitersAreReleasedAfterThePublish", "a",
     {{"start 10", "SOA a"},
      {"ahead 11", ""},
      {"soa a 11", "IXFR a 11"},
      {"ixfr 11", "PUBLISH 11"},
      {"published 11", "REFRESHED 1000, RELEASE"}}},
    {"WaitersAreReleasedWhenTheCheckFails", "a",
     {{"start 10", "SOA a"},
      {"soa a 10", "REFRESHED 1000"},
      {"ahead 11", "SOA a"},
      {"soafail a timeout", "FAILED, RELEASE"}}},
    {"ClientNotAheadIsNoHint", "a",
     {{"start 10", "SOA a"}, {"soa a 10", "REFRESHED 1000"}, {"ahead 10", ""}}},

    // --- Health and expiry -----------------------------------------------------
    {"FailingLongerThanRefreshIsDegraded", "a",
     {{"start 10", "SOA a"},
      {"soafail a timeout", "FAILED"},
      {"health", "ok"},
      {"wait 10", "SOA a"},
      {"soafail a timeout", "FAILED"},
      // The retry at 20 s, then REFRESH (100 s) after the first failure.
      {"wait 95", "SOA a, DEGRADED"},
      {"health", "degraded"},
      {"soa a 10", "RECOVERED, REFRESHED 1000"},
      {"health", "ok"}}},
    {"DegradedIsSaidOncePerFailingRun", "a",
     {{"start 10", "SOA a"},
      {"soafail a timeout", "FAILED"},
      {"wait 100", "SOA a, DEGRADED"},
      {"soafail a timeout", "FAILED"},
      {"wait 10", "SOA a"},
      {"soafail a network", "FAILED"},
      {"health", "degraded"},
      {"wait 10", "SOA a"},
      {"soa a 10", "RECOVERED, REFRESHED 1000"},
      // A new failing run is degraded again only after a REFRESH of it.
      {"wait 100", "SOA a"},
      {"soafail a timeout", "FAILED"},
      {"wait 99", "SOA a"},
      {"wait 1", "DEGRADED"}}},
    {"RecoveryAfterAFailureIsSaid", "a",
     {{"start 10", "SOA a"},
      {"soafail a timeout", "FAILED"},
      {"wait 10", "SOA a"},
      {"soa a 10", "RECOVERED, REFRESHED 1000"},
      {"wait 100", "SOA a"},
      {"soa a 10", "REFRESHED 1000"}}},
    {"ExpiredIsNotAlsoDegraded", "a",
     {{"start 10 expires=50", "SOA a"},
      {"soafail a timeout", "FAILED"},
      {"wait 50", "SOA a, EXPIRED"},
      {"soafail a timeout", "FAILED"},
      {"wait 60", "SOA a"},
      {"health", "expired"}}},
    {"RestoredZonePastItsExpiryIsExpiredAtStart", "a",
     {{"start 10 expires=0", "EXPIRED, SOA a"}, {"health", "expired"}}},
    {"ExpiryWithoutContact", "a",
     {{"start 10 expires=25", "SOA a"},
      {"soafail a timeout", "FAILED"},
      {"wait 20", "SOA a"},
      {"soafail a timeout", "FAILED"},
      {"wait 5", "EXPIRED"},
      {"wait 5", "SOA a"}}},

    // --- Reconfiguration mid-exchange (issue 10, 6) ----------------------------
    {"ShorterListDuringSoaCheckAbandonsAndAsksAgain", "abc",
     {{"start 10", "SOA a, SOA b, SOA c"},
      {"soa c 11", ""},
      {"reconf a", "ABANDON a, ABANDON b, SOA a"},
      {"stale c 11", ""},
      {"soa a 11", "IXFR a 11"}}},
    {"RemovedPrimaryMidTransferIsAbandoned", "ab",
     {{"start 10", "SOA a, SOA b"},
      {"soa a 11", ""},
      {"soa b 12", "IXFR b 12"},
      {"reconf a", "ABANDON b, SOA a"},
      {"stalexfr 12", ""},
      {"soa a 11", "IXFR a 11"}}},
    {"ReorderedListAsksInTheNewOrder", "ab",
     {{"start 10", "SOA a, SOA b"},
      {"soa a 10", ""},
      {"soa b 10", "REFRESHED 1000"},
      {"reconf ba", "SOA b, SOA a"},
      {"soa a 11", ""},
      {"soa b 11", "IXFR b 11"}}},
    {"AddedPrimaryIsAskedAtOnce", "a",
     {{"start 10", "SOA a"},
      {"soa a 10", "REFRESHED 1000"},
      {"reconf ac", "SOA a, SOA c"},
      {"soafail a timeout", ""},
      {"soa c 11", "IXFR c 11"}}},
    {"SameListIsNoChange", "ab",
     {{"start 10", "SOA a, SOA b"}, {"reconf ab", ""}, {"soa a 10", ""},
      {"soa b 10", "REFRESHED 1000"}}},
    {"IxfrFailuresFollowTheAddress", "ab",
     {{"start 10", "SOA a, SOA b"},
      {"soa a 11", ""},
      {"soa b 11", "IXFR a 11"},
      {"xfrfail cut", "IXFR b 11"},
      {"xfrfail cut", "FAILED"},
      {"reconf ba", "SOA b, SOA a"},
      {"soa b 11", ""},
      {"soa a 11", "IXFR b 11"},
      {"xfrfail cut", "AXFR b 11 (fallback)"}}},
    {"ReloadDuringPublishChecksAfterIt", "a",
     {{"start 10", "SOA a"},
      {"soa a 11", "IXFR a 11"},
      {"ixfr 11", "PUBLISH 11"},
      {"reconf b", ""},
      {"published 11", "REFRESHED 1000, SOA b"}}},
    {"NoPrimariesIsAFailureNotASpin", "a",
     {{"start 10", "SOA a"}, {"reconf -", "ABANDON a, FAILED"}}},

    // --- ctl retransfer: an AXFR whatever the serial ---------------------------
    {"RetransferWhenIdleTakesTheSameSerialAgain", "a",
     {{"start 10", "SOA a"},
      {"soa a 10", "REFRESHED 1000"},
      {"retransfer", "AXFR a (forced)"},
      {"axfr 10", "PUBLISH 10"},
      {"published 10", "REFRESHED 1000"},
      {"health", "ok"}}},
    {"RetransferOfANewerSerialIsPublished", "a",
     {{"start 10", "SOA a"}, {"soa a 10", "REFRESHED 1000"}, {"retransfer", "AXFR a (forced)"},
      {"axfr 12", "PUBLISH 12"}, {"published 12", "REFRESHED 1000"}}},
    {"RetransferBringingAnOlderSerialKeepsOurs", "a",
     {{"start 10", "SOA a"}, {"soa a 10", "REFRESHED 1000"}, {"retransfer", "AXFR a (forced)"},
      {"axfr 9", "REFRESHED 1000"}}},
    {"RetransferDuringACheckReplacesIt", "ab",
     {{"start 10", "SOA a, SOA b"},
      {"soa b 11", ""},
      {"retransfer", "ABANDON a, AXFR a (forced)"},
      {"stale a 11", ""},
      {"wait 1", ""},
      {"axfr 11", "PUBLISH 11"},
      {"published 11", "REFRESHED 1000"}}},
    {"RetransferWithNoDataIsTheFirstLoad", "a",
     {{"start -", "SOA a"}, {"retransfer", "ABANDON a, AXFR a (forced)"},
      {"axfr 5", "PUBLISH 5"}, {"published 5", "REFRESHED 1000"}}},
    {"RetransferDuringATransferFollowsIt", "a",
     {{"start 10", "SOA a"},
      {"soa a 11", "IXFR a 11"},
      {"retransfer", ""},
      {"ixfr 11", "PUBLISH 11"},
      {"published 11", "REFRESHED 1000, AXFR a (forced)"},
      {"axfr 11", "PUBLISH 11"},
      {"published 11", "REFRESHED 1000"}}},
    {"RetransferDuringAPublishFollowsIt", "a",
     {{"start 10", "SOA a"}, {"soa a 11", "IXFR a 11"}, {"ixfr 11", "PUBLISH 11"},
      {"retransfer", ""}, {"published 11", "REFRESHED 1000, AXFR a (forced)"}}},
    {"RetransferDuringARetransferAddsNothing", "a",
     {{"start 10", "SOA a"}, {"soa a 10", "REFRESHED 1000"}, {"retransfer", "AXFR a (forced)"},
      {"retransfer", ""}, {"axfr 10", "PUBLISH 10"}, {"published 10", "REFRESHED 1000"}}},
    {"RetransferFailureTriesEachPrimaryThenRetriesNormally", "ab",
     {{"start 10", "SOA a, SOA b"},
      {"soa a 10", ""},
      {"soa b 10", "REFRESHED 1000"},
      {"retransfer", "AXFR a (forced)"},
      {"xfrfail rcode:REFUSED", "AXFR b (forced)"},
      {"xfrfail timeout", "FAILED"},
      {"health", "ok"},
      {"wait 9", ""},
      // RETRY later: an ordinary check, not another forced AXFR.
      {"wait 1", "SOA a, SOA b"},
      {"soa a 10", ""},
      {"soa b 10", "RECOVERED, REFRESHED 1000"}}},
    {"NotifyDuringARetransferChecksAfterIt", "a",
     {{"start 10", "SOA a"},
      {"soa a 10", "REFRESHED 1000"},
      {"retransfer", "AXFR a (forced)"},
      {"notify 12", ""},
      {"axfr 11", "PUBLISH 11"},
      {"published 11", "REFRESHED 1000, SOA a"}}},
    {"WaitersAreReleasedAfterARetransferThatReplacedTheirCheck", "a",
     {{"start 10", "SOA a"},
      {"ahead 11", ""},
      {"retransfer", "ABANDON a, AXFR a (forced)"},
      {"axfr 11", "PUBLISH 11"},
      {"published 11", "REFRESHED 1000, RELEASE"}}},
    {"ReloadDuringARetransferRetransfersFromTheNewList", "ab",
     {{"start 10", "SOA a, SOA b"},
      {"soa a 10", ""},
      {"soa b 10", "REFRESHED 1000"},
      {"retransfer", "AXFR a (forced)"},
      {"reconf b", "ABANDON a, AXFR b (forced)"},
      {"stalexfr 10", ""},
      {"axfr 10", "PUBLISH 10"}}},
    {"RetransferWithoutPrimariesFails", "a",
     {{"start 10", "SOA a"}, {"reconf -", "ABANDON a, FAILED"}, {"retransfer", "FAILED"}}},
};

INSTANTIATE_TEST_SUITE_P(Scenarios, RefreshScenario, testing::ValuesIn(kScenarios),
                         [](const testing::TestParamInfo<Scenario>& i) { return i.param.name; });

TEST(RefreshMachine, FailureSummaryNamesEachPrimaryAndItsReason) {
  Harness h("ab");
  h.Run("start 10");
  h.Run("soafail a tsig");
  h.Run("soafail b timeout");
  ASSERT_FALSE(h.details().empty());
  const std::string& why = h.details().back();
  EXPECT_NE(why.find("192.0.2.1:53: TSIG BADKEY"), std::string::npos) << why;
  EXPECT_NE(why.find("192.0.2.2:53: timed out"), std::string::npos) << why;
  EXPECT_EQ(h.machine().Health(h.now()).last_error, why);
  EXPECT_EQ(h.machine().Health(h.now()).failures, 1u);
}

TEST(RefreshMachine, TsigErrorsAreNamedAsTsigErrors) {
  Harness h("a");
  h.Run("start 10");
  h.Run("soafail a badsig");
  ASSERT_FALSE(h.details().empty());
  const std::string& why = h.details().back();
  // 16 is BADSIG in the TSIG error space, BADVERS only as an RCODE.
  EXPECT_NE(why.find("TSIG BADSIG"), std::string::npos) << why;
  EXPECT_EQ(why.find("BADVERS"), std::string::npos) << why;
}

TEST(RefreshMachine, DegradedAndRecoveredSayHowLongAndWhy) {
  Harness h("a");
  h.Run("start 10");
  h.Run("soafail a tsig");
  ASSERT_EQ(h.Run("wait 100"), "SOA a, DEGRADED");
  std::string degraded = h.details().back();
  EXPECT_NE(degraded.find("failed for 1m40s"), std::string::npos) << degraded;
  EXPECT_NE(degraded.find("REFRESH (1m40s)"), std::string::npos) << degraded;
  EXPECT_NE(degraded.find("1 failed check in a row"), std::string::npos) << degraded;
  EXPECT_NE(degraded.find("TSIG BADKEY"), std::string::npos) << degraded;
  h.Run("wait 5");
  ASSERT_EQ(h.Run("soa a 10"), "RECOVERED, REFRESHED 1000");
  // The kRefreshed detail is empty; the last detail is the recovery.
  std::string recovered = h.details().back();
  EXPECT_EQ(recovered, "no longer degraded; refresh works again after 1 failed check over 1m45s");
}

TEST(RefreshMachine, FailedRetransferSaysSoAndNamesEachPrimary) {
  Harness h("ab");
  h.Run("start 10");
  h.Run("soa a 10");
  h.Run("soa b 10");
  h.Run("retransfer");
  h.Run("xfrfail rcode:REFUSED");
  ASSERT_EQ(h.Run("xfrfail timeout"), "FAILED");
  const std::string& why = h.machine().Health(h.now()).last_error;
  EXPECT_TRUE(why.starts_with("retransfer: no primary gave a usable transfer")) << why;
  EXPECT_NE(why.find("192.0.2.1:53: AXFR REFUSED"), std::string::npos) << why;
  EXPECT_NE(why.find("192.0.2.2:53: AXFR timed out"), std::string::npos) << why;
}

TEST(RefreshMachine, FallbackSaysWhy) {
  Harness h("a");
  h.Run("start 10");
  h.Run("soa a 11");
  h.Run("xfrfail rcode:SERVFAIL");
  ASSERT_FALSE(h.details().empty());
  EXPECT_NE(h.details().back().find("SERVFAIL"), std::string::npos) << h.details().back();
}

TEST(RefreshMachine, NextWakeIsTheRefreshTimerWhenIdle) {
  Harness h("a");
  h.Run("start 10");
  h.Run("soa a 10");
  EXPECT_EQ(h.machine().NextWake(), h.now() + absl::Seconds(100));
  EXPECT_EQ(h.machine().Health(h.now()).next_check, h.now() + absl::Seconds(100));
}

}  // namespace
}  // namespace xfr
