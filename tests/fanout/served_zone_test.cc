// ServedZone snapshots: the journal carries over and is trimmed to
// max_diffs, every journal serial has one condensed IXFR straight to the
// current version equal to ComputeDiff(old, current), and the encoded AXFR
// parses back to the version.
#include "fanout/served_zone.h"

#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include "core/message.h"
#include "core/zonefile.h"
#include "fmt/format.h"
#include "gtest/gtest.h"

namespace xfr {
namespace {

const absl::Time kT0 = absl::FromUnixSeconds(1'700'000'000);

Name N(std::string_view t) { return *Name::FromText(t); }

// Version `serial` of a zone that changes a little at every serial: one
// record added, one deleted, one TTL changed, so successive diffs overlap.
std::string ZoneText(uint32_t serial) {
  std::string t = fmt::format(
      "$ORIGIN example.com.\n$TTL 3600\n@ IN SOA ns1 hostmaster {} 7200 900 86400 300\n"
      "@ IN NS ns1\nns1 IN A 192.0.2.1\nttl {} IN A 192.0.2.2\n",
      serial, 100 + serial);
  for (uint32_t i = serial; i < serial + 5; ++i) {
    t += fmt::format("h{} IN TXT \"record {}\"\n", i, i);
  }
  return t;
}

std::shared_ptr<const ZoneVersion> Version(const std::string& text) {
  auto rs = ReadZoneText(text, N("example.com."), "t.zone");
  EXPECT_TRUE(rs.ok()) << rs.status();
  auto v = ZoneVersion::Build(N("example.com."), std::move(*rs));
  EXPECT_TRUE(v.ok()) << v.status();
  return *v;
}

bool Less(const Record& a, const Record& b) { return CompareRecords(a.view(), b.view()) < 0; }

// The records of encoded messages, each materialized and parsed.
std::vector<Record> Parse(const std::vector<EncodedMessage>& ms, RRType qtype,
                          size_t max_size = kMaxMessageSize) {
  std::vector<uint8_t> q = EncodeQuestion(Question{N("example.com."), qtype, RRClass::kIN});
  std::vector<Record> out;
  for (size_t i = 0; i < ms.size(); ++i) {
    auto wire = MaterializeForRequest(ms[i], 7, false, Bytes(q.data(), q.size()));
    EXPECT_TRUE(wire.ok()) << wire.status();
    if (!wire.ok()) continue;
    EXPECT_LE(wire->size(), max_size);
    auto m = ParseMessage(Bytes(wire->data(), wire->size()));
    EXPECT_TRUE(m.ok()) << m.status();
    if (!m.ok()) continue;
    EXPECT_EQ(m->questions.size(), i == 0 ? 1u : 0u);
    EXPECT_TRUE(m->header.qr && m->header.aa);
    out.insert(out.end(), m->answer.begin(), m->answer.end());
  }
  return out;
}

std::vector<Record> IxfrLayout(const ZoneDiff& d) {
  std::vector<Record> r = {d.new_soa, d.old_soa};
  r.insert(r.end(), d.removed.begin(), d.removed.end());
  r.push_back(d.new_soa);
  r.insert(r.end(), d.added.begin(), d.added.end());
  r.push_back(d.new_soa);
  return r;
}

class ServedZoneTest : public ::testing::Test {
 protected:
  // Publishes serials 1..n in turn; returns the last snapshot.
  std::shared_ptr<const ServedZone> Chain(uint32_t n, PublishOptions o) {
    std::shared_ptr<const ServedZone> cur;
    for (uint32_t s = 1; s <= n; ++s) {
      versions_[s] = Version(ZoneText(s));
      std::shared_ptr<const ZoneDiff> diff;
      if (cur) diff = std::make_shared<const ZoneDiff>(ComputeDiff(*cur->version, *versions_[s]));
      auto z = BuildServedZone(versions_[s], cur.get(), diff, kT0 + absl::Seconds(s), o);
      EXPECT_TRUE(z.ok()) << z.status();
      cur = *z;
    }
    return cur;
  }
  std::map<uint32_t, std::shared_ptr<const ZoneVersion>> versions_;
};

TEST_F(ServedZoneTest, FirstVersionHasNoJournal) {
  auto z = Chain(1, {});
  EXPECT_TRUE(z->journal.empty());
  EXPECT_TRUE(z->ixfr.empty());
  EXPECT_EQ(z->FindIxfr(Serial(1)), nullptr);
  EXPECT_EQ(z->serial(), Serial(1));
}

TEST_F(ServedZoneTest, JournalIsTrimmedToMaxDiffs) {
  PublishOptions o;
  o.max_diffs = 3;
  auto z = Chain(6, o);
  ASSERT_EQ(z->journal.size(), 3u);
  EXPECT_EQ(z->journal.front()->from(), Serial(3));
  EXPECT_EQ(z->journal.back()->to(), Serial(6));
  for (size_t i = 0; i + 1 < z->journal.size(); ++i) {
    EXPECT_EQ(z->journal[i]->to(), z->journal[i + 1]->from()) << "a chain";
  }
  EXPECT_EQ(z->ixfr.size(), 3u);
  for (uint32_t s : {1u, 2u, 6u, 7u}) EXPECT_EQ(z->FindIxfr(Serial(s)), nullptr) << s;
  for (uint32_t s : {3u, 4u, 5u}) EXPECT_NE(z->FindIxfr(Serial(s)), nullptr) << s;
}

TEST_F(ServedZoneTest, NoJournalWhenMaxDiffsIsZero) {
  PublishOptions o;
  o.max_diffs = 0;
  auto z = Chain(3, o);
  EXPECT_TRUE(z->journal.empty());
  EXPECT_TRUE(z->ixfr.empty());
}

TEST_F(ServedZoneTest, EachJournalSerialGetsTheCondensedDiffToCurrent) {
  auto z = Chain(6, {});
  ASSERT_EQ(z->journal.size(), 5u);
  for (uint32_t s = 1; s < 6; ++s) {
    SCOPED_TRACE(s);
    const auto* enc = z->FindIxfr(Serial(s));
    ASSERT_NE(enc, nullptr);
    ZoneDiff want = ComputeDiff(*versions_[s], *versions_[6]);
    std::vector<Record> got = Parse(*enc, RRType::kIXFR);
    EXPECT_EQ(got, IxfrLayout(want));
    // And the content is right, not merely consistent: the TTL record and
    // the h-records that came and went.
    EXPECT_EQ(want.removed.size(), std::min<size_t>(6 - s, 5) + 1);
    EXPECT_EQ(want.added.size(), std::min<size_t>(6 - s, 5) + 1);
  }
}

TEST_F(ServedZoneTest, AxfrParsesBackToTheVersion) {
  for (size_t limit : {size_t{280}, kDefaultTransferMessageSize}) {
    SCOPED_TRACE(limit);
    // TransferEncoder never goes below room for a header and the longest
    // question (271 bytes), so 280 is about the smallest real limit.
    PublishOptions o;
    o.max_message_size = limit;
    auto z = Chain(2, o);
    std::vector<Record> got = Parse(z->axfr, RRType::kAXFR, limit);
    ASSERT_GE(got.size(), 2u);
    Record soa = ToRecord(z->version->soa());
    EXPECT_EQ(got.front(), soa);
    EXPECT_EQ(got.back(), soa);
    got.pop_back();
    std::vector<Record> want;
    for (size_t i = 0; i < z->version->size(); ++i) want.push_back(ToRecord(z->version->record(i)));
    std::sort(got.begin(), got.end(), Less);
    std::sort(want.begin(), want.end(), Less);
    EXPECT_EQ(got, want);
    if (limit == 280) {
      EXPECT_GT(z->axfr.size(), 1u) << "a small limit splits the answer";
    }
  }
}

TEST_F(ServedZoneTest, DiffThatDoesNotJoinIsRefused) {
  auto z1 = BuildServedZone(Version(ZoneText(1)), nullptr, nullptr, kT0);
  ASSERT_TRUE(z1.ok());
  auto v3 = Version(ZoneText(3));
  auto v2 = Version(ZoneText(2));
  // A diff 2 -> 3 offered to a snapshot at serial 1.
  auto diff = std::make_shared<const ZoneDiff>(ComputeDiff(*v2, *v3));
  EXPECT_FALSE(BuildServedZone(v3, z1->get(), diff, kT0).ok());
}

TEST_F(ServedZoneTest, ExpireCountsDownUnlessNeverExpires) {
  auto z = BuildServedZone(Version(ZoneText(1)), nullptr, nullptr, kT0);
  ASSERT_TRUE(z.ok());
  EXPECT_EQ((*z)->ExpireRemaining(kT0), 86400u);
  EXPECT_EQ((*z)->ExpireRemaining(kT0 + absl::Seconds(400)), 86000u);
  EXPECT_EQ((*z)->ExpireRemaining(kT0 - absl::Seconds(5)), 86400u) << "clock went back";
  EXPECT_EQ((*z)->ExpireRemaining(kT0 + absl::Seconds(86400)), 0u);
  EXPECT_EQ((*z)->ExpireRemaining(kT0 + absl::Hours(1000)), 0u);
  PublishOptions o;
  o.never_expires = true;
  auto f = BuildServedZone(Version(ZoneText(1)), nullptr, nullptr, kT0, o);
  ASSERT_TRUE(f.ok());
  EXPECT_EQ((*f)->ExpireRemaining(kT0 + absl::Hours(1000)), 86400u);
}

}  // namespace
}  // namespace xfr
