#include "proxy/log_rate_limiter.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace xfr {
namespace {

const absl::Time kT0 = absl::FromUnixSeconds(1'700'000'000);

// One step of a scenario: a line of `key` at kT0 + `at`, and what the
// limiter must answer.
struct Step {
  const char* key;
  absl::Duration at;
  bool write;
  uint64_t suppressed_before;
};

struct Scenario {
  const char* name;
  LogRateLimiter::Options options;
  std::vector<Step> steps;
};

std::vector<Step> Burst(const char* key, absl::Duration at, int n, int written) {
  std::vector<Step> out;
  for (int i = 0; i < n; ++i) out.push_back({key, at, i < written, 0});
  return out;
}

std::vector<Step> Concat(std::initializer_list<std::vector<Step>> parts) {
  std::vector<Step> out;
  for (const auto& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

TEST(LogRateLimiter, Scenarios) {
  const LogRateLimiter::Options ten_per_10s{10, absl::Seconds(10)};
  const Scenario scenarios[] = {
      {"under the burst everything is written", ten_per_10s,
       Burst("a", absl::ZeroDuration(), 10, 10)},
      {"over the burst the rest is held back", ten_per_10s, Burst("a", absl::Seconds(1), 25, 10)},
      {"the next window reports what was held back", ten_per_10s,
       Concat({Burst("a", absl::ZeroDuration(), 13, 10),
               {{"a", absl::Seconds(10), true, 3}, {"a", absl::Seconds(11), true, 0}}})},
      {"a window without suppression reports nothing", ten_per_10s,
       {{"a", absl::ZeroDuration(), true, 0}, {"a", absl::Seconds(30), true, 0}}},
      {"keys are limited separately", {2, absl::Seconds(10)},
       {{"a", absl::ZeroDuration(), true, 0}, {"a", absl::ZeroDuration(), true, 0},
        {"a", absl::ZeroDuration(), false, 0}, {"b", absl::ZeroDuration(), true, 0},
        {"b", absl::Seconds(1), true, 0}, {"b", absl::Seconds(2), false, 0}}},
      {"the window starts at the first line, not on a clock tick", {1, absl::Seconds(10)},
       {{"a", absl::Seconds(9), true, 0}, {"a", absl::Seconds(11), false, 0},
        {"a", absl::Seconds(18), false, 0}, {"a", absl::Seconds(19), true, 2}}},
      {"a burst of zero holds back everything", {0, absl::Seconds(10)},
       {{"a", absl::ZeroDuration(), false, 0}, {"a", absl::Seconds(10), false, 1}}},
  };
  for (const Scenario& s : scenarios) {
    LogRateLimiter limiter(s.options);
    for (size_t i = 0; i < s.steps.size(); ++i) {
      const Step& st = s.steps[i];
      LogRateLimiter::Verdict v = limiter.Admit(st.key, kT0 + st.at);
      EXPECT_EQ(v.write, st.write) << s.name << ", step " << i;
      EXPECT_EQ(v.suppressed_before, st.suppressed_before) << s.name << ", step " << i;
    }
  }
}

TEST(LogRateLimiter, ClosedWindowsAreReportedOnceAndForgotten) {
  LogRateLimiter limiter({2, absl::Seconds(10)});
  for (int i = 0; i < 5; ++i) limiter.Admit("refused", kT0, /*tag=*/1);
  limiter.Admit("quiet", kT0 + absl::Seconds(1), 2);
  for (int i = 0; i < 3; ++i) limiter.Admit("formerr", kT0 + absl::Seconds(2), 0);
  EXPECT_EQ(limiter.keys(), 3u);

  // Nothing has closed before its window ends.
  EXPECT_TRUE(limiter.TakeClosed(kT0 + absl::Seconds(9)).empty());
  EXPECT_EQ(limiter.keys(), 3u);

  // At 11 s the first two windows have closed: "refused" held 3 back,
  // "quiet" nothing (forgotten without a report); "formerr" is still open.
  std::vector<LogRateLimiter::Closed> closed = limiter.TakeClosed(kT0 + absl::Seconds(11));
  ASSERT_EQ(closed.size(), 1u);
  EXPECT_EQ(closed[0].key, "refused");
  EXPECT_EQ(closed[0].tag, 1);
  EXPECT_EQ(closed[0].suppressed, 3u);
  EXPECT_EQ(limiter.keys(), 1u);

  closed = limiter.TakeClosed(kT0 + absl::Seconds(12));
  ASSERT_EQ(closed.size(), 1u);
  EXPECT_EQ(closed[0].key, "formerr");
  EXPECT_EQ(closed[0].suppressed, 1u);
  EXPECT_EQ(limiter.keys(), 0u);
  EXPECT_TRUE(limiter.TakeClosed(kT0 + absl::Seconds(60)).empty());

  // A key reported by TakeClosed starts afresh: nothing is reported twice.
  LogRateLimiter::Verdict v = limiter.Admit("refused", kT0 + absl::Seconds(61));
  EXPECT_TRUE(v.write);
  EXPECT_EQ(v.suppressed_before, 0u);
}

}  // namespace
}  // namespace xfr
