// IP addresses, socket addresses ("192.0.2.1:53", "[2001:db8::1]:53") and
// CIDR sets as they appear in the config and as sockets report peers.
//
// Every address is held as 16 bytes; an IPv4 address is stored in its
// v4-mapped form (::ffff:a.b.c.d, RFC 4291 §2.5.5.2). That is what a
// dual-stack socket reports for IPv4 clients, so `192.0.2.0/24` in an ACL
// matches a client seen as ::ffff:192.0.2.1, and per-address limits count
// one host once whichever way it was seen.
#pragma once

#include <sys/socket.h>

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"

namespace xfr {

class IpAddress {
 public:
  IpAddress() = default;  // ::

  // Dotted quad ("192.0.2.1", no leading zeros) or RFC 4291 text
  // ("2001:db8::1", "::ffff:192.0.2.1"). Hostnames are not resolved and zone
  // indexes ("fe80::1%eth0") are not accepted.
  static absl::StatusOr<IpAddress> Parse(std::string_view text);
  static IpAddress V4(std::array<uint8_t, 4> b);
  static IpAddress V6(const std::array<uint8_t, 16>& b);
  // From a sockaddr_in / sockaddr_in6 (the port is ignored).
  static std::optional<IpAddress> FromSockaddr(const sockaddr* sa,
                                               socklen_t len);

  // Written as IPv4 (a v4-mapped IPv6 address is not: see IsV4Mapped()).
  bool is_v4() const { return v4_; }
  // An IPv4 host: is_v4(), or IPv6 text of the form ::ffff:a.b.c.d.
  bool IsV4Mapped() const;
  // The v4 form of a v4-mapped address; other addresses unchanged.
  IpAddress Unmapped() const;
  // 16 bytes, IPv4 in v4-mapped form.
  const std::array<uint8_t, 16>& bytes() const { return bytes_; }
  // The 4 bytes of an IPv4 (or v4-mapped) address.
  std::array<uint8_t, 4> v4_bytes() const;
  std::string ToString() const;

  // Same host: 192.0.2.1 equals ::ffff:192.0.2.1.
  friend bool operator==(const IpAddress& a, const IpAddress& b) {
    return a.bytes_ == b.bytes_;
  }
  template <typename H>
  friend H AbslHashValue(H h, const IpAddress& a) {
    return H::combine(std::move(h), a.bytes_);
  }

 private:
  std::array<uint8_t, 16> bytes_{};
  bool v4_ = false;
};

class SocketAddress {
 public:
  SocketAddress() = default;
  SocketAddress(IpAddress ip, uint16_t port) : ip_(ip), port_(port) {}

  // "192.0.2.1:53", "[2001:db8::1]:53". With a default port, the port may be
  // left out: "192.0.2.1", "[2001:db8::1]" or "2001:db8::1". Port 0 is
  // rejected: every configured address is one to talk to or listen on.
  static absl::StatusOr<SocketAddress> Parse(
      std::string_view text, std::optional<uint16_t> default_port = {});
  static std::optional<SocketAddress> FromSockaddr(const sockaddr* sa,
                                                   socklen_t len);

  const IpAddress& ip() const { return ip_; }
  uint16_t port() const { return port_; }
  // "192.0.2.1:53" or "[2001:db8::1]:53".
  std::string ToString() const;
  // Fills `out` (sockaddr_in for is_v4(), else sockaddr_in6) and returns its
  // length.
  socklen_t ToSockaddr(sockaddr_storage& out) const;

  friend bool operator==(const SocketAddress& a, const SocketAddress& b) {
    return a.ip_ == b.ip_ && a.port_ == b.port_;
  }
  template <typename H>
  friend H AbslHashValue(H h, const SocketAddress& a) {
    return H::combine(std::move(h), a.ip_, a.port_);
  }

 private:
  IpAddress ip_;
  uint16_t port_ = 0;
};

// One prefix: "192.0.2.0/28", "2001:db8::/64"; a bare address is /32 or /128.
class Cidr {
 public:
  // Host bits set below the prefix ("192.0.2.1/24") are an error: an operator
  // who wrote that meant either the host or the network, and guessing wrong
  // opens or closes an ACL silently.
  static absl::StatusOr<Cidr> Parse(std::string_view text);
  static Cidr Host(const IpAddress& ip);

  const IpAddress& network() const { return network_; }
  // As written: 0..32 for IPv4, 0..128 for IPv6.
  int prefix_length() const { return network_.is_v4() ? bits_ - 96 : bits_; }
  bool IsHost() const { return bits_ == 128; }
  // An IPv6 prefix shorter than /96 (such as ::/0) does not contain IPv4
  // hosts: "::/0" means "any IPv6 client", not "anyone".
  bool Contains(const IpAddress& ip) const;
  std::string ToString() const;

  friend bool operator==(const Cidr& a, const Cidr& b) {
    return a.network_ == b.network_ && a.bits_ == b.bits_;
  }

 private:
  IpAddress network_;
  int bits_ = 128;  // prefix length over the 16-byte form
};

// A set of prefixes (an ACL). Single hosts go to a hash set so that an ACL
// listing tens of thousands of secondaries stays a constant-time lookup.
class CidrSet {
 public:
  void Add(const Cidr& c);
  bool Contains(const IpAddress& ip) const;
  bool empty() const { return entries_.empty(); }
  size_t size() const { return entries_.size(); }
  // In insertion order.
  const std::vector<Cidr>& entries() const { return entries_; }
  std::string ToString() const;  // "192.0.2.0/28 2001:db8::/64"

 private:
  std::vector<Cidr> entries_;
  absl::flat_hash_set<IpAddress> hosts_;
  std::vector<Cidr> prefixes_;
};

}  // namespace xfr
