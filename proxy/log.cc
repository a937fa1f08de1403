#include "proxy/log.h"

#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#include <charconv>
#include <cstdlib>
#include <mutex>

#include "absl/time/clock.h"

namespace xfr {
namespace {

std::atomic<int> g_level{static_cast<int>(LogLevel::kInfo)};
std::atomic<int> g_target{static_cast<int>(LogTarget::kStderr)};
std::atomic<bool> g_transfers{false};
std::atomic<bool> g_journal{false};
std::atomic<uint64_t> g_suppressed{0};  // lines held back by the limiter, ever
constexpr std::string_view kNames[] = {"debug", "info", "warning", "error"};

// Guards the limiter and openlog/closelog; never held while writing.
std::mutex g_mu;
LogRateLimiter*& Limiter() {
  static LogRateLimiter* limiter = new LogRateLimiter();  // lives to exit
  return limiter;
}
bool g_syslog_open = false;  // under g_mu

// stderr is the journal when systemd connected it and nobody redirected it
// since (a shell's 2>file keeps the variable but changes the inode).
bool StderrIsJournal() {
  const char* value = std::getenv("JOURNAL_STREAM");
  if (value == nullptr) return false;
  struct stat st;
  if (::fstat(STDERR_FILENO, &st) != 0) return false;
  return JournalStreamMatches(value, static_cast<uint64_t>(st.st_dev),
                              static_cast<uint64_t>(st.st_ino));
}

bool ParseDecimal(std::string_view s, uint64_t& out) {
  if (s.empty()) return false;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && end == s.data() + s.size();
}

void Suppressed(LogLevel level, uint64_t count, std::string_view key) {
  LogLine(level, fmt::format("{} similar messages suppressed: \"{}\"", count, key));
}

}  // namespace

std::string_view LogLevelName(LogLevel level) { return kNames[static_cast<int>(level)]; }

std::string_view LogTargetName(LogTarget target) {
  return target == LogTarget::kSyslog ? "syslog" : "stderr";
}

int SyslogPriority(LogLevel level) {
  switch (level) {
    case LogLevel::kError: return LOG_ERR;
    case LogLevel::kWarning: return LOG_WARNING;
    case LogLevel::kInfo: return LOG_INFO;
    case LogLevel::kDebug: return LOG_DEBUG;
  }
  return LOG_INFO;
}

std::string FormatLogLine(LogLevel level, std::string_view text, LineStyle style,
                          absl::Time now) {
  std::string line;
  line.reserve(text.size() + 40);
  if (style == LineStyle::kJournal) {
    line += fmt::format("<{}>", SyslogPriority(level));
  } else {
    line += absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", now, absl::UTCTimeZone());
    line += ' ';
  }
  line += LogLevelName(level);
  line += ": ";
  line.append(text.data(), text.size());
  line += '\n';
  return line;
}

bool JournalStreamMatches(std::string_view value, uint64_t dev, uint64_t ino) {
  size_t colon = value.find(':');
  if (colon == std::string_view::npos) return false;
  uint64_t d = 0, i = 0;
  return ParseDecimal(value.substr(0, colon), d) && ParseDecimal(value.substr(colon + 1), i) &&
         d == dev && i == ino;
}

void ApplyLogSettings(const LogSettings& settings) {
  g_journal.store(StderrIsJournal());
  {
    std::lock_guard<std::mutex> lock(g_mu);
    if (settings.target == LogTarget::kSyslog && !g_syslog_open) {
      // LOG_NDELAY connects now, while /dev/log is surely reachable (before
      // any privilege drop or chroot), not at the first line.
      ::openlog("xfrproxy", LOG_PID | LOG_NDELAY, LOG_DAEMON);
      g_syslog_open = true;
    }
    g_target.store(static_cast<int>(settings.target));
    if (settings.target != LogTarget::kSyslog && g_syslog_open) {
      ::closelog();
      g_syslog_open = false;
    }
  }
  g_level.store(static_cast<int>(settings.level));
  g_transfers.store(settings.transfers);
}

void SetLogLevel(LogLevel level) { g_level.store(static_cast<int>(level)); }

bool LogEnabled(LogLevel level) {
  return static_cast<int>(level) >= g_level.load(std::memory_order_relaxed);
}

bool LogTransfersEnabled() { return g_transfers.load(std::memory_order_relaxed); }

void LogLine(LogLevel level, std::string_view text) {
  if (g_target.load(std::memory_order_relaxed) == static_cast<int>(LogTarget::kSyslog)) {
    ::syslog(SyslogPriority(level), "%s: %.*s", LogLevelName(level).data(),
             static_cast<int>(text.size()), text.data());
    return;
  }
  LineStyle style = g_journal.load(std::memory_order_relaxed) ? LineStyle::kJournal
                                                              : LineStyle::kPlain;
  std::string line = FormatLogLine(level, text, style, absl::Now());
  (void)!::write(STDERR_FILENO, line.data(), line.size());
}

bool LogAdmit(LogLevel level, std::string_view key) {
  LogRateLimiter::Verdict v;
  {
    std::lock_guard<std::mutex> lock(g_mu);
    v = Limiter()->Admit(key, absl::Now(), static_cast<int>(level));
  }
  if (v.suppressed_before > 0) Suppressed(level, v.suppressed_before, key);
  if (!v.write) g_suppressed.fetch_add(1, std::memory_order_relaxed);
  return v.write;
}

uint64_t LogLinesSuppressed() { return g_suppressed.load(std::memory_order_relaxed); }

void SetLogRateLimits(LogRateLimiter::Options options) {
  std::lock_guard<std::mutex> lock(g_mu);
  delete Limiter();
  Limiter() = new LogRateLimiter(options);
}

void FlushLogSuppression() {
  std::vector<LogRateLimiter::Closed> closed;
  {
    std::lock_guard<std::mutex> lock(g_mu);
    closed = Limiter()->TakeClosed(absl::Now());
  }
  for (const LogRateLimiter::Closed& c : closed) {
    Suppressed(static_cast<LogLevel>(c.tag), c.suppressed, c.key);
  }
}

}  // namespace xfr
