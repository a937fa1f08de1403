// Small std::string_view helpers. Debian's Abseil is built with its own
// absl::string_view (not std::string_view), so the project keeps its string
// handling in std types and these helpers rather than absl/strings.
#pragma once

#include <string>
#include <string_view>

#include "absl/strings/string_view.h"

namespace xfr {

inline bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x + 32);
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y + 32);
    if (x != y) return false;
  }
  return true;
}

// absl::Status::message() and friends return absl::string_view.
inline std::string_view ToStd(absl::string_view s) {
  return std::string_view(s.data(), s.size());
}

}  // namespace xfr
