// Logging to stderr, one line per event, written with a single write(2) so
// lines from several threads never interleave. Operators run xfrproxy under
// systemd or a container runtime, which timestamps and collects stderr; the
// line still carries its own UTC time for plain terminals and files.
#pragma once

#include <atomic>
#include <string_view>

#include "fmt/format.h"

namespace xfr {

enum class LogLevel : int { kDebug = 0, kInfo = 1, kWarning = 2, kError = 3 };

void SetLogLevel(LogLevel level);
bool LogEnabled(LogLevel level);
void LogLine(LogLevel level, std::string_view text);

template <typename... A>
void LogDebug(fmt::format_string<A...> f, A&&... a) {
  if (LogEnabled(LogLevel::kDebug)) LogLine(LogLevel::kDebug, fmt::format(f, std::forward<A>(a)...));
}
template <typename... A>
void LogInfo(fmt::format_string<A...> f, A&&... a) {
  if (LogEnabled(LogLevel::kInfo)) LogLine(LogLevel::kInfo, fmt::format(f, std::forward<A>(a)...));
}
template <typename... A>
void LogWarning(fmt::format_string<A...> f, A&&... a) {
  if (LogEnabled(LogLevel::kWarning)) LogLine(LogLevel::kWarning, fmt::format(f, std::forward<A>(a)...));
}
template <typename... A>
void LogError(fmt::format_string<A...> f, A&&... a) {
  LogLine(LogLevel::kError, fmt::format(f, std::forward<A>(a)...));
}

}  // namespace xfr
