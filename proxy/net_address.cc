#include "proxy/net_address.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <cstring>

#include "absl/status/status.h"
#include "fmt/format.h"

namespace xfr {
namespace {

constexpr std::array<uint8_t, 12> kV4MappedPrefix = {0, 0, 0, 0, 0,    0,
                                                     0, 0, 0, 0, 0xff, 0xff};

bool HasMappedPrefix(const std::array<uint8_t, 16>& b) {
  return std::memcmp(b.data(), kV4MappedPrefix.data(), 12) == 0;
}

// True when the first `bits` bits of a and b agree.
bool PrefixEquals(const std::array<uint8_t, 16>& a,
                  const std::array<uint8_t, 16>& b, int bits) {
  int full = bits / 8;
  if (std::memcmp(a.data(), b.data(), full) != 0) return false;
  int rest = bits % 8;
  if (rest == 0) return true;
  uint8_t mask = static_cast<uint8_t>(0xff << (8 - rest));
  return (a[full] & mask) == (b[full] & mask);
}

std::optional<uint16_t> ParsePort(std::string_view s) {
  if (s.empty() || s.size() > 5) return std::nullopt;
  uint32_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + static_cast<uint32_t>(c - '0');
  }
  if (v == 0 || v > 65535) return std::nullopt;
  return static_cast<uint16_t>(v);
}

}  // namespace

absl::StatusOr<IpAddress> IpAddress::Parse(std::string_view text) {
  // inet_pton wants a NUL-terminated string; it is strict (no leading zeros
  // in IPv4, no hostnames), which is what a config should be.
  std::string s(text);
  if (s.find(':') == std::string::npos) {
    in_addr a4;
    if (inet_pton(AF_INET, s.c_str(), &a4) == 1) {
      std::array<uint8_t, 4> b;
      std::memcpy(b.data(), &a4, 4);
      return V4(b);
    }
  } else {
    in6_addr a6;
    if (inet_pton(AF_INET6, s.c_str(), &a6) == 1) {
      std::array<uint8_t, 16> b;
      std::memcpy(b.data(), &a6, 16);
      return V6(b);
    }
  }
  return absl::InvalidArgumentError(fmt::format("bad IP address '{}'", text));
}

IpAddress IpAddress::V4(std::array<uint8_t, 4> b) {
  IpAddress a;
  std::memcpy(a.bytes_.data(), kV4MappedPrefix.data(), 12);
  std::memcpy(a.bytes_.data() + 12, b.data(), 4);
  a.v4_ = true;
  return a;
}

IpAddress IpAddress::V6(const std::array<uint8_t, 16>& b) {
  IpAddress a;
  a.bytes_ = b;
  return a;
}

std::optional<IpAddress> IpAddress::FromSockaddr(const sockaddr* sa,
                                                 socklen_t len) {
  if (sa == nullptr) return std::nullopt;
  if (sa->sa_family == AF_INET && len >= sizeof(sockaddr_in)) {
    sockaddr_in in;
    std::memcpy(&in, sa, sizeof(in));
    std::array<uint8_t, 4> b;
    std::memcpy(b.data(), &in.sin_addr, 4);
    return V4(b);
  }
  if (sa->sa_family == AF_INET6 && len >= sizeof(sockaddr_in6)) {
    sockaddr_in6 in6;
    std::memcpy(&in6, sa, sizeof(in6));
    std::array<uint8_t, 16> b;
    std::memcpy(b.data(), &in6.sin6_addr, 16);
    return V6(b);
  }
  return std::nullopt;
}

bool IpAddress::IsV4Mapped() const { return HasMappedPrefix(bytes_); }

IpAddress IpAddress::Unmapped() const {
  if (v4_ || !IsV4Mapped()) return *this;
  return V4(v4_bytes());
}

std::array<uint8_t, 4> IpAddress::v4_bytes() const {
  std::array<uint8_t, 4> b;
  std::memcpy(b.data(), bytes_.data() + 12, 4);
  return b;
}

std::string IpAddress::ToString() const {
  char buf[INET6_ADDRSTRLEN];
  if (v4_) {
    inet_ntop(AF_INET, bytes_.data() + 12, buf, sizeof(buf));
  } else {
    inet_ntop(AF_INET6, bytes_.data(), buf, sizeof(buf));
  }
  return buf;
}

absl::StatusOr<SocketAddress> SocketAddress::Parse(
    std::string_view text, std::optional<uint16_t> default_port) {
  auto bad = [&](std::string_view why) {
    return absl::InvalidArgumentError(
        fmt::format("bad address '{}': {}", text, why));
  };
  std::string_view host;
  std::optional<std::string_view> port_text;
  if (!text.empty() && text.front() == '[') {
    size_t close = text.find(']');
    if (close == std::string_view::npos) return bad("missing ']'");
    host = text.substr(1, close - 1);
    std::string_view rest = text.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') return bad("expected ':port' after ']'");
      port_text = rest.substr(1);
    }
    if (host.find(':') == std::string_view::npos) {
      return bad("brackets are for IPv6 addresses");
    }
  } else {
    size_t first = text.find(':');
    size_t last = text.rfind(':');
    if (first != std::string_view::npos && first != last) {
      // Several colons: a bare IPv6 address, which cannot carry a port
      // without brackets ("2001:db8::1:53" would be ambiguous).
      host = text;
    } else if (first != std::string_view::npos) {
      host = text.substr(0, first);
      port_text = text.substr(first + 1);
    } else {
      host = text;
    }
  }
  absl::StatusOr<IpAddress> ip = IpAddress::Parse(host);
  if (!ip.ok()) {
    return bad(fmt::format("'{}' is not an IP address{}", host,
                           host.find_first_not_of("0123456789.:[]abcdefABCDEF") !=
                                   std::string_view::npos
                               ? " (hostnames are not resolved)"
                               : ""));
  }
  uint16_t port;
  if (port_text.has_value()) {
    std::optional<uint16_t> p = ParsePort(*port_text);
    if (!p.has_value()) return bad("port must be 1..65535");
    port = *p;
  } else if (default_port.has_value()) {
    port = *default_port;
  } else {
    return bad(ip->is_v4() ? "missing ':port'"
                           : "missing port (write [address]:port)");
  }
  return SocketAddress(*ip, port);
}

std::optional<SocketAddress> SocketAddress::FromSockaddr(const sockaddr* sa,
                                                         socklen_t len) {
  std::optional<IpAddress> ip = IpAddress::FromSockaddr(sa, len);
  if (!ip.has_value()) return std::nullopt;
  uint16_t port_be;
  if (sa->sa_family == AF_INET) {
    sockaddr_in in;
    std::memcpy(&in, sa, sizeof(in));
    port_be = in.sin_port;
  } else {
    sockaddr_in6 in6;
    std::memcpy(&in6, sa, sizeof(in6));
    port_be = in6.sin6_port;
  }
  return SocketAddress(*ip, ntohs(port_be));
}

std::string SocketAddress::ToString() const {
  if (ip_.is_v4()) return fmt::format("{}:{}", ip_.ToString(), port_);
  return fmt::format("[{}]:{}", ip_.ToString(), port_);
}

socklen_t SocketAddress::ToSockaddr(sockaddr_storage& out) const {
  std::memset(&out, 0, sizeof(out));
  if (ip_.is_v4()) {
    sockaddr_in in{};
    in.sin_family = AF_INET;
    in.sin_port = htons(port_);
    std::memcpy(&in.sin_addr, ip_.bytes().data() + 12, 4);
    std::memcpy(&out, &in, sizeof(in));
    return sizeof(in);
  }
  sockaddr_in6 in6{};
  in6.sin6_family = AF_INET6;
  in6.sin6_port = htons(port_);
  std::memcpy(&in6.sin6_addr, ip_.bytes().data(), 16);
  std::memcpy(&out, &in6, sizeof(in6));
  return sizeof(in6);
}

absl::StatusOr<Cidr> Cidr::Parse(std::string_view text) {
  size_t slash = text.find('/');
  std::string_view addr_text = text.substr(0, slash);
  absl::StatusOr<IpAddress> ip = IpAddress::Parse(addr_text);
  if (!ip.ok()) {
    return absl::InvalidArgumentError(
        fmt::format("bad CIDR '{}': '{}' is not an IP address", text,
                    addr_text));
  }
  if (slash == std::string_view::npos) return Host(*ip);
  std::string_view len_text = text.substr(slash + 1);
  int max = ip->is_v4() ? 32 : 128;
  int len = 0;
  bool ok = !len_text.empty() && len_text.size() <= 3;
  for (char c : len_text) {
    if (c < '0' || c > '9') ok = false;
    if (ok) len = len * 10 + (c - '0');
  }
  if (!ok || len > max) {
    return absl::InvalidArgumentError(fmt::format(
        "bad CIDR '{}': prefix length must be 0..{}", text, max));
  }
  Cidr c;
  c.network_ = *ip;
  c.bits_ = ip->is_v4() ? len + 96 : len;
  // Host bits: everything after the prefix must be zero.
  std::array<uint8_t, 16> masked = ip->bytes();
  for (int bit = c.bits_; bit < 128; ++bit) {
    masked[bit / 8] &= static_cast<uint8_t>(~(0x80 >> (bit % 8)));
  }
  if (masked != ip->bytes()) {
    IpAddress net = ip->is_v4() ? IpAddress::V4({masked[12], masked[13],
                                                 masked[14], masked[15]})
                                : IpAddress::V6(masked);
    return absl::InvalidArgumentError(fmt::format(
        "bad CIDR '{}': host bits set (the network is {}/{})", text,
        net.ToString(), len));
  }
  return c;
}

Cidr Cidr::Host(const IpAddress& ip) {
  Cidr c;
  c.network_ = ip;
  c.bits_ = 128;
  return c;
}

bool Cidr::Contains(const IpAddress& ip) const {
  // IPv4 hosts live in ::ffff:0:0/96; only prefixes inside that block (every
  // IPv4 prefix, and v6-written ones such as ::ffff:192.0.2.0/120) may match
  // them, so a short IPv6 prefix like ::/0 does not swallow all of IPv4.
  if (ip.IsV4Mapped() && !(bits_ >= 96 && network_.IsV4Mapped())) {
    return false;
  }
  return PrefixEquals(network_.bytes(), ip.bytes(), bits_);
}

std::string Cidr::ToString() const {
  return fmt::format("{}/{}", network_.ToString(), prefix_length());
}

void CidrSet::Add(const Cidr& c) {
  entries_.push_back(c);
  if (c.IsHost()) {
    hosts_.insert(c.network());
  } else {
    prefixes_.push_back(c);
  }
}

bool CidrSet::Contains(const IpAddress& ip) const {
  if (hosts_.contains(ip)) return true;
  for (const Cidr& c : prefixes_) {
    if (c.Contains(ip)) return true;
  }
  return false;
}

std::string CidrSet::ToString() const {
  std::string out;
  for (const Cidr& c : entries_) {
    if (!out.empty()) out += ' ';
    out += c.ToString();
  }
  return out;
}

}  // namespace xfr
