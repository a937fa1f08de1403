// PeerTable: serial reports from serving threads land in the owner's state
// at Collect(), by address whatever the source port, for every peer at that
// address; converged_at follows the served serial; ClassifyPeer names where
// each peer stands.
#include "fanout/peer_state.h"

#include <functional>
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

TEST(PeerTableTest, PeersSharingAnAddressAreMarked) {
  PeerAddress a = PeerAddress::V4({192, 0, 2, 1}, 53);
  PeerAddress a2 = PeerAddress::V4({192, 0, 2, 1}, 5353);
  PeerAddress b = PeerAddress::V4({192, 0, 2, 2}, 53);
  PeerTable t({Peer(a), Peer(a2), Peer(b)}, kT0);
  EXPECT_TRUE(t.at(0).shared_address);
  EXPECT_TRUE(t.at(1).shared_address);
  EXPECT_FALSE(t.at(2).shared_address);
}

TEST(PeerTableTest, ConvergingClearsTheLastError) {
  PeerAddress a = PeerAddress::V4({192, 0, 2, 1}, 53);
  PeerTable t({Peer(a)}, kT0);
  t.at(0).last_error = "did not answer after 5 tries";
  // Seen on an older serial: the error still stands.
  t.ReportHeldSerial(a.ip, Serial(5), kT0 + absl::Seconds(1));
  t.Collect(Serial(6), kT0 + absl::Seconds(2));
  EXPECT_EQ(t.at(0).last_error, "did not answer after 5 tries");
  t.ReportHeldSerial(a.ip, Serial(6), kT0 + absl::Seconds(3));
  t.Collect(Serial(6), kT0 + absl::Seconds(4));
  EXPECT_EQ(t.at(0).last_error, "");
  // An error found while in sync (a later NOTIFY refused) is kept.
  t.at(0).last_error = "NOTIFY answered REFUSED";
  t.Collect(Serial(6), kT0 + absl::Seconds(5));
  EXPECT_EQ(t.at(0).last_error, "NOTIFY answered REFUSED");
}

TEST(PeerTableTest, InheritKeepsWhatWasLearntOfPeersStillConfigured) {
  PeerAddress a = PeerAddress::V4({192, 0, 2, 1}, 53);
  PeerAddress b = PeerAddress::V4({192, 0, 2, 2}, 53);
  PeerAddress c = PeerAddress::V4({192, 0, 2, 3}, 53);
  PeerTable old({Peer(a), Peer(b)}, kT0);
  old.ReportHeldSerial(a.ip, Serial(6), kT0 + absl::Seconds(10));
  old.Collect(Serial(6), kT0 + absl::Seconds(11));
  old.at(0).last_notified = Serial(6);
  old.at(0).answers_ok = 3;
  // Reported but not collected yet when the reload comes.
  old.ReportHeldSerial(b.ip, Serial(5), kT0 + absl::Seconds(12));

  // b moves to a new port, c is new; a stays, its key added.
  PeerAddress b2 = PeerAddress::V4({192, 0, 2, 2}, 5300);
  std::vector<PeerState> next = {Peer(c), Peer(a), Peer(b2)};
  next[1].keyed = true;
  PeerTable t(std::move(next), kT0 + absl::Seconds(20));
  t.Inherit(old);
  EXPECT_FALSE(t.at(0).held.has_value());
  EXPECT_EQ(t.at(1).held, Serial(6));
  EXPECT_EQ(t.at(1).held_at, kT0 + absl::Seconds(10));
  EXPECT_EQ(t.at(1).last_notified, Serial(6));
  EXPECT_EQ(t.at(1).answers_ok, 3u);
  EXPECT_TRUE(t.at(1).keyed);  // the configuration is the new one
  EXPECT_EQ(t.at(1).address, a);
  EXPECT_FALSE(t.at(2).held.has_value());  // another port is another peer
  // An inherited report is not lost at the next Collect.
  t.Collect(Serial(6), kT0 + absl::Seconds(21));
  EXPECT_EQ(t.at(1).held, Serial(6));
  ASSERT_TRUE(t.at(1).converged_at.has_value());

  // The uncollected report of a peer kept at the same address survives too.
  PeerTable again({Peer(b)}, kT0 + absl::Seconds(30));
  again.Inherit(old);
  EXPECT_EQ(again.at(0).held, Serial(5));
  EXPECT_EQ(again.at(0).held_at, kT0 + absl::Seconds(12));
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

// ClassifyPeer: one row per situation /peers must tell apart. Serial 7 is
// served since kT0; the grace is 30 s.
TEST(ClassifyPeerTest, Table) {
  const absl::Duration kGrace = absl::Seconds(30);
  struct Row {
    const char* name;
    std::function<void(PeerState&)> set;
    absl::Duration at;  // now - kT0
    PeerSync want;
    int64_t behind;
  };
  auto notified = [](PeerState& p) {
    p.last_notified = Serial(7);
    p.notified_at = kT0;
  };
  auto answered = [notified](absl::Duration after) {
    return [notified, after](PeerState& p) {
      notified(p);
      p.answered = true;
      p.answered_at = kT0 + after;
      p.answer_rcode = Rcode::kNoError;
    };
  };
  std::vector<Row> rows = {
      {"holds the served serial", [](PeerState& p) { p.held = Serial(7); },
       absl::Seconds(100), PeerSync::kInSync, 0},
      {"holds a newer serial (RFC 1982)", [](PeerState& p) { p.held = Serial(8); },
       absl::Seconds(100), PeerSync::kInSync, 0},
      {"in sync although its NOTIFY went unanswered",
       [notified](PeerState& p) {
         notified(p);
         p.gave_up = true;
         p.held = Serial(7);
       },
       absl::Seconds(100), PeerSync::kInSync, 0},
      {"NOTIFY sent, not answered yet", notified, absl::Seconds(3), PeerSync::kNotified, 3},
      {"answered, within the grace", answered(absl::Seconds(1)), absl::Seconds(20),
       PeerSync::kNotified, 20},
      {"answered, holds an older serial, within the grace",
       [answered](PeerState& p) {
         answered(absl::Seconds(1))(p);
         p.held = Serial(6);
       },
       absl::Seconds(20), PeerSync::kNotified, 20},
      {"answered, did not come within the grace", answered(absl::Seconds(1)),
       absl::Seconds(31), PeerSync::kLagging, 31},
      {"answered late: the grace runs from the answer", answered(absl::Seconds(25)),
       absl::Seconds(40), PeerSync::kNotified, 40},
      {"answered REFUSED, past the grace",
       [answered](PeerState& p) {
         answered(absl::Seconds(1))(p);
         p.answer_rcode = Rcode::kRefused;
       },
       absl::Seconds(60), PeerSync::kLagging, 60},
      {"retries ran out unanswered",
       [notified](PeerState& p) {
         notified(p);
         p.gave_up = true;
       },
       absl::Seconds(40), PeerSync::kUnreachable, 40},
      {"answered but the SOA checks went unanswered",
       [answered](PeerState& p) {
         answered(absl::Seconds(1))(p);
         p.verify_failed = true;
       },
       absl::Seconds(40), PeerSync::kUnreachable, 40},
      {"an older NOTIFY's give-up does not count for this serial",
       [](PeerState& p) {
         p.last_notified = Serial(6);
         p.gave_up = true;
         p.held = Serial(6);
       },
       absl::Seconds(5), PeerSync::kLagging, 5},
      {"notify: false, holds an older serial",
       [](PeerState& p) {
         p.notify = false;
         p.held = Serial(5);
       },
       absl::Seconds(5), PeerSync::kLagging, 5},
      {"notify: false, never seen",
       [](PeerState& p) { p.notify = false; }, absl::Seconds(5), PeerSync::kUnknown, 5},
      {"published in the future (clock step): not negative", notified, -absl::Seconds(5),
       PeerSync::kNotified, 0},
  };
  for (const Row& r : rows) {
    PeerState p = Peer(PeerAddress::V4({192, 0, 2, 1}, 53));
    r.set(p);
    PeerStatus s = ClassifyPeer(p, Serial(7), kT0, kT0 + r.at, kGrace);
    EXPECT_EQ(PeerSyncName(s.sync), PeerSyncName(r.want)) << r.name;
    EXPECT_EQ(s.seconds_behind, r.behind) << r.name;
  }
}

TEST(ClassifyPeerTest, NothingServedIsUnknown) {
  PeerState p = Peer(PeerAddress::V4({192, 0, 2, 1}, 53));
  p.held = Serial(3);
  PeerStatus s = ClassifyPeer(p, std::nullopt, kT0, kT0 + absl::Seconds(9), absl::Seconds(30));
  EXPECT_EQ(s.sync, PeerSync::kUnknown);
  EXPECT_EQ(s.seconds_behind, 0);
}

}  // namespace
}  // namespace xfr
