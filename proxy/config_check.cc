#include "proxy/config_check.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/cleanup/cleanup.h"
#include "core/ascii.h"
#include "core/zone.h"
#include "core/zone_check.h"
#include "core/zonefile.h"
#include "fmt/format.h"

namespace xfr {

std::vector<std::string> CheckZoneContents(const Config& config) {
  std::vector<std::string> out;
  for (const ZoneConfig& z : config.zones) {
    if (!z.has_file()) continue;
    ZoneFileSources sources;
    ZoneFileOptions options;
    options.sources = &sources;
    auto records = ReadZoneFile(z.file, z.name, options);
    if (!records.ok()) {
      // The reader's message already starts with FILE:LINE.
      out.emplace_back(ToStd(records.status().message()));
      continue;
    }
    std::vector<ZoneProblem> problems = CheckZoneContent(z.name, *records, &sources);
    for (const ZoneProblem& p : problems) {
      out.push_back(p.where.empty() ? fmt::format("{}: {}", z.file, p.what) : p.ToString());
    }
    if (!problems.empty()) continue;
    // The rest of what loading refuses (record limits, oversized RDATA).
    BuildOptions build;
    build.max_records = z.max_records;
    auto version = ZoneVersion::Build(z.name, std::move(*records), build);
    if (!version.ok()) {
      out.push_back(fmt::format("{}: {}", z.file, ToStd(version.status().message())));
    }
  }
  return out;
}

absl::Status CheckStateDirWritable(const std::string& dir) {
  auto failure = [&](std::string_view what, const std::string& path, int err) {
    return absl::FailedPreconditionError(
        fmt::format("state-dir: {} '{}': {}", what, path, std::strerror(err)));
  };
  // A directory made only to try it is removed again: `check` run as root
  // must not leave a root-owned state-dir for the service user to trip on.
  bool made = ::mkdir(dir.c_str(), 0750) == 0;
  if (!made && errno != EEXIST) return failure("cannot create", dir, errno);
  absl::Cleanup unmake = [&] {
    if (made) ::rmdir(dir.c_str());
  };
  struct stat st;
  if (::stat(dir.c_str(), &st) != 0) return failure("cannot stat", dir, errno);
  if (!S_ISDIR(st.st_mode)) {
    return absl::FailedPreconditionError(
        fmt::format("state-dir: '{}' is not a directory", dir));
  }
  // The server writes its snapshots and journals here: a probe of its own
  // name, written and synced, shows that a real write would work (access(2)
  // alone misses read-only mounts as root).
  std::string probe = fmt::format("{}/.xfrproxy-check-{}", dir, ::getpid());
  int fd = ::open(probe.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
  if (fd < 0) return failure("cannot write in", dir, errno);
  static constexpr char kProbe[] = "xfrproxy check\n";
  bool wrote = ::write(fd, kProbe, sizeof kProbe - 1) == static_cast<ssize_t>(sizeof kProbe - 1);
  int err = wrote ? 0 : (errno != 0 ? errno : ENOSPC);
  if (wrote && ::fsync(fd) != 0) {
    wrote = false;
    err = errno;
  }
  ::close(fd);
  if (::unlink(probe.c_str()) != 0 && wrote) return failure("cannot remove", probe, errno);
  if (!wrote) return failure("cannot write", probe, err);
  return absl::OkStatus();
}

}  // namespace xfr
