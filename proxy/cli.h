// The xfrproxy command line (man/xfrproxy.8):
//   xfrproxy --config FILE          run
//   xfrproxy check --config FILE    validate the config and its zone files
//   xfrproxy demo [options]         everything on loopback (proxy/demo.h)
//   xfrproxy ctl ... VERB           drive a running one (proxy/control_client.h)
//   xfrproxy --help | --version
// Small enough that no option library is needed.
#pragma once

#include <cstdio>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "proxy/config.h"

namespace xfr {

// The project's version (CMakeLists.txt), defined in cli.cc.
extern const std::string_view kXfrproxyVersion;

// Exit codes: 0 success, 1 a bad config or a failure while running, 2 a
// usage error.
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;
inline constexpr int kExitUsage = 2;

// `xfrproxy demo`: what to simulate. The defaults are the README's first
// command; the options exist for slower or bigger machines and for tests.
struct DemoSettings {
  uint32_t secondaries = 300;
  uint64_t records = 10000;
  uint32_t interval_seconds = 3;  // between zone changes
  uint32_t duration_seconds = 0;  // 0: until Ctrl-C
};

struct CommandLine {
  enum class Command { kRun, kCheck, kDemo, kHelp, kVersion };
  Command command = Command::kHelp;
  std::string config_path;  // kRun and kCheck
  DemoSettings demo;        // kDemo
};

// `args` excludes argv[0]. Accepts --config FILE, --config=FILE and -c FILE.
absl::StatusOr<CommandLine> ParseCommandLine(
    const std::vector<std::string_view>& args);

std::string UsageText();

// Loads `path`, reads and checks every zone file (proxy/config_check.h),
// checks that state-dir can be written, and writes one line per zone to
// `out`, or every problem found to `err`. Returns the exit code.
int RunCheck(const std::string& path, std::FILE* out, std::FILE* err);

// One line describing a zone, as `check` prints it.
std::string DescribeZone(const Config& config, const ZoneConfig& zone);

// Runs the proxy with a loaded config; returns the exit code.
using RunFunction = std::function<int(const Config&)>;
// Runs the demo; returns the exit code.
using DemoFunction = std::function<int(const DemoSettings&)>;

// The whole of main(): parses argv, dispatches, prints errors. `run` is
// called for `--config FILE` once the config has loaded, `demo` for
// `demo`; an empty function (not linked into this build) is reported as an
// error.
int CliMain(int argc, char** argv, const RunFunction& run,
            const DemoFunction& demo = nullptr);

}  // namespace xfr
