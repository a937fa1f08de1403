// The `log:` section of the config and the pieces of a log line: the
// syslog priorities, the journal's "<N>" prefix, and how JOURNAL_STREAM is
// recognised.
#include "proxy/log.h"

#include <syslog.h>

#include <string>

#include "core/ascii.h"
#include "gtest/gtest.h"
#include "proxy/config.h"

namespace xfr {
namespace {

constexpr std::string_view kHead = "listen: [\"127.0.0.1:53\"]\nzones: []\n";

absl::StatusOr<Config> Load(std::string_view log_section) {
  return LoadConfigText(std::string(kHead) + std::string(log_section), "t.yaml", "");
}

TEST(LogConfigTest, DefaultsAreInfoOnStderrWithoutTransferLines) {
  absl::StatusOr<Config> c = Load("");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->log, LogSettings{});
  EXPECT_EQ(c->log.level, LogLevel::kInfo);
  EXPECT_EQ(c->log.target, LogTarget::kStderr);
  EXPECT_FALSE(c->log.transfers);
}

TEST(LogConfigTest, GoodValues) {
  const struct {
    const char* yaml;
    LogSettings expected;
  } cases[] = {
      {"log: {level: error}", {LogLevel::kError, LogTarget::kStderr, false}},
      {"log: {level: warning}", {LogLevel::kWarning, LogTarget::kStderr, false}},
      {"log: {level: info}", {LogLevel::kInfo, LogTarget::kStderr, false}},
      {"log: {level: debug}", {LogLevel::kDebug, LogTarget::kStderr, false}},
      {"log: {target: syslog}", {LogLevel::kInfo, LogTarget::kSyslog, false}},
      {"log: {target: stderr, transfers: true}", {LogLevel::kInfo, LogTarget::kStderr, true}},
      {"log:\n  level: debug\n  target: syslog\n  transfers: yes\n",
       {LogLevel::kDebug, LogTarget::kSyslog, true}},
      {"log: {transfers: false}", {}},
      {"log: {}", {}},
  };
  for (const auto& c : cases) {
    absl::StatusOr<Config> config = Load(c.yaml);
    ASSERT_TRUE(config.ok()) << c.yaml << ": " << config.status();
    EXPECT_EQ(config->log, c.expected) << c.yaml;
  }
}

TEST(LogConfigTest, BadValuesNameLineAndField) {
  const struct {
    const char* yaml;
    const char* expected;
  } cases[] = {
      {"log: {level: verbose}",
       "t.yaml:3:14: log.level: 'verbose' is not a level (expected one of: error, warning, "
       "info, debug)"},
      {"log: {level: INFO}",
       "t.yaml:3:14: log.level: 'INFO' is not a level (expected one of: error, warning, "
       "info, debug)"},
      {"log: {level: [info]}", "t.yaml:3:14: log.level: expected a string"},
      {"log: {target: journal}",
       "t.yaml:3:15: log.target: 'journal' is not a target (expected stderr or syslog)"},
      {"log: {transfers: 1}", "t.yaml:3:18: log.transfers: expected true or false"},
      {"log: {levle: info}",
       "t.yaml:3:7: log.levle: unknown key 'levle' (expected one of: level, target, "
       "transfers)"},
      {"log: syslog", "t.yaml:3:6: log: expected a mapping (key: value)"},
      {"log:\n  level: info\n  level: debug\n", "t.yaml:5:3: log.level: duplicate key 'level'"},
  };
  for (const auto& c : cases) {
    absl::StatusOr<Config> config = Load(c.yaml);
    ASSERT_FALSE(config.ok()) << c.yaml;
    EXPECT_EQ(ToStd(config.status().message()), c.expected) << c.yaml;
  }
}

TEST(LogLineTest, PrioritiesFollowSyslog) {
  EXPECT_EQ(SyslogPriority(LogLevel::kError), LOG_ERR);
  EXPECT_EQ(SyslogPriority(LogLevel::kWarning), LOG_WARNING);
  EXPECT_EQ(SyslogPriority(LogLevel::kInfo), LOG_INFO);
  EXPECT_EQ(SyslogPriority(LogLevel::kDebug), LOG_DEBUG);
}

TEST(LogLineTest, JournalLinesCarryThePriorityAndNoTime) {
  const absl::Time t = absl::FromUnixMillis(1'765'000'000'123);
  const struct {
    LogLevel level;
    const char* journal;
  } cases[] = {
      {LogLevel::kError, "<3>error: zone x.: EXPIRED\n"},
      {LogLevel::kWarning, "<4>warning: zone x.: EXPIRED\n"},
      {LogLevel::kInfo, "<6>info: zone x.: EXPIRED\n"},
      {LogLevel::kDebug, "<7>debug: zone x.: EXPIRED\n"},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(FormatLogLine(c.level, "zone x.: EXPIRED", LineStyle::kJournal, t), c.journal);
  }
  EXPECT_EQ(FormatLogLine(LogLevel::kWarning, "zone x.: EXPIRED", LineStyle::kPlain, t),
            "2025-12-06T05:46:40.123Z warning: zone x.: EXPIRED\n");
}

TEST(LogLineTest, JournalStreamMustNameStderrExactly) {
  const struct {
    const char* value;
    bool matches;
  } cases[] = {
      {"8:12345", true},
      {"8:12346", false},   // another inode: stderr was redirected
      {"9:12345", false},   // another device
      {"8:", false},
      {":12345", false},
      {"812345", false},
      {"8:12345x", false},
      {"-8:12345", false},
      {"", false},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(JournalStreamMatches(c.value, 8, 12345), c.matches) << c.value;
  }
}

}  // namespace
}  // namespace xfr
