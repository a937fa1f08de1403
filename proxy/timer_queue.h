// Deadlines for one event loop: a binary heap with lazy cancellation. I/O
// free, so timeouts can be tested with a fake clock.
#pragma once

#include <cstdint>
#include <functional>
#include <queue>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/time/time.h"

namespace xfr {

class TimerQueue {
 public:
  using Id = uint64_t;

  Id Schedule(absl::Time deadline, std::function<void()> fn) {
    Id id = ++last_id_;
    heap_.push(Entry{deadline, id, std::move(fn)});
    live_.insert(id);
    return id;
  }
  // Safe to call for a timer that already fired or was cancelled.
  void Cancel(Id id) { live_.erase(id); }

  // The earliest live deadline, or InfiniteFuture.
  absl::Time NextDeadline() {
    DropCancelled();
    return heap_.empty() ? absl::InfiniteFuture() : heap_.top().deadline;
  }

  // Runs every timer due at `now`, in deadline order. Callbacks may schedule
  // or cancel timers.
  int RunDue(absl::Time now) {
    int n = 0;
    while (true) {
      DropCancelled();
      if (heap_.empty() || heap_.top().deadline > now) break;
      Entry e = std::move(const_cast<Entry&>(heap_.top()));
      heap_.pop();
      live_.erase(e.id);
      e.fn();
      ++n;
    }
    return n;
  }
  size_t size() const { return live_.size(); }

 private:
  struct Entry {
    absl::Time deadline;
    Id id;
    std::function<void()> fn;
    bool operator>(const Entry& o) const {
      return deadline != o.deadline ? deadline > o.deadline : id > o.id;
    }
  };
  void DropCancelled() {
    while (!heap_.empty() && !live_.contains(heap_.top().id)) heap_.pop();
  }

  std::priority_queue<Entry, std::vector<Entry>, std::greater<Entry>> heap_;
  absl::flat_hash_set<Id> live_;
  Id last_id_ = 0;
};

}  // namespace xfr
