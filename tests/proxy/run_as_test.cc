// `user:` / `group:`: resolved when the config loads, with the line of a
// bad name; what the process does about them for each account it may be
// running as; and, as root, the switch itself in a child process.
#include "proxy/run_as.h"

#include <grp.h>
#include <pwd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "gtest/gtest.h"
#include "proxy/config.h"

namespace xfr {
namespace {

absl::StatusOr<Config> Load(std::string_view text) {
  return LoadConfigText(text, "x.yaml", "");
}

std::string Message(const absl::StatusOr<Config>& c) {
  return c.ok() ? "ok" : std::string(c.status().message());
}

TEST(RunAsConfigTest, UserAndGroupResolveToTheirIds) {
  const passwd* pw = ::getpwnam("nobody");
  const group* gr = ::getgrnam("daemon");
  ASSERT_NE(pw, nullptr);
  ASSERT_NE(gr, nullptr);
  auto c = Load("listen: [\"127.0.0.1:5300\"]\nuser: nobody\ngroup: daemon\nzones: []\n");
  ASSERT_TRUE(c.ok()) << Message(c);
  ASSERT_TRUE(c->run_as.has_value());
  EXPECT_EQ(c->run_as->user, "nobody");
  EXPECT_EQ(c->run_as->uid, pw->pw_uid);
  EXPECT_EQ(c->run_as->group, "daemon");
  EXPECT_EQ(c->run_as->gid, gr->gr_gid);
}

TEST(RunAsConfigTest, UserAloneTakesItsPrimaryGroup) {
  const passwd* pw = ::getpwnam("daemon");
  ASSERT_NE(pw, nullptr);
  const group* gr = ::getgrgid(pw->pw_gid);
  ASSERT_NE(gr, nullptr);
  auto c = Load("listen: [\"127.0.0.1:5300\"]\nuser: daemon\nzones: []\n");
  ASSERT_TRUE(c.ok()) << Message(c);
  EXPECT_EQ(c->run_as->uid, pw->pw_uid);
  EXPECT_EQ(c->run_as->gid, pw->pw_gid);
  EXPECT_EQ(c->run_as->group, gr->gr_name);
}

TEST(RunAsConfigTest, NoUserMeansNoSwitch) {
  auto c = Load("listen: [\"127.0.0.1:5300\"]\nzones: []\n");
  ASSERT_TRUE(c.ok()) << Message(c);
  EXPECT_FALSE(c->run_as.has_value());
}

TEST(RunAsConfigTest, BadNamesAreErrorsAtTheirLine) {
  struct Case {
    const char* name;
    const char* lines;  // after the listen line (line 1)
    const char* error;
  };
  const Case cases[] = {
      {"unknown user", "user: no-such-user-xfr\n",
       "x.yaml:2:7: user: no such user 'no-such-user-xfr' (create it first, e.g. adduser "
       "--system --group no-such-user-xfr)"},
      {"unknown group", "user: nobody\ngroup: no-such-group-xfr\n",
       "x.yaml:3:8: group: no such group 'no-such-group-xfr'"},
      {"group without user", "group: daemon\n", "x.yaml:2:1: group: needs 'user'"},
      {"root keeps every privilege", "user: root\n",
       "x.yaml:2:7: user: user 'root' is uid 0, which keeps every privilege: name an "
       "unprivileged account, or leave 'user' out"},
      {"root's group", "user: nobody\ngroup: root\n",
       "x.yaml:3:8: group: group 'root' is gid 0, root's group: name an unprivileged group"},
      {"empty user", "user: \"\"\n", "x.yaml:2:7: user: empty user name"},
      {"a list is not a name", "user: [nobody]\n", "x.yaml:2:7: user: expected a string"},
      {"misspelt key", "usr: nobody\n", "x.yaml:2:1: usr: unknown key 'usr'"},
  };
  for (const Case& c : cases) {
    std::string text = std::string("listen: [\"127.0.0.1:5300\"]\n") + c.lines + "zones: []\n";
    std::string got = Message(Load(text));
    // The list of known keys after "unknown key" is the schema's business.
    EXPECT_EQ(got.substr(0, std::string_view(c.error).size()), c.error) << c.name;
  }
}

TEST(RunAsPlanTest, WhatEachAccountDoes) {
  RunAsConfig nobody{"nobody", 65534, "nogroup", 65534};
  struct Case {
    const char* name;
    std::optional<RunAsConfig> want;
    uid_t euid;
    gid_t egid;
    RunAsAction action;
  };
  const Case cases[] = {
      {"root without user: warned", std::nullopt, 0, 0, RunAsAction::kWarnRoot},
      {"unprivileged without user", std::nullopt, 1000, 1000, RunAsAction::kNothing},
      {"root with user: switches", nobody, 0, 0, RunAsAction::kSwitch},
      {"already that account (systemd User=)", nobody, 65534, 65534, RunAsAction::kNothing},
      {"another account cannot switch", nobody, 1000, 1000, RunAsAction::kImpossible},
      {"right user, other group", nobody, 65534, 1000, RunAsAction::kImpossible},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(PlanRunAs(c.want, c.euid, c.egid), c.action) << c.name;
  }
}

// The switch cannot be undone, so it runs in a child; the child reports
// through its exit code which check failed.
TEST(RunAsSwitchTest, RootSwitchesHandsStateOverAndCannotGoBack) {
  if (::geteuid() != 0) GTEST_SKIP() << "switching accounts needs root";
  auto want = LookUpUser("nobody");
  ASSERT_TRUE(want.ok()) << want.status();
  std::filesystem::path dir =
      std::filesystem::temp_directory_path() / ("run-as-test-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "example.com.snapshot") << "data";
  std::filesystem::create_symlink("/etc/passwd", dir / "planted-link");
  pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    if (!ApplyRunAs(*want, {dir.string(), (dir / "missing").string()}).ok()) ::_exit(1);
    if (::getuid() != want->uid || ::geteuid() != want->uid || ::getgid() != want->gid) {
      ::_exit(2);
    }
    if (::setuid(0) == 0) ::_exit(3);
    // State written after the switch belongs to the account.
    std::ofstream(dir / "after.journal") << "more";
    if (!std::filesystem::exists(dir / "after.journal")) ::_exit(4);
    ::_exit(0);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
  for (const char* name : {"", "example.com.snapshot", "after.journal"}) {
    struct stat st;
    ASSERT_EQ(::lstat((dir / name).c_str(), &st), 0) << name;
    EXPECT_EQ(st.st_uid, want->uid) << name;
    EXPECT_EQ(st.st_gid, want->gid) << name;
  }
  // The link itself changed hands; what it points at did not.
  struct stat passwd_st;
  ASSERT_EQ(::stat("/etc/passwd", &passwd_st), 0);
  EXPECT_EQ(passwd_st.st_uid, 0u);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace xfr
