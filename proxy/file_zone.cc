#include "proxy/file_zone.h"

#include "core/diff.h"
#include "core/zone_check.h"
#include "core/zonefile.h"
#include "fanout/catalog.h"
#include "fmt/format.h"
#include "proxy/served_view.h"

namespace xfr {

absl::Status ZoneProblemsError(const std::vector<ZoneProblem>& problems) {
  // One log line per reload attempt: the first few problems say enough,
  // and `xfrproxy check` lists them all.
  constexpr size_t kShown = 5;
  std::string text;
  for (size_t i = 0; i < problems.size() && i < kShown; ++i) {
    if (i > 0) text += "; ";
    text += problems[i].ToString();
  }
  if (problems.size() > kShown) {
    text += fmt::format("; and {} more (xfrproxy check lists them all)",
                        problems.size() - kShown);
  }
  return absl::InvalidArgumentError(text);
}

absl::StatusOr<std::shared_ptr<const ServedZone>> LoadFileZone(
    const ZoneConfig& zone, std::shared_ptr<const ServedZone> current,
    absl::Time now) {
  ZoneFileSources sources;
  ZoneFileOptions read_options;
  read_options.sources = &sources;
  auto records = ReadZoneFile(zone.file, zone.name, read_options);
  if (!records.ok()) return records.status();
  // The checks `xfrproxy check` makes: a file they refuse is not served,
  // and the caller keeps the last good version.
  std::vector<ZoneProblem> problems = CheckZoneContent(zone.name, *records, &sources);
  if (!problems.empty()) return ZoneProblemsError(problems);
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

absl::StatusOr<std::shared_ptr<const ServedZone>> ProduceCatalogZone(
    const ZoneConfig& zone, const std::vector<Name>& members,
    std::shared_ptr<const ServedZone> current, absl::Time now) {
  auto version =
      UpdateCatalog(zone.name, members, current ? current->version : nullptr, now);
  if (!version.ok()) return version.status();
  if (current && *version == current->version) return current;
  PublishOptions publish;
  publish.max_diffs = zone.journal_max_diffs;
  // Like a master file, the catalog has no primary to expire against.
  publish.never_expires = true;
  BuildOptions build;
  build.max_records = zone.max_records;
  auto view = MakeServedView(zone.name, *version, current.get(), nullptr, now, publish, build);
  if (!view.ok()) return view.status();
  return std::move(view->served);
}

}  // namespace xfr
