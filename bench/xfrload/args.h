// Option values on xfrload's command lines, shared by both modes: every
// error names the option and what was wrong with the value.
#pragma once

#include <charconv>
#include <cmath>
#include <cstdlib>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "core/ascii.h"
#include "fmt/format.h"
#include "proxy/net_address.h"

namespace xfr::load {

inline absl::Status Bad(std::string_view option, std::string_view why) {
  return absl::InvalidArgumentError(fmt::format("{}: {}", option, why));
}

// A whole number in [min, max].
template <typename T>
absl::StatusOr<T> ParseUnsigned(std::string_view option, std::string_view text, T min, T max) {
  T v{};
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size()) {
    return Bad(option, fmt::format("'{}' is not a number", text));
  }
  if (v < min || v > max) return Bad(option, fmt::format("{} is outside {}..{}", v, min, max));
  return v;
}

// A non-negative decimal ("0.5"), at most `max`.
inline absl::StatusOr<double> ParseDecimal(std::string_view option, std::string_view text,
                                           double max) {
  std::string s(text);
  char* end = nullptr;
  double v = std::strtod(s.c_str(), &end);
  if (s.empty() || end != s.c_str() + s.size() || !std::isfinite(v) || v < 0 || v > max) {
    return Bad(option, fmt::format("'{}' is not a number in 0..{}", text, max));
  }
  return v;
}

// Seconds, possibly fractional, in (0, max_seconds].
inline absl::StatusOr<absl::Duration> ParseSeconds(std::string_view option,
                                                   std::string_view text,
                                                   double max_seconds = 86400) {
  auto v = ParseDecimal(option, text, max_seconds);
  if (!v.ok()) return v.status();
  if (*v <= 0) return Bad(option, "must be more than 0 seconds");
  return absl::Seconds(*v);
}

inline absl::StatusOr<SocketAddress> ParseAddress(std::string_view option,
                                                  std::string_view text) {
  auto a = SocketAddress::Parse(text);
  if (!a.ok()) return Bad(option, ToStd(a.status().message()));
  return *a;
}

}  // namespace xfr::load
