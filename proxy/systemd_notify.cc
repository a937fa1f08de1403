#include "proxy/systemd_notify.h"

#include <systemd/sd-daemon.h>
#include <time.h>

#include <cstring>

#include "fmt/format.h"
#include "proxy/log.h"

namespace xfr {

std::string ServiceNotification(ServiceState state, std::string_view status,
                                uint64_t monotonic_usec) {
  std::string out;
  switch (state) {
    case ServiceState::kReady:
      out = "READY=1\n";
      break;
    case ServiceState::kReloading:
      out = fmt::format("RELOADING=1\nMONOTONIC_USEC={}\n", monotonic_usec);
      break;
    case ServiceState::kStopping:
      out = "STOPPING=1\n";
      break;
    case ServiceState::kStatus:
      break;
  }
  out += "STATUS=";
  for (char c : status) out += c == '\n' || c == '\r' ? ' ' : c;
  return out;
}

void NotifyService(ServiceState state, std::string_view status) {
  uint64_t usec = 0;
  if (state == ServiceState::kReloading) {
    timespec ts{};
    ::clock_gettime(CLOCK_MONOTONIC, &ts);
    usec = static_cast<uint64_t>(ts.tv_sec) * 1'000'000 + static_cast<uint64_t>(ts.tv_nsec) / 1000;
  }
  // unset_environment 0: the variable stays for the notifications to come.
  int rc = sd_notify(0, ServiceNotification(state, status, usec).c_str());
  if (rc < 0) LogWarning("sd_notify: {}", std::strerror(-rc));
}

}  // namespace xfr
