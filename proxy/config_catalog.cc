// Produced catalogs in the config: a zone's `catalog: produce` and the
// top-level `produce-catalog:` shorthand (fanout/catalog.h builds them).
#include "fmt/format.h"
#include "proxy/config.h"
#include "proxy/config_parser.h"

namespace xfr {
namespace config_internal {

absl::Status Parser::ParseCatalogRole(const Fields& f, std::string_view path,
                                      ZoneConfig& zone) const {
  const Field* catalog = Get(f, "catalog");
  std::string cp = Join(path, "catalog");
  absl::StatusOr<std::string> role = String(catalog->value, cp);
  if (!role.ok()) return role.status();
  if (*role != "produce") {
    return Error(catalog->value, cp, fmt::format("'{}' is not 'produce'", *role));
  }
  // The catalog's content is generated: a source of data would be a
  // second, conflicting one, and a rewrite of PTRs would corrupt it.
  for (std::string_view k :
       {"primaries", "file", "primary-key", "notify-from", "notify-key", "proxied"}) {
    if (const Field* fld = Get(f, k)) {
      return Error(fld->key_node, Join(path, k),
                   "does not apply to a produced catalog ('catalog: produce')");
    }
  }
  zone.produce_catalog = true;
  return absl::OkStatus();
}

absl::Status Parser::ParseProduceCatalog(const Fields& f, Config& config) const {
  const Field* pc = Get(f, "produce-catalog");
  if (pc == nullptr) return absl::OkStatus();
  // Shorthand for a zone entry `{name: NAME, catalog: produce}`. An entry
  // of that name, there to give the catalog its secondaries and ACL, says
  // `catalog: produce` itself.
  absl::StatusOr<Name> name = DomainName(pc->value, "produce-catalog");
  if (!name.ok()) return name.status();
  if (const ZoneConfig* z = config.FindZone(*name)) {
    if (z->produce_catalog) return absl::OkStatus();
    return Error(pc->value, "produce-catalog",
                 fmt::format("zone '{}' is configured ({}) with {}: a catalog's content "
                             "is generated",
                             name->ToText(), z->origin, z->has_file() ? "'file'" : "'primaries'"));
  }
  ZoneConfig zone;
  zone.name = *name;
  zone.produce_catalog = true;
  zone.verify_peers = config.verify_peers;
  zone.origin = Where(pc->value, "produce-catalog");
  config.zones.push_back(std::move(zone));
  return absl::OkStatus();
}

}  // namespace config_internal
}  // namespace xfr
