#include "bench/xfrload/secondaries_stats.h"

#include <algorithm>

namespace xfr::load {

LiveStats::LiveStats(const std::vector<std::optional<Serial>>& serials,
                     std::optional<Serial> expect)
    : count_(static_cast<uint32_t>(serials.size())), expect_(expect) {
  for (const std::optional<Serial>& s : serials) {
    if (s) {
      ++held_[s->value()];
    } else {
      ++empty_;
    }
  }
  if (expect_) {
    expect_holders_ = HoldersOf(*expect_);
    if (expect_holders_ == count_) expect_reached_ = absl::Now();
  }
}

uint32_t LiveStats::HoldersOf(Serial s) const {
  uint32_t n = 0;
  for (const auto& [value, secondaries] : held_) {
    if (Serial(value) >= s) n += secondaries;
  }
  return n;
}

void LiveStats::OnNotify(std::optional<Serial> hint, bool first_for_serial,
                         bool duplicate, absl::Time now) {
  std::lock_guard<std::mutex> lock(mu_);
  ++notifies_;
  if (duplicate) ++notify_duplicates_;
  if (!hint) return;
  if (!current_ || *hint > current_->serial) {
    NotifyRound r;
    r.serial = *hint;
    r.first_notify = now;
    r.last_notify = now;
    r.holders = HoldersOf(*hint);
    if (r.holders == count_) r.converged = now;  // nothing to fetch
    current_ = r;
  }
  if (first_for_serial && *hint == current_->serial) {
    ++current_->notified;
    current_->last_notify = now;
  }
  if (current_->converged) last_converged_ = current_;
}

bool LiveStats::OnSerial(std::optional<Serial> from, Serial to, absl::Time now) {
  std::lock_guard<std::mutex> lock(mu_);
  if (from) {
    auto it = held_.find(from->value());
    if (it != held_.end() && --it->second == 0) held_.erase(it);
  } else if (empty_ > 0) {
    --empty_;
  }
  ++held_[to.value()];
  auto newly_at = [&](Serial target) { return to >= target && !(from && *from >= target); };
  if (current_ && newly_at(current_->serial) && ++current_->holders == count_) {
    current_->converged = now;
    last_converged_ = current_;
  }
  if (expect_ && newly_at(*expect_) && ++expect_holders_ == count_ && !expect_reached_) {
    expect_reached_ = now;
    return true;
  }
  return false;
}

bool LiveStats::ExpectReached() const {
  std::lock_guard<std::mutex> lock(mu_);
  return expect_reached_.has_value();
}

SecondariesSnapshot LiveStats::Snapshot() const {
  SecondariesSnapshot s;
  s.secondaries = count_;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (empty_ > 0) s.serials.emplace_back(std::nullopt, empty_);
    size_t first = s.serials.size();
    for (const auto& [value, n] : held_) s.serials.emplace_back(Serial(value), n);
    std::sort(s.serials.begin() + static_cast<ptrdiff_t>(first), s.serials.end(),
              [](const auto& a, const auto& b) { return a.first->value() < b.first->value(); });
    s.notifies = notifies_;
    s.notify_duplicates = notify_duplicates_;
    s.current = current_;
    s.last_converged = last_converged_;
    s.expect_serial = expect_;
    s.expect_reached = expect_reached_;
    s.expect_holders = expect_holders_;
  }
  s.notify_rejected = notify_rejected_.load(std::memory_order_relaxed);
  s.checks = checks_.load(std::memory_order_relaxed);
  s.rechecks = rechecks_.load(std::memory_order_relaxed);
  s.soa_retries = soa_retries_.load(std::memory_order_relaxed);
  s.incremental = incremental_.load(std::memory_order_relaxed);
  s.full = full_.load(std::memory_order_relaxed);
  s.up_to_date = up_to_date_.load(std::memory_order_relaxed);
  s.errors = errors_.load(std::memory_order_relaxed);
  return s;
}

}  // namespace xfr::load
