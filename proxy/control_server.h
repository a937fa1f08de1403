// The control socket of `xfrproxy ctl` (proxy/control.h has the protocol).
// Like the http endpoint, it is kept off the serving rings: one thread of
// its own multiplexes a few connections with poll(), reads one request line
// per connection within a deadline, asks the handler, writes the answer
// within a deadline and closes. A client that sends nothing, or does not
// read, costs one slot until its deadline and delays nobody else's DNS.
//
// Access control is the socket file's mode, 0660: the kernel refuses
// connect() with EACCES to anyone but the daemon's user and group (unix(7):
// connecting needs write permission on the socket). A stale socket file
// left by a crash is replaced; a live one (another xfrproxy answers on it)
// is an error; the file is removed when the server stops.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "proxy/control.h"
#include "proxy/socket.h"

namespace xfr {

// sun_path holds 108 bytes with the terminating NUL (unix(7)).
inline constexpr size_t kMaxUnixSocketPath = 107;
inline constexpr mode_t kControlSocketMode = 0660;

struct ControlServerOptions {
  // From accept to the end of the request line; again for the answer.
  absl::Duration io_timeout = absl::Seconds(2);
  // Connections held at once; more are closed as soon as accepted.
  size_t max_connections = 16;
};

class ControlServer {
 public:
  // Runs on the control thread, once per well-formed request; it must
  // return within a bound of its own (it waits on the zone owner).
  using Handler = std::function<ControlResponse(const ControlRequest&)>;

  static absl::StatusOr<std::unique_ptr<ControlServer>> Start(
      const std::string& path, Handler handler, const ControlServerOptions& options = {});
  ~ControlServer();  // Stop()s
  ControlServer(const ControlServer&) = delete;
  ControlServer& operator=(const ControlServer&) = delete;

  // Closes the listener and every connection, joins the thread and removes
  // the socket file. Idempotent.
  void Stop();
  const std::string& path() const { return path_; }

 private:
  using Clock = std::chrono::steady_clock;
  struct Connection;
  ControlServer(ScopedFd listener, ScopedFd wake, std::string path, ino_t inode,
                Handler handler, const ControlServerOptions& options);
  void Loop();
  void Accept(Clock::time_point now);
  // Advance one connection on readiness; false when it is done with.
  bool OnReadable(Connection& c);
  bool OnWritable(Connection& c);

  ScopedFd listener_;
  ScopedFd wake_;
  std::string path_;
  ino_t inode_;  // the socket file we made: only that one is removed
  Handler handler_;
  ControlServerOptions options_;
  std::vector<std::unique_ptr<Connection>> connections_;
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

}  // namespace xfr
