// `templates:`: settings many zones share, written once. A zone's own keys
// replace its template's key by key (a list is replaced whole, never
// merged), so that what a zone gets is what one of the two entries says.
#include <filesystem>
#include <vector>

#include "core/ascii.h"
#include "fmt/format.h"
#include "proxy/config.h"
#include "proxy/config_parser.h"

namespace xfr {
namespace config_internal {
namespace {

// The template keys that describe where the zone comes from. A zone that
// says where it comes from itself takes none of them: a zone with its own
// `file` next to a template with `primaries` is a file zone, not an error.
bool IsSourceKey(std::string_view key) {
  return key == "primaries" || key == "file";
}
// Keys that only mean something with primaries (refused on a file zone
// when written there), not inherited by a zone with its own `file`.
bool IsUpstreamOnlyKey(std::string_view key) {
  return key == "primary-key" || key == "notify-from" || key == "notify-key";
}

// A file pattern must give each zone its own file: one `%s` at least, and
// no other '%' sequence, so that a later meaning for one breaks nothing.
absl::Status CheckFilePattern(std::string_view pattern) {
  bool has_name = false;
  for (size_t i = 0; i < pattern.size(); ++i) {
    if (pattern[i] != '%') continue;
    char next = i + 1 < pattern.size() ? pattern[i + 1] : '\0';
    if (next == 's') {
      has_name = true;
    } else if (next != '%') {
      return absl::InvalidArgumentError(fmt::format(
          "'{}': '%{}' is not a placeholder (only %s, the zone name, and "
          "%% are)",
          pattern, next == '\0' ? std::string() : std::string(1, next)));
    }
    ++i;
  }
  if (!has_name) {
    return absl::InvalidArgumentError(fmt::format(
        "'{}' has no %s: the zones sharing a template need a file each, "
        "so a template's file names it with %s (e.g. zones/%s.zone)",
        pattern));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status Parser::TemplateFile(const Field& file, std::string_view text,
                                  ZoneConfig& zone, bool is_template) const {
  if (is_template) {
    absl::Status s = CheckFilePattern(text);
    if (!s.ok()) return Error(file.value, file.path, ToStd(s.message()));
    zone.file = std::string(text);  // ParseTemplates keeps it as the pattern
    return absl::OkStatus();
  }
  absl::StatusOr<std::string> expanded = ExpandZoneFilePattern(text, zone.name);
  if (!expanded.ok()) {
    return Error(file.value, file.path, ToStd(expanded.status().message()));
  }
  zone.file = ResolvePath(*expanded);
  return absl::OkStatus();
}

absl::Status Parser::ParseTemplates(const YAML::Node& n, Config& config) {
  if (absl::Status s = Sequence(n, "templates"); !s.ok()) return s;
  std::vector<std::string_view> allowed = {"id"};
  allowed.insert(allowed.end(), std::begin(kZoneKeys), std::end(kZoneKeys));
  size_t i = 0;
  for (auto it = n.begin(); it != n.end(); ++it, ++i) {
    std::string path = Index("templates", i);
    absl::StatusOr<Fields> f = MapFields(*it, path, allowed);
    if (!f.ok()) return f.status();
    const Field* id = Get(*f, "id");
    if (id == nullptr) return Error(*it, path, "missing 'id'");
    absl::StatusOr<std::string> text = String(id->value, id->path);
    if (!text.ok()) return text.status();
    if (text->empty()) return Error(id->value, id->path, "empty id");
    for (size_t j = 0; j < config.templates.size(); ++j) {
      if (config.templates[j].id == *text) {
        return Error(id->value, id->path,
                     fmt::format("duplicate template '{}' (also templates[{}])",
                                 *text, j));
      }
    }
    if (const Field* cat = Get(*f, "catalog")) {
      return Error(cat->key_node, cat->path,
                   "a template cannot set 'catalog': a produced catalog is one "
                   "zone, named in 'zones'");
    }
    if (const Field* name = Get(*f, "name")) {
      return Error(name->key_node, name->path,
                   "a template cannot set 'name': each zone names itself, "
                   "and the template is named by 'id'");
    }
    Fields keys;
    for (Field& fld : *f) {
      if (fld.key == "id") continue;
      fld.from_template = true;
      keys.push_back(std::move(fld));
    }
    ZoneTemplateConfig t;
    t.id = *text;
    t.origin = Where(*it, path);
    // Checked here, on its own, so that a mistake in a template is found
    // even when no zone uses it yet, and is reported once, at the template.
    YAML::Mark unused;
    absl::Status s = ParseZoneFields(*it, path, keys, config, t.zone, unused,
                                     /*is_template=*/true);
    if (!s.ok()) return s;
    t.file_pattern = t.zone.file;
    if (!t.file_pattern.empty() && !base_dir_.empty() &&
        !std::filesystem::path(t.file_pattern).is_absolute()) {
      // Resolved like any path, the directory's own '%' escaped so that
      // expanding the pattern leaves it as it is.
      std::string dir;
      for (char c : base_dir_) dir += c == '%' ? "%%" : std::string(1, c);
      t.file_pattern = (std::filesystem::path(dir) / t.file_pattern).string();
    }
    t.zone.file.clear();
    t.zone.file_origin.clear();
    t.zone.template_id = t.id;
    config.templates.push_back(std::move(t));
    template_fields_.push_back(std::move(keys));
  }
  return absl::OkStatus();
}

absl::StatusOr<Fields> Parser::LayeredZoneFields(const YAML::Node& n,
                                                 std::string_view path,
                                                 const Config& config,
                                                 ZoneConfig& zone) const {
  std::vector<std::string_view> allowed(std::begin(kZoneKeys),
                                        std::end(kZoneKeys));
  allowed.push_back("template");
  absl::StatusOr<Fields> own = MapFields(n, path, allowed);
  if (!own.ok()) return own.status();
  const ZoneTemplateConfig* tmpl = nullptr;
  if (const Field* t = Get(*own, "template")) {
    absl::StatusOr<std::string> id = String(t->value, t->path);
    if (!id.ok()) return id.status();
    tmpl = config.FindTemplate(*id);
    if (tmpl == nullptr) {
      return Error(t->value, t->path,
                   fmt::format("undefined template '{}' (not in 'templates')",
                               *id));
    }
  } else {
    // As in Knot: a template called `default` is for every zone that
    // names none.
    tmpl = config.FindTemplate("default");
  }
  Fields out;
  for (Field& fld : *own) {
    if (fld.key != "template") out.push_back(std::move(fld));
  }
  if (tmpl == nullptr) return out;
  zone.template_id = tmpl->id;
  // A produced catalog takes from its template only what applies to it
  // (ACL, secondaries, journal...): never a source of data or a rewrite.
  bool own_catalog = Get(out, "catalog") != nullptr;
  bool own_source =
      Get(out, "primaries") != nullptr || Get(out, "file") != nullptr || own_catalog;
  bool own_file = Get(out, "file") != nullptr || own_catalog;
  const Fields& inherited =
      template_fields_[static_cast<size_t>(tmpl - config.templates.data())];
  size_t own_count = out.size();
  for (const Field& fld : inherited) {
    bool overridden = false;
    for (size_t k = 0; k < own_count; ++k) overridden |= out[k].key == fld.key;
    if (overridden || (own_source && IsSourceKey(fld.key)) ||
        (own_file && IsUpstreamOnlyKey(fld.key)) || (own_catalog && fld.key == "proxied")) {
      continue;
    }
    if (fld.key == "secondaries") {
      // Nothing in a secondary depends on the zone, and a provider's list
      // can be long: copying what the template parsed once saves parsing
      // it again for each of thousands of zones.
      zone.secondaries = tmpl->zone.secondaries;
      continue;
    }
    out.push_back(fld);
  }
  return out;
}

}  // namespace config_internal

const ZoneTemplateConfig* Config::FindTemplate(std::string_view id) const {
  for (const ZoneTemplateConfig& t : templates) {
    if (t.id == id) return &t;
  }
  return nullptr;
}

absl::StatusOr<ZoneConfig> ZoneFromTemplate(const ZoneTemplateConfig& t, const Name& zone) {
  ZoneConfig z = t.zone;
  z.name = zone;
  z.origin = t.origin;
  if (!t.file_pattern.empty()) {
    absl::StatusOr<std::string> file = ExpandZoneFilePattern(t.file_pattern, zone);
    if (!file.ok()) {
      return absl::InvalidArgumentError(
          fmt::format("{}: {}", t.origin, ToStd(file.status().message())));
    }
    z.file = std::move(*file);
    z.file_origin = t.origin;
  }
  if (z.proxied.has_value()) {
    for (const ProxiedName& p : z.proxied->names) {
      if (!p.name.view().IsSubdomainOf(zone)) {
        return absl::InvalidArgumentError(
            fmt::format("{}: proxied name '{}' is outside the zone {}", t.origin,
                        p.name.ToText(), zone.ToText()));
      }
    }
  }
  return z;
}

absl::StatusOr<std::string> ExpandZoneFilePattern(std::string_view file_pattern,
                                                  const Name& zone) {
  std::string name = zone.Lowercased().ToText();
  if (!name.empty() && name.back() == '.') name.pop_back();
  // "." would name the directory the pattern's file is in.
  if (name.empty()) name = "root";
  if (name.find('/') != std::string::npos) {
    return absl::InvalidArgumentError(fmt::format(
        "zone {} has a '/' in its name, which cannot be part of a file name",
        zone.ToText()));
  }
  std::string out;
  for (size_t i = 0; i < file_pattern.size(); ++i) {
    char c = file_pattern[i];
    char next = i + 1 < file_pattern.size() ? file_pattern[i + 1] : '\0';
    if (c == '%' && next == 's') {
      out += name;
      ++i;
    } else if (c == '%' && next == '%') {
      out += '%';
      ++i;
    } else {
      out += c;
    }
  }
  return out;
}

}  // namespace xfr
