#include "proxy/log_rate_limiter.h"

#include <algorithm>

namespace xfr {

LogRateLimiter::Verdict LogRateLimiter::Admit(std::string_view key, absl::Time now, int tag) {
  Verdict v;
  auto [it, added] = windows_.try_emplace(key);
  Window& w = it->second;
  // A window starts with the first line of a quiet key: a steady trickle
  // below the burst is never held back, whatever the phase of the clock.
  if (added || now >= w.start + options_.window) {
    v.suppressed_before = added ? 0 : w.suppressed;
    w = Window{now, 0, 0, tag};
  }
  if (w.written < options_.burst) {
    ++w.written;
    v.write = true;
  } else {
    ++w.suppressed;
  }
  return v;
}

std::vector<LogRateLimiter::Closed> LogRateLimiter::TakeClosed(absl::Time now) {
  std::vector<Closed> out;
  for (auto it = windows_.begin(); it != windows_.end();) {
    const Window& w = it->second;
    if (now < w.start + options_.window) {
      ++it;
      continue;
    }
    if (w.suppressed > 0) out.push_back({it->first, w.tag, w.suppressed});
    windows_.erase(it++);
  }
  // By key, so that the report does not depend on the hash table's order.
  std::sort(out.begin(), out.end(), [](const Closed& a, const Closed& b) { return a.key < b.key; });
  return out;
}

}  // namespace xfr
