#include "proxy/connection_limiter.h"

#include <algorithm>

namespace xfr {

ConnectionLimiter::Admission ConnectionLimiter::Admit(const IpAddress& ip, Waiter w) {
  std::lock_guard<std::mutex> lock(mu_);
  if (total_ >= limits_.max_connections) return Admission::kRefused;
  ++total_;
  PerIp& p = per_ip_[ip];
  // FIFO: a newcomer never overtakes a waiter, even if a slot is free at
  // this instant (its grant is on its way to the waiter's thread).
  if (p.active < limits_.max_connections_per_ip && p.waiting.empty()) {
    ++p.active;
    return Admission::kAdmitted;
  }
  p.waiting.push_back(w);
  ++waiting_;
  return Admission::kWaiting;
}

std::optional<ConnectionLimiter::Waiter> ConnectionLimiter::Release(const IpAddress& ip) {
  std::lock_guard<std::mutex> lock(mu_);
  if (total_ > 0) --total_;
  auto it = per_ip_.find(ip);
  if (it == per_ip_.end()) return std::nullopt;
  PerIp& p = it->second;
  if (p.active > 0) --p.active;
  if (!p.waiting.empty() && p.active < limits_.max_connections_per_ip) {
    // The slot passes to the oldest waiter: it stays counted in total_.
    Waiter next = p.waiting.front();
    p.waiting.pop_front();
    --waiting_;
    ++p.active;
    return next;
  }
  if (p.active == 0 && p.waiting.empty()) per_ip_.erase(it);
  return std::nullopt;
}

bool ConnectionLimiter::CancelWait(const IpAddress& ip, Waiter w) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = per_ip_.find(ip);
  if (it == per_ip_.end()) return false;
  PerIp& p = it->second;
  auto pos = std::find(p.waiting.begin(), p.waiting.end(), w);
  if (pos == p.waiting.end()) return false;
  p.waiting.erase(pos);
  --waiting_;
  --total_;
  if (p.active == 0 && p.waiting.empty()) per_ip_.erase(it);
  return true;
}

size_t ConnectionLimiter::connections() const {
  std::lock_guard<std::mutex> lock(mu_);
  return total_;
}

size_t ConnectionLimiter::waiting() const {
  std::lock_guard<std::mutex> lock(mu_);
  return waiting_;
}

bool ConnectionLimiter::HasWaiters(const IpAddress& ip) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = per_ip_.find(ip);
  return it != per_ip_.end() && !it->second.waiting.empty();
}

bool ConnectionLimiter::TryStartTransfer() {
  size_t cur = transfers_.load(std::memory_order_relaxed);
  while (cur < limits_.max_concurrent_transfers) {
    if (transfers_.compare_exchange_weak(cur, cur + 1)) return true;
  }
  return false;
}

void ConnectionLimiter::EndTransfer() { transfers_.fetch_sub(1); }

}  // namespace xfr
