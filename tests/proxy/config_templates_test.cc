// `templates:`: how a zone's keys layer over its template's, and where the
// errors in either point.
#include <string>

#include "absl/status/status.h"
#include "gtest/gtest.h"
#include "proxy/config.h"
#include "tests/proxy/config_test_util.h"

namespace xfr {
namespace {

Name N(std::string_view text) { return *Name::FromText(text, nullptr); }

// Lines 1-5; a case's templates start on line 6, its zones after them.
constexpr std::string_view kHead = R"(listen: ["127.0.0.1:5300"]
keys:
  - {name: k1, algorithm: hmac-sha256, secret: "c2VjcmV0"}
  - {name: k2, algorithm: hmac-sha256, secret: "c2VjcmV0"}
templates:
)";

std::string Yaml(std::string_view templates, std::string_view zones) {
  return std::string(kHead) + std::string(templates) + "zones:\n" + std::string(zones);
}

constexpr std::string_view kShared = R"(  - id: edge
    primaries: ["192.0.2.10", "192.0.2.11:5353"]
    primary-key: k1
    allow-transfer: ["198.51.100.0/24"]
    secondaries:
      - {address: "198.51.100.7", key: k2}
      - {address: "198.51.100.8"}
    journal: {max-diffs: 7}
)";

TEST(ConfigTemplatesTest, ZonesTakeEveryKeyTheyDoNotSet) {
  absl::StatusOr<Config> c = LoadConfigText(
      Yaml(kShared, "  - {name: a.example., template: edge}\n"
                    "  - {name: b.example., template: edge}\n"),
      "t.yaml", "");
  ASSERT_TRUE(c.ok()) << c.status();
  ASSERT_EQ(c->zones.size(), 2u);
  ASSERT_EQ(c->templates.size(), 1u);
  EXPECT_EQ(c->templates[0].id, "edge");
  for (const ZoneConfig& z : c->zones) {
    SCOPED_TRACE(z.name.ToText());
    EXPECT_EQ(z.template_id, "edge");
    ASSERT_EQ(z.primaries.size(), 2u);
    EXPECT_EQ(z.primaries[1].ToString(), "192.0.2.11:5353");
    EXPECT_EQ(z.primary_key, N("k1."));
    // The defaults derived from inherited keys are derived as for a zone
    // that wrote them: NOTIFY from the primaries.
    EXPECT_TRUE(z.notify_from.Contains(*IpAddress::Parse("192.0.2.11")));
    EXPECT_FALSE(z.notify_from.Contains(*IpAddress::Parse("192.0.2.12")));
    EXPECT_TRUE(z.allow_transfer_explicit);
    ASSERT_EQ(z.secondaries.size(), 2u);
    EXPECT_EQ(z.secondaries[0].key, N("k2."));
    EXPECT_EQ(z.journal_max_diffs, 7u);
  }
  EXPECT_EQ(c->zones[0].name, N("a.example."));
  EXPECT_EQ(c->zones[1].name, N("b.example."));
}

TEST(ConfigTemplatesTest, OwnKeysReplaceTheTemplatesWholeNotMerged) {
  absl::StatusOr<Config> c = LoadConfigText(
      Yaml(kShared, "  - name: a.example.\n"
                    "    template: edge\n"
                    "    primary-key: k2\n"
                    "    secondaries: [{address: \"203.0.113.1\"}]\n"
                    "    journal: {}\n"),
      "t.yaml", "");
  ASSERT_TRUE(c.ok()) << c.status();
  const ZoneConfig& z = c->zones[0];
  EXPECT_EQ(z.primary_key, N("k2."));
  // One secondary, the zone's: the template's two are not added to it.
  ASSERT_EQ(z.secondaries.size(), 1u);
  EXPECT_EQ(z.secondaries[0].address.ToString(), "203.0.113.1:53");
  // A map is replaced whole too: `journal: {}` is the default, not 7.
  EXPECT_EQ(z.journal_max_diffs, 100u);
  EXPECT_EQ(z.primaries.size(), 2u);
}

TEST(ConfigTemplatesTest, DefaultTemplateIsForZonesThatNameNone) {
  absl::StatusOr<Config> c = LoadConfigText(
      Yaml("  - {id: default, max-records: 50}\n"
           "  - {id: big, max-records: 5000}\n",
           "  - {name: a., file: a.zone}\n"
           "  - {name: b., file: b.zone, template: big}\n"
           "  - {name: c., file: c.zone, template: default}\n"),
      "t.yaml", "");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->zones[0].template_id, "default");
  EXPECT_EQ(c->zones[0].max_records, 50u);
  EXPECT_EQ(c->zones[1].template_id, "big");
  EXPECT_EQ(c->zones[1].max_records, 5000u);
  EXPECT_EQ(c->zones[2].max_records, 50u);
}

TEST(ConfigTemplatesTest, WithoutADefaultAZoneNamingNoneHasNoTemplate) {
  absl::StatusOr<Config> c = LoadConfigText(
      Yaml("  - {id: unused, max-records: 50}\n", "  - {name: a., file: a.zone}\n"),
      "t.yaml", "");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->zones[0].template_id, "");
  EXPECT_EQ(c->zones[0].max_records, 10'000'000u);
}

TEST(ConfigTemplatesTest, FilePatternGivesEachZoneItsFile) {
  absl::StatusOr<Config> c = LoadConfigText(
      Yaml("  - {id: files, file: \"zones/%s.zone\"}\n"
           "  - {id: pct, file: \"/abs/100%%/%s\"}\n",
           "  - {name: Example.COM., template: files}\n"
           "  - {name: ., template: files}\n"
           "  - {name: b., template: pct}\n"),
      "t.yaml", "/etc/xfr");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->templates[0].file_pattern, "/etc/xfr/zones/%s.zone");
  EXPECT_EQ(c->zones[0].file, "/etc/xfr/zones/example.com.zone");
  EXPECT_EQ(c->zones[1].file, "/etc/xfr/zones/root.zone");
  EXPECT_EQ(c->zones[2].file, "/abs/100%/b");
  EXPECT_NE(c->zones[0].file_origin.find("t.yaml:6:"), std::string::npos)
      << c->zones[0].file_origin;
}

TEST(ConfigTemplatesTest, AZoneNamingItsSourceTakesNoneOfTheTemplates) {
  // A file zone under a template of transferred zones is a file zone: the
  // template's primaries and upstream-only keys do not reach it.
  absl::StatusOr<Config> c = LoadConfigText(
      Yaml("  - id: default\n"
           "    primaries: [\"192.0.2.10\"]\n"
           "    primary-key: k1\n"
           "    notify-from: [\"192.0.2.0/24\"]\n"
           "    notify-key: required\n"
           "    max-records: 9\n"
           "  - {id: files, file: \"%s.zone\"}\n",
           "  - {name: a., file: a.zone}\n"
           "  - {name: b., template: files, primaries: [\"192.0.2.20\"]}\n"),
      "t.yaml", "");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->zones[0].file, "a.zone");
  EXPECT_TRUE(c->zones[0].primaries.empty());
  EXPECT_FALSE(c->zones[0].primary_key.has_value());
  EXPECT_FALSE(c->zones[0].notify_key_required);
  EXPECT_EQ(c->zones[0].max_records, 9u);
  EXPECT_FALSE(c->zones[1].has_file());
  ASSERT_EQ(c->zones[1].primaries.size(), 1u);
}

TEST(ConfigTemplatesTest, ErrorsPointWhereTheValueIsWritten) {
  const ConfigErrorCase cases[] = {
      {"unknown template",
       Yaml(kShared, "  - {name: a., template: egde}\n"),
       "t.yaml:15:26: zones[0].template: undefined template 'egde' (not in "
       "'templates')"},
      {"unknown key in a template",
       Yaml("  - id: t\n    primary: [x]\n", "  - {name: a., file: z}\n"),
       "t.yaml:7:5: templates[0].primary: unknown key 'primary'"},
      {"bad value in an unused template",
       Yaml("  - id: t\n    primaries: [\"192.0.2.300\"]\n", "  - {name: a., file: z}\n"),
       "t.yaml:7:17: templates[0].primaries[0]: bad address '192.0.2.300'"},
      {"undefined key in a template",
       Yaml("  - {id: t, primary-key: nokey}\n", "  - {name: a., file: z}\n"),
       "t.yaml:6:26: templates[0].primary-key: undefined key 'nokey.'"},
      {"template with a name",
       Yaml("  - {id: t, name: a.}\n", "  - {name: a., file: z}\n"),
       "t.yaml:6:13: templates[0].name: a template cannot set 'name'"},
      {"template in a template",
       Yaml("  - {id: t, template: u}\n", "  - {name: a., file: z}\n"),
       "t.yaml:6:13: templates[0].template: unknown key 'template'"},
      {"template without id",
       Yaml("  - {max-records: 5}\n", "  - {name: a., file: z}\n"),
       "t.yaml:6:5: templates[0]: missing 'id'"},
      {"duplicate template",
       Yaml("  - {id: t}\n  - {id: t}\n", "  - {name: a., file: z}\n"),
       "t.yaml:7:10: templates[1].id: duplicate template 't' (also templates[0])"},
      {"file without a placeholder",
       Yaml("  - {id: t, file: zones/a.zone}\n", "  - {name: a., template: t}\n"),
       "t.yaml:6:19: templates[0].file: 'zones/a.zone' has no %s"},
      {"file with an unknown placeholder",
       Yaml("  - {id: t, file: \"%s.%z\"}\n", "  - {name: a., template: t}\n"),
       "t.yaml:6:19: templates[0].file: '%s.%z': '%z' is not a placeholder"},
      {"template with primaries and file",
       Yaml("  - {id: t, file: \"%s\", primaries: [\"192.0.2.1\"]}\n",
            "  - {name: a., template: t}\n"),
       "t.yaml:6:25: templates[0]: 'primaries' and 'file' are exclusive"},
      {"zone with neither, template with neither",
       Yaml("  - {id: t, max-records: 5}\n", "  - {name: a., template: t}\n"),
       "t.yaml:8:5: zones[0]: needs 'primaries'"},
      {"proxied name outside the zone using the template",
       Yaml("  - id: t\n    file: \"%s\"\n    proxied:\n"
            "      names: [www.a.]\n      edge-v4: [203.0.113.1]\n",
            "  - {name: a., template: t}\n  - {name: b., template: t}\n"),
       "t.yaml:9:15: templates[0].proxied.names[0]: 'www.a.' is outside the zone b."},
      {"required notify key, key from neither",
       Yaml("  - {id: t, notify-key: required}\n",
            "  - {name: a., template: t, primaries: [\"192.0.2.1\"]}\n"),
       "t.yaml:6:13: templates[0].notify-key: 'required' needs 'primary-key'"},
      {"upstream-only key written in the file zone itself",
       Yaml("  - {id: t, file: \"%s\"}\n",
            "  - {name: a., template: t, primary-key: k1}\n"),
       "t.yaml:8:29: zones[0].primary-key: only applies to a zone with 'primaries'"},
      {"templates not a list", std::string(kHead) + "  {id: t}\nzones: []\n",
       "t.yaml:6:3: templates: expected a list"},
  };
  ExpectConfigErrors(cases);
}

TEST(ConfigTemplatesTest, ZoneFromTemplateMakesAZoneAddedAtRunTime) {
  absl::StatusOr<Config> c = LoadConfigText(
      Yaml("  - {id: files, file: \"zones/%s.zone\", max-records: 9}\n"
           "  - id: px\n    primaries: [\"192.0.2.1\"]\n    proxied:\n"
           "      names: [www.a.example.]\n      edge-v4: [203.0.113.1]\n",
           "  - {name: a.example., template: px}\n"),
      "t.yaml", "/etc/100%");
  ASSERT_TRUE(c.ok()) << c.status();
  absl::StatusOr<ZoneConfig> z = ZoneFromTemplate(*c->FindTemplate("files"), N("M.example."));
  ASSERT_TRUE(z.ok()) << z.status();
  EXPECT_EQ(z->name, N("m.example."));
  EXPECT_EQ(z->file, "/etc/100%/zones/m.example.zone");
  EXPECT_EQ(z->max_records, 9u);
  EXPECT_EQ(z->template_id, "files");
  // The same check a configured zone gets: a proxied name outside it.
  EXPECT_TRUE(ZoneFromTemplate(*c->FindTemplate("px"), N("a.example.")).ok());
  absl::StatusOr<ZoneConfig> bad = ZoneFromTemplate(*c->FindTemplate("px"), N("b.example."));
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(std::string(bad.status().message()).find("t.yaml:7:5: templates[1]: proxied name "
                                                     "'www.a.example.' is outside the zone "
                                                     "b.example."),
            std::string::npos)
      << bad.status();
}

TEST(ConfigTemplatesTest, ExpandZoneFilePatternRefusesASlashInTheName) {
  absl::StatusOr<Name> odd = Name::FromText("a/b.example.", nullptr);
  ASSERT_TRUE(odd.ok());
  EXPECT_FALSE(ExpandZoneFilePattern("zones/%s", *odd).ok());
  EXPECT_EQ(*ExpandZoneFilePattern("zones/%s", N("A.example.")), "zones/a.example");
}

}  // namespace
}  // namespace xfr
