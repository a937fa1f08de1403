// The command line of `xfrload primary`: a synthetic primary serving a
// generated zone that changes at a given rate (bench/xfrload/primary.h).
// Parsing is kept apart from the primary so that every option error is
// reported before a socket is opened, and so the primary can be embedded
// (xfrproxy demo) without a command line.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "bench/xfrload/primary.h"

namespace xfr::load {

struct PrimaryCommand {
  PrimaryOptions primary;
  // Stop after this long; without it, at SIGINT or SIGTERM.
  std::optional<absl::Duration> duration;
  bool json = false;
  // A line per change (the default), or none.
  bool quiet = false;
  // A machine-readable stats line (JSON) this often, for scripts that read
  // "transfers served so far" while the run goes on.
  std::optional<absl::Duration> stats_interval;
  bool verbose = false;  // the engine's info log on stderr
  // Where to write the `zones:` list of an xfrproxy config that follows
  // every zone served from the first --listen address ("-": stdout).
  std::optional<std::string> zones_config;
};

// The `zones:` list of an xfrproxy configuration with one entry per zone
// `options` serves, each with `primary` as its primary.
std::string ZonesConfigSnippet(const PrimaryOptions& options, const SocketAddress& primary);

// Parses the arguments after "primary". Errors name the option.
absl::StatusOr<PrimaryCommand> ParsePrimaryOptions(const std::vector<std::string>& args);

std::string PrimaryUsage();

// `xfrload primary ARGS...`: runs until --duration or a signal, printing a
// line per change and the totals. Returns the exit status.
int RunPrimaryCommand(const std::vector<std::string>& args);

}  // namespace xfr::load
