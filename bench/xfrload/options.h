// The command line of `xfrload secondaries`: N simulated secondaries that
// poll SOA over UDP, or transfer with IXFR or AXFR over TCP, against one
// server. Parsing is kept apart from the load driver so that every option
// error is reported before a socket is opened.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "core/name.h"
#include "core/serial.h"
#include "core/tsig_key.h"
#include "proxy/net_address.h"

namespace xfr::load {

// What each request of a simulated secondary is.
enum class Mode { kSoa, kIxfr, kAxfr, kMixed };
std::string_view ModeName(Mode m);

struct SecondariesOptions {
  SocketAddress target;
  Name zone;
  uint32_t count = 1;  // N simulated secondaries
  Mode mode = Mode::kSoa;
  // Secondary i claims serial (base - i mod spread), where base is --serial
  // or, without it, the server's current serial learnt by one SOA query at
  // start-up. spread 1: every secondary holds the same serial.
  std::optional<Serial> serial;
  uint32_t serial_spread = 1;
  // The run ends after `duration` or after `requests` requests (whichever
  // is given; both may be); without either, each secondary asks once.
  std::optional<absl::Duration> duration;
  std::optional<uint64_t> requests;
  uint32_t concurrency = 1;  // requests in flight at once
  // Pipelined: a secondary keeps its TCP connection for its next transfer
  // (RFC 7766 §6.2.1). Fresh: one connection per transfer.
  bool fresh_connections = false;
  std::optional<TsigKey> tsig;
  bool json = false;
  // Local addresses to send from, secondary i using sources[i % size]: a
  // server's per-address connection cap then sees many clients.
  std::vector<IpAddress> sources;
  // A request that has not finished after this long is a timeout error.
  absl::Duration timeout = absl::Seconds(30);
};

// Parses the arguments after "secondaries". Errors name the option.
absl::StatusOr<SecondariesOptions> ParseSecondariesOptions(
    const std::vector<std::string>& args);

// The usage text of the secondaries mode.
std::string SecondariesUsage();

}  // namespace xfr::load
