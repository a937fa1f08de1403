// The command line of `xfrload secondaries`: N simulated secondaries that
// poll SOA over UDP, or transfer with IXFR or AXFR over TCP, against one
// server, or (--listen-notify) wait for NOTIFY and then behave like real
// secondaries. Parsing is kept apart from the load driver so that every
// option error is reported before a socket is opened.
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

// What each request of a simulated secondary is. kNotify: none until a
// NOTIFY arrives; then an SOA check and, for a newer serial, a transfer.
enum class Mode { kSoa, kIxfr, kAxfr, kMixed, kNotify };
std::string_view ModeName(Mode m);

struct SecondariesOptions {
  SocketAddress target;
  Name zone;
  uint32_t count = 1;  // N simulated secondaries
  Mode mode = Mode::kSoa;
  // kNotify: where secondary i listens for NOTIFY (NotifyListenAddress).
  // Its SOA queries leave from that socket and, for IPv4, its TCP
  // connections from that address, so the server sees N distinct peers.
  std::optional<SocketAddress> listen_notify;
  // kNotify: the run ends once every secondary holds this serial or a
  // newer one (or when `duration` passes: then the ones behind are
  // "unconverged" errors). Without it, and without a duration, the run
  // lasts until SecondariesLoad::Stop().
  std::optional<Serial> expect_serial;
  // kNotify: the secondaries start with no copy of the zone ("--serial
  // none"): they transfer it with AXFR at start-up and on every NOTIFY
  // until they have one.
  bool start_empty = false;
  // Event loops, each on its own thread with its own io_uring and a slice
  // of the secondaries, requests and concurrency.
  uint32_t threads = 1;
  // Print the `secondaries:` YAML for xfrproxy instead of running.
  bool print_config = false;
  // Secondary i claims serial (base - i mod spread), where base is --serial
  // or, without it, the server's current serial learnt by one SOA query at
  // start-up. spread 1: every secondary holds the same serial.
  std::optional<Serial> serial;
  uint32_t serial_spread = 1;
  // The run ends after `duration` or after `requests` requests (whichever
  // is given; both may be); without either, each secondary asks once.
  std::optional<absl::Duration> duration;
  std::optional<uint64_t> requests;
  // Requests in flight at once. kNotify: checks (SOA query, then the
  // transfer) in flight at once; the default there is every secondary.
  uint32_t concurrency = 1;
  // Pipelined: a secondary keeps its TCP connection for its next transfer
  // (RFC 7766 §6.2.1). Fresh: one connection per transfer, the default in
  // kNotify, as BIND and NSD do for a transfer after a NOTIFY (and so that
  // N idle secondaries do not hold N connections on the server).
  bool fresh_connections = false;
  std::optional<TsigKey> tsig;
  bool json = false;
  // Local addresses to send from, secondary i using sources[i % size]: a
  // server's per-address connection cap then sees many clients.
  std::vector<IpAddress> sources;
  // A request that has not finished after this long is a timeout error.
  absl::Duration timeout = absl::Seconds(30);
};

// Where secondary i listens for NOTIFY when the first listens on `base`.
// IPv4: address base + i, every secondary on base's port (127.0.0.0/8 is
// all loopback on Linux, so 10,000 secondaries need no set-up). IPv6: a
// host has one ::1, so every secondary uses base's address, on port
// base + i. The parser checks that the N addresses do not run out.
SocketAddress NotifyListenAddress(const SocketAddress& base, uint32_t i);

// The `secondaries:` list of an xfrproxy zone (docs/configuration.md)
// naming the N listen addresses (with `key:` when --tsig is given), for
// scripts that configure xfrproxy to notify these secondaries.
std::string SecondariesConfigYaml(const SecondariesOptions& options);

// Parses the arguments after "secondaries". Errors name the option.
absl::StatusOr<SecondariesOptions> ParseSecondariesOptions(
    const std::vector<std::string>& args);

// The usage text of the secondaries mode.
std::string SecondariesUsage();

}  // namespace xfr::load
