// `catalog: produce` zone entries and the top-level `produce-catalog:`
// shorthand: what they accept, what they refuse and why.
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "proxy/config.h"
#include "tests/proxy/config_test_util.h"

namespace xfr {
namespace {

Name N(std::string_view text) { return *Name::FromText(text, nullptr); }

constexpr std::string_view kHead =
    "listen: [\"127.0.0.1:5300\"]\n"        // 1
    "zones:\n"                              // 2
    "  - {name: a.example, primaries: [\"192.0.2.1\"]}\n";  // 3

TEST(CatalogConfigTest, ZoneEntryProducesACatalogWithItsOwnPeers) {
  auto cfg = LoadConfigText(std::string(kHead) +
                                "  - name: cat.example\n"
                                "    catalog: produce\n"
                                "    secondaries: [{address: \"192.0.2.9\"}]\n",
                            "t.yaml", "");
  ASSERT_TRUE(cfg.ok()) << cfg.status();
  const ZoneConfig* cat = cfg->FindZone(N("cat.example."));
  ASSERT_NE(cat, nullptr);
  EXPECT_TRUE(cat->produce_catalog);
  EXPECT_TRUE(cat->is_local());
  EXPECT_FALSE(cat->has_file());
  EXPECT_TRUE(cat->allow_transfer.Contains(*IpAddress::Parse("192.0.2.9")));
  EXPECT_FALSE(cfg->FindZone(N("a.example."))->is_local());
}

TEST(CatalogConfigTest, TopLevelShorthandAddsOrReusesTheEntry) {
  auto added = LoadConfigText(std::string(kHead) + "produce-catalog: cat.example\n", "t.yaml",
                              "");
  ASSERT_TRUE(added.ok()) << added.status();
  ASSERT_EQ(added->zones.size(), 2u);
  EXPECT_EQ(added->zones[1].name, N("cat.example."));
  EXPECT_TRUE(added->zones[1].produce_catalog);

  auto reused = LoadConfigText(std::string(kHead) +
                                   "  - {name: cat.example, catalog: produce, "
                                   "allow-transfer: [\"0.0.0.0/0\"]}\n"
                                   "produce-catalog: cat.example\n",
                               "t.yaml", "");
  ASSERT_TRUE(reused.ok()) << reused.status();
  ASSERT_EQ(reused->zones.size(), 2u);
  EXPECT_TRUE(reused->zones[1].allow_transfer_explicit);
}

TEST(CatalogConfigTest, TakesFromTheDefaultTemplateOnlyWhatApplies) {
  constexpr std::string_view kTemplates =
      "listen: [\"127.0.0.1:5300\"]\n"
      "templates:\n"
      "  - id: default\n"
      "    primaries: [\"192.0.2.1\"]\n"
      "    notify-from: [\"192.0.2.0/24\"]\n"
      "    proxied: {names: [www.a.example.], edge-v4: [\"192.0.2.80\"]}\n"
      "    secondaries: [{address: \"192.0.2.9\"}]\n"
      "    journal: {max-diffs: 7}\n";
  for (std::string_view zones :
       {"zones:\n  - {name: a.example}\n  - {name: cat.example, catalog: produce}\n",
        "zones:\n  - {name: a.example}\nproduce-catalog: cat.example\n"}) {
    SCOPED_TRACE(zones);
    auto cfg = LoadConfigText(std::string(kTemplates) + std::string(zones), "t.yaml", "");
    ASSERT_TRUE(cfg.ok()) << cfg.status();
    const ZoneConfig* cat = cfg->FindZone(N("cat.example."));
    ASSERT_NE(cat, nullptr);
    EXPECT_TRUE(cat->produce_catalog);
    EXPECT_TRUE(cat->primaries.empty());
    EXPECT_FALSE(cat->proxied.has_value());
    ASSERT_EQ(cat->secondaries.size(), 1u);
    EXPECT_TRUE(cat->allow_transfer.Contains(*IpAddress::Parse("192.0.2.9")));
    EXPECT_EQ(cat->journal_max_diffs, 7u);
    EXPECT_EQ(cfg->FindZone(N("a.example."))->primaries.size(), 1u);
  }
  auto in_template = LoadConfigText(
      "listen: [\"127.0.0.1:5300\"]\ntemplates:\n  - {id: c, catalog: produce}\nzones: []\n",
      "t.yaml", "");
  ASSERT_FALSE(in_template.ok());
  EXPECT_NE(std::string(in_template.status().message()).find("a template cannot set 'catalog'"),
            std::string::npos)
      << in_template.status();
}

TEST(CatalogConfigTest, Errors) {
  const struct {
    const char* name;
    std::string rest;
    const char* expected;
  } cases[] = {
      {"unknown role", "  - {name: c, catalog: consumer}\n",
       "t.yaml:4:24: zones[1].catalog: 'consumer' is not 'produce'"},
      {"catalog with file", "  - {name: c, catalog: produce, file: z}\n",
       "zones[1].file: does not apply to a produced catalog"},
      {"catalog with primaries",
       "  - {name: c, catalog: produce, primaries: [\"192.0.2.1\"]}\n",
       "zones[1].primaries: does not apply to a produced catalog"},
      {"catalog with proxied",
       "  - {name: c, catalog: produce, proxied: {names: [x], edge-v4: [\"192.0.2.1\"]}}\n",
       "zones[1].proxied: does not apply to a produced catalog"},
      {"shorthand naming a transferred zone", "produce-catalog: a.example\n",
       "t.yaml:4:18: produce-catalog: zone 'a.example.' is configured"},
      {"shorthand not a name", "produce-catalog: [x]\n", "t.yaml:4:18: produce-catalog:"},
  };
  std::vector<ConfigErrorCase> full;
  for (const auto& c : cases) full.push_back({c.name, std::string(kHead) + c.rest, c.expected});
  ExpectConfigErrors(full);
}

}  // namespace
}  // namespace xfr
