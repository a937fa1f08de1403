#include "fanout/refresh_machine.h"

#include <algorithm>

#include "absl/strings/str_join.h"
#include "core/tsig.h"
#include "fmt/format.h"

namespace xfr {

std::string_view ExchangeErrorName(ExchangeError e) {
  switch (e) {
    case ExchangeError::kCannotStart: return "could not start";
    case ExchangeError::kTimeout: return "timed out";
    case ExchangeError::kNetwork: return "network error";
    case ExchangeError::kRcode: return "error RCODE";
    case ExchangeError::kTsig: return "TSIG";
    case ExchangeError::kMalformed: return "malformed answer";
    case ExchangeError::kNotApplicable: return "IXFR does not apply";
    case ExchangeError::kTooLarge: return "too large";
    case ExchangeError::kServing: return "cannot serve";
  }
  return "?";
}

std::string_view RefreshHealthName(RefreshHealth::State s) {
  switch (s) {
    case RefreshHealth::kOk: return "ok";
    case RefreshHealth::kNoData: return "no-data";
    case RefreshHealth::kDegraded: return "degraded";
    case RefreshHealth::kExpired: return "expired";
  }
  return "?";
}

namespace {

std::string Describe(const ExchangeFailure& f) {
  std::string s(ExchangeErrorName(f.error));
  // TSIG errors share numbers with RCODEs (16 is BADSIG, not BADVERS).
  if (f.rcode) {
    s = f.error == ExchangeError::kTsig ? fmt::format("TSIG {}", TsigErrorName(*f.rcode))
                                        : f.rcode->ToString();
  }
  if (!f.detail.empty()) s += ": " + f.detail;
  return s;
}

// "1m40s": whole seconds are what a log reader wants.
std::string Whole(absl::Duration d) {
  return absl::FormatDuration(absl::Trunc(d, absl::Seconds(1)));
}

RefreshAction Act(RefreshAction::Kind kind) {
  RefreshAction a{kind};
  return a;
}

}  // namespace

RefreshMachine::RefreshMachine(std::vector<PeerAddress> primaries, RefreshOptions options)
    : primaries_(std::move(primaries)), options_(options) {
  for (const PeerAddress& a : primaries_) state_.push_back(Primary{a});
}

absl::Duration RefreshMachine::Timer(uint32_t RefreshTimers::*field) const {
  if (!have_.serial) return options_.no_data_retry;
  return std::max(options_.min_timer, absl::Seconds(have_.timers.*field));
}

double RefreshMachine::Draw() {
  if (!options_.random) return 0;
  return std::clamp(options_.random(), 0.0, 1.0);
}

absl::Duration RefreshMachine::Jittered(absl::Duration nominal) {
  if (options_.jitter <= 0) return nominal;
  double cut = std::min(options_.jitter, 1.0) * Draw();
  // The floor still holds: a jittered REFRESH 1 must not spin either.
  return std::min(nominal, std::max(options_.min_timer, nominal - nominal * cut));
}

void RefreshMachine::SetSnapshot(const RefreshSnapshot& have) {
  absl::Time expires = have_.expires_at;
  have_ = have;
  if (have.expires_at == absl::InfinitePast()) have_.expires_at = expires;
}

std::vector<RefreshAction> RefreshMachine::Start(const RefreshSnapshot& have, absl::Time now) {
  Actions out;
  have_ = have;
  started_ = true;
  CheckExpiry(now, out);
  absl::Duration delay = options_.start_spread * Draw();
  // Half the time left keeps room for the check's own RETRYs before EXPIRE.
  if (have_.serial && have_.expires_at != absl::InfinitePast() && !expired_) {
    delay = std::min(delay, (have_.expires_at - now) / 2);
  } else {
    delay = absl::ZeroDuration();
  }
  if (delay > absl::ZeroDuration()) {
    next_check_ = now + delay;
  } else {
    BeginCheck(now, out);
  }
  return out;
}

std::vector<RefreshAction> RefreshMachine::OnNotify(std::optional<Serial> hint, absl::Time now) {
  Actions out;
  // RFC 1996 §4.7: the SOA in a NOTIFY is a hint; ours may already be as new.
  if (hint && have_.serial && !(*have_.serial < *hint)) return out;
  if (phase_ == Phase::kIdle) {
    BeginCheck(now, out);
    return out;
  }
  // The transfer in flight already brings that serial (or a newer one).
  if (hint && target_ && (phase_ == Phase::kTransfer || phase_ == Phase::kPublishing) &&
      !(*target_ < *hint)) {
    return out;
  }
  // One check in flight per zone: a burst becomes one more check after it.
  recheck_ = true;
  if (!hint) {
    recheck_hint_.reset();
    recheck_any_ = true;
  } else if (!recheck_any_ && (!recheck_hint_ || *recheck_hint_ < *hint)) {
    recheck_hint_ = hint;
  }
  return out;
}

std::vector<RefreshAction> RefreshMachine::OnClientAhead(Serial serial, absl::Time now) {
  bool already = have_.serial && !(*have_.serial < serial);
  if (already) return {};
  waiters_ = true;
  return OnNotify(serial, now);
}

std::vector<RefreshAction> RefreshMachine::OnRefreshNow(absl::Time now) {
  Actions out;
  if (phase_ == Phase::kIdle) {
    BeginCheck(now, out);
  } else {
    recheck_ = true;
    recheck_any_ = true;
  }
  return out;
}

std::vector<RefreshAction> RefreshMachine::OnRetransfer(absl::Time now) {
  Actions out;
  switch (phase_) {
    case Phase::kIdle:
      BeginRetransfer(now, out);
      break;
    case Phase::kSoaCheck:
      // The AXFR answers what the check asks, and more: it replaces it.
      AbandonAll(out);
      phase_ = Phase::kIdle;
      BeginRetransfer(now, out);
      break;
    case Phase::kTransfer:
    case Phase::kPublishing:
      // Data on its way is not thrown away; the AXFR follows it, unless it
      // is already the retransfer asked for.
      if (!forced_) retransfer_pending_ = true;
      break;
  }
  return out;
}

void RefreshMachine::BeginRetransfer(absl::Time now, Actions& out) {
  next_check_ = absl::InfiniteFuture();
  transfer_errors_.clear();
  target_.reset();
  if (state_.empty()) {
    Fail("retransfer: no primaries configured", now, out);
    return;
  }
  forced_ = true;
  // Every primary, in configuration order: no SOA answer picks them.
  candidates_.clear();
  for (size_t i = 0; i < state_.size(); ++i) candidates_.push_back(i);
  next_candidate_ = 1;
  StartTransfer(0, false, "", out);
}

void RefreshMachine::BeginCheck(absl::Time now, Actions& out) {
  if (phase_ != Phase::kIdle) {
    recheck_ = true;
    recheck_any_ = true;
    return;
  }
  next_check_ = absl::InfiniteFuture();
  candidates_.clear();
  transfer_errors_.clear();
  target_.reset();
  if (state_.empty()) {
    Fail("no primaries configured", now, out);
    return;
  }
  phase_ = Phase::kSoaCheck;
  // Every primary is asked at once: with a provider's list of addresses of
  // which few answer, asking in turn would wait a timeout per silent one.
  // The answers are then weighed in configuration order.
  soa_pending_ = state_.size();
  grace_until_ = absl::InfiniteFuture();
  for (size_t i = 0; i < state_.size(); ++i) {
    Primary& p = state_[i];
    p.answer.reset();
    p.error.clear();
    p.soa_id = next_id_++;
    RefreshAction a = Act(RefreshAction::kQuerySoa);
    a.id = p.soa_id;
    a.primary = i;
    out.push_back(std::move(a));
  }
}

int RefreshMachine::FindSoa(uint64_t id) const {
  if (phase_ != Phase::kSoaCheck || id == 0) return -1;
  for (size_t i = 0; i < state_.size(); ++i) {
    if (state_[i].soa_id == id) return static_cast<int>(i);
  }
  return -1;
}

std::vector<RefreshAction> RefreshMachine::OnSoaAnswer(uint64_t id, const SoaAnswer& answer,
                                                       absl::Time now) {
  Actions out;
  int i = FindSoa(id);
  if (i < 0) return out;
  Primary& p = state_[static_cast<size_t>(i)];
  p.soa_id = 0;
  p.answer = answer;
  --soa_pending_;
  if (soa_pending_ == 0) {
    Decide(now, out);
  } else if (grace_until_ == absl::InfiniteFuture()) {
    // An earlier primary may still answer: give the rest a moment, not a
    // full timeout, once one has.
    grace_until_ = now + options_.answer_grace;
  }
  return out;
}

std::vector<RefreshAction> RefreshMachine::OnSoaFailure(uint64_t id, const ExchangeFailure& f,
                                                        absl::Time now) {
  Actions out;
  int i = FindSoa(id);
  if (i < 0) return out;
  Primary& p = state_[static_cast<size_t>(i)];
  p.soa_id = 0;
  p.error = Describe(f);
  --soa_pending_;
  if (soa_pending_ == 0) Decide(now, out);
  return out;
}

void RefreshMachine::Decide(absl::Time now, Actions& out) {
  grace_until_ = absl::InfiniteFuture();
  std::optional<size_t> best;
  std::vector<std::string> errors;
  for (size_t i = 0; i < state_.size(); ++i) {
    Primary& p = state_[i];
    if (p.soa_id != 0) {
      // Still silent after the grace period: not waited for.
      RefreshAction a = Act(RefreshAction::kAbandon);
      a.id = p.soa_id;
      a.primary = i;
      out.push_back(std::move(a));
      p.soa_id = 0;
      if (p.error.empty()) p.error = "no answer yet when another primary had answered";
    }
    if (p.answer) {
      if (!best || state_[*best].answer->serial < p.answer->serial) best = i;
    } else {
      errors.push_back(fmt::format("{}: {}", p.address.ToString(), p.error));
    }
  }
  soa_pending_ = 0;
  if (!best) {
    Fail(fmt::format("no usable SOA answer from any primary ({})", absl::StrJoin(errors, "; ")),
         now, out);
    return;
  }
  Serial newest = state_[*best].answer->serial;
  if (have_.serial && !(*have_.serial < newest)) {
    Succeed(state_[*best].answer->expire_option, now, out);
    if (newest < *have_.serial) {
      // RFC 1982: a smaller serial is an older zone, not a reset. Said in
      // the kRefreshed action so the driver logs it.
      out.back().detail = fmt::format("primaries have serial {}, older than our {}; keeping ours",
                                      newest.ToString(), have_.serial->ToString());
    }
    EndCheck(now, out);
    return;
  }
  for (size_t i = 0; i < state_.size(); ++i) {
    if (state_[i].answer && state_[i].answer->serial == newest) candidates_.push_back(i);
  }
  target_ = newest;
  next_candidate_ = 1;
  StartTransfer(candidates_[0], WantsIxfr(candidates_[0]), "", out);
}

bool RefreshMachine::WantsIxfr(size_t primary) const {
  // IXFR needs the primary's version we hold (RFC 1995 §3); a rewritten
  // view restored from disk is not that.
  return have_.serial && have_.upstream_base &&
         state_[primary].ixfr_failures < options_.ixfr_failures_before_axfr;
}

void RefreshMachine::StartTransfer(size_t primary, bool ixfr, std::string why, Actions& out) {
  phase_ = Phase::kTransfer;
  transfer_id_ = next_id_++;
  transfer_primary_ = primary;
  transfer_ixfr_ = ixfr;
  RefreshAction a = Act(RefreshAction::kTransfer);
  a.id = transfer_id_;
  a.primary = primary;
  a.ixfr = ixfr;
  a.forced = forced_;
  a.serial = target_;
  a.detail = std::move(why);
  out.push_back(std::move(a));
}

void RefreshMachine::NextCandidate(absl::Time now, Actions& out) {
  if (next_candidate_ < candidates_.size()) {
    size_t p = candidates_[next_candidate_++];
    StartTransfer(p, !forced_ && WantsIxfr(p), "", out);
    return;
  }
  Fail(fmt::format("{}no primary gave a usable transfer ({})", forced_ ? "retransfer: " : "",
                   absl::StrJoin(transfer_errors_, "; ")),
       now, out);
}

std::vector<RefreshAction> RefreshMachine::OnTransferFailure(uint64_t id, const ExchangeFailure& f,
                                                             absl::Time now) {
  Actions out;
  if (phase_ != Phase::kTransfer || id == 0 || id != transfer_id_) return out;
  transfer_id_ = 0;
  size_t p = transfer_primary_;
  std::string what = Describe(f);
  transfer_errors_.push_back(fmt::format("{}: {} {}", state_[p].address.ToString(),
                                         transfer_ixfr_ ? "IXFR" : "AXFR", what));
  if (transfer_ixfr_) {
    ++state_[p].ixfr_failures;
    // RFC 1995 §4 lets the client fall back; BIND and Knot do on any error
    // RCODE and on a diff that does not fit, and so do we, at once and from
    // the same primary. Other failures (a cut, a timeout) may pass; the
    // second in a row from the same primary gets the same treatment.
    bool at_once = f.error == ExchangeError::kRcode || f.error == ExchangeError::kNotApplicable ||
                   f.error == ExchangeError::kTooLarge;
    if (at_once || state_[p].ixfr_failures >= options_.ixfr_failures_before_axfr) {
      StartTransfer(p, false,
                    at_once ? fmt::format("IXFR failed ({})", what)
                            : fmt::format("IXFR failed {} times in a row ({})",
                                          state_[p].ixfr_failures, what),
                    out);
      return out;
    }
  }
  NextCandidate(now, out);
  return out;
}

std::vector<RefreshAction> RefreshMachine::OnTransferDone(uint64_t id, const TransferOutcome& r,
                                                          absl::Time now) {
  Actions out;
  if (phase_ != Phase::kTransfer || id == 0 || id != transfer_id_) return out;
  state_[transfer_primary_].ixfr_failures = 0;
  // A retransfer takes the same serial again (its content may differ);
  // never an older one.
  bool stale = have_.serial && (forced_ ? r.serial < *have_.serial : !(*have_.serial < r.serial));
  if (r.kind == TransferOutcome::kUpToDate || stale) {
    transfer_id_ = 0;
    Succeed(r.expire_option, now, out);
    if (r.kind == TransferOutcome::kVersion) {
      out.back().detail = fmt::format("{} from {} brought serial {}, not newer than our {}; ignored",
                                      r.incremental ? "IXFR" : "AXFR",
                                      state_[transfer_primary_].address.ToString(),
                                      r.serial.ToString(), have_.serial->ToString());
    }
    EndCheck(now, out);
    return out;
  }
  phase_ = Phase::kPublishing;
  publish_expire_ = r.expire_option;
  RefreshAction a = Act(RefreshAction::kPublish);
  a.id = id;
  a.primary = transfer_primary_;
  a.ixfr = r.incremental;
  a.serial = r.serial;
  out.push_back(std::move(a));
  return out;
}

std::vector<RefreshAction> RefreshMachine::OnPublished(uint64_t id, const RefreshSnapshot& serving,
                                                       absl::Time now) {
  Actions out;
  if (phase_ != Phase::kPublishing || id != transfer_id_) return out;
  transfer_id_ = 0;
  SetSnapshot(serving);
  Succeed(publish_expire_, now, out);
  EndCheck(now, out);
  return out;
}

std::vector<RefreshAction> RefreshMachine::OnPublishFailed(uint64_t id, const std::string& why,
                                                           absl::Time now) {
  Actions out;
  if (phase_ != Phase::kPublishing || id != transfer_id_) return out;
  transfer_id_ = 0;
  Fail(fmt::format("serving serial {}: {}", target_ ? target_->ToString() : "?", why), now, out);
  return out;
}

void RefreshMachine::Succeed(std::optional<uint32_t> expire_option, absl::Time now, Actions& out) {
  phase_ = Phase::kIdle;
  last_success_ = now;
  std::string ended;
  if (failures_ > 0) {
    ended = fmt::format("refresh works again after {} failed check{} over {}", failures_,
                        failures_ == 1 ? "" : "s",
                        Whole(now - *failing_since_));
  }
  if (expired_ || degraded_) {
    std::string_view was = expired_ ? "no longer expired" : "no longer degraded";
    ended = ended.empty() ? std::string(was) : fmt::format("{}; {}", was, ended);
  }
  failing_since_.reset();
  failures_ = 0;
  degraded_ = false;
  uint32_t expire = have_.timers.expire;
  // RFC 7314 §4: a primary that is itself a secondary tells us how long its
  // data stays valid; never hold the zone longer than that.
  if (expire_option) expire = std::min(expire, *expire_option);
  have_.expires_at = now + absl::Seconds(expire);
  RefreshAction a = Act(RefreshAction::kRefreshed);
  a.at = now;
  a.expire_seconds = expire;
  a.serial = have_.serial;
  out.push_back(std::move(a));
  expired_ = false;
  if (!ended.empty()) {
    RefreshAction r = Act(RefreshAction::kRecovered);
    r.at = now;
    r.detail = std::move(ended);
    out.push_back(std::move(r));
    std::swap(out[out.size() - 1], out[out.size() - 2]);  // kRefreshed stays last
  }
  // Never wait past the expiry to ask again (a short RFC 7314 EXPIRE).
  next_check_ = now + Jittered(std::min(Timer(&RefreshTimers::refresh),
                                        std::max(options_.min_timer, absl::Seconds(expire))));
}

void RefreshMachine::Fail(std::string why, absl::Time now, Actions& out) {
  phase_ = Phase::kIdle;
  ++failures_;
  if (!failing_since_) failing_since_ = now;
  last_error_ = why;
  next_check_ = now + Jittered(Timer(&RefreshTimers::retry));
  RefreshAction a = Act(RefreshAction::kFailed);
  a.at = next_check_;
  a.detail = std::move(why);
  out.push_back(std::move(a));
  CheckExpiry(now, out);
  CheckDegraded(now, out);
  EndCheck(now, out);
}

void RefreshMachine::EndCheck(absl::Time now, Actions& out) {
  target_.reset();
  forced_ = false;
  if (waiters_) {
    // Whatever the check found, the requests that waited on it are
    // answered now: from the new version, or with our SOA.
    waiters_ = false;
    out.push_back(Act(RefreshAction::kReleaseWaiters));
  }
  if (retransfer_pending_) {
    // Before any queued check: the AXFR answers it too, and a NOTIFY
    // during the AXFR queues another check after it.
    retransfer_pending_ = false;
    BeginRetransfer(now, out);
    return;
  }
  if (!recheck_) return;
  bool any = recheck_any_;
  std::optional<Serial> hint = recheck_hint_;
  recheck_ = false;
  recheck_any_ = false;
  recheck_hint_.reset();
  if (any || !hint || !have_.serial || *have_.serial < *hint) BeginCheck(now, out);
}

void RefreshMachine::AbandonAll(Actions& out) {
  for (size_t i = 0; i < state_.size(); ++i) {
    if (state_[i].soa_id == 0) continue;
    RefreshAction a = Act(RefreshAction::kAbandon);
    a.id = state_[i].soa_id;
    a.primary = i;
    out.push_back(std::move(a));
    state_[i].soa_id = 0;
  }
  soa_pending_ = 0;
  grace_until_ = absl::InfiniteFuture();
  if (phase_ == Phase::kTransfer && transfer_id_ != 0) {
    RefreshAction a = Act(RefreshAction::kAbandon);
    a.id = transfer_id_;
    a.primary = transfer_primary_;
    out.push_back(std::move(a));
    transfer_id_ = 0;
  }
}

std::vector<RefreshAction> RefreshMachine::Reconfigure(std::vector<PeerAddress> primaries,
                                                       absl::Time now) {
  Actions out;
  if (primaries == primaries_) return out;
  std::vector<Primary> next;
  for (const PeerAddress& a : primaries) {
    Primary p{a};
    for (const Primary& old : state_) {
      if (old.address == a) p.ixfr_failures = old.ixfr_failures;
    }
    next.push_back(std::move(p));
  }
  // What is in flight was asked of the old list: its results, whatever
  // primary they come from, are not waited for any more (their ids are
  // gone), and the new list is asked at once.
  AbandonAll(out);
  state_ = std::move(next);
  primaries_ = std::move(primaries);
  if (phase_ == Phase::kPublishing) {
    recheck_ = true;
    recheck_any_ = true;
    return out;
  }
  // An operator's retransfer still wants its AXFR, from the new list.
  bool retransfer = forced_ || retransfer_pending_;
  phase_ = Phase::kIdle;
  forced_ = false;
  retransfer_pending_ = false;
  if (retransfer) {
    BeginRetransfer(now, out);
  } else {
    BeginCheck(now, out);
  }
  return out;
}

void RefreshMachine::CheckExpiry(absl::Time now, Actions& out) {
  if (expired_ || !have_.serial || have_.expires_at == absl::InfinitePast()) return;
  if (now < have_.expires_at) return;
  // RFC 1035 §3.3.13: past EXPIRE without contact the data is no longer
  // authoritative.
  expired_ = true;
  RefreshAction a = Act(RefreshAction::kExpired);
  a.at = now;
  a.detail = last_success_
                 ? fmt::format("no good contact with a primary since {}",
                               absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", *last_success_,
                                                absl::UTCTimeZone()))
                 : std::string("no good contact with a primary within EXPIRE");
  out.push_back(std::move(a));
}

void RefreshMachine::CheckDegraded(absl::Time now, Actions& out) {
  // Expired says more than degraded; a zone without data is neither.
  if (degraded_ || expired_ || !failing_since_ || !have_.serial) return;
  absl::Duration refresh = Timer(&RefreshTimers::refresh);
  if (now < *failing_since_ + refresh) return;
  degraded_ = true;
  RefreshAction a = Act(RefreshAction::kDegraded);
  a.at = now;
  a.detail = fmt::format("refresh has failed for {}, longer than REFRESH ({}), {} failed check{} "
                         "in a row; last: {}",
                         Whole(now - *failing_since_),
                         absl::FormatDuration(refresh), failures_, failures_ == 1 ? "" : "s",
                         last_error_);
  out.push_back(std::move(a));
}

std::vector<RefreshAction> RefreshMachine::Tick(absl::Time now) {
  Actions out;
  if (phase_ == Phase::kSoaCheck && now >= grace_until_) Decide(now, out);
  if (phase_ == Phase::kIdle && now >= next_check_) BeginCheck(now, out);
  CheckExpiry(now, out);
  CheckDegraded(now, out);
  return out;
}

absl::Time RefreshMachine::NextWake() const {
  absl::Time t = absl::InfiniteFuture();
  if (phase_ == Phase::kIdle) t = std::min(t, next_check_);
  if (phase_ == Phase::kSoaCheck) t = std::min(t, grace_until_);
  if (!expired_ && have_.serial && have_.expires_at != absl::InfinitePast()) {
    t = std::min(t, have_.expires_at);
  }
  if (!degraded_ && !expired_ && have_.serial && failing_since_) {
    t = std::min(t, *failing_since_ + Timer(&RefreshTimers::refresh));
  }
  return t;
}

RefreshHealth RefreshMachine::Health(absl::Time now) const {
  RefreshHealth h;
  h.last_success = last_success_;
  h.failing_since = failing_since_;
  h.next_check = phase_ == Phase::kIdle ? next_check_ : now;
  h.expires_at = have_.expires_at;
  h.last_error = last_error_;
  h.failures = failures_;
  if (failing_since_ && have_.serial) h.degraded_at = *failing_since_ + Timer(&RefreshTimers::refresh);
  if (!have_.serial) {
    h.state = RefreshHealth::kNoData;
  } else if (expired_ ||
             (have_.expires_at != absl::InfinitePast() && now >= have_.expires_at)) {
    h.state = RefreshHealth::kExpired;
  } else if (now >= h.degraded_at) {
    // Failing for longer than a refresh interval: the secondaries behind
    // us may be missing changes.
    h.state = RefreshHealth::kDegraded;
  } else {
    h.state = RefreshHealth::kOk;
  }
  return h;
}

}  // namespace xfr
