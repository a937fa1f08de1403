// One thread's event loop: a Ring, its timers, and a wake-up channel so
// other threads can hand it work (stop, reload) without sharing its state.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "proxy/ring.h"
#include "proxy/timer_queue.h"

namespace xfr {

class EventLoop : private CompletionTarget {
 public:
  static absl::StatusOr<std::unique_ptr<EventLoop>> Create(unsigned ring_entries = 4096);
  ~EventLoop();

  Ring& ring() { return *ring_; }
  // The time at the start of this loop turn: one clock read per turn.
  absl::Time Now() const { return now_; }

  TimerQueue::Id After(absl::Duration d, std::function<void()> fn) {
    return timers_.Schedule(now_ + d, std::move(fn));
  }
  void Cancel(TimerQueue::Id id) { timers_.Cancel(id); }

  // Runs until Stop(); returns when stopped.
  void Run();
  // From the loop's own thread.
  void Stop() { stopping_ = true; }
  bool stopping() const { return stopping_; }
  // From any thread: runs fn on the loop's thread at its next turn.
  void Post(std::function<void()> fn);

 private:
  EventLoop() = default;
  void OnCompletion(const Event& e) override;
  void ArmWake();

  std::unique_ptr<Ring> ring_;
  TimerQueue timers_;
  absl::Time now_ = absl::Now();
  bool stopping_ = false;
  int wake_fd_ = -1;
  uint64_t wake_buf_ = 0;
  std::mutex posted_mu_;
  std::vector<std::function<void()>> posted_;
};

}  // namespace xfr
