// Keeps a flood of one kind of log line (malformed packets, refused
// queries, TSIG failures from a misconfigured peer) from drowning the log
// and the disk: per key, at most `burst` lines per `window`; what is held
// back is counted, and reported once when the window closes. The key is the
// call site's format string, so that lines differing only in the peer's
// address count as one kind. No I/O and no clock of its own: the caller
// passes the time, so the behaviour is tested with a fake clock.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/time/time.h"

namespace xfr {

class LogRateLimiter {
 public:
  struct Options {
    uint32_t burst = 10;
    absl::Duration window = absl::Seconds(10);
  };

  struct Verdict {
    bool write = false;
    // Lines held back in this key's previous window, which closed with this
    // line: the caller reports them before it writes (or drops) this one.
    uint64_t suppressed_before = 0;
  };

  // A window that closed with lines held back.
  struct Closed {
    std::string_view key;
    int tag = 0;  // as given to the first Admit of the window
    uint64_t suppressed = 0;
  };

  explicit LogRateLimiter(Options options) : options_(options) {}
  LogRateLimiter() : LogRateLimiter(Options{}) {}

  // One line of kind `key` at `now`. `key` must outlive the limiter (a
  // string literal); `tag` is kept for Closed (the log level).
  Verdict Admit(std::string_view key, absl::Time now, int tag = 0);

  // Every window closed by `now`: those that held lines back are returned,
  // once, and all are forgotten, so a key that went quiet costs nothing.
  std::vector<Closed> TakeClosed(absl::Time now);

  size_t keys() const { return windows_.size(); }

 private:
  struct Window {
    absl::Time start;
    uint32_t written = 0;
    uint64_t suppressed = 0;
    int tag = 0;
  };

  Options options_;
  absl::flat_hash_map<std::string_view, Window> windows_;
};

}  // namespace xfr
