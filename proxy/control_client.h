// `xfrproxy ctl [--config FILE | --socket PATH] [--json] VERB [ZONE] [PEER]`:
// the client side of the control socket (proxy/control.h). It finds the
// socket in the daemon's config (the same default file the daemon reads),
// sends one request, prints the daemon's answer and exits 0 on success,
// 1 on any failure (the daemon's or its own), 2 on a usage error.
#pragma once

#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "proxy/control.h"

namespace xfr {

// The config the packaged daemon runs with (/etc/xfrproxy/, as the
// Debian package installs it); `ctl` reads it when no --config or --socket is given.
inline constexpr std::string_view kDefaultConfigPath = "/etc/xfrproxy/xfrproxy.yaml";

struct CtlOptions {
  std::string config_path = std::string(kDefaultConfigPath);
  std::string socket_path;  // --socket: the config is not read
  ControlRequest request;
  bool help = false;
};

// `args` are the words after "ctl".
absl::StatusOr<CtlOptions> ParseCtlArgs(const std::vector<std::string_view>& args);

std::string CtlUsageText();

// One request to the daemon at `socket_path`, its answer read until it
// closes, within `timeout`. The error says what failed and what to check
// ("... (is xfrproxy running?)").
absl::StatusOr<ControlResponse> SendControlRequest(const std::string& socket_path,
                                                   const ControlRequest& request,
                                                   absl::Duration timeout);

// The whole of `xfrproxy ctl`; returns the exit code.
int RunCtl(const std::vector<std::string_view>& args, std::FILE* out, std::FILE* err);

}  // namespace xfr
