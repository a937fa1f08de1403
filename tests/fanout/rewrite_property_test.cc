// Issue 5's property: over random sequences of upstream changes (names
// entering and leaving the policy's reach, CNAME <-> A, TTL changes, RRSIGs
// over A/AAAA/CNAME/TXT, other types, owner case, policy changes), every
// incremental rewrite equals the rewrite from scratch, and for EVERY pair of
// served versions i < j the served IXFR from i (the condensed chain, as the
// journal serves it, encoded and parsed back) applied to the served AXFR of
// i (encoded and parsed back too) gives exactly the served AXFR of j.
#include <array>
#include <cstdint>
#include <cstdio>
#include <iterator>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "core/diff.h"
#include "core/message.h"
#include "core/transfer.h"
#include "core/xfr_ingest.h"
#include "core/zonefile.h"
#include "fanout/rewrite.h"
#include "fanout/served_zone.h"
#include "fmt/format.h"
#include "gtest/gtest.h"

namespace xfr {
namespace {

using Version = std::shared_ptr<const ZoneVersion>;

Name N(std::string_view t) { return *Name::FromText(t); }

const Name kOrigin = N("example.com.");
const absl::Time kNow = absl::FromUnixSeconds(1'700'000'000);

// Owners chosen so that the policies below reach some of them exactly, some
// through "*.suffix" at several depths (a literal wildcard among them), and
// miss names that only look close ("cdn" itself, "xcdn", "deep.www").
const char* const kOwners[] = {
    "example.com.",       "www.example.com.",   "deep.www.example.com.",
    "cdn.example.com.",   "a.cdn.example.com.", "b.cdn.example.com.",
    "x.y.cdn.example.com.", "*.cdn.example.com.", "xcdn.example.com.",
    "host.example.com.",  "z.host.example.com.", "mail.example.com.",
};

std::vector<uint8_t> NameWire(const char* text) {
  Name n = N(text);
  return std::vector<uint8_t>(n.wire().begin(), n.wire().end());
}

std::vector<uint8_t> SoaRdata(uint32_t serial) {
  std::vector<uint8_t> d = NameWire("ns1.example.com.");
  std::vector<uint8_t> r = NameWire("hostmaster.example.com.");
  d.insert(d.end(), r.begin(), r.end());
  for (uint32_t v : {serial, 7200u, 900u, 86400u, 300u}) {
    uint8_t b[4];
    StoreU32(b, v);
    d.insert(d.end(), b, b + 4);
  }
  return d;
}

class Generator {
 public:
  explicit Generator(uint32_t seed) : rng_(seed) {}

  size_t Below(size_t n) { return std::uniform_int_distribution<size_t>(0, n - 1)(rng_); }
  bool OneIn(size_t n) { return Below(n) == 0; }

  // An owner from the pool, now and then in another case (RFC 4343: the
  // same name; a version keeps the case a record came with).
  Name Owner() {
    std::string t = kOwners[Below(std::size(kOwners))];
    if (OneIn(4)) {
      for (char& c : t) {
        if (c >= 'a' && c <= 'z' && OneIn(2)) c = static_cast<char>(c - 32);
      }
    }
    return N(t);
  }

  uint32_t Ttl() { return std::array<uint32_t, 3>{60, 300, 3600}[Below(3)]; }

  // A record of one of the types the rules single out, with values from
  // small pools so that records collide, reappear and match edge addresses.
  Record Random(const Name& owner) {
    Record r;
    r.owner = owner;
    r.ttl = Ttl();
    switch (Below(8)) {
      case 0:
      case 1:
        r.type = RRType::kA;
        r.rdata = Below(4) == 0 ? std::vector<uint8_t>{198, 51, 100, 1}
                                : std::vector<uint8_t>{192, 0, 2, static_cast<uint8_t>(Below(3))};
        break;
      case 2:
        r.type = RRType::kAAAA;
        r.rdata.assign(16, 0);
        r.rdata[0] = 0x20;
        r.rdata[1] = 0x01;
        r.rdata[2] = 0x0d;
        r.rdata[3] = 0xb8;
        r.rdata[15] = static_cast<uint8_t>(1 + Below(2));
        break;
      case 3:
        r.type = RRType::kCNAME;
        r.rdata = NameWire(OneIn(2) ? "o1.example.net." : "o2.example.net.");
        break;
      case 4: {
        r.type = RRType::kTXT;
        std::string t = fmt::format("t{}", Below(3));
        r.rdata.push_back(static_cast<uint8_t>(t.size()));
        r.rdata.insert(r.rdata.end(), t.begin(), t.end());
        break;
      }
      case 5:
        r.type = RRType::kMX;
        r.rdata = {0, 10};
        for (uint8_t b : NameWire("mail.example.com.")) r.rdata.push_back(b);
        break;
      case 6:
        r = Rrsig(owner);
        break;
      default:
        r.type = RRType(65280);
        r.rdata = {static_cast<uint8_t>(Below(2)), 0xab};
    }
    return r;
  }

  // RFC 4034 §3.1 RDATA: type covered, algorithm, labels, original TTL,
  // expiration, inception, key tag, signer, signature.
  Record Rrsig(const Name& owner) {
    Record r;
    r.owner = owner;
    r.type = RRType::kRRSIG;
    r.ttl = Ttl();
    const RRType covered[] = {RRType::kA, RRType::kAAAA, RRType::kCNAME, RRType::kTXT};
    uint8_t b[2];
    StoreU16(b, covered[Below(4)].value());
    r.rdata = {b[0], b[1], 13, 2, 0, 0, 0x0e, 0x10, 0x65, 0xba, 0xdf, 0, 0x65, 0x92, 0, 0x80,
               0x30, 0x39};
    for (uint8_t c : NameWire("example.com.")) r.rdata.push_back(c);
    r.rdata.push_back(static_cast<uint8_t>(Below(2)));
    r.rdata.push_back(0x55);
    return r;
  }

  // One upstream change, applied to the records of `v` (SOA excluded).
  std::vector<Record> Mutate(const ZoneVersion& v) {
    std::vector<Record> rs;
    for (RecordView rr : v) {
      if (rr.type != RRType::kSOA) rs.push_back(ToRecord(rr));
    }
    for (size_t ops = 1 + Below(3); ops > 0; --ops) {
      size_t what = Below(10);
      if (rs.empty()) what = 0;
      if (what <= 2) {  // a new record
        rs.push_back(Random(Owner()));
      } else if (what <= 4) {  // a record goes
        rs.erase(rs.begin() + static_cast<std::ptrdiff_t>(Below(rs.size())));
      } else if (what == 5) {  // TTL only
        Record& r = rs[Below(rs.size())];
        r.ttl = r.ttl == 60 ? 3600 : 60;
      } else if (what <= 7) {  // CNAME <-> addresses at one name
        Name owner = Owner();
        bool had_cname = false;
        std::vector<Record> kept;
        for (Record& r : rs) {
          bool address = r.type == RRType::kA || r.type == RRType::kAAAA ||
                         r.type == RRType::kCNAME;
          if (r.owner == owner && address) {
            had_cname = had_cname || r.type == RRType::kCNAME;
          } else {
            kept.push_back(std::move(r));
          }
        }
        rs = std::move(kept);
        Record r;
        r.owner = owner;
        r.ttl = Ttl();
        if (had_cname) {
          r.type = RRType::kA;
          r.rdata = {192, 0, 2, static_cast<uint8_t>(Below(3))};
        } else {
          r.type = RRType::kCNAME;
          r.rdata = NameWire("o1.example.net.");
        }
        rs.push_back(r);
        if (OneIn(2)) rs.push_back(Rrsig(owner));
      } else if (what == 8) {  // a whole name leaves
        Name owner = rs[Below(rs.size())].owner;
        std::erase_if(rs, [&](const Record& r) { return r.owner == owner; });
      } else {  // a name is re-spelt: no change for anyone (RFC 4343)
        Name owner = Owner();
        for (Record& r : rs) {
          if (r.owner == owner) r.owner = owner;
        }
      }
    }
    return rs;
  }

 private:
  std::mt19937 rng_;
};

Version Build(std::vector<Record> rs, uint32_t serial) {
  Record soa;
  soa.owner = kOrigin;
  soa.type = RRType::kSOA;
  soa.ttl = 3600;
  soa.rdata = SoaRdata(serial);
  rs.insert(rs.begin(), soa);
  auto v = ZoneVersion::Build(kOrigin, std::move(rs));
  EXPECT_TRUE(v.ok()) << v.status();
  return *v;
}

std::array<uint8_t, 4> V4(uint8_t a, uint8_t b, uint8_t c, uint8_t d) { return {a, b, c, d}; }
std::array<uint8_t, 16> V6(uint8_t last) {
  return {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, last};
}

std::vector<RewritePolicy> Policies() {
  std::vector<RewritePolicy> ps(4);
  // Edge addresses that also occur as origin addresses (198.51.100.1,
  // 2001:db8::1).
  ps[0].names = {{N("www.example.com."), false}, {N("cdn.example.com."), true}};
  ps[0].edge_v4 = {V4(198, 51, 100, 1), V4(198, 51, 100, 2)};
  ps[0].edge_v6 = {V6(1)};
  ps[1].names = {{N("example.com."), false}, {N("CDN.example.com."), false},
                 {N("host.example.com."), true}, {N("y.cdn.example.com."), true}};
  ps[1].edge_v4 = {V4(203, 0, 113, 7)};
  ps[1].ttl = 60;
  ps[2].names = {{N("example.com."), true}};  // everything but the apex, no edges
  ps[3] = {};                                  // no policy
  return ps;
}

std::string Text(const ZoneVersion& z) {
  std::vector<RecordView> rs(z.begin(), z.end());
  return WriteZoneText(rs);
}

Version Rewrite(const ZoneVersion& up, const RewritePolicy& p) {
  auto r = RewriteZone(up, p);
  EXPECT_TRUE(r.ok()) << r.status();
  return *r;
}

// Feeds encoded transfer messages through the upstream ingest, as a
// secondary holding `current` would read them.
Version Receive(const std::vector<EncodedMessage>& ms, const Question& q, Version current) {
  std::vector<uint8_t> qwire = EncodeQuestion(q);
  auto x = XfrIngest::Create(1, q, std::move(current), {});
  EXPECT_TRUE(x.ok()) << x.status();
  for (const EncodedMessage& m : ms) {
    auto wire = MaterializeForRequest(m, 1, false, Bytes(qwire.data(), qwire.size()));
    EXPECT_TRUE(wire.ok()) << wire.status();
    absl::Status s = x->Consume(Bytes(wire->data(), wire->size()), kNow);
    EXPECT_TRUE(s.ok()) << s;
    if (!s.ok()) return nullptr;
  }
  auto r = x->Finish();
  EXPECT_TRUE(r.ok()) << r.status();
  return r.ok() ? r->version : nullptr;
}

// Many short chains rather than a few long ones: every pair of versions is
// checked over the wire, so a chain costs the square of its length.
constexpr int kSeeds = 8;
constexpr int kSteps = 30;

// Small messages, so that transfers span several of them.
constexpr size_t kMessageSize = 700;

// How often the cases the property is about came up, so that a generator
// that stopped producing them fails the test instead of passing vacuously.
struct Coverage {
  int hidden = 0;        // an upstream change the rewrite hid (SOA-only IXFR)
  int entering = 0;      // edge records added: a name came into reach
  int leaving = 0;       // edge records removed
  int rrsig_dropped = 0; // an upstream RRSIG change the rewrite hid
  int policy_changes = 0;
  int pairs = 0;
};

bool IsEdge(const Record& r, const RewritePolicy& p) {
  return (r.type == RRType::kA || r.type == RRType::kAAAA) && r.ttl == p.ttl &&
         p.Matches(r.owner);
}

void RunSeed(uint32_t seed, int steps, Coverage& cov) {
  SCOPED_TRACE(fmt::format("seed {}", seed));
  Generator g(seed);
  const std::vector<RewritePolicy> policies = Policies();
  size_t policy = seed % policies.size();

  std::vector<Record> initial;
  for (int i = 0; i < 25; ++i) initial.push_back(g.Random(g.Owner()));
  std::vector<Version> upstream = {Build(initial, 1)};
  std::vector<Version> served = {Rewrite(*upstream[0], policies[policy])};
  std::vector<ZoneDiff> diffs;  // diffs[k]: served[k] -> served[k + 1]

  for (int step = 1; step <= steps; ++step) {
    SCOPED_TRACE(fmt::format("step {}", step));
    const Version& up_old = upstream.back();
    Version up_new = Build(g.Mutate(*up_old), static_cast<uint32_t>(step + 1));
    ZoneDiff up_diff = ComputeDiff(*up_old, *up_new);
    ZoneDiff diff;
    Version next;
    if (g.OneIn(8)) {
      // A policy change (SIGHUP) applies from the next version on: a full
      // rewrite under the new policy, diffed against what was served.
      policy = (policy + 1 + g.Below(policies.size() - 1)) % policies.size();
      ++cov.policy_changes;
      next = Rewrite(*up_new, policies[policy]);
      diff = ComputeDiff(*served.back(), *next);
    } else {
      if (g.OneIn(5) && !up_diff.added.empty()) {
        // Lenient, as primaries send IXFR: re-adding a present record and
        // deleting an absent one change nothing.
        up_diff.added.push_back(up_diff.added.front());
        Record ghost = g.Random(N("ghost.cdn.example.com."));
        up_diff.removed.push_back(ghost);
      }
      auto r = RewriteChange(*served.back(), *up_new, up_diff, policies[policy]);
      ASSERT_TRUE(r.ok()) << r.status();
      next = r->served;
      Version scratch = Rewrite(*up_new, policies[policy]);
      ASSERT_TRUE(*next == *scratch) << Text(*next) << "---\n" << Text(*scratch);
      ASSERT_EQ(r->diff, ComputeDiff(*served.back(), *scratch));
      diff = std::move(r->diff);
      const RewritePolicy& p = policies[policy];
      if (!up_diff.empty() && diff.empty()) ++cov.hidden;
      for (const Record& rr : diff.added) cov.entering += IsEdge(rr, p);
      for (const Record& rr : diff.removed) cov.leaving += IsEdge(rr, p);
      for (const auto* list : {&up_diff.removed, &up_diff.added}) {
        for (const Record& rr : *list) {
          bool in_served = false;
          for (const auto* l2 : {&diff.removed, &diff.added}) {
            for (const Record& x : *l2) in_served = in_served || x == rr;
          }
          bool covers_address = rr.type == RRType::kRRSIG &&
                                LoadU16(rr.rdata.data()) != RRType::kTXT.value();
          if (covers_address && p.Matches(rr.owner)) {
            EXPECT_FALSE(in_served) << "an RRSIG over a replaced RRset was served";
            ++cov.rrsig_dropped;
          }
        }
      }
    }
    auto applied = ApplyDiff(*served.back(), diff);
    ASSERT_TRUE(applied.ok()) << applied.status();
    ASSERT_TRUE(**applied == *next);
    upstream.push_back(up_new);
    served.push_back(next);
    diffs.push_back(std::move(diff));
  }

  // Every pair, over the wire: the AXFR of i as a secondary reads it, then
  // the condensed IXFR i -> j on top. The condensing goes backwards from j
  // one diff at a time, as the served journal builds its answers.
  const Question axfr{kOrigin, RRType::kAXFR, RRClass::kIN};
  const Question ixfr{kOrigin, RRType::kIXFR, RRClass::kIN};
  std::vector<Version> received;
  for (size_t i = 0; i < served.size(); ++i) {
    auto am = EncodeAxfr(axfr, *served[i], kMessageSize);
    ASSERT_TRUE(am.ok()) << am.status();
    received.push_back(Receive(*am, axfr, nullptr));
    ASSERT_TRUE(received[i] != nullptr && *received[i] == *served[i]) << "AXFR of " << i;
  }
  for (size_t j = 1; j < served.size(); ++j) {
    ZoneDiff acc = diffs[j - 1];
    for (size_t i = j; i-- > 0;) {
      ++cov.pairs;
      if (i + 1 < j) {
        ZoneDiff pair[2] = {diffs[i], std::move(acc)};
        auto c = Condense(pair);
        ASSERT_TRUE(c.ok()) << c.status();
        acc = *std::move(c);
      }
      auto im = EncodeIxfr(ixfr, acc, kMessageSize);
      ASSERT_TRUE(im.ok()) << im.status();
      Version got = Receive(*im, ixfr, received[i]);
      ASSERT_TRUE(got != nullptr) << "IXFR " << i << " -> " << j;
      ASSERT_TRUE(*got == *served[j])
          << "IXFR " << i << " -> " << j << "\n" << Text(*got) << "---\n" << Text(*served[j]);
    }
  }
}

TEST(RewriteProperty, IncrementalEqualsScratchAndEveryServedIxfrMatchesAxfr) {
  Coverage cov;
  for (uint32_t seed = 1; seed <= uint32_t{kSeeds}; ++seed) {
    RunSeed(seed, kSteps, cov);
    if (HasFatalFailure()) return;
  }
  EXPECT_GT(cov.hidden, 5);
  EXPECT_GT(cov.entering, 5);
  EXPECT_GT(cov.leaving, 5);
  EXPECT_GT(cov.rrsig_dropped, 2);
  EXPECT_GT(cov.policy_changes, 5);
  EXPECT_EQ(cov.pairs, kSeeds * (kSteps + 1) * kSteps / 2);
  std::printf("hidden %d, entering %d, leaving %d, rrsig hidden %d, policy changes %d, pairs %d\n",
              cov.hidden, cov.entering, cov.leaving, cov.rrsig_dropped, cov.policy_changes,
              cov.pairs);
}

}  // namespace
}  // namespace xfr
