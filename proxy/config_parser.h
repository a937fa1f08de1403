// The YAML walk behind LoadConfig (proxy/config.h), shared by its two
// halves: proxy/config.cc walks the schema (keys, limits, zones), and
// proxy/config_values.cc turns single YAML values into typed ones (numbers,
// durations, names, addresses, CIDR sets) with located error messages.
// Internal to those two files.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "fmt/format.h"
#include "proxy/config.h"
#include "yaml-cpp/yaml.h"

namespace xfr::config_internal {

// One key of a YAML map, kept with its nodes for messages.
struct Field {
  std::string key;
  YAML::Node key_node;
  YAML::Node value;
  // The field path messages name: where the value is written, which for a
  // zone setting inherited from a template is the template's entry.
  std::string path;
  bool from_template = false;
};

using Fields = std::vector<Field>;

inline const Field* Get(const Fields& fields, std::string_view key) {
  for (const Field& f : fields) {
    if (f.key == key) return &f;
  }
  return nullptr;
}

inline std::string Join(std::string_view path, std::string_view key) {
  if (path.empty()) return std::string(key);
  return fmt::format("{}.{}", path, key);
}

inline std::string Index(std::string_view path, size_t i) {
  return fmt::format("{}[{}]", path, i);
}

// Turns a YAML document into a Config. Every check reports through Error(),
// so every message has the same "file:line:col: path: what" shape.
class Parser {
 public:
  Parser(std::string_view display_name, std::string_view base_dir)
      : display_name_(display_name), base_dir_(base_dir) {}

  absl::StatusOr<Config> Parse(const YAML::Node& root);

  absl::Status ErrorAt(const YAML::Mark& mark, std::string_view path,
                       std::string_view what) const {
    std::string loc = display_name_;
    if (!mark.is_null()) {
      loc = fmt::format("{}:{}:{}", display_name_, mark.line + 1,
                        mark.column + 1);
    }
    if (path.empty()) {
      return absl::InvalidArgumentError(fmt::format("{}: {}", loc, what));
    }
    return absl::InvalidArgumentError(
        fmt::format("{}: {}: {}", loc, path, what));
  }
  absl::Status Error(const YAML::Node& n, std::string_view path,
                     std::string_view what) const {
    return ErrorAt(n.Mark(), path, what);
  }

 private:
  std::string Where(const YAML::Node& n, std::string_view path) const {
    YAML::Mark m = n.Mark();
    if (m.is_null()) return fmt::format("{}: {}", display_name_, path);
    return fmt::format("{}:{}:{}: {}", display_name_, m.line + 1,
                       m.column + 1, path);
  }

  absl::StatusOr<Fields> MapFields(
      const YAML::Node& n, std::string_view path,
      absl::Span<const std::string_view> allowed) const;
  absl::StatusOr<std::string> String(const YAML::Node& n,
                                     std::string_view path) const;
  absl::StatusOr<uint64_t> UInt(const YAML::Node& n, std::string_view path,
                                uint64_t min, uint64_t max) const;
  absl::StatusOr<bool> Bool(const YAML::Node& n, std::string_view path) const;
  absl::StatusOr<absl::Duration> Duration(const YAML::Node& n,
                                          std::string_view path) const;
  absl::Status Sequence(const YAML::Node& n, std::string_view path) const;
  absl::StatusOr<Name> DomainName(const YAML::Node& n,
                                  std::string_view path) const;
  absl::StatusOr<SocketAddress> Address(const YAML::Node& n,
                                        std::string_view path,
                                        std::optional<uint16_t> def) const;
  // notify-source / transfer-source: one address or a list with at most
  // one per family; a port only when `allow_port`.
  absl::StatusOr<SourceConfig> Source(const YAML::Node& n,
                                      std::string_view path,
                                      bool allow_port) const;
  absl::StatusOr<CidrSet> Cidrs(const YAML::Node& n,
                                std::string_view path) const;
  absl::StatusOr<Name> KeyRef(const YAML::Node& n, std::string_view path,
                              const Config& config) const;
  std::string ResolvePath(const std::string& p) const;

  absl::Status ParseKeys(const YAML::Node& n, Config& config) const;
  // `control:`, defaulting to <state-dir>/control (after state-dir).
  absl::Status ParseControl(const Fields& f, Config& config) const;
  // `user:` and `group:`, looked up in the system's accounts.
  absl::Status ParseRunAs(const Fields& f, Config& config) const;
  absl::Status ParseLimits(const YAML::Node& n, LimitsConfig& limits) const;
  absl::Status ParseLog(const YAML::Node& n, LogSettings& log) const;
  absl::Status ParseMetrics(const YAML::Node& n, MetricsOptions& metrics) const;
  absl::Status ParseZone(const YAML::Node& n, std::string_view path,
                         const Config& config, ZoneConfig& zone,
                         YAML::Mark& name_mark) const;
  // The keys of a zone (or, with `is_template`, of a template: no name,
  // no source required, `file` a pattern kept as written).
  absl::Status ParseZoneFields(const YAML::Node& n, std::string_view path,
                               const Fields& f, const Config& config,
                               ZoneConfig& zone, YAML::Mark& name_mark,
                               bool is_template) const;
  // proxy/config_templates.cc: `templates:`, each checked on its own, and
  // a zone's own keys layered over its template's.
  absl::Status ParseTemplates(const YAML::Node& n, Config& config);
  absl::StatusOr<Fields> LayeredZoneFields(const YAML::Node& n,
                                           std::string_view path,
                                           const Config& config,
                                           ZoneConfig& zone) const;
  // A `file:` written in a template: checked as a pattern (`is_template`)
  // or expanded for `zone`.
  absl::Status TemplateFile(const Field& file, std::string_view text,
                            ZoneConfig& zone, bool is_template) const;
  absl::Status ParseSecondaries(const YAML::Node& n, std::string_view path,
                                const Config& config, ZoneConfig& zone) const;
  absl::Status ParseProxied(const YAML::Node& n, std::string_view path,
                            ZoneConfig& zone) const;
  // A zone's `catalog:` (proxy/config_catalog.cc).
  absl::Status ParseCatalogRole(const Fields& f, std::string_view path,
                                ZoneConfig& zone) const;
  // The top-level `produce-catalog:`, once the zones are read.
  absl::Status ParseProduceCatalog(const Fields& f, Config& config) const;

  // The keys of each template, index for index with Config::templates.
  std::vector<Fields> template_fields_;
  std::string display_name_;
  std::string base_dir_;
};

// The keys a zone entry may set; a template may set them all but `name`.
inline constexpr std::string_view kZoneKeys[] = {
    "name", "primaries", "primary-key", "file", "notify-from", "notify-key",
    "allow-transfer", "secondaries", "journal", "max-records", "proxied",
    "notify-source", "transfer-source", "verify-peers", "catalog"};

}  // namespace xfr::config_internal
