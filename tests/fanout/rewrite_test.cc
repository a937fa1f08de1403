// The rewrite rules of README "Proxied names", one case each:
// which names a pattern reaches, what happens to A/AAAA/CNAME, RRSIGs and
// everything else at a proxied name, and that an incremental rewrite gives
// the diff between rewritten views.
#include "fanout/rewrite.h"

#include <algorithm>
#include <string>
#include <vector>

#include "core/zonefile.h"
#include "gtest/gtest.h"

namespace xfr {
namespace {

Name N(std::string_view t) { return *Name::FromText(t); }

const char kHead[] =
    "$ORIGIN example.com.\n$TTL 3600\n"
    "@ IN SOA ns1 hostmaster 1 7200 900 86400 300\n@ IN NS ns1\n"
    "ns1 IN A 192.0.2.53\n";

std::shared_ptr<const ZoneVersion> Zone(const std::string& body,
                                        const char* head = kHead) {
  auto rs = ReadZoneText(head + body, N("example.com."), "t.zone");
  EXPECT_TRUE(rs.ok()) << rs.status();
  auto v = ZoneVersion::Build(N("example.com."), std::move(*rs));
  EXPECT_TRUE(v.ok()) << v.status();
  return *v;
}

// The same zone at another serial.
std::shared_ptr<const ZoneVersion> Zone2(const std::string& body) {
  std::string head = kHead;
  head.replace(head.find(" 1 7200"), 7, " 2 7200");
  return Zone(body, head.c_str());
}

std::string Text(const ZoneVersion& z) {
  std::vector<RecordView> rs(z.begin(), z.end());
  return WriteZoneText(rs);
}

RewritePolicy Policy() {
  RewritePolicy p;
  p.names = {{N("www.example.com."), false}, {N("cdn.example.com."), true}};
  p.edge_v4 = {{198, 51, 100, 2}, {198, 51, 100, 1}};
  p.edge_v6 = {{0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}};
  return p;
}

// What Policy() puts at a proxied name that had addresses.
std::string Edge(const std::string& owner) {
  return owner + " 300 IN A 198.51.100.1\n" + owner + " 300 IN A 198.51.100.2\n" +
         owner + " 300 IN AAAA 2001:db8::1\n";
}

std::shared_ptr<const ZoneVersion> Rewrite(const ZoneVersion& z,
                                           const RewritePolicy& p = Policy()) {
  auto r = RewriteZone(z, p);
  EXPECT_TRUE(r.ok()) << r.status();
  return *r;
}

#define EXPECT_ZONE(actual, expected) \
  EXPECT_TRUE(*(actual) == *(expected)) << Text(*(actual)) << "---\n" << Text(*(expected))

TEST(RewriteZone, ExactNameGetsTheEdgeAddressesWithThePolicyTtl) {
  auto up = Zone("www IN A 192.0.2.1\nwww IN AAAA 2001:db8:f::1\nother IN A 192.0.2.9\n");
  EXPECT_ZONE(Rewrite(*up), Zone(Edge("www") + "other IN A 192.0.2.9\n"));
}

TEST(RewriteZone, OtherTypesAtAProxiedNamePassUnchanged) {
  auto up = Zone(
      "www IN A 192.0.2.1\nwww IN MX 10 mail\nwww IN TXT \"hello\"\n"
      "www IN TYPE65280 \\# 2 0102\nwww 60 IN CAA 0 issue \"ca.example\"\n");
  EXPECT_ZONE(Rewrite(*up),
              Zone(Edge("www") +
                   "www IN MX 10 mail\nwww IN TXT \"hello\"\n"
                   "www IN TYPE65280 \\# 2 0102\nwww 60 IN CAA 0 issue \"ca.example\"\n"));
}

TEST(RewriteZone, CnameIsFlattened) {
  auto up = Zone("www IN CNAME origin.example.net.\n");
  EXPECT_ZONE(Rewrite(*up), Zone(Edge("www")));
}

TEST(RewriteZone, BelowPatternReachesEveryDepthButNotTheSuffixItself) {
  auto up = Zone(
      "cdn IN A 192.0.2.1\na.cdn IN A 192.0.2.2\nb.c.cdn IN CNAME x.example.net.\n"
      "xcdn IN A 192.0.2.3\ncdn0 IN A 192.0.2.4\nzzz IN A 192.0.2.5\n");
  EXPECT_ZONE(Rewrite(*up), Zone("cdn IN A 192.0.2.1\n" + Edge("a.cdn") + Edge("b.c.cdn") +
                                 "xcdn IN A 192.0.2.3\ncdn0 IN A 192.0.2.4\n"
                                 "zzz IN A 192.0.2.5\n"));
}

TEST(RewriteZone, ProxiedNameWithoutAddressesGetsNothing) {
  auto up = Zone("www IN TXT \"no address\"\na.cdn IN MX 10 mail\n");
  EXPECT_ZONE(Rewrite(*up), up);
}

TEST(RewriteZone, EmptyEdgeListMeansNoRecordsOfThatFamily) {
  auto up = Zone("www IN A 192.0.2.1\nwww IN AAAA 2001:db8:f::1\nwww IN TXT \"t\"\n");
  RewritePolicy p = Policy();
  p.edge_v4.clear();
  EXPECT_ZONE(Rewrite(*up, p), Zone("www 300 IN AAAA 2001:db8::1\nwww IN TXT \"t\"\n"));
  p = Policy();
  p.edge_v6.clear();
  EXPECT_ZONE(Rewrite(*up, p),
              Zone("www 300 IN A 198.51.100.1\nwww 300 IN A 198.51.100.2\nwww IN TXT \"t\"\n"));
  p.edge_v4.clear();
  EXPECT_ZONE(Rewrite(*up, p), Zone("www IN TXT \"t\"\n"));
}

TEST(RewriteZone, ApexAddressesAreReplacedButSoaAndNsStay) {
  auto up = Zone("@ IN A 192.0.2.1\n@ IN MX 10 mail\n");
  RewritePolicy p = Policy();
  p.names.push_back({N("example.com."), false});
  EXPECT_ZONE(Rewrite(*up, p), Zone(Edge("@") + "@ IN MX 10 mail\n"));
  EXPECT_EQ(Rewrite(*up, p)->serial(), Serial(1));
}

TEST(RewriteZone, PatternAboveTheZoneReachesEveryName) {
  auto up = Zone("@ IN A 192.0.2.1\nhost IN A 192.0.2.2\n");
  RewritePolicy p = Policy();
  p.names = {{N("com."), true}};
  // ns1 is reached too: the policy says every name.
  EXPECT_ZONE(Rewrite(*up, p), Zone(Edge("@") + Edge("host") + Edge("ns1"),
                                    "$ORIGIN example.com.\n$TTL 3600\n"
                                    "@ IN SOA ns1 hostmaster 1 7200 900 86400 300\n"
                                    "@ IN NS ns1\n"));
}

TEST(RewriteZone, PatternsOutsideTheZoneReachNothing) {
  auto up = Zone("www IN A 192.0.2.1\n");
  RewritePolicy p = Policy();
  p.names = {{N("www.example.org."), false}, {N("example.org."), true},
             {N("www.example.com.example.org."), false}};
  EXPECT_ZONE(Rewrite(*up, p), up);
}

TEST(RewriteZone, OverlappingPatternsRewriteOnce) {
  auto up = Zone("a.cdn IN A 192.0.2.1\nb.x.cdn IN A 192.0.2.2\nwww IN A 192.0.2.3\n");
  RewritePolicy p = Policy();
  p.names.push_back({N("a.cdn.example.com."), false});
  p.names.push_back({N("x.cdn.example.com."), true});
  p.names.push_back({N("WWW.example.com."), false});
  EXPECT_ZONE(Rewrite(*up, p), Zone(Edge("a.cdn") + Edge("b.x.cdn") + Edge("www")));
}

TEST(RewriteZone, RrsigsOfReplacedRrsetsAreDroppedAtProxiedNamesOnly) {
  const std::string sig = " 8 3 3600 20240201000000 20240101000000 1 example.com. AQID\n";
  auto up = Zone("www IN A 192.0.2.1\nwww IN TXT \"t\"\n"
                 "www IN RRSIG A" + sig + "www IN RRSIG AAAA" + sig +
                 "www IN RRSIG CNAME" + sig + "www IN RRSIG TXT" + sig +
                 "a.cdn IN RRSIG A" + sig +  // covers an RRset that is not there
                 "host IN A 192.0.2.2\nhost IN RRSIG A" + sig);
  EXPECT_ZONE(Rewrite(*up), Zone(Edge("www") + "www IN TXT \"t\"\nwww IN RRSIG TXT" + sig +
                                 "host IN A 192.0.2.2\nhost IN RRSIG A" + sig));
}

TEST(RewriteZone, OwnerCaseIsKeptAndPatternsIgnoreCase) {
  auto up = Zone("WwW IN A 192.0.2.1\nA.Cdn IN CNAME x.example.net.\n");
  RewritePolicy p = Policy();
  p.names = {{N("WWW.EXAMPLE.COM."), false}, {N("cDn.ExAmPlE.cOm."), true}};
  auto out = Rewrite(*up, p);
  EXPECT_ZONE(out, Zone(Edge("www") + Edge("a.cdn")));
  for (RecordView rr : *out) {
    if (rr.type != RRType::kA && rr.type != RRType::kAAAA) continue;
    if (rr.owner.EqualsIgnoreCase(N("www.example.com."))) {
      EXPECT_EQ(rr.owner.ToText(), "WwW.example.com.");
    } else if (!rr.owner.EqualsIgnoreCase(N("ns1.example.com."))) {
      EXPECT_EQ(rr.owner.ToText(), "A.Cdn.example.com.");
    }
  }
}

TEST(RewriteZone, SynthesisedRecordsTakeTheZoneClass) {
  const char head[] =
      "$ORIGIN example.com.\n$TTL 3600\n"
      "@ CH SOA ns1 hostmaster 1 7200 900 86400 300\nwww CH A 192.0.2.1\n";
  ZoneFileOptions o;
  o.rclass = RRClass::kCH;
  auto rs = ReadZoneText(head, N("example.com."), "t.zone", o);
  ASSERT_TRUE(rs.ok()) << rs.status();
  auto up = ZoneVersion::Build(N("example.com."), std::move(*rs));
  ASSERT_TRUE(up.ok()) << up.status();
  auto out = Rewrite(**up);
  ASSERT_EQ(out->size(), 4u);
  for (RecordView rr : *out) EXPECT_EQ(rr.rclass, RRClass::kCH);
}

TEST(RewriteZone, EdgeListsAreSetsAndAnEqualOriginRecordStaysOnce) {
  auto up = Zone("www IN A 198.51.100.1\n");
  RewritePolicy p = Policy();
  p.edge_v4 = {{198, 51, 100, 1}, {198, 51, 100, 1}};
  p.edge_v6.clear();
  p.ttl = 60;
  EXPECT_ZONE(Rewrite(*up, p), Zone("www 60 IN A 198.51.100.1\n"));
}

TEST(RewriteZone, EmptyPolicyCopiesTheZone) {
  auto up = Zone("www IN A 192.0.2.1\n");
  EXPECT_ZONE(Rewrite(*up, RewritePolicy{}), up);
}

TEST(RewriteZone, MaxRecordsCountsTheRewrittenZone) {
  auto up = Zone("www IN A 192.0.2.1\n");  // 4 records; rewritten 6
  BuildOptions o;
  o.max_records = 5;
  auto r = RewriteZone(*up, Policy(), o);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kResourceExhausted);
}

TEST(RewritePolicy, MatchesExactAndStrictlyBelow) {
  RewritePolicy p = Policy();
  EXPECT_TRUE(p.Matches(N("www.example.com.")));
  EXPECT_TRUE(p.Matches(N("WWW.Example.COM.")));
  EXPECT_FALSE(p.Matches(N("a.www.example.com.")));
  EXPECT_FALSE(p.Matches(N("cdn.example.com.")));
  EXPECT_TRUE(p.Matches(N("a.cdn.example.com.")));
  EXPECT_TRUE(p.Matches(N("*.cdn.example.com.")));
  EXPECT_TRUE(p.Matches(N("a.b.CDN.example.com.")));
  EXPECT_FALSE(p.Matches(N("acdn.example.com.")));
  EXPECT_FALSE(p.Matches(N("example.com.")));
}

TEST(RewritePolicy, EqualityIgnoresOrderRepeatsAndCase) {
  RewritePolicy a = Policy(), b = Policy();
  std::reverse(b.names.begin(), b.names.end());
  std::reverse(b.edge_v4.begin(), b.edge_v4.end());
  b.edge_v4.push_back(b.edge_v4.front());
  b.names.push_back({N("WWW.EXAMPLE.COM."), false});
  EXPECT_TRUE(a == b);
  b.ttl = 301;
  EXPECT_FALSE(a == b);
  b = Policy();
  b.names[0].below = true;
  EXPECT_FALSE(a == b);
  b = Policy();
  b.edge_v6.clear();
  EXPECT_FALSE(a == b);
  b = Policy();
  b.names[1].name = N("cdn2.example.com.");
  EXPECT_FALSE(a == b);
}

// RewriteChange against the rewrite from scratch and ComputeDiff.
class RewriteChangeTest : public ::testing::Test {
 protected:
  RewriteResult Change(const std::string& before, const std::string& after,
                       const RewritePolicy& p = Policy()) {
    auto up_old = Zone(before), up_new = Zone2(after);
    auto served_old = Rewrite(*up_old, p);
    auto r = RewriteChange(*served_old, *up_new, ComputeDiff(*up_old, *up_new), p);
    EXPECT_TRUE(r.ok()) << r.status();
    auto scratch = Rewrite(*up_new, p);
    EXPECT_ZONE(r->served, scratch);
    EXPECT_EQ(r->diff, ComputeDiff(*served_old, *scratch));
    return *std::move(r);
  }
};

TEST_F(RewriteChangeTest, OriginAddressChangeAtAProxiedNameIsOnlyTheSoa) {
  RewriteResult r = Change("www IN A 192.0.2.1\n", "www IN A 192.0.2.99\nwww IN AAAA ::1\n");
  EXPECT_TRUE(r.diff.empty());
  EXPECT_EQ(r.diff.from(), Serial(1));
  EXPECT_EQ(r.diff.to(), Serial(2));
}

TEST_F(RewriteChangeTest, CnameToAddressAtAProxiedNameIsOnlyTheSoa) {
  EXPECT_TRUE(Change("a.cdn IN CNAME o.example.net.\n", "a.cdn IN A 192.0.2.1\n").diff.empty());
}

TEST_F(RewriteChangeTest, NameGainingAnAddressGetsTheEdgeRecords) {
  RewriteResult r = Change("a.cdn IN TXT \"t\"\n", "a.cdn IN TXT \"t\"\na.cdn IN A 192.0.2.1\n");
  EXPECT_TRUE(r.diff.removed.empty());
  ASSERT_EQ(r.diff.added.size(), 3u);
  EXPECT_EQ(r.diff.added[0].ttl, 300u);
}

TEST_F(RewriteChangeTest, NameLosingItsLastAddressLosesTheEdgeRecords) {
  RewriteResult r = Change("www IN CNAME o.example.net.\nwww IN RRSIG TXT 8 3 1 1 0 1 . AQID\n",
                           "www IN RRSIG TXT 8 3 1 1 0 1 . AQID\n");
  EXPECT_EQ(r.diff.removed.size(), 3u);
  EXPECT_TRUE(r.diff.added.empty());
}

TEST_F(RewriteChangeTest, NamesEnteringAndLeavingTheBelowPattern) {
  RewriteResult r = Change("a.cdn IN A 192.0.2.1\nb IN A 192.0.2.2\n",
                           "b IN A 192.0.2.2\nb.cdn IN A 192.0.2.2\n");
  EXPECT_EQ(r.diff.removed.size(), 3u);  // a.cdn's edge records
  EXPECT_EQ(r.diff.added.size(), 3u);    // b.cdn's
}

TEST_F(RewriteChangeTest, UnproxiedChangesPassThroughWithTtlChanges) {
  RewriteResult r = Change("host IN A 192.0.2.1\nwww IN A 192.0.2.1\n",
                           "host 60 IN A 192.0.2.1\nwww 60 IN A 192.0.2.1\nnew IN TXT \"x\"\n");
  ASSERT_EQ(r.diff.removed.size(), 1u);
  EXPECT_EQ(r.diff.removed[0].ttl, 3600u);
  ASSERT_EQ(r.diff.added.size(), 2u);
  EXPECT_EQ(r.diff.added[0].ttl, 60u);  // host (canonical order: host < new)
}

TEST_F(RewriteChangeTest, RrsigChangesAtProxiedNames) {
  const std::string sig = " 8 3 3600 20240201000000 20240101000000 1 example.com. AQID\n";
  RewriteResult r = Change("www IN A 192.0.2.1\nwww IN RRSIG A" + sig,
                           "www IN A 192.0.2.1\nwww IN RRSIG AAAA" + sig + "www IN RRSIG TXT" + sig);
  EXPECT_TRUE(r.diff.removed.empty());
  ASSERT_EQ(r.diff.added.size(), 1u);
  EXPECT_EQ(r.diff.added[0].type, RRType::kRRSIG);
}

TEST_F(RewriteChangeTest, ALenientDiffGivesTheSameResult) {
  auto up_old = Zone("www IN A 192.0.2.1\n"), up_new = Zone2("www IN A 192.0.2.2\n");
  ZoneDiff d = ComputeDiff(*up_old, *up_new);
  Record ghost = d.added[0];
  ghost.owner = N("ghost.cdn.example.com.");
  d.removed.push_back(ghost);  // deletes a record that is not there
  d.added.push_back(d.added[0]);
  auto served_old = Rewrite(*up_old);
  auto r = RewriteChange(*served_old, *up_new, d, Policy());
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->diff.empty());
  EXPECT_ZONE(r->served, Rewrite(*up_new));
}

TEST_F(RewriteChangeTest, SerialsMustChain) {
  auto up_old = Zone("www IN A 192.0.2.1\n"), up_new = Zone2("www IN A 192.0.2.2\n");
  ZoneDiff d = ComputeDiff(*up_old, *up_new);
  auto served_new = Rewrite(*up_new);
  EXPECT_EQ(RewriteChange(*served_new, *up_new, d, Policy()).status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(RewriteChange(*Rewrite(*up_old), *up_old, d, Policy()).status().code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST(IsSigned, LooksForDnssecAtTheApex) {
  EXPECT_FALSE(IsSigned(*Zone("www IN A 192.0.2.1\n")));
  EXPECT_TRUE(IsSigned(*Zone("@ IN DNSKEY 257 3 13 AAE=\n")));
  EXPECT_TRUE(IsSigned(*Zone("@ IN RRSIG SOA 13 2 3600 1 0 1 example.com. AQID\n")));
  // Documented limit: an RRSIG below the apex alone does not count.
  EXPECT_FALSE(IsSigned(*Zone("www IN RRSIG A 13 3 3600 1 0 1 example.com. AQID\n")));
}

TEST(CountProxiedNames, CountsMatchedNamesOnce) {
  auto up = Zone("www IN TXT \"t\"\ncdn IN A 192.0.2.1\na.cdn IN A 192.0.2.1\n"
                 "a.cdn IN AAAA ::1\nb.c.cdn IN MX 1 mail\nzzz IN A 192.0.2.1\n");
  RewritePolicy p = Policy();
  EXPECT_EQ(CountProxiedNames(*up, p), 3u);
  p.names.push_back({N("a.cdn.example.com."), false});
  EXPECT_EQ(CountProxiedNames(*up, p), 3u);
  EXPECT_EQ(CountProxiedNames(*up, RewritePolicy{}), 0u);
}

}  // namespace
}  // namespace xfr
