// SOA serial numbers with RFC 1982 sequence-space arithmetic. Comparison is
// a partial order: two serials exactly 2^31 apart are unordered (§3.2), so
// no code may treat serials as plain integers.
#pragma once

#include <compare>
#include <cstdint>
#include <string>

namespace xfr {

class Serial {
 public:
  constexpr Serial() = default;
  constexpr explicit Serial(uint32_t v) : v_(v) {}
  constexpr uint32_t value() const { return v_; }

  friend constexpr bool operator==(Serial a, Serial b) { return a.v_ == b.v_; }
  // RFC 1982 §3.2: s1 < s2 iff (i1 < i2 and i2 - i1 < 2^31) or
  // (i1 > i2 and i1 - i2 > 2^31). When i1 and i2 differ by exactly 2^31 the
  // result is undefined: std::partial_ordering::unordered.
  friend constexpr std::partial_ordering operator<=>(Serial a, Serial b) {
    if (a.v_ == b.v_) return std::partial_ordering::equivalent;
    uint32_t d = b.v_ - a.v_;  // modulo 2^32
    if (d == 0x80000000u) return std::partial_ordering::unordered;
    return d < 0x80000000u ? std::partial_ordering::less
                           : std::partial_ordering::greater;
  }

  // RFC 1982 §3.1: adding n is defined for 0 <= n <= 2^31 - 1.
  constexpr Serial Plus(uint32_t n) const { return Serial(v_ + (n & 0x7fffffffu)); }

  std::string ToString() const { return std::to_string(v_); }

 private:
  uint32_t v_ = 0;
};

}  // namespace xfr
