// The account xfrproxy runs as once it is listening. Port 53 needs root (or
// CAP_NET_BIND_SERVICE); nothing after binding does. Started as root
// without systemd to do it for us, the daemon binds everything, hands its
// state over to the `user:` account and switches to it for good, the way
// BIND (`-u`) and NSD (`username:`) do.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace xfr {

// `user:` and `group:` of the config, resolved against the system's
// accounts when the config is loaded.
struct RunAsConfig {
  std::string user;
  uid_t uid = 0;
  std::string group;  // `group:`, else the user's primary group
  gid_t gid = 0;
  friend bool operator==(const RunAsConfig&, const RunAsConfig&) = default;
};

// The account `user` (getpwnam), with its primary group. The error says
// what is wrong with the name; the caller adds where it was written. uid 0
// is refused: it would keep every privilege.
absl::StatusOr<RunAsConfig> LookUpUser(std::string_view user);
// The gid of `group` (getgrnam); gid 0 is refused.
absl::StatusOr<gid_t> LookUpGroup(std::string_view group);

// What the running process can do about `want` (nullopt: no `user:`).
enum class RunAsAction {
  kNothing,        // no `user:` and not root, or already that account
  kWarnRoot,       // root without `user:`: allowed, said once in the log
  kSwitch,         // root with `user:`: hand over and switch
  kImpossible,     // another unprivileged account: only root can switch
};
RunAsAction PlanRunAs(const std::optional<RunAsConfig>& want, uid_t euid, gid_t egid);

// Run once, after every socket is bound and state-dir is open: what
// PlanRunAs says. Switching first gives `hand_over` (state-dir, its files
// and the control socket; missing paths are skipped) to the account, so the
// daemon can go on writing its state and replacing its socket, then sets
// the account's groups, group and user in every thread of the process, and
// checks that neither root nor any capability can be had back. An error
// means the process must not go on: it may hold a half-changed identity.
absl::Status ApplyRunAs(const std::optional<RunAsConfig>& want,
                        const std::vector<std::string>& hand_over);

}  // namespace xfr
