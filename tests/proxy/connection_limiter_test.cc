// ConnectionLimiter without sockets: each case is a script of accepts,
// closes and give-ups with what the limiter must answer at each step.
// Caps here: 3 connections overall, 2 per address.
#include "proxy/connection_limiter.h"

#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "fmt/format.h"
#include "gtest/gtest.h"

namespace xfr {
namespace {

using Admission = ConnectionLimiter::Admission;

struct FakeOwner : ConnectionLimiter::Owner {
  void SlotGranted(uint64_t ticket) override { granted.push_back(ticket); }
  std::vector<uint64_t> granted;
};

enum class Op { kAdmit, kRelease, kCancel };

struct Step {
  Op op;
  const char* ip;
  uint64_t ticket;  // kAdmit/kCancel: the connection; kRelease: unused
  // kAdmit: the admission. kRelease: the ticket granted the slot (0: none).
  // kCancel: 1 if it was still waiting, 0 if granted already.
  int expect;
  int owner = 0;  // which of two owners (threads) holds the connection
};

constexpr int kAdmitted = static_cast<int>(Admission::kAdmitted);
constexpr int kWaiting = static_cast<int>(Admission::kWaiting);
constexpr int kRefused = static_cast<int>(Admission::kRefused);

struct Case {
  const char* name;
  std::vector<Step> steps;
  size_t connections_after;
  size_t waiting_after;
};

const char* const A = "192.0.2.1";
const char* const B = "192.0.2.2";

TEST(ConnectionLimiterTest, Scripts) {
  const Case cases[] = {
      {"under both caps: admitted",
       {{Op::kAdmit, A, 1, kAdmitted}, {Op::kAdmit, B, 2, kAdmitted}},
       2, 0},
      {"over the per-address cap: waits instead of being closed",
       {{Op::kAdmit, A, 1, kAdmitted}, {Op::kAdmit, A, 2, kAdmitted},
        {Op::kAdmit, A, 3, kWaiting}},
       3, 1},
      {"over the global cap: refused, waiting or not",
       {{Op::kAdmit, A, 1, kAdmitted}, {Op::kAdmit, A, 2, kAdmitted},
        {Op::kAdmit, A, 3, kWaiting}, {Op::kAdmit, B, 4, kRefused},
        {Op::kAdmit, A, 5, kRefused}},
       3, 1},
      {"a close passes the slot to the oldest waiter of its address",
       {{Op::kAdmit, A, 1, kAdmitted}, {Op::kAdmit, A, 2, kAdmitted},
        {Op::kAdmit, A, 3, kWaiting}, {Op::kRelease, A, 0, 3}},
       2, 0},
      {"FIFO per address",
       {{Op::kAdmit, A, 1, kAdmitted}, {Op::kAdmit, A, 2, kAdmitted},
        {Op::kAdmit, A, 3, kWaiting}, {Op::kRelease, A, 0, 3},
        {Op::kAdmit, A, 4, kWaiting}, {Op::kRelease, A, 0, 4},
        {Op::kRelease, A, 0, 0}, {Op::kRelease, A, 0, 0}},
       0, 0},
      {"a close of another address wakes nobody here",
       {{Op::kAdmit, A, 1, kAdmitted}, {Op::kAdmit, A, 2, kAdmitted},
        {Op::kAdmit, B, 3, kAdmitted}, {Op::kRelease, B, 0, 0},
        {Op::kAdmit, A, 4, kWaiting}, {Op::kRelease, B, 0, 0}},
       2, 1},
      {"a waiter that gives up leaves the queue and frees its place",
       {{Op::kAdmit, A, 1, kAdmitted}, {Op::kAdmit, A, 2, kAdmitted},
        {Op::kAdmit, A, 3, kWaiting}, {Op::kCancel, A, 3, 1},
        {Op::kAdmit, B, 4, kAdmitted}, {Op::kRelease, A, 0, 0}},
       2, 0},
      {"a waiter granted before it gave up must release the slot",
       {{Op::kAdmit, A, 1, kAdmitted}, {Op::kAdmit, A, 2, kAdmitted},
        {Op::kAdmit, A, 3, kWaiting}, {Op::kRelease, A, 0, 3},
        {Op::kCancel, A, 3, 0}, {Op::kRelease, A, 0, 0}},
       1, 0},
      {"slots go to waiters across owners (threads)",
       {{Op::kAdmit, A, 1, kAdmitted, 0}, {Op::kAdmit, A, 2, kAdmitted, 1},
        {Op::kAdmit, A, 3, kWaiting, 1}, {Op::kRelease, A, 0, 3}},
       2, 0},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    TcpLimits l;
    l.max_connections = 3;
    l.max_connections_per_ip = 2;
    ConnectionLimiter lim(l);
    FakeOwner owners[2];
    for (size_t i = 0; i < c.steps.size(); ++i) {
      const Step& s = c.steps[i];
      SCOPED_TRACE(fmt::format("step {}", i));
      IpAddress ip = *IpAddress::Parse(s.ip);
      ConnectionLimiter::Waiter w{&owners[s.owner], s.ticket};
      switch (s.op) {
        case Op::kAdmit:
          EXPECT_EQ(static_cast<int>(lim.Admit(ip, w)), s.expect);
          break;
        case Op::kRelease: {
          std::optional<ConnectionLimiter::Waiter> next = lim.Release(ip);
          EXPECT_EQ(next ? static_cast<int>(next->ticket) : 0, s.expect);
          if (next) {
            // The grant names the owner the waiter was queued with.
            bool known = next->owner == &owners[0] || next->owner == &owners[1];
            EXPECT_TRUE(known);
          }
          break;
        }
        case Op::kCancel:
          EXPECT_EQ(lim.CancelWait(ip, w) ? 1 : 0, s.expect);
          break;
      }
    }
    EXPECT_EQ(lim.connections(), c.connections_after);
    EXPECT_EQ(lim.waiting(), c.waiting_after);
  }
}

TEST(ConnectionLimiterTest, GrantNamesTheOwnerThatQueued) {
  TcpLimits l;
  l.max_connections_per_ip = 1;
  ConnectionLimiter lim(l);
  FakeOwner a, b;
  IpAddress ip = *IpAddress::Parse("2001:db8::1");
  EXPECT_EQ(lim.Admit(ip, {&a, 1}), Admission::kAdmitted);
  EXPECT_EQ(lim.Admit(ip, {&b, 2}), Admission::kWaiting);
  std::optional<ConnectionLimiter::Waiter> next = lim.Release(ip);
  ASSERT_TRUE(next.has_value());
  EXPECT_EQ(next->owner, &b);
  EXPECT_EQ(next->ticket, 2u);
}

// Many threads accepting and closing for one address: every connection is
// admitted once, no slot is lost or doubled, and everything drains.
TEST(ConnectionLimiterTest, ConcurrentChurnDrains) {
  TcpLimits l;
  l.max_connections = 100000;
  l.max_connections_per_ip = 4;
  ConnectionLimiter lim(l);
  IpAddress ip = *IpAddress::Parse("192.0.2.9");
  struct Owner : ConnectionLimiter::Owner {
    std::atomic<int> granted{0};
    void SlotGranted(uint64_t) override { granted.fetch_add(1); }
  } owner;
  constexpr int kThreads = 4;
  constexpr int kPerThread = 2000;
  std::atomic<int> admitted{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        uint64_t ticket = static_cast<uint64_t>(t) * kPerThread + i + 1;
        if (lim.Admit(ip, {&owner, ticket}) == Admission::kAdmitted) {
          admitted.fetch_add(1);
          // An admitted connection closes; its slot may go to a waiter,
          // which then closes in turn (as TcpServer does once it ran).
          std::optional<ConnectionLimiter::Waiter> next = lim.Release(ip);
          while (next) {
            owner.SlotGranted(next->ticket);
            next = lim.Release(ip);
          }
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(admitted.load() + owner.granted.load(), kThreads * kPerThread);
  EXPECT_EQ(lim.connections(), 0u);
  EXPECT_EQ(lim.waiting(), 0u);
}

}  // namespace
}  // namespace xfr
