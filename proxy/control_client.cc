#include "proxy/control_client.h"

#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "core/ascii.h"
#include "fmt/format.h"
#include "proxy/config.h"
#include "proxy/control_server.h"
#include "proxy/socket.h"
#include "yaml-cpp/yaml.h"

namespace xfr {
namespace {

// Longer than the daemon's own bound on a reload (proxy/server.cc), so the
// daemon's "still running" answer arrives before the client gives up.
constexpr absl::Duration kCtlTimeout = absl::Seconds(75);

absl::StatusOr<std::string> OptionValue(const std::vector<std::string_view>& args, size_t& i) {
  std::string_view a = args[i];
  size_t eq = a.find('=');
  if (eq != std::string_view::npos) {
    if (eq + 1 == a.size()) {
      return absl::InvalidArgumentError(fmt::format("{} needs a value", a.substr(0, eq)));
    }
    return std::string(a.substr(eq + 1));
  }
  if (i + 1 >= args.size() || args[i + 1].empty()) {
    return absl::InvalidArgumentError(fmt::format("{} needs a value", a));
  }
  return std::string(args[++i]);
}

std::string ConnectError(const std::string& path, int err) {
  std::string hint;
  if (err == ENOENT || err == ECONNREFUSED) {
    hint = " (is xfrproxy running?)";
  } else if (err == EACCES || err == EPERM) {
    hint = fmt::format(" (the socket is mode {:o}: run as the daemon's user or a member of "
                       "its group)",
                       kControlSocketMode);
  }
  return fmt::format("cannot connect to {}: {}{}", path, std::strerror(err), hint);
}

// Only `control:` / `state-dir:` of a config that does not load: the
// operator who broke it is about to run `ctl reload` to be told what is
// wrong, and that needs the socket. Paths resolve as the daemon's do.
std::optional<std::string> LenientControlSocket(const std::string& path) {
  try {
    YAML::Node root = YAML::LoadFile(path);
    if (!root.IsMap()) return std::nullopt;
    std::filesystem::path base = std::filesystem::path(path).parent_path();
    auto resolve = [&base](const std::string& p) {
      std::filesystem::path fp(p);
      return fp.is_absolute() || base.empty() ? p : (base / fp).string();
    };
    if (root["control"] && root["control"].IsScalar()) {
      return resolve(root["control"].as<std::string>());
    }
    if (root["state-dir"] && root["state-dir"].IsScalar()) {
      return resolve(root["state-dir"].as<std::string>()) + "/control";
    }
  } catch (const std::exception&) {
  }
  return std::nullopt;
}

absl::StatusOr<std::string> ControlSocketOf(const std::string& config_path) {
  absl::StatusOr<Config> config = LoadConfig(config_path);
  if (!config.ok()) {
    if (auto lenient = LenientControlSocket(config_path)) return *lenient;
    return absl::InvalidArgumentError(fmt::format(
        "{} (give --socket PATH to skip the config)", ToStd(config.status().message())));
  }
  if (config->control_socket.empty()) {
    return absl::FailedPreconditionError(fmt::format(
        "{} has no control socket: set `control:` or `state-dir:`", config_path));
  }
  return config->control_socket;
}

}  // namespace

absl::StatusOr<CtlOptions> ParseCtlArgs(const std::vector<std::string_view>& args) {
  CtlOptions o;
  bool json = false;
  std::vector<std::string_view> words;
  for (size_t i = 0; i < args.size(); ++i) {
    std::string_view a = args[i];
    auto is = [&a](std::string_view name) {
      return a == name || (a.starts_with(name) && a.size() > name.size() &&
                           a[name.size()] == '=');
    };
    if (a == "--help" || a == "-h") {
      o.help = true;
      return o;
    } else if (a == "--json") {
      json = true;
    } else if (is("--config") || a == "-c") {
      auto v = OptionValue(args, i);
      if (!v.ok()) return v.status();
      o.config_path = *v;
    } else if (is("--socket") || a == "-s") {
      auto v = OptionValue(args, i);
      if (!v.ok()) return v.status();
      o.socket_path = *v;
    } else if (a.starts_with("-")) {
      return absl::InvalidArgumentError(fmt::format("unknown option '{}'", a));
    } else {
      words.push_back(a);
    }
  }
  auto request = MakeControlRequest(words, json);
  if (!request.ok()) return request.status();
  o.request = *std::move(request);
  return o;
}

std::string CtlUsageText() {
  return fmt::format(
      "usage: xfrproxy ctl [--config FILE | --socket PATH] [--json] VERB [ZONE] [PEER]\n"
      "\n"
      "  status [ZONE]        serial, refresh and transfer times, expiry, journal, peers\n"
      "  refresh ZONE         check the primaries' SOA now\n"
      "  retransfer ZONE      AXFR from the primaries now, whatever the serial\n"
      "  notify ZONE [PEER]   send NOTIFY for the current serial again (PEER as configured)\n"
      "  reload               re-read the configuration (as SIGHUP); prints its errors\n"
      "  peers ZONE           the zone's secondaries and where they stand\n"
      "\n"
      "The socket is the config's `control:` (default <state-dir>/control); --config\n"
      "defaults to {}. Exit status: 0 ok, 1 failure, 2 usage error.\n",
      kDefaultConfigPath);
}

absl::StatusOr<ControlResponse> SendControlRequest(const std::string& socket_path,
                                                   const ControlRequest& request,
                                                   absl::Duration timeout) {
  sockaddr_un sun{};
  if (socket_path.empty() || socket_path.size() > kMaxUnixSocketPath) {
    return absl::InvalidArgumentError(
        fmt::format("bad control socket path '{}' (1 to {} bytes)", socket_path,
                    kMaxUnixSocketPath));
  }
  sun.sun_family = AF_UNIX;
  std::memcpy(sun.sun_path, socket_path.data(), socket_path.size());
  ScopedFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (fd.get() < 0) {
    return absl::InternalError(fmt::format("socket: {}", std::strerror(errno)));
  }
  // Blocking I/O bounded by the socket timeouts: a daemon that stopped
  // answering cannot hang a script.
  timeval tv = absl::ToTimeval(timeout);
  ::setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd.get(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&sun), sizeof sun) != 0) {
    return absl::UnavailableError(ConnectError(socket_path, errno));
  }
  std::string line = FormatControlRequest(request);
  for (size_t sent = 0; sent < line.size();) {
    ssize_t n = ::send(fd.get(), line.data() + sent, line.size() - sent, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      return absl::UnavailableError(
          fmt::format("sending to {}: {}", socket_path, std::strerror(errno)));
    }
    sent += static_cast<size_t>(n);
  }
  std::string data;
  char buf[4096];
  while (true) {
    ssize_t n = ::recv(fd.get(), buf, sizeof buf, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      return absl::DeadlineExceededError(
          errno == EAGAIN || errno == EWOULDBLOCK
              ? fmt::format("no answer from {} within {}", socket_path,
                            absl::FormatDuration(timeout))
              : fmt::format("reading from {}: {}", socket_path, std::strerror(errno)));
    }
    if (n == 0) break;
    data.append(buf, static_cast<size_t>(n));
  }
  return ParseControlResponse(data);
}

int RunCtl(const std::vector<std::string_view>& args, std::FILE* out, std::FILE* err) {
  absl::StatusOr<CtlOptions> o = ParseCtlArgs(args);
  if (!o.ok()) {
    std::fprintf(err, "xfrproxy ctl: %s\n\n%s", std::string(ToStd(o.status().message())).c_str(),
                 CtlUsageText().c_str());
    return 2;
  }
  if (o->help) {
    std::fputs(CtlUsageText().c_str(), out);
    return 0;
  }
  bool json = o->request.json;
  // A failure of the client itself, in the form asked for: JSON on stdout
  // (a script reads one place), text on stderr.
  auto fail = [&](std::string_view message) {
    if (json) {
      std::fputs(ControlMessage(true, false, message).body.c_str(), out);
    } else {
      std::fprintf(err, "xfrproxy ctl: %.*s\n", static_cast<int>(message.size()),
                   message.data());
    }
    return 1;
  };
  std::string socket = o->socket_path;
  if (socket.empty()) {
    absl::StatusOr<std::string> from_config = ControlSocketOf(o->config_path);
    if (!from_config.ok()) return fail(ToStd(from_config.status().message()));
    socket = *from_config;
  }
  absl::StatusOr<ControlResponse> r = SendControlRequest(socket, o->request, kCtlTimeout);
  if (!r.ok()) return fail(ToStd(r.status().message()));
  if (r->ok || json) {
    std::fputs(r->body.c_str(), out);
  } else {
    std::fprintf(err, "xfrproxy ctl: %s", r->body.c_str());
  }
  return r->ok ? 0 : 1;
}

}  // namespace xfr
