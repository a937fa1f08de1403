// Logging, one line per event, to stderr or syslog (`log:` in the config).
//
// On stderr a line is written with a single write(2), so lines from several
// threads never interleave. On a terminal or in a file it carries its own
// UTC time and level. When stderr is the systemd journal (JOURNAL_STREAM
// names it), the line starts with the syslog priority in the sd-daemon(3)
// form "<6>" instead of a time, which the journal adds itself; journalctl
// then filters and colours by priority. The syslog target hands lines to
// syslog(3) with the same priorities, facility daemon.
//
// The Log*Limited forms are for lines a peer can cause at will (one per
// malformed packet, refused query, bad signature): per call site at most a
// burst per window, and a count of what was held back afterwards
// (proxy/log_rate_limiter.h).
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>

#include "absl/time/time.h"
#include "fmt/format.h"
#include "proxy/log_rate_limiter.h"

namespace xfr {

enum class LogLevel : int { kDebug = 0, kInfo = 1, kWarning = 2, kError = 3 };
enum class LogTarget : uint8_t { kStderr, kSyslog };

// The `log:` section of the config.
struct LogSettings {
  LogLevel level = LogLevel::kInfo;
  LogTarget target = LogTarget::kStderr;
  // One info line per AXFR/IXFR served downstream.
  bool transfers = false;
  friend bool operator==(const LogSettings&, const LogSettings&) = default;
};

// "debug", "info", "warning", "error"; "stderr", "syslog".
std::string_view LogLevelName(LogLevel level);
std::string_view LogTargetName(LogTarget target);

// Takes effect for every thread at once: at start and on reload.
void ApplyLogSettings(const LogSettings& settings);
void SetLogLevel(LogLevel level);
bool LogEnabled(LogLevel level);
bool LogTransfersEnabled();
void LogLine(LogLevel level, std::string_view text);

// --- The pieces, for tests -------------------------------------------------

// The syslog(3) priority of a level (LOG_ERR, LOG_WARNING, LOG_INFO,
// LOG_DEBUG).
int SyslogPriority(LogLevel level);
enum class LineStyle : uint8_t { kPlain, kJournal };
// The bytes written for one line, newline included:
//   kPlain:   "2026-12-06T02:30:00.123Z info: text\n"
//   kJournal: "<6>info: text\n"
std::string FormatLogLine(LogLevel level, std::string_view text, LineStyle style,
                          absl::Time now);
// True when JOURNAL_STREAM's value ("DEV:INODE", decimal, systemd.exec(5))
// names the file with these device and inode numbers.
bool JournalStreamMatches(std::string_view value, uint64_t dev, uint64_t ino);

// The rate limiter's part of a limited line: true when the line of `key` (a
// format string) may be written now. Writes the count of lines held back
// in the key's previous window first, when there was one.
bool LogAdmit(LogLevel level, std::string_view key);
// Lines the limiter held back since start (for /metrics).
uint64_t LogLinesSuppressed();
// Replaces the limits (10 lines per 10 s by default) and forgets every
// window; for tests that read each line of a flood.
void SetLogRateLimits(LogRateLimiter::Options options);
// Reports every closed window that held lines back, once; the server calls
// it every second or so, so that the count appears even when the flood has
// stopped.
void FlushLogSuppression();

template <typename... A>
void LogAt(LogLevel level, fmt::format_string<A...> f, A&&... a) {
  if (LogEnabled(level)) LogLine(level, fmt::format(f, std::forward<A>(a)...));
}
template <typename... A>
void LogDebug(fmt::format_string<A...> f, A&&... a) {
  LogAt(LogLevel::kDebug, f, std::forward<A>(a)...);
}
template <typename... A>
void LogInfo(fmt::format_string<A...> f, A&&... a) {
  LogAt(LogLevel::kInfo, f, std::forward<A>(a)...);
}
template <typename... A>
void LogWarning(fmt::format_string<A...> f, A&&... a) {
  LogAt(LogLevel::kWarning, f, std::forward<A>(a)...);
}
template <typename... A>
void LogError(fmt::format_string<A...> f, A&&... a) {
  LogLine(LogLevel::kError, fmt::format(f, std::forward<A>(a)...));
}

// Rate-limited per format string; the level is checked first, so a
// disabled level costs one atomic load, and a held-back line is never
// formatted.
template <typename... A>
void LogLimited(LogLevel level, fmt::format_string<A...> f, A&&... a) {
  if (!LogEnabled(level)) return;
  fmt::string_view key = f;
  if (!LogAdmit(level, std::string_view(key.data(), key.size()))) return;
  LogLine(level, fmt::format(f, std::forward<A>(a)...));
}
template <typename... A>
void LogDebugLimited(fmt::format_string<A...> f, A&&... a) {
  LogLimited(LogLevel::kDebug, f, std::forward<A>(a)...);
}
template <typename... A>
void LogInfoLimited(fmt::format_string<A...> f, A&&... a) {
  LogLimited(LogLevel::kInfo, f, std::forward<A>(a)...);
}
template <typename... A>
void LogWarningLimited(fmt::format_string<A...> f, A&&... a) {
  LogLimited(LogLevel::kWarning, f, std::forward<A>(a)...);
}

}  // namespace xfr
