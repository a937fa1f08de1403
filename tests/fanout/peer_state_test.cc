// PeerTable: serial reports from serving threads land in the owner's state
// at Collect(), by address whatever the source port, for every peer at that
// address; converged_at follows the served serial; the /peers JSON carries
// the state.
#include "fanout/peer_state.h"

#include <thread>
#include <vector>

#include "gtest/gtest.h"

namespace xfr {
namespace {

const absl::Time kT0 = absl::FromUnixSeconds(1'700'000'000);

PeerState Peer(PeerAddress a) {
  PeerState p;
  p.address = a;
  return p;
}

TEST(PeerAddressTest, TextFormsMatchTheConfigSyntax) {
  EXPECT_EQ(PeerAddress::V4({192, 0, 2, 7}, 53).ToString(), "192.0.2.7:53");
  EXPECT_TRUE(PeerAddress::V4({192, 0, 2, 7}, 53).IsV4());
  PeerAddress v6;
  v6.ip = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
  v6.port = 5300;
  EXPECT_FALSE(v6.IsV4());
  EXPECT_EQ(v6.ToString(), "[2001:db8::1]:5300");
}

TEST(PeerTableTest, ReportsReachEveryPeerAtTheAddressOnlyAfterCollect) {
  PeerAddress a = PeerAddress::V4({192, 0, 2, 1}, 53);
  PeerAddress a2 = PeerAddress::V4({192, 0, 2, 1}, 5353);  // same host
  PeerAddress b = PeerAddress::V4({192, 0, 2, 2}, 53);
  PeerTable t({Peer(a), Peer(a2), Peer(b)}, kT0);
  ASSERT_NE(t.FindExact(a), nullptr);
  EXPECT_EQ(t.FindExact(a)->size(), 1u);
  EXPECT_EQ(t.FindExact(PeerAddress::V4({192, 0, 2, 9}, 53)), nullptr);

  t.ReportHeldSerial(a.ip, Serial(5), kT0 + absl::Seconds(3));
  t.ReportHeldSerial(PeerAddress::V4({198, 51, 100, 1}, 0).ip, Serial(9), kT0);
  EXPECT_FALSE(t.at(0).held.has_value());  // not folded in yet
  t.Collect(Serial(6), kT0 + absl::Seconds(4));
  EXPECT_EQ(t.at(0).held, Serial(5));
  EXPECT_EQ(t.at(1).held, Serial(5));
  EXPECT_EQ(t.at(0).held_at, kT0 + absl::Seconds(3));
  EXPECT_FALSE(t.at(2).held.has_value());
  EXPECT_FALSE(t.at(0).converged_at.has_value());  // behind serial 6
}

TEST(PeerTableTest, ConvergedAtIsWhenThePeerWasFirstSeenOnTheServedSerial) {
  PeerAddress a = PeerAddress::V4({192, 0, 2, 1}, 53);
  PeerTable t({Peer(a)}, kT0);
  t.ReportHeldSerial(a.ip, Serial(6), kT0 + absl::Seconds(10));
  t.Collect(Serial(6), kT0 + absl::Seconds(11));
  ASSERT_TRUE(t.at(0).converged_at.has_value());
  EXPECT_EQ(*t.at(0).converged_at, kT0 + absl::Seconds(10));
  // Seen again on the same serial later: still converged since the first time.
  t.ReportHeldSerial(a.ip, Serial(6), kT0 + absl::Seconds(20));
  t.Collect(Serial(6), kT0 + absl::Seconds(21));
  EXPECT_EQ(*t.at(0).converged_at, kT0 + absl::Seconds(10));
  EXPECT_EQ(t.at(0).held_at, kT0 + absl::Seconds(20));
  // A new serial is served: behind until it reports that one.
  t.Collect(Serial(7), kT0 + absl::Seconds(22));
  EXPECT_FALSE(t.at(0).converged_at.has_value());
  t.ReportHeldSerial(a.ip, Serial(7), kT0 + absl::Seconds(25));
  t.Collect(Serial(7), kT0 + absl::Seconds(26));
  EXPECT_EQ(*t.at(0).converged_at, kT0 + absl::Seconds(25));
  // Serial 0 is a serial like any other.
  t.ReportHeldSerial(a.ip, Serial(0), kT0 + absl::Seconds(30));
  t.Collect(Serial(0), kT0 + absl::Seconds(30));
  EXPECT_EQ(t.at(0).held, Serial(0));
  EXPECT_TRUE(t.at(0).converged_at.has_value());
}

TEST(PeerTableTest, ConcurrentReportersLeaveOneWholeReportPerPeer) {
  std::vector<PeerState> peers;
  for (int i = 0; i < 64; ++i) {
    peers.push_back(Peer(PeerAddress::V4({10, 0, 0, static_cast<uint8_t>(i)}, 53)));
  }
  PeerTable t(std::move(peers), kT0);
  std::vector<std::thread> threads;
  for (int th = 0; th < 4; ++th) {
    threads.emplace_back([&t, th] {
      for (int round = 0; round < 1000; ++round) {
        for (int i = 0; i < 64; ++i) {
          // Serial and time move together: serial 1000+s at second s.
          int s = round * 4 + th;
          t.ReportHeldSerial(PeerAddress::V4({10, 0, 0, static_cast<uint8_t>(i)}, 0).ip,
                             Serial(1000 + s), kT0 + absl::Seconds(s));
        }
      }
    });
  }
  for (int i = 0; i < 100; ++i) t.Collect(std::nullopt, kT0 + absl::Hours(2));
  for (auto& th : threads) th.join();
  t.Collect(std::nullopt, kT0 + absl::Hours(2));
  for (size_t i = 0; i < t.size(); ++i) {
    ASSERT_TRUE(t.at(i).held.has_value());
    EXPECT_EQ(t.at(i).held_at, kT0 + absl::Seconds(t.at(i).held->value() - 1000)) << i;
  }
}

TEST(PeerTableTest, JsonCarriesTheState) {
  PeerAddress a = PeerAddress::V4({192, 0, 2, 1}, 53);
  PeerTable t({Peer(a)}, kT0);
  PeerState& p = t.at(0);
  p.last_notified = Serial(6);
  p.notified_at = kT0;
  p.sends = 2;
  p.answered = true;
  p.answer_rcode = Rcode::kRefused;
  t.ReportHeldSerial(a.ip, Serial(6), kT0 + absl::Seconds(1));
  t.Collect(Serial(6), kT0 + absl::Seconds(2));
  std::string j = t.ToJson(kT0 + absl::Seconds(3));
  EXPECT_NE(j.find("\"address\":\"192.0.2.1:53\""), std::string::npos) << j;
  EXPECT_NE(j.find("\"last_notified\":6,\"notified_age\":3.000,\"sends\":2"),
            std::string::npos) << j;
  EXPECT_NE(j.find("\"answered\":true,\"answer_rcode\":\"REFUSED\""), std::string::npos) << j;
  EXPECT_NE(j.find("\"held_serial\":6,\"held_age\":2.000,\"converged\":true,"
                   "\"converged_age\":2.000"),
            std::string::npos) << j;
  EXPECT_EQ(j.front(), '[');
  EXPECT_EQ(j.back(), ']');
}

}  // namespace
}  // namespace xfr
