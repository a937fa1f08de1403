// `catalog: produce` zone entries and the top-level `produce-catalog:`
// shorthand: what they accept, what they refuse and why.
#include <string>

#include "gtest/gtest.h"
#include "proxy/config.h"

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
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    auto cfg = LoadConfigText(std::string(kHead) + c.rest, "t.yaml", "");
    ASSERT_FALSE(cfg.ok());
    std::string msg(cfg.status().message());
    EXPECT_NE(msg.find(c.expected), std::string::npos)
        << "message: " << msg << "\nexpected: " << c.expected;
  }
}

}  // namespace
}  // namespace xfr
