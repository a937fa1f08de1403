// TimerQueue: deadline order, ties in scheduling order, lazy cancellation,
// and callbacks that schedule or cancel timers while RunDue runs.
#include "proxy/timer_queue.h"

#include <functional>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace xfr {
namespace {

const absl::Time kT0 = absl::FromUnixSeconds(1000);

TEST(TimerQueueTest, RunsDueTimersInDeadlineOrder) {
  TimerQueue q;
  std::vector<std::string> ran;
  q.Schedule(kT0 + absl::Seconds(3), [&] { ran.push_back("c"); });
  q.Schedule(kT0 + absl::Seconds(1), [&] { ran.push_back("a"); });
  q.Schedule(kT0 + absl::Seconds(2), [&] { ran.push_back("b"); });
  q.Schedule(kT0 + absl::Seconds(9), [&] { ran.push_back("late"); });
  EXPECT_EQ(q.NextDeadline(), kT0 + absl::Seconds(1));
  EXPECT_EQ(q.RunDue(kT0), 0);
  EXPECT_EQ(q.RunDue(kT0 + absl::Seconds(3)), 3);
  EXPECT_EQ(ran, (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(q.size(), 1u);
  EXPECT_EQ(q.NextDeadline(), kT0 + absl::Seconds(9));
}

TEST(TimerQueueTest, EqualDeadlinesRunInScheduleOrder) {
  TimerQueue q;
  std::vector<int> ran;
  for (int i = 0; i < 10; ++i) q.Schedule(kT0, [&ran, i] { ran.push_back(i); });
  EXPECT_EQ(q.RunDue(kT0), 10);
  EXPECT_EQ(ran, (std::vector<int>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}));
}

TEST(TimerQueueTest, CancelledTimersNeverRun) {
  TimerQueue q;
  int ran = 0;
  TimerQueue::Id a = q.Schedule(kT0 + absl::Seconds(1), [&] { ran += 1; });
  q.Schedule(kT0 + absl::Seconds(2), [&] { ran += 10; });
  q.Cancel(a);
  EXPECT_EQ(q.size(), 1u);
  // The cancelled head no longer sets the next deadline.
  EXPECT_EQ(q.NextDeadline(), kT0 + absl::Seconds(2));
  EXPECT_EQ(q.RunDue(kT0 + absl::Seconds(5)), 1);
  EXPECT_EQ(ran, 10);
  EXPECT_EQ(q.NextDeadline(), absl::InfiniteFuture());
}

TEST(TimerQueueTest, CancelAfterFiringOrTwiceIsHarmless) {
  TimerQueue q;
  int ran = 0;
  TimerQueue::Id a = q.Schedule(kT0, [&] { ++ran; });
  EXPECT_EQ(q.RunDue(kT0), 1);
  q.Cancel(a);
  q.Cancel(a);
  q.Cancel(12345);
  TimerQueue::Id b = q.Schedule(kT0, [&] { ++ran; });
  EXPECT_NE(a, b) << "ids are not reused";
  EXPECT_EQ(q.RunDue(kT0), 1);
  EXPECT_EQ(ran, 2);
}

TEST(TimerQueueTest, CallbackSchedulesDueTimerWhichRunsInTheSamePass) {
  TimerQueue q;
  std::vector<std::string> ran;
  q.Schedule(kT0, [&] {
    ran.push_back("first");
    q.Schedule(kT0, [&] { ran.push_back("chained"); });
    q.Schedule(kT0 + absl::Seconds(60), [&] { ran.push_back("later"); });
  });
  EXPECT_EQ(q.RunDue(kT0), 2);
  EXPECT_EQ(ran, (std::vector<std::string>{"first", "chained"}));
  EXPECT_EQ(q.NextDeadline(), kT0 + absl::Seconds(60));
}

TEST(TimerQueueTest, CallbackCancelsAnotherDueTimer) {
  TimerQueue q;
  int ran = 0;
  TimerQueue::Id victim = 0;
  q.Schedule(kT0, [&] {
    ++ran;
    q.Cancel(victim);
  });
  victim = q.Schedule(kT0 + absl::Seconds(1), [&] { ran += 100; });
  EXPECT_EQ(q.RunDue(kT0 + absl::Seconds(1)), 1);
  EXPECT_EQ(ran, 1);
  EXPECT_EQ(q.size(), 0u);
}

TEST(TimerQueueTest, PeriodicTimerReschedulesItself) {
  TimerQueue q;
  int ticks = 0;
  std::function<void()> tick;
  absl::Time next = kT0;
  tick = [&] {
    ++ticks;
    next += absl::Seconds(10);
    q.Schedule(next, tick);
  };
  q.Schedule(next, tick);
  // Each pass runs only what is due: a rescheduled timer in the future
  // waits for a later pass.
  EXPECT_EQ(q.RunDue(kT0 + absl::Seconds(25)), 3);
  EXPECT_EQ(ticks, 3);
  EXPECT_EQ(q.NextDeadline(), kT0 + absl::Seconds(30));
  EXPECT_EQ(q.size(), 1u);
}

}  // namespace
}  // namespace xfr
