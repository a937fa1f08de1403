#include "core/zone_check.h"

#include <string>
#include <vector>

#include "core/ascii.h"
#include "core/zonefile.h"
#include "gtest/gtest.h"

namespace xfr {
namespace {

constexpr std::string_view kHead =
    "$ORIGIN example.com.\n"
    "$TTL 300\n"
    "@ SOA ns1 hostmaster 1 7200 900 1209600 300\n"  // line 3
    "@ NS ns1.example.net.\n";                       // line 4

struct Case {
  const char* name;
  std::string text;
  std::vector<std::string> problems;  // ZoneProblem::ToString(), in order
};

std::vector<std::string> Check(const std::string& text) {
  ZoneFileSources sources;
  ZoneFileOptions options;
  options.sources = &sources;
  Name origin = *Name::FromText("example.com.");
  auto records = ReadZoneText(text, origin, "z.zone", options);
  EXPECT_TRUE(records.ok()) << ToStd(records.status().message());
  if (!records.ok()) return {"unreadable"};
  std::vector<std::string> out;
  for (const ZoneProblem& p : CheckZoneContent(origin, *records, &sources)) {
    out.push_back(p.ToString());
  }
  return out;
}

TEST(CheckZoneContent, NamedCheckzoneRules) {
  const std::string head(kHead);
  const Case cases[] = {
      {"clean zone", head + "ns1 A 192.0.2.1\nwww CNAME ns1\n", {}},
      {"out-of-zone owner", head + "www.example.org. A 192.0.2.1\n",
       {"z.zone:5: out-of-zone data: www.example.org. A is not in zone example.com."}},
      {"parent of the origin is out of zone", head + "com. NS a.gtld-servers.net.\n",
       {"z.zone:5: out-of-zone data: com. NS is not in zone example.com."}},
      {"CNAME beside A, CNAME first", head + "www CNAME ns1\nwww A 192.0.2.1\n",
       {"z.zone:6: CNAME and other data at www.example.com.: A beside the CNAME at z.zone:5"}},
      {"CNAME beside A, A first", head + "www A 192.0.2.1\nwww CNAME ns1\n",
       {"z.zone:5: CNAME and other data at www.example.com.: A beside the CNAME at z.zone:6"}},
      {"owner case does not hide a clash", head + "WWW CNAME ns1\nwww TXT \"x\"\n",
       {"z.zone:6: CNAME and other data at WWW.example.com.: TXT beside the CNAME at z.zone:5"}},
      {"CNAME at the apex", head + "@ CNAME other.example.net.\n",
       {"z.zone:3: CNAME and other data at example.com.: SOA beside the CNAME at z.zone:5",
        "z.zone:4: CNAME and other data at example.com.: NS beside the CNAME at z.zone:5"}},
      {"CNAME with its DNSSEC records is fine",
       head + "www CNAME ns1\nwww NSEC zz CNAME RRSIG NSEC\n", {}},
      {"two CNAME targets", head + "www CNAME ns1\nwww CNAME ns2\n",
       {"z.zone:6: more than one CNAME at www.example.com."}},
      {"the same CNAME twice is a duplicate only", head + "www CNAME ns1\nwww CNAME ns1\n", {}},
      {"second SOA", head + "@ SOA ns2 hostmaster 2 7200 900 1209600 300\n",
       {"z.zone:5: more than one SOA record for example.com. (the first is at z.zone:3)"}},
      {"the same SOA twice is a duplicate only",
       head + "@ SOA ns1 hostmaster 1 7200 900 1209600 300\n", {}},
      {"SOA below the apex", head + "sub SOA ns1 hostmaster 1 7200 900 1209600 300\n",
       {"z.zone:5: SOA record at sub.example.com. is not at the zone apex example.com."}},
      {"no SOA", "$ORIGIN example.com.\n$TTL 300\n@ NS ns1.example.net.\n",
       {"zone example.com. has no SOA record at its apex"}},
      {"no NS at the apex", "$ORIGIN example.com.\n$TTL 300\n"
                            "@ SOA ns1 hostmaster 1 7200 900 1209600 300\nsub NS ns.example.net.\n",
       {"z.zone:3: zone example.com. has no NS records at its apex"}},
      {"empty file", "",
       {"zone example.com. has no SOA record at its apex",
        "zone example.com. has no NS records at its apex"}},
      {"in-zone name server without an address", head + "@ NS ns2\n",
       {"z.zone:5: NS ns2.example.com. at example.com. has no address records (A or AAAA) "
        "in the zone"}},
      {"in-zone name server with an AAAA", head + "@ NS ns2\nns2 AAAA 2001:db8::2\n", {}},
      {"delegation with glue", head + "sub NS ns.sub\nns.sub A 192.0.2.7\n", {}},
      {"delegation without glue", head + "sub NS ns.sub\n",
       {"z.zone:5: NS ns.sub.example.com. at sub.example.com. has no address records (A or "
        "AAAA) in the zone"}},
      {"every problem is reported, in line order",
       head + "x.example.net. A 192.0.2.1\nwww A 192.0.2.1\nwww CNAME ns1\n",
       {"z.zone:5: out-of-zone data: x.example.net. A is not in zone example.com.",
        "z.zone:6: CNAME and other data at www.example.com.: A beside the CNAME at z.zone:7"}},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(Check(c.text), c.problems) << c.name;
  }
}

TEST(CheckZoneContent, LinesPointIntoIncludedFiles) {
  std::string dir = testing::TempDir();
  std::string inc = dir + "/zone_check_inc.zone";
  std::FILE* f = std::fopen(inc.c_str(), "w");
  ASSERT_NE(f, nullptr);
  std::fputs("; part\nwww CNAME ns1\n", f);
  std::fclose(f);
  std::string main_text = std::string(kHead) + "$INCLUDE " + inc + "\nwww A 192.0.2.1\n";
  EXPECT_EQ(Check(main_text),
            (std::vector<std::string>{"z.zone:6: CNAME and other data at www.example.com.: "
                                      "A beside the CNAME at " + inc + ":2"}));
}

TEST(CheckZoneContent, WithoutSourcesProblemsHaveNoLine) {
  Name origin = *Name::FromText("example.com.");
  auto records = ReadZoneText(std::string(kHead) + "a.example.org. A 192.0.2.1\n", origin, "z");
  ASSERT_TRUE(records.ok());
  std::vector<ZoneProblem> p = CheckZoneContent(origin, *records, nullptr);
  ASSERT_EQ(p.size(), 1u);
  EXPECT_EQ(p[0].where, "");
  EXPECT_EQ(p[0].ToString(), "out-of-zone data: a.example.org. A is not in zone example.com.");
}

}  // namespace
}  // namespace xfr
