#include "proxy/net_address.h"

#include <netinet/in.h>

#include <string>

#include "absl/status/status.h"
#include "gtest/gtest.h"

namespace xfr {
namespace {

IpAddress Ip(std::string_view s) {
  absl::StatusOr<IpAddress> ip = IpAddress::Parse(s);
  EXPECT_TRUE(ip.ok()) << s;
  return ip.value_or(IpAddress());
}

Cidr Net(std::string_view s) {
  absl::StatusOr<Cidr> c = Cidr::Parse(s);
  EXPECT_TRUE(c.ok()) << s << ": " << c.status();
  return c.value_or(Cidr());
}

struct AddrCase {
  const char* name;
  const char* text;
  bool v4;
  const char* formatted;
};

TEST(IpAddressTest, ParsesAndFormats) {
  const AddrCase cases[] = {
      {"v4", "192.0.2.1", true, "192.0.2.1"},
      {"v4 zeros", "0.0.0.0", true, "0.0.0.0"},
      {"v4 max", "255.255.255.255", true, "255.255.255.255"},
      {"v6 loopback", "::1", false, "::1"},
      {"v6 compressed", "2001:db8:0:0:0:0:0:1", false, "2001:db8::1"},
      {"v6 upper case", "2001:DB8::A", false, "2001:db8::a"},
      {"v4-mapped", "::ffff:192.0.2.1", false, "::ffff:192.0.2.1"},
  };
  for (const AddrCase& c : cases) {
    SCOPED_TRACE(c.name);
    absl::StatusOr<IpAddress> ip = IpAddress::Parse(c.text);
    ASSERT_TRUE(ip.ok()) << ip.status();
    EXPECT_EQ(ip->is_v4(), c.v4);
    EXPECT_EQ(ip->ToString(), c.formatted);
  }
}

TEST(IpAddressTest, RejectsMalformed) {
  for (const char* bad :
       {"", "192.0.2", "192.0.2.256", "192.0.2.300", "192.0.2.1.5", "01.2.3.4",
        "example.com", "::g", "1:2:3:4:5:6:7:8:9", "fe80::1%eth0", " ::1",
        "192.0.2.1 "}) {
    EXPECT_FALSE(IpAddress::Parse(bad).ok()) << bad;
  }
}

TEST(IpAddressTest, V4MappedIsTheSameHost) {
  IpAddress v4 = Ip("192.0.2.1");
  IpAddress mapped = Ip("::ffff:192.0.2.1");
  EXPECT_EQ(v4, mapped);
  EXPECT_TRUE(mapped.IsV4Mapped());
  EXPECT_TRUE(v4.IsV4Mapped());
  EXPECT_FALSE(Ip("2001:db8::1").IsV4Mapped());
  EXPECT_TRUE(mapped.Unmapped().is_v4());
  EXPECT_EQ(mapped.Unmapped().ToString(), "192.0.2.1");
  EXPECT_NE(Ip("192.0.2.1"), Ip("192.0.2.2"));
  EXPECT_NE(Ip("::1"), Ip("0.0.0.1"));
}

struct SockCase {
  const char* name;
  const char* text;
  std::optional<uint16_t> default_port;
  const char* formatted;  // nullptr: must fail
};

TEST(SocketAddressTest, ParsesAndFormats) {
  const SockCase cases[] = {
      {"v4 with port", "127.0.0.1:53", {}, "127.0.0.1:53"},
      {"v6 bracketed", "[::1]:5300", {}, "[::1]:5300"},
      {"max port", "[2001:db8::1]:65535", {}, "[2001:db8::1]:65535"},
      {"v4 default port", "192.0.2.10", 53, "192.0.2.10:53"},
      {"v6 bracketed default port", "[2001:db8::10]", 53, "[2001:db8::10]:53"},
      {"bare v6 default port", "2001:db8::10", 53, "[2001:db8::10]:53"},
      {"explicit port wins", "192.0.2.10:5353", 53, "192.0.2.10:5353"},
      {"v4 missing port", "127.0.0.1", {}, nullptr},
      {"bare v6 without default", "::1", {}, nullptr},
      {"port zero", "127.0.0.1:0", {}, nullptr},
      {"port too big", "127.0.0.1:65536", {}, nullptr},
      {"port not a number", "127.0.0.1:dns", {}, nullptr},
      {"empty port", "127.0.0.1:", 53, nullptr},
      {"bad octet", "192.0.2.300:53", {}, nullptr},
      {"hostname", "localhost:53", {}, nullptr},
      {"v4 in brackets", "[127.0.0.1]:53", {}, nullptr},
      {"unclosed bracket", "[::1:53", {}, nullptr},
      {"junk after bracket", "[::1]x53", {}, nullptr},
      {"empty", "", 53, nullptr},
  };
  for (const SockCase& c : cases) {
    SCOPED_TRACE(c.name);
    absl::StatusOr<SocketAddress> a = SocketAddress::Parse(c.text, c.default_port);
    if (c.formatted == nullptr) {
      EXPECT_FALSE(a.ok()) << a->ToString();
      continue;
    }
    ASSERT_TRUE(a.ok()) << a.status();
    EXPECT_EQ(a->ToString(), c.formatted);
  }
}

TEST(SocketAddressTest, ErrorNamesTheText) {
  absl::StatusOr<SocketAddress> a = SocketAddress::Parse("192.0.2.300:53");
  ASSERT_FALSE(a.ok());
  EXPECT_NE(std::string(a.status().message()).find("'192.0.2.300:53'"),
            std::string::npos)
      << a.status();
  a = SocketAddress::Parse("ns1.example:53");
  ASSERT_FALSE(a.ok());
  EXPECT_NE(std::string(a.status().message()).find("hostnames"),
            std::string::npos)
      << a.status();
}

TEST(SocketAddressTest, SockaddrRoundTrip) {
  for (const char* text : {"192.0.2.1:53", "[2001:db8::1]:5300"}) {
    SCOPED_TRACE(text);
    SocketAddress a = *SocketAddress::Parse(text);
    sockaddr_storage ss;
    socklen_t len = a.ToSockaddr(ss);
    EXPECT_EQ(len, a.ip().is_v4() ? sizeof(sockaddr_in) : sizeof(sockaddr_in6));
    EXPECT_EQ(ss.ss_family, a.ip().is_v4() ? AF_INET : AF_INET6);
    std::optional<SocketAddress> back =
        SocketAddress::FromSockaddr(reinterpret_cast<sockaddr*>(&ss), len);
    ASSERT_TRUE(back.has_value());
    EXPECT_EQ(*back, a);
    EXPECT_EQ(back->ToString(), text);
  }
  sockaddr_in short_sa{};
  short_sa.sin_family = AF_INET;
  EXPECT_FALSE(SocketAddress::FromSockaddr(
                   reinterpret_cast<sockaddr*>(&short_sa), 4)
                   .has_value());
}

struct ContainsCase {
  const char* name;
  const char* cidr;
  const char* ip;
  bool contains;
};

TEST(CidrTest, Contains) {
  const ContainsCase cases[] = {
      {"v4 inside", "192.0.2.0/28", "192.0.2.15", true},
      {"v4 first", "192.0.2.0/28", "192.0.2.0", true},
      {"v4 just outside", "192.0.2.0/28", "192.0.2.16", false},
      {"v4 odd prefix", "10.0.0.0/9", "10.127.255.255", true},
      {"v4 odd prefix outside", "10.0.0.0/9", "10.128.0.0", false},
      {"v4 /0 takes all v4", "0.0.0.0/0", "203.0.113.9", true},
      {"v4 /0 not v6", "0.0.0.0/0", "2001:db8::1", false},
      {"v4 host", "192.0.2.1", "192.0.2.1", true},
      {"v4 host other", "192.0.2.1", "192.0.2.2", false},
      {"v4 /32", "192.0.2.1/32", "192.0.2.1", true},
      {"v6 inside", "2001:db8::/64", "2001:db8::ffff:1", true},
      {"v6 outside", "2001:db8::/64", "2001:db8:0:1::1", false},
      {"v6 odd prefix", "2001:db8::/33", "2001:db8:7fff::1", true},
      {"v6 odd prefix outside", "2001:db8::/33", "2001:db8:8000::1", false},
      {"v6 host", "::1", "::1", true},
      {"v6 /128", "::1/128", "::2", false},
      {"v6 /0 takes all v6", "::/0", "2001:db8::1", true},
      // A dual-stack socket reports IPv4 peers as ::ffff:a.b.c.d.
      {"v4-mapped peer in v4 net", "192.0.2.0/24", "::ffff:192.0.2.1", true},
      {"v4-mapped peer outside", "192.0.2.0/24", "::ffff:192.0.3.1", false},
      {"v4-mapped peer v4 host", "192.0.2.1", "::ffff:192.0.2.1", true},
      {"v4 peer in mapped net", "::ffff:192.0.2.0/120", "192.0.2.77", true},
      {"::/0 is not all of v4", "::/0", "192.0.2.1", false},
      {"::/0 not v4-mapped", "::/0", "::ffff:192.0.2.1", false},
      {"v4 net not v6 peer", "0.0.0.0/0", "::1", false},
  };
  for (const ContainsCase& c : cases) {
    SCOPED_TRACE(c.name);
    EXPECT_EQ(Net(c.cidr).Contains(Ip(c.ip)), c.contains);
    CidrSet set;
    set.Add(Net(c.cidr));
    EXPECT_EQ(set.Contains(Ip(c.ip)), c.contains);
  }
}

TEST(CidrTest, ParseAndFormat) {
  EXPECT_EQ(Net("192.0.2.0/28").ToString(), "192.0.2.0/28");
  EXPECT_EQ(Net("192.0.2.0/28").prefix_length(), 28);
  EXPECT_EQ(Net("2001:db8::/64").ToString(), "2001:db8::/64");
  EXPECT_EQ(Net("192.0.2.1").ToString(), "192.0.2.1/32");
  EXPECT_EQ(Net("::1").ToString(), "::1/128");
  EXPECT_EQ(Net("0.0.0.0/0").prefix_length(), 0);
}

TEST(CidrTest, RejectsMalformed) {
  for (const char* bad :
       {"192.0.2.0/33", "2001:db8::/129", "192.0.2.0/", "192.0.2.0/-1",
        "192.0.2.0/2a", "192.0.2.0/0024", "/24", "192.0.2/24", "host/24",
        "2001:db8::/64/1"}) {
    EXPECT_FALSE(Cidr::Parse(bad).ok()) << bad;
  }
}

TEST(CidrTest, HostBitsSetIsAnErrorNamingTheNetwork) {
  absl::StatusOr<Cidr> c = Cidr::Parse("192.0.2.1/24");
  ASSERT_FALSE(c.ok());
  EXPECT_NE(std::string(c.status().message()).find("192.0.2.0/24"),
            std::string::npos)
      << c.status();
  c = Cidr::Parse("2001:db8::1/64");
  ASSERT_FALSE(c.ok());
  EXPECT_NE(std::string(c.status().message()).find("2001:db8::/64"),
            std::string::npos)
      << c.status();
  EXPECT_FALSE(Cidr::Parse("10.128.0.0/8").ok());
  EXPECT_TRUE(Cidr::Parse("10.128.0.0/9").ok());
}

TEST(CidrSetTest, MixesHostsAndPrefixes) {
  CidrSet set;
  EXPECT_TRUE(set.empty());
  EXPECT_FALSE(set.Contains(Ip("192.0.2.1")));
  set.Add(Net("198.51.100.7"));
  set.Add(Net("2001:db8::/64"));
  set.Add(Net("::ffff:203.0.113.5"));
  EXPECT_EQ(set.size(), 3u);
  EXPECT_TRUE(set.Contains(Ip("198.51.100.7")));
  EXPECT_TRUE(set.Contains(Ip("::ffff:198.51.100.7")));
  EXPECT_FALSE(set.Contains(Ip("198.51.100.8")));
  EXPECT_TRUE(set.Contains(Ip("2001:db8::99")));
  EXPECT_TRUE(set.Contains(Ip("203.0.113.5")));
  EXPECT_FALSE(set.Contains(Ip("2001:db9::1")));
  EXPECT_EQ(set.ToString(),
            "198.51.100.7/32 2001:db8::/64 ::ffff:203.0.113.5/128");
}

}  // namespace
}  // namespace xfr
