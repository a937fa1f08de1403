#include "proxy/cli.h"

#include "absl/strings/str_cat.h"
#include "core/ascii.h"
#include "fmt/format.h"
#include "proxy/config_check.h"
#include "proxy/control_client.h"

namespace xfr {

#ifndef XFR_VERSION
#error "XFR_VERSION comes from the project's version in CMakeLists.txt"
#endif
const std::string_view kXfrproxyVersion = XFR_VERSION;

namespace {

// Lists at most a few entries; an ACL of thousands of hosts is summarised.
std::string Brief(const CidrSet& set) {
  if (set.empty()) return "nobody";
  if (set.size() > 4) return fmt::format("{} ranges", set.size());
  return set.ToString();
}

// The value of a demo option: a whole number in [min, max].
absl::StatusOr<uint64_t> DemoNumber(const std::vector<std::string_view>& args, size_t& i,
                                    uint64_t min, uint64_t max) {
  std::string_view name = args[i];
  if (i + 1 >= args.size()) {
    return absl::InvalidArgumentError(fmt::format("{} needs a number", name));
  }
  std::string_view v = args[++i];
  uint64_t n = 0;
  bool ok = !v.empty() && v.size() <= 12;
  for (char c : v) {
    if (c < '0' || c > '9') ok = false;
    n = n * 10 + static_cast<uint64_t>(c - '0');
  }
  if (!ok || n < min || n > max) {
    return absl::InvalidArgumentError(
        fmt::format("{} must be a number from {} to {}, not '{}'", name, min, max, v));
  }
  return n;
}

}  // namespace

absl::StatusOr<CommandLine> ParseCommandLine(
    const std::vector<std::string_view>& args) {
  CommandLine cl;
  bool have_command = false;
  bool saw_config = false;
  for (size_t i = 0; i < args.size(); ++i) {
    std::string_view a = args[i];
    if (a == "--help" || a == "-h") {
      cl.command = CommandLine::Command::kHelp;
      return cl;
    }
    if (a == "--version" || a == "-V") {
      cl.command = CommandLine::Command::kVersion;
      return cl;
    }
    if (a == "--config" || a == "-c") {
      if (i + 1 >= args.size()) {
        return absl::InvalidArgumentError(
            fmt::format("{} needs a file name", a));
      }
      cl.config_path = std::string(args[++i]);
      saw_config = true;
    } else if (a.substr(0, 9) == "--config=") {
      cl.config_path = std::string(a.substr(9));
      saw_config = true;
    } else if (cl.command == CommandLine::Command::kDemo &&
               (a == "--secondaries" || a == "--records" || a == "--interval" ||
                a == "--duration")) {
      // Bounds: the NOTIFY addresses are 127.2.0.0/16 and the zone must
      // fit the machine comfortably.
      uint64_t max = a == "--secondaries" ? 60000 : a == "--records" ? 5'000'000 : 86400;
      uint64_t min = a == "--duration" || a == "--records" ? 0 : 1;
      if (a == "--records") min = 100;
      auto n = DemoNumber(args, i, min, max);
      if (!n.ok()) return n.status();
      if (a == "--secondaries") cl.demo.secondaries = static_cast<uint32_t>(*n);
      if (a == "--records") cl.demo.records = *n;
      if (a == "--interval") cl.demo.interval_seconds = static_cast<uint32_t>(*n);
      if (a == "--duration") cl.demo.duration_seconds = static_cast<uint32_t>(*n);
    } else if (!a.empty() && a.front() == '-') {
      return absl::InvalidArgumentError(fmt::format("unknown option '{}'", a));
    } else if (!have_command && (a == "check" || a == "demo" || a == "run")) {
      cl.command = a == "check"  ? CommandLine::Command::kCheck
                   : a == "demo" ? CommandLine::Command::kDemo
                                 : CommandLine::Command::kRun;
      have_command = true;
    } else {
      return absl::InvalidArgumentError(
          fmt::format("unexpected argument '{}'", a));
    }
  }
  if (saw_config && cl.config_path.empty()) {
    return absl::InvalidArgumentError("--config needs a file name");
  }
  if (!have_command) {
    if (!saw_config) {
      return absl::InvalidArgumentError("nothing to do: give --config FILE");
    }
    cl.command = CommandLine::Command::kRun;
  }
  switch (cl.command) {
    case CommandLine::Command::kRun:
    case CommandLine::Command::kCheck:
      if (!saw_config) {
        return absl::InvalidArgumentError(
            fmt::format("'{}' needs --config FILE",
                        cl.command == CommandLine::Command::kRun ? "run"
                                                                 : "check"));
      }
      break;
    case CommandLine::Command::kDemo:
      if (saw_config) {
        return absl::InvalidArgumentError(
            "'demo' takes no --config: it sets everything up itself");
      }
      break;
    default:
      break;
  }
  return cl;
}

std::string UsageText() {
  return fmt::format(
      "xfrproxy {} - a DNS zone-transfer proxy\n"
      "\n"
      "usage:\n"
      "  xfrproxy --config FILE         run with the YAML config FILE\n"
      "  xfrproxy check --config FILE   validate FILE and its zone files\n"
      "  xfrproxy demo [--secondaries N] [--records N] [--interval S] [--duration S]\n"
      "                                 a synthetic primary, the proxy and N simulated\n"
      "                                 secondaries on loopback, with live figures\n"
      "  xfrproxy ctl [--json] VERB [ZONE] [PEER]\n"
      "                                 drive a running xfrproxy: status, refresh,\n"
      "                                 retransfer, notify, reload, peers (ctl --help)\n"
      "  xfrproxy --help | --version\n"
      "\n"
      "exit status: 0 ok, 1 bad config or failure, 2 usage error\n",
      kXfrproxyVersion);
}

std::string DescribeZone(const Config& config, const ZoneConfig& zone) {
  std::string out = zone.name.ToText() + ":";
  if (!zone.template_id.empty()) absl::StrAppend(&out, " template ", zone.template_id, ";");
  if (zone.produce_catalog) {
    out += " catalog of the other zones (RFC 9432)";
  } else if (zone.has_file()) {
    out += fmt::format(" file {}", zone.file);
  } else {
    out += " primaries";
    for (const SocketAddress& p : zone.primaries) absl::StrAppend(&out, " ", p.ToString());
    if (zone.primary_key.has_value()) {
      const TsigKeyConfig* k = config.FindKey(*zone.primary_key);
      out += fmt::format(" (key {} {})", zone.primary_key->ToText(),
                         k != nullptr ? k->algorithm : "?");
    }
    out += fmt::format("; notify-from {}", Brief(zone.notify_from));
  }
  out += fmt::format("; allow-transfer {}{}", Brief(zone.allow_transfer),
                     zone.allow_transfer_explicit ? "" : " (the secondaries)");
  size_t notified = 0;
  for (const SecondaryConfig& s : zone.secondaries) notified += s.notify;
  out += fmt::format("; {} secondaries ({} notified)", zone.secondaries.size(),
                     notified);
  out += fmt::format("; journal {} diffs; max-records {}",
                     zone.journal_max_diffs, zone.max_records);
  if (zone.proxied.has_value()) {
    out += fmt::format("; proxied {} names -> {} v4 + {} v6 edges, ttl {}",
                       zone.proxied->names.size(),
                       zone.proxied->edge_v4.size(),
                       zone.proxied->edge_v6.size(), zone.proxied->ttl);
  }
  return out;
}

int RunCheck(const std::string& path, std::FILE* out, std::FILE* err) {
  absl::StatusOr<Config> config = LoadConfig(path);
  absl::Status status =
      config.ok() ? CheckZoneFiles(*config) : config.status();
  if (!status.ok()) {
    std::fprintf(err, "%s\n", std::string(ToStd(status.message())).c_str());
    return kExitFailure;
  }
  std::vector<std::string> problems = CheckZoneContents(*config);
  if (!config->state_dir.empty()) {
    if (absl::Status s = CheckStateDirWritable(config->state_dir); !s.ok()) {
      problems.emplace_back(ToStd(s.message()));
    }
  }
  if (!problems.empty()) {
    for (const std::string& p : problems) std::fprintf(err, "%s\n", p.c_str());
    std::fprintf(err, "%s: %zu problem%s found\n", path.c_str(), problems.size(),
                 problems.size() == 1 ? "" : "s");
    return kExitFailure;
  }
  std::string listen;
  for (const SocketAddress& a : config->listen) {
    absl::StrAppend(&listen, listen.empty() ? "" : " ", a.ToString());
  }
  std::fprintf(out, "%s: OK: %zu zones, %zu keys, listen %s, http %s, "
               "%d threads, state-dir %s\n",
               path.c_str(), config->zones.size(), config->keys.size(),
               listen.c_str(),
               config->http ? config->http->ToString().c_str() : "off",
               config->threads,
               config->state_dir.empty() ? "none (nothing persisted)"
                                         : config->state_dir.c_str());
  for (const ZoneConfig& z : config->zones) {
    std::fprintf(out, "zone %s\n", DescribeZone(*config, z).c_str());
  }
  return kExitOk;
}

int CliMain(int argc, char** argv, const RunFunction& run, const DemoFunction& demo) {
  std::vector<std::string_view> args;
  for (int i = 1; i < argc; ++i) args.emplace_back(argv[i]);
  // `ctl` has options of its own (proxy/control_client.h).
  if (!args.empty() && args[0] == "ctl") {
    return RunCtl(std::vector<std::string_view>(args.begin() + 1, args.end()), stdout, stderr);
  }
  absl::StatusOr<CommandLine> cl = ParseCommandLine(args);
  if (!cl.ok()) {
    std::fprintf(stderr, "xfrproxy: %s\n\n%s",
                 std::string(ToStd(cl.status().message())).c_str(),
                 UsageText().c_str());
    return kExitUsage;
  }
  switch (cl->command) {
    case CommandLine::Command::kHelp:
      std::fputs(UsageText().c_str(), stdout);
      return kExitOk;
    case CommandLine::Command::kVersion:
      std::printf("xfrproxy %.*s\n", static_cast<int>(kXfrproxyVersion.size()),
                  kXfrproxyVersion.data());
      return kExitOk;
    case CommandLine::Command::kCheck:
      return RunCheck(cl->config_path, stdout, stderr);
    case CommandLine::Command::kDemo:
      if (!demo) {
        std::fputs("xfrproxy: this build has no demo (fuzzing builds leave it out)\n", stderr);
        return kExitFailure;
      }
      return demo(cl->demo);
    case CommandLine::Command::kRun:
      break;
  }
  absl::StatusOr<Config> config = LoadConfig(cl->config_path);
  absl::Status status =
      config.ok() ? CheckZoneFiles(*config) : config.status();
  if (!status.ok()) {
    std::fprintf(stderr, "%s\n", std::string(ToStd(status.message())).c_str());
    return kExitFailure;
  }
  if (!run) {
    std::fputs(
        "xfrproxy: the engine is not built yet: this binary can only "
        "'check' a config\n",
        stderr);
    return kExitFailure;
  }
  return run(*config);
}

}  // namespace xfr
