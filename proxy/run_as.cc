#include "proxy/run_as.h"

#include <dirent.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <pwd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "core/ascii.h"
#include "fmt/format.h"
#include "proxy/log.h"

namespace xfr {
namespace {

absl::Status Errno(std::string_view what, std::string_view path, int err) {
  return absl::PermissionDeniedError(
      fmt::format("{} {}: {}", what, path, std::strerror(err)));
}

// getpwnam_r and getgrnam_r report "not found" as 0 with no result, or, in
// some NSS modules, as one of these.
bool NotFound(int rc) { return rc == 0 || rc == ENOENT || rc == ESRCH; }

// Calls a get*_r function with a buffer that grows until the entry fits.
template <typename Entry, typename Fn>
int Lookup(Fn fn, Entry& entry, Entry*& found, std::vector<char>& buf) {
  buf.resize(4096);
  int rc;
  while ((rc = fn(&entry, buf.data(), buf.size(), &found)) == ERANGE &&
         buf.size() < (1u << 24)) {
    buf.resize(buf.size() * 2);
  }
  return rc;
}

// Gives `path` to the account; a directory with its entries (state-dir is
// flat: snapshots, journals, markers, the lock and the control socket).
// Links are changed, never followed: a link planted in state-dir must not
// hand some other file over.
absl::Status HandOver(const std::string& path, uid_t uid, gid_t gid) {
  struct stat st;
  if (::lstat(path.c_str(), &st) != 0) {
    return errno == ENOENT ? absl::OkStatus() : Errno("cannot stat", path, errno);
  }
  if (::lchown(path.c_str(), uid, gid) != 0) return Errno("cannot chown", path, errno);
  if (!S_ISDIR(st.st_mode)) return absl::OkStatus();
  DIR* d = ::opendir(path.c_str());
  if (d == nullptr) return Errno("cannot read", path, errno);
  absl::Status result;
  while (struct dirent* de = ::readdir(d)) {
    std::string_view n = de->d_name;
    if (n == "." || n == "..") continue;
    if (::fchownat(::dirfd(d), de->d_name, uid, gid, AT_SYMLINK_NOFOLLOW) != 0) {
      result = Errno("cannot chown", fmt::format("{}/{}", path, n), errno);
      break;
    }
  }
  ::closedir(d);
  return result;
}

// After the switch nothing of root may be left: not the ids (real, effective
// and saved), not a capability, and no way back to uid or gid 0.
absl::Status VerifyDropped(const RunAsConfig& to) {
  uid_t ru, eu, su;
  gid_t rg, eg, sg;
  if (::getresuid(&ru, &eu, &su) != 0 || ::getresgid(&rg, &eg, &sg) != 0) {
    return absl::InternalError(fmt::format("getresuid: {}", std::strerror(errno)));
  }
  if (ru != to.uid || eu != to.uid || su != to.uid || rg != to.gid || eg != to.gid ||
      sg != to.gid) {
    return absl::InternalError(fmt::format(
        "after switching to {}:{} the ids are uid {}/{}/{} gid {}/{}/{}", to.uid, to.gid, ru,
        eu, su, rg, eg, sg));
  }
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct caps[_LINUX_CAPABILITY_U32S_3] = {};
  if (::syscall(SYS_capget, &header, caps) != 0) {
    return absl::InternalError(fmt::format("capget: {}", std::strerror(errno)));
  }
  for (const auto& c : caps) {
    if (c.effective != 0 || c.permitted != 0) {
      return absl::InternalError("capabilities are left after switching to an unprivileged user");
    }
  }
  // Must fail now; if either worked, the process is root again and stops.
  if (::setuid(0) == 0 || ::setgid(0) == 0) {
    return absl::InternalError("root could be regained after switching users");
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<RunAsConfig> LookUpUser(std::string_view user) {
  if (user.empty()) return absl::InvalidArgumentError("empty user name");
  RunAsConfig out;
  out.user = std::string(user);
  std::vector<char> buf;
  struct passwd pw;
  struct passwd* pw_found = nullptr;
  int rc = Lookup(
      [&](passwd* e, char* b, size_t n, passwd** r) {
        return ::getpwnam_r(out.user.c_str(), e, b, n, r);
      },
      pw, pw_found, buf);
  if (pw_found == nullptr) {
    if (NotFound(rc)) {
      return absl::NotFoundError(fmt::format(
          "no such user '{}' (create it first, e.g. adduser --system --group {})", user, user));
    }
    return absl::UnavailableError(
        fmt::format("cannot look up user '{}': {}", user, std::strerror(rc)));
  }
  if (pw.pw_uid == 0) {
    return absl::InvalidArgumentError(fmt::format(
        "user '{}' is uid 0, which keeps every privilege: name an unprivileged account, or "
        "leave 'user' out",
        user));
  }
  out.uid = pw.pw_uid;
  out.gid = pw.pw_gid;
  // The primary group's name, for messages; a group with no entry of its
  // own still has its number.
  struct group gr;
  struct group* gr_found = nullptr;
  Lookup(
      [&](struct group* e, char* b, size_t n, struct group** r) {
        return ::getgrgid_r(out.gid, e, b, n, r);
      },
      gr, gr_found, buf);
  out.group = gr_found != nullptr ? std::string(gr.gr_name) : std::to_string(out.gid);
  return out;
}

absl::StatusOr<gid_t> LookUpGroup(std::string_view group) {
  if (group.empty()) return absl::InvalidArgumentError("empty group name");
  std::string name(group);
  std::vector<char> buf;
  struct group gr;
  struct group* found = nullptr;
  int rc = Lookup(
      [&](struct group* e, char* b, size_t n, struct group** r) {
        return ::getgrnam_r(name.c_str(), e, b, n, r);
      },
      gr, found, buf);
  if (found == nullptr) {
    if (NotFound(rc)) return absl::NotFoundError(fmt::format("no such group '{}'", group));
    return absl::UnavailableError(
        fmt::format("cannot look up group '{}': {}", group, std::strerror(rc)));
  }
  if (gr.gr_gid == 0) {
    return absl::InvalidArgumentError(
        fmt::format("group '{}' is gid 0, root's group: name an unprivileged group", group));
  }
  return gr.gr_gid;
}

RunAsAction PlanRunAs(const std::optional<RunAsConfig>& want, uid_t euid, gid_t egid) {
  if (!want.has_value()) return euid == 0 ? RunAsAction::kWarnRoot : RunAsAction::kNothing;
  if (euid == 0) return RunAsAction::kSwitch;
  // Already that account (systemd's User= and Group= did the switch).
  if (want->uid == euid && want->gid == egid) return RunAsAction::kNothing;
  return RunAsAction::kImpossible;
}

absl::Status ApplyRunAs(const std::optional<RunAsConfig>& want,
                        const std::vector<std::string>& hand_over) {
  switch (PlanRunAs(want, ::geteuid(), ::getegid())) {
    case RunAsAction::kNothing:
      return absl::OkStatus();
    case RunAsAction::kWarnRoot:
      LogWarning(
          "running as root: set 'user:' (and 'group:') in the config to switch to an "
          "unprivileged account once the sockets are bound");
      return absl::OkStatus();
    case RunAsAction::kImpossible:
      return absl::FailedPreconditionError(fmt::format(
          "user: cannot switch to {}:{} (uid {} gid {}): xfrproxy runs as uid {} gid {}, and "
          "only root can switch accounts (start it as root or as {}, or leave 'user' out)",
          want->user, want->group, want->uid, want->gid, ::geteuid(), ::getegid(), want->user));
    case RunAsAction::kSwitch:
      break;
  }
  const RunAsConfig& to = *want;
  for (const std::string& path : hand_over) {
    if (absl::Status st = HandOver(path, to.uid, to.gid); !st.ok()) {
      return absl::PermissionDeniedError(fmt::format(
          "user: cannot hand state over to {}: {}", to.user, ToStd(st.message())));
    }
  }
  // glibc applies each of these to every thread of the process (its setxid
  // broadcast), so the serving threads started before now switch too.
  // Groups first: once the user is no longer root, they cannot be changed.
  if (::initgroups(to.user.c_str(), to.gid) != 0) {
    return Errno("user: cannot set the groups of", to.user, errno);
  }
  if (::setresgid(to.gid, to.gid, to.gid) != 0) {
    return Errno("user: cannot switch to group", to.group, errno);
  }
  if (::setresuid(to.uid, to.uid, to.uid) != 0) {
    return Errno("user: cannot switch to user", to.user, errno);
  }
  if (absl::Status st = VerifyDropped(to); !st.ok()) return st;
  LogInfo("running as user {} (uid {}), group {} (gid {})", to.user, to.uid, to.group, to.gid);
  return absl::OkStatus();
}

}  // namespace xfr
