// What systemd hears: the notification text per state, and that it reaches
// the socket NOTIFY_SOCKET names.
#include "proxy/systemd_notify.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <string>

#include "gtest/gtest.h"

namespace xfr {
namespace {

TEST(ServiceNotificationTest, EachStateWithItsStatusLine) {
  EXPECT_EQ(ServiceNotification(ServiceState::kReady, "serving 2 zones"),
            "READY=1\nSTATUS=serving 2 zones");
  EXPECT_EQ(ServiceNotification(ServiceState::kReloading, "reloading x.yaml", 1234567),
            "RELOADING=1\nMONOTONIC_USEC=1234567\nSTATUS=reloading x.yaml");
  EXPECT_EQ(ServiceNotification(ServiceState::kStopping, "stopping"),
            "STOPPING=1\nSTATUS=stopping");
  EXPECT_EQ(ServiceNotification(ServiceState::kStatus, "idle"), "STATUS=idle");
}

TEST(ServiceNotificationTest, NewlinesCannotEndTheStatusEarly) {
  EXPECT_EQ(ServiceNotification(ServiceState::kStatus, "a\nREADY=1\r\nb"),
            "STATUS=a READY=1  b");
}

TEST(NotifyServiceTest, ReachesTheNotifySocket) {
  std::string path = (std::filesystem::temp_directory_path() /
                      ("notify-test-" + std::to_string(::getpid()))).string();
  int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(fd, 0);
  sockaddr_un sun{};
  sun.sun_family = AF_UNIX;
  ASSERT_LT(path.size(), sizeof sun.sun_path);
  path.copy(sun.sun_path, path.size());
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&sun), sizeof sun), 0);
  ::setenv("NOTIFY_SOCKET", path.c_str(), 1);
  NotifyService(ServiceState::kReady, "serving");
  ::unsetenv("NOTIFY_SOCKET");
  // Without the variable nothing is sent (and nothing fails).
  NotifyService(ServiceState::kStopping, "stopping");
  char buf[256];
  ssize_t n = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT);
  ASSERT_GT(n, 0);
  EXPECT_EQ(std::string(buf, static_cast<size_t>(n)), "READY=1\nSTATUS=serving");
  EXPECT_LT(::recv(fd, buf, sizeof buf, MSG_DONTWAIT), 0);
  ::close(fd);
  ::unlink(path.c_str());
}

}  // namespace
}  // namespace xfr
