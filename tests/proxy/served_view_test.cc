// From the primary's versions to served snapshots (proxy/served_view.h):
// which path each kind of version takes (plain, incremental rewrite, from
// scratch after a policy change or a restart), that the journal's diffs
// always join the rewritten views exactly, and how a re-read at the same
// serial is taken.
#include "proxy/served_view.h"

#include <string>

#include "core/diff.h"
#include "core/zonefile.h"
#include "gtest/gtest.h"

namespace xfr {
namespace {

Name N(std::string_view t) { return *Name::FromText(t); }

std::shared_ptr<const ZoneVersion> Zone(uint32_t serial, const std::string& body) {
  std::string text = "$ORIGIN example.com.\n$TTL 3600\n@ IN SOA ns1 hostmaster " +
                     std::to_string(serial) + " 7200 900 86400 300\n@ IN NS ns1\n" +
                     "ns1 IN A 192.0.2.53\n" + body;
  auto rs = ReadZoneText(text, N("example.com."), "t.zone");
  EXPECT_TRUE(rs.ok()) << rs.status();
  auto v = ZoneVersion::Build(N("example.com."), std::move(*rs));
  EXPECT_TRUE(v.ok()) << v.status();
  return *v;
}

std::shared_ptr<const RewritePolicy> Policy(std::vector<std::string> names) {
  ProxiedConfig c;
  for (const std::string& n : names) {
    bool wildcard = n.rfind("*.", 0) == 0;
    c.names.push_back({N(wildcard ? n.substr(2) : n), wildcard});
  }
  c.edge_v4 = {*IpAddress::Parse("203.0.113.1")};
  c.edge_v6 = {*IpAddress::Parse("2001:db8::e")};
  c.ttl = 60;
  return MakeRewritePolicy(c);
}

struct Step {
  std::shared_ptr<const ZoneVersion> upstream;
  std::shared_ptr<const RewritePolicy> policy;
};

class ServedViewTest : public ::testing::Test {
 protected:
  // Publishes `upstream` under `policy` after the current snapshot and
  // checks the invariants every snapshot must keep.
  std::shared_ptr<const ServedZone> Publish(std::shared_ptr<const ZoneVersion> upstream,
                                            std::shared_ptr<const RewritePolicy> policy) {
    auto v = MakeServedView(N("example.com."), upstream, current_.get(), policy,
                            absl::UnixEpoch(), PublishOptions{}, BuildOptions{});
    EXPECT_TRUE(v.ok()) << v.status();
    const ServedZone& z = *v->served;
    // What is served is the rewrite of the primary's data (or that data).
    if (policy) {
      auto want = RewriteZone(*upstream, *policy);
      EXPECT_TRUE(**want == *z.version);
      EXPECT_EQ(z.upstream, upstream);
    } else {
      EXPECT_EQ(z.version, upstream);
    }
    // The journal's diff joins the previous served view to this one.
    if (current_) {
      EXPECT_NE(v->diff, nullptr);
      EXPECT_EQ(*v->diff, ComputeDiff(*current_->version, *z.version));
      auto applied = ApplyDiff(*current_->version, *v->diff);
      EXPECT_TRUE(applied.ok() && **applied == *z.version);
    }
    current_ = v->served;
    return current_;
  }

  std::shared_ptr<const ServedZone> current_;
};

TEST_F(ServedViewTest, NoPolicyServesThePrimarysVersion) {
  Publish(Zone(1, "www IN A 192.0.2.1\n"), nullptr);
  auto z = Publish(Zone(2, "www IN A 192.0.2.2\n"), nullptr);
  EXPECT_EQ(z->policy, nullptr);
  EXPECT_EQ(z->journal.size(), 1u);
}

TEST_F(ServedViewTest, OriginChangeAtAProxiedNameIsOnlyAnSoaChange) {
  auto p = Policy({"www.example.com."});
  Publish(Zone(1, "www IN A 192.0.2.1\nmail IN A 192.0.2.25\n"), p);
  auto z = Publish(Zone(2, "www IN A 192.0.2.2\nmail IN A 192.0.2.25\n"), p);
  EXPECT_TRUE(z->journal.back()->empty());
  EXPECT_EQ(z->journal.back()->from(), Serial(1));
  EXPECT_EQ(z->journal.back()->to(), Serial(2));
}

TEST_F(ServedViewTest, PolicyChangesWaitForTheNextVersionAndDiffExactly) {
  auto both = Policy({"www.example.com.", "*.cdn.example.com."});
  Publish(Zone(1, "www IN A 192.0.2.1\na.cdn IN A 192.0.2.2\n"), Policy({"www.example.com."}));
  // Same primary data, new policy: the next version is rewritten anew.
  auto z = Publish(Zone(2, "www IN A 192.0.2.1\na.cdn IN A 192.0.2.2\n"), both);
  ASSERT_EQ(z->journal.back()->removed.size(), 1u);
  EXPECT_EQ(z->journal.back()->added.size(), 2u);  // edge A and AAAA
  // The policy goes away again.
  z = Publish(Zone(3, "www IN A 192.0.2.1\na.cdn IN A 192.0.2.2\n"), nullptr);
  EXPECT_EQ(z->journal.back()->added.size(), 2u);  // both origin addresses back
  EXPECT_EQ(z->journal.back()->removed.size(), 4u);
}

TEST_F(ServedViewTest, RestoredRewrittenViewIsRewrittenFromScratchNextTime) {
  auto p = Policy({"www.example.com."});
  auto v1 = Zone(1, "www IN A 192.0.2.1\n");
  auto served = RewriteZone(*v1, *p);
  // As the server restores a snapshot marked rewritten: primary data unknown.
  auto restored = RestoreServedZone(*served, {}, absl::UnixEpoch(), PublishOptions{},
                                    ViewSource{true, nullptr, p});
  ASSERT_TRUE(restored.ok());
  EXPECT_EQ((*restored)->upstream, nullptr);
  current_ = *restored;
  auto z = Publish(Zone(2, "www IN A 192.0.2.9\nnew IN A 192.0.2.3\n"), p);
  ASSERT_EQ(z->journal.size(), 1u);
  EXPECT_EQ(z->journal.back()->removed.size(), 0u);
  EXPECT_EQ(z->journal.back()->added.size(), 1u);  // only `new`
}

TEST_F(ServedViewTest, SameSerialViewTellsUnchangedFromEdited) {
  auto p = Policy({"www.example.com."});
  auto v1 = Zone(1, "www IN A 192.0.2.1\n");
  auto z = Publish(v1, p);
  EXPECT_EQ(SameSerialView(z, Zone(1, "www IN A 192.0.2.1\n"), p, {}), z);
  EXPECT_EQ(SameSerialView(z, Zone(1, "www IN A 192.0.2.7\n"), p, {}), nullptr);
  // A policy change alone keeps what is served.
  EXPECT_EQ(SameSerialView(z, v1, Policy({"mail.example.com."}), {}), z);

  // Restored: the data is taken, and the policy kept only when it is the
  // one the view was made with.
  auto restored = *RestoreServedZone(z->version, {}, absl::UnixEpoch(), PublishOptions{},
                                     ViewSource{true, nullptr, p});
  auto same = SameSerialView(restored, v1, p, {});
  ASSERT_NE(same, nullptr);
  EXPECT_EQ(same->upstream, v1);
  EXPECT_NE(same->policy, nullptr);
  auto other = SameSerialView(restored, v1, Policy({"mail.example.com."}), {});
  ASSERT_NE(other, nullptr);
  EXPECT_EQ(other->policy, nullptr);  // the next version is rewritten anew
  EXPECT_TRUE(*other->version == *restored->version);
}

}  // namespace
}  // namespace xfr
