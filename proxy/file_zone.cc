#include "proxy/file_zone.h"

#include "core/diff.h"
#include "core/zonefile.h"
#include "fmt/format.h"
#include "proxy/served_view.h"

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
  auto policy = MakeRewritePolicy(zone.proxied);
  if (current) {
    if (current->serial() == (*version)->serial()) {
      // Re-read at the same serial: unchanged, or edited without a serial
      // increase (a policy change alone waits for the next serial).
      if (auto same = SameSerialView(current, *version, policy, opts)) return same;
    }
    if (!(current->serial() < (*version)->serial())) {
      return absl::FailedPreconditionError(fmt::format(
          "{}: zone {} changed but its SOA serial went from {} to {}, which "
          "is not an increase (RFC 1982); keeping serial {}",
          zone.file, zone.name.ToText(), current->serial().ToString(),
          (*version)->serial().ToString(), current->serial().ToString()));
    }
  }
  PublishOptions publish;
  publish.max_diffs = zone.journal_max_diffs;
  // A master file is its own primary: the data never expires (RFC 7314 §4
  // has such a server answer with its SOA EXPIRE).
  publish.never_expires = true;
  auto view = MakeServedView(zone.name, *version, current.get(), policy, now, publish, opts);
  if (!view.ok()) return view.status();
  return std::move(view->served);
}

}  // namespace xfr
