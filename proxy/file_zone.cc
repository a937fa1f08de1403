#include "proxy/file_zone.h"

#include "core/diff.h"
#include "core/zonefile.h"
#include "fmt/format.h"

namespace xfr {

absl::StatusOr<std::shared_ptr<const ServedZone>> LoadFileZone(
    const ZoneConfig& zone, std::shared_ptr<const ServedZone> current,
    absl::Time now) {
  auto records = ReadZoneFile(zone.file, zone.name);
  if (!records.ok()) return records.status();
  BuildOptions opts;
  opts.max_records = zone.max_records;
  auto version = ZoneVersion::Build(zone.name, std::move(*records), opts);
  if (!version.ok()) {
    return absl::InvalidArgumentError(
        fmt::format("{}: {}", zone.file, std::string(version.status().message())));
  }
  PublishOptions publish;
  publish.max_diffs = zone.journal_max_diffs;
  std::shared_ptr<const ZoneDiff> diff;
  if (current) {
    const ZoneVersion& old = *current->version;
    if (old == **version) return current;
    if (!(old.serial() < (*version)->serial())) {
      return absl::FailedPreconditionError(fmt::format(
          "{}: zone {} changed but its SOA serial went from {} to {}, which "
          "is not an increase (RFC 1982); keeping serial {}",
          zone.file, zone.name.ToText(), old.serial().ToString(),
          (*version)->serial().ToString(), old.serial().ToString()));
    }
    diff = std::make_shared<const ZoneDiff>(ComputeDiff(old, **version));
  }
  // A master file is its own primary: the data never expires (RFC 7314 §4
  // has such a server answer with its SOA EXPIRE).
  publish.never_expires = true;
  return BuildServedZone(*version, current.get(), diff, now, publish);
}

}  // namespace xfr
