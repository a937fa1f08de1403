// Telling systemd where the daemon is in its life (a Type=notify unit):
// ready once it listens and serves what it had on disk, reloading around a
// SIGHUP, stopping on SIGTERM, and a status line for `systemctl status`.
// Through libsystemd's sd_notify(3) rather than a hand-written datagram: the
// socket's address forms (abstract, vsock) are its business. Started
// without NOTIFY_SOCKET (not by systemd), every call does nothing.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace xfr {

enum class ServiceState : uint8_t { kReady, kReloading, kStopping, kStatus };

// The notification for `state`, with `status` as its STATUS= line (newlines
// become spaces: one would end the field). kReloading carries
// `monotonic_usec`, the CLOCK_MONOTONIC time of the reload, which systemd
// 253 and later require with RELOADING=1 and older ones ignore.
std::string ServiceNotification(ServiceState state, std::string_view status,
                                uint64_t monotonic_usec = 0);

// Sends ServiceNotification(state, status) now. A failure is logged: under
// systemd a lost READY=1 is a start that times out.
void NotifyService(ServiceState state, std::string_view status);

}  // namespace xfr
