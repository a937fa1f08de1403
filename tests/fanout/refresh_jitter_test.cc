// Jittered refresh timers and the spread of the first checks after a
// start: what keeps thousands of zones loaded together from asking their
// primary all at once, every REFRESH. The draws are scripted (or a seeded
// generator), and the clock is fake: the tests pin where each check falls.
#include <algorithm>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "fanout/refresh_machine.h"
#include "gtest/gtest.h"

namespace xfr {
namespace {

const absl::Time kT0 = absl::FromUnixSeconds(1'700'000'000);

std::vector<PeerAddress> OnePrimary() { return {PeerAddress::V4({192, 0, 2, 1}, 53)}; }

RefreshOptions WithDraw(double jitter, absl::Duration spread, double draw) {
  RefreshOptions o;
  o.jitter = jitter;
  o.start_spread = spread;
  o.random = [draw] { return draw; };
  return o;
}

RefreshSnapshot Holding(RefreshTimers timers, absl::Time expires_at) {
  RefreshSnapshot s;
  s.serial = Serial(7);
  s.timers = timers;
  s.upstream_base = true;
  s.expires_at = expires_at;
  return s;
}

uint64_t SoaId(const std::vector<RefreshAction>& actions) {
  for (const RefreshAction& a : actions) {
    if (a.kind == RefreshAction::kQuerySoa) return a.id;
  }
  return 0;
}

struct TimerCase {
  const char* name;
  RefreshTimers timers;
  double jitter;
  double draw;
  bool fail;            // the check fails (RETRY) rather than succeeds (REFRESH)
  absl::Duration wait;  // until the next check
};

class JitteredTimer : public testing::TestWithParam<TimerCase> {};

TEST_P(JitteredTimer, NextCheckFallsWhereTheDrawPutsIt) {
  const TimerCase& c = GetParam();
  RefreshMachine m(OnePrimary(), WithDraw(c.jitter, absl::ZeroDuration(), c.draw));
  uint64_t id = SoaId(m.Start(Holding(c.timers, kT0 + absl::Hours(1)), kT0));
  ASSERT_NE(id, 0u);
  if (c.fail) {
    m.OnSoaFailure(id, ExchangeFailure{ExchangeError::kTimeout}, kT0);
  } else {
    m.OnSoaAnswer(id, SoaAnswer{Serial(7)}, kT0);
  }
  EXPECT_EQ(m.Health(kT0).next_check - kT0, c.wait);
}

// REFRESH 100 RETRY 10 EXPIRE 1000 unless the case says otherwise.
INSTANTIATE_TEST_SUITE_P(
    Cases, JitteredTimer,
    testing::Values(
        TimerCase{"NoJitterIsTheNominalRefresh", {100, 10, 1000}, 0, 0.7, false,
                  absl::Seconds(100)},
        TimerCase{"DrawZeroIsTheNominalRefresh", {100, 10, 1000}, 0.1, 0, false,
                  absl::Seconds(100)},
        TimerCase{"DrawHalfIsHalfTheJitterEarlier", {100, 10, 1000}, 0.1, 0.5, false,
                  absl::Seconds(95)},
        TimerCase{"DrawOneIsTheLowerBound", {100, 10, 1000}, 0.1, 1.0, false,
                  absl::Seconds(90)},
        TimerCase{"DrawOutOfRangeIsClamped", {100, 10, 1000}, 0.1, 7.0, false,
                  absl::Seconds(90)},
        TimerCase{"RetryIsJitteredToo", {100, 10, 1000}, 0.1, 0.5, true,
                  absl::Milliseconds(9500)},
        // The nominal wait is already cut to EXPIRE; jitter only shortens it.
        TimerCase{"NeverPastExpire", {100, 10, 50}, 0.1, 0, false, absl::Seconds(50)},
        TimerCase{"ShortExpireJittered", {100, 10, 50}, 0.1, 1.0, false, absl::Seconds(45)},
        TimerCase{"FloorHoldsUnderJitter", {1, 1, 1000}, 0.5, 1.0, false, absl::Seconds(1)},
        TimerCase{"JitterAboveOneIsAtMostTheFloor", {100, 10, 1000}, 3.0, 1.0, false,
                  absl::Seconds(1)}),
    [](const testing::TestParamInfo<TimerCase>& i) { return std::string(i.param.name); });

struct StartCase {
  const char* name;
  bool data;
  absl::Duration expires_in;  // InfiniteDuration: expiry unknown
  double draw;
  bool at_once;               // the SOA query goes out with Start
  absl::Duration wait;        // otherwise, until the first check
};

class StartSpread : public testing::TestWithParam<StartCase> {};

TEST_P(StartSpread, FirstCheckFallsInTheWindow) {
  const StartCase& c = GetParam();
  RefreshMachine m(OnePrimary(), WithDraw(0.1, absl::Seconds(10), c.draw));
  RefreshSnapshot have;
  if (c.data) {
    absl::Time expires = c.expires_in == absl::InfiniteDuration() ? absl::InfinitePast()
                                                                  : kT0 + c.expires_in;
    have = Holding({100, 10, 1000}, expires);
  }
  std::vector<RefreshAction> started = m.Start(have, kT0);
  if (c.at_once) {
    EXPECT_NE(SoaId(started), 0u);
    return;
  }
  EXPECT_EQ(SoaId(started), 0u);
  EXPECT_EQ(m.NextWake() - kT0, c.wait);
  EXPECT_EQ(SoaId(m.Tick(kT0 + c.wait - absl::Milliseconds(1))), 0u);
  EXPECT_NE(SoaId(m.Tick(kT0 + c.wait)), 0u);
}

INSTANTIATE_TEST_SUITE_P(
    Cases, StartSpread,
    testing::Values(
        StartCase{"NoDataIsCheckedAtOnce", false, absl::Hours(1), 0.5, true,
                  absl::ZeroDuration()},
        StartCase{"DrawZeroIsAtOnce", true, absl::Hours(1), 0, true, absl::ZeroDuration()},
        StartCase{"DrawHalfIsMidWindow", true, absl::Hours(1), 0.5, false, absl::Seconds(5)},
        StartCase{"NearExpiryWaitsAtMostHalfTheTimeLeft", true, absl::Seconds(4), 0.9, false,
                  absl::Seconds(2)},
        StartCase{"ExpiredIsCheckedAtOnce", true, -absl::Seconds(1), 0.5, true,
                  absl::ZeroDuration()},
        StartCase{"UnknownExpiryIsCheckedAtOnce", true, absl::InfiniteDuration(), 0.5, true,
                  absl::ZeroDuration()}),
    [](const testing::TestParamInfo<StartCase>& i) { return std::string(i.param.name); });

TEST(StartSpread, NotifyAndOperatorRefreshDoNotWaitForTheDraw) {
  RefreshMachine notified(OnePrimary(), WithDraw(0.1, absl::Seconds(10), 0.9));
  EXPECT_EQ(SoaId(notified.Start(Holding({100, 10, 1000}, kT0 + absl::Hours(1)), kT0)), 0u);
  EXPECT_NE(SoaId(notified.OnNotify(Serial(8), kT0 + absl::Seconds(1))), 0u);

  RefreshMachine asked(OnePrimary(), WithDraw(0.1, absl::Seconds(10), 0.9));
  EXPECT_EQ(SoaId(asked.Start(Holding({100, 10, 1000}, kT0 + absl::Hours(1)), kT0)), 0u);
  EXPECT_NE(SoaId(asked.OnRefreshNow(kT0 + absl::Seconds(1))), 0u);
}

// A thousand zones restored together, with a seeded generator standing in
// for the real one: their first checks spread over the window, and after
// all of them are confirmed at one instant, their REFRESH checks spread
// over [90%, 100%] of REFRESH instead of falling due together.
TEST(StartSpread, AThousandZonesStartedTogetherDoNotAskTogether) {
  std::mt19937_64 gen(12);
  std::uniform_real_distribution<double> uniform(0.0, 1.0);
  RefreshOptions o;
  o.jitter = 0.1;
  o.start_spread = absl::Seconds(3);
  o.random = [&] { return uniform(gen); };
  std::vector<RefreshMachine> zones;
  zones.reserve(1000);
  std::set<absl::Time> first;
  for (int i = 0; i < 1000; ++i) {
    zones.emplace_back(OnePrimary(), o);
    EXPECT_EQ(SoaId(zones.back().Start(Holding({100, 10, 1000}, kT0 + absl::Hours(1)), kT0)),
              0u);
    first.insert(zones.back().NextWake());
  }
  EXPECT_GT(first.size(), 990u);
  EXPECT_GE(*first.begin(), kT0);
  EXPECT_LT(*first.begin(), kT0 + absl::Milliseconds(100));
  EXPECT_LT(*first.rbegin(), kT0 + absl::Seconds(3));
  EXPECT_GT(*first.rbegin(), kT0 + absl::Milliseconds(2900));

  const absl::Time t1 = kT0 + absl::Seconds(3);
  std::set<absl::Time> refresh;
  for (RefreshMachine& m : zones) {
    uint64_t id = SoaId(m.Tick(t1));
    ASSERT_NE(id, 0u);
    m.OnSoaAnswer(id, SoaAnswer{Serial(7)}, t1);
    refresh.insert(m.Health(t1).next_check);
  }
  EXPECT_GT(refresh.size(), 990u);
  EXPECT_GE(*refresh.begin(), t1 + absl::Seconds(90));
  EXPECT_LT(*refresh.begin(), t1 + absl::Seconds(91));
  EXPECT_LE(*refresh.rbegin(), t1 + absl::Seconds(100));
  EXPECT_GT(*refresh.rbegin(), t1 + absl::Seconds(99));
}

}  // namespace
}  // namespace xfr
