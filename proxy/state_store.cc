#include "proxy/state_store.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <utility>

#include "core/ascii.h"
#include "core/crc32c.h"
#include "core/rdata.h"
#include "fmt/format.h"
#include "openssl/sha.h"
#include "proxy/log.h"
#include "proxy/state_files.h"

namespace xfr {

using namespace state_files;  // NOLINT: the store is written in its file formats

std::string ZoneFileStem(const Name& zone) {
  Bytes w = zone.wire();
  if (w.size() <= 1) return "@";
  std::string out;
  for (size_t i = 0; i < w.size() && w[i] != 0; i += w[i] + 1) {
    if (!out.empty()) out += '.';
    for (size_t k = 1; k <= w[i]; ++k) {
      uint8_t c = AsciiLower(w[i + k]);
      if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-') {
        out += static_cast<char>(c);
      } else {
        out += fmt::format("%{:02X}", c);
      }
    }
  }
  constexpr size_t kMaxStem = 200;
  if (out.size() > kMaxStem) {
    Name lower = zone.Lowercased();
    uint8_t md[SHA256_DIGEST_LENGTH];
    SHA256(lower.wire().data(), lower.size(), md);
    out.resize(kMaxStem - 17);
    out += '~';
    for (int i = 0; i < 8; ++i) out += fmt::format("{:02x}", md[i]);
  }
  return out;
}

absl::StatusOr<StateStore> StateStore::Open(std::string dir, Options options) {
  if (::mkdir(dir.c_str(), 0750) != 0 && errno != EEXIST) {
    return IoError("cannot create state-dir", dir, errno);
  }
  struct stat sb;
  if (::stat(dir.c_str(), &sb) != 0 || !S_ISDIR(sb.st_mode)) {
    return absl::FailedPreconditionError(
        fmt::format("state-dir {} is not a directory", dir));
  }
  std::string lock = dir + "/lock";
  int fd = ::open(lock.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0640);
  if (fd < 0) return IoError("cannot open", lock, errno);
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    int e = errno;
    char buf[32] = {};
    ssize_t n = ::pread(fd, buf, sizeof(buf) - 1, 0);
    ::close(fd);
    if (e != EWOULDBLOCK) return IoError("cannot lock", lock, e);
    std::string pid(buf, n > 0 ? static_cast<size_t>(n) : 0);
    while (!pid.empty() && (pid.back() == '\n' || pid.back() == ' ')) pid.pop_back();
    return absl::FailedPreconditionError(fmt::format(
        "state-dir {} is in use by another xfrproxy (pid {}); two processes "
        "cannot share one state-dir",
        dir, pid.empty() ? "unknown" : pid));
  }
  std::string pid = fmt::format("{}\n", ::getpid());
  if (::ftruncate(fd, 0) != 0 || !WriteAll(fd, AsBytes(pid), 0)) {
    int e = errno;
    ::close(fd);
    return IoError("cannot write", lock, e);
  }
  // Temporary files are leftovers of a crash between write and rename.
  if (DIR* d = ::opendir(dir.c_str())) {
    while (struct dirent* de = ::readdir(d)) {
      std::string_view n = de->d_name;
      if (n.size() > 4 && n.substr(n.size() - 4) == ".tmp") {
        ::unlinkat(::dirfd(d), de->d_name, 0);
      }
    }
    ::closedir(d);
  }
  return StateStore(std::move(dir), options, fd);
}

StateStore::StateStore(StateStore&& o) noexcept
    : dir_(std::move(o.dir_)),
      options_(o.options_),
      lock_fd_(std::exchange(o.lock_fd_, -1)),
      zones_(std::move(o.zones_)) {}

StateStore& StateStore::operator=(StateStore&& o) noexcept {
  if (this != &o) {
    if (lock_fd_ >= 0) ::close(lock_fd_);
    dir_ = std::move(o.dir_);
    options_ = o.options_;
    lock_fd_ = std::exchange(o.lock_fd_, -1);
    zones_ = std::move(o.zones_);
  }
  return *this;
}

StateStore::~StateStore() {
  if (lock_fd_ >= 0) ::close(lock_fd_);  // releases the flock
}

std::string StateStore::SnapshotPath(const Name& zone) const {
  return fmt::format("{}/{}.snap", dir_, ZoneFileStem(zone));
}
std::string StateStore::JournalPath(const Name& zone) const {
  return fmt::format("{}/{}.jnl", dir_, ZoneFileStem(zone));
}

absl::Status StateStore::SaveVersion(const Name& zone,
                                     const ZoneVersion& version,
                                     absl::Time refreshed_at,
                                     uint32_t expire_seconds,
                                     const SaveOptions& save) {
  if (!(version.origin() == zone)) {
    return absl::InvalidArgumentError(fmt::format(
        "version of {} saved as {}", version.origin().ToText(), zone.ToText()));
  }
  ZoneState& st = zones_[zone];
  bool compaction = save.keep_journal && st.has_snapshot && st.journal_valid &&
                    !st.broken && st.serial == version.serial().value();
  uint64_t epoch = compaction ? st.epoch : NewEpoch(st.epoch);
  uint64_t last_seq = st.next_seq - 1;
  std::vector<uint8_t> header =
      SnapshotHeader(version, epoch, last_seq, refreshed_at, expire_seconds);
  // The arena is the records back to back (zone.h): one write, no encoding.
  Bytes arena(version.record_wire(0).data(), version.wire_bytes());
  Bytes last = version.record_wire(version.size() - 1);
  if (last.data() + last.size() != arena.data() + arena.size()) {
    return absl::InternalError("zone version arena is not contiguous");
  }
  std::vector<uint8_t> trailer;
  PutU32(trailer, Crc32c(arena));
  PutBytes(trailer, AsBytes(std::string_view(kSnapEnd, sizeof(kSnapEnd))));
  absl::Status s = WriteFileAtomically(
      dir_, SnapshotPath(zone),
      {Bytes(header.data(), header.size()), arena,
       Bytes(trailer.data(), trailer.size())},
      options_.sync);
  if (!s.ok()) return s;
  st.has_snapshot = true;
  st.epoch = epoch;
  st.snapshot_seq = last_seq;
  st.snapshot_bytes = header.size() + arena.size() + trailer.size();
  st.serial = version.serial().value();
  st.diffs_since_snapshot = 0;
  st.bytes_since_snapshot = 0;
  if (compaction) {
    if (absl::Status t = TrimJournal(zone, st, save.max_diffs); !t.ok()) {
      LogWarning("state: cannot trim journal of {}: {}", zone.ToText(),
                 ToStd(t.message()));
    }
    return absl::OkStatus();
  }
  // The journal's diffs do not lead here: replace it. Until that succeeds
  // its old epoch keeps it from being replayed onto this snapshot.
  st.journal_valid = false;
  st.broken = false;
  return ResetJournal(zone, st);
}

absl::Status StateStore::ResetJournal(const Name& zone, ZoneState& st) {
  std::vector<uint8_t> h = JournalHeader(zone, st.epoch);
  absl::Status s = WriteFileAtomically(dir_, JournalPath(zone),
                                       {Bytes(h.data(), h.size())},
                                       options_.sync);
  if (!s.ok()) return s;
  st.journal_end = h.size();
  st.journal_valid = true;
  return absl::OkStatus();
}

absl::Status StateStore::TrimJournal(const Name& zone, ZoneState& st,
                                     size_t max_diffs) {
  std::string path = JournalPath(zone);
  absl::StatusOr<std::optional<std::vector<uint8_t>>> data = ReadWholeFile(path);
  if (!data.ok()) return data.status();
  if (!*data) return ResetJournal(zone, st);
  Bytes file((*data)->data(), std::min<size_t>((*data)->size(), st.journal_end));
  absl::StatusOr<JournalScan> js = ScanJournal(file, zone, path);
  if (!js.ok()) return js.status();
  std::vector<const Entry*> diffs;
  for (const Entry& e : js->entries) {
    if (e.kind == kKindDiff) diffs.push_back(&e);
  }
  // Refresh entries before the snapshot are subsumed by it.
  if (diffs.size() <= max_diffs && diffs.size() == js->entries.size()) {
    return absl::OkStatus();
  }
  std::vector<uint8_t> out = JournalHeader(zone, st.epoch);
  for (size_t i = diffs.size() - std::min(diffs.size(), max_diffs);
       i < diffs.size(); ++i) {
    PutBytes(out, file.subspan(diffs[i]->offset, diffs[i]->size));
  }
  absl::Status s = WriteFileAtomically(dir_, path, {Bytes(out.data(), out.size())},
                                       options_.sync);
  if (s.ok()) st.journal_end = out.size();
  return s;
}

absl::Status StateStore::AppendEntry(const Name& zone, ZoneState& st,
                                     const std::vector<uint8_t>& payload) {
  if (!st.has_snapshot) {
    return absl::FailedPreconditionError(fmt::format(
        "zone {} has no persisted version to append to", zone.ToText()));
  }
  if (st.broken) {
    return absl::FailedPreconditionError(fmt::format(
        "journal of {} failed earlier; the version must be saved whole",
        zone.ToText()));
  }
  if (!st.journal_valid) {
    if (absl::Status s = ResetJournal(zone, st); !s.ok()) return s;
  }
  std::vector<uint8_t> entry = FrameEntry(Bytes(payload.data(), payload.size()));
  std::string path = JournalPath(zone);
  int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) {
    st.broken = true;
    return IoError("cannot open", path, errno);
  }
  // pwrite at the known end, so a failed earlier write leaves no gap.
  bool ok = WriteAll(fd, Bytes(entry.data(), entry.size()),
                     static_cast<off_t>(st.journal_end)) &&
            (!options_.sync || ::fdatasync(fd) == 0);
  int e = errno;
  if (!ok) {
    // Later diffs would not chain from what is on disk: refuse them until
    // the version is saved whole.
    (void)!::ftruncate(fd, static_cast<off_t>(st.journal_end));
    st.broken = true;
  }
  ::close(fd);
  if (!ok) return IoError("cannot append to", path, e);
  st.journal_end += entry.size();
  st.bytes_since_snapshot += entry.size();
  ++st.next_seq;
  return absl::OkStatus();
}

absl::Status StateStore::AppendDiff(const Name& zone, const ZoneDiff& diff,
                                    absl::Time refreshed_at,
                                    uint32_t expire_seconds) {
  auto it = zones_.find(zone);
  if (it == zones_.end() || !it->second.has_snapshot) {
    return absl::FailedPreconditionError(fmt::format(
        "zone {} has no persisted version to append to", zone.ToText()));
  }
  ZoneState& st = it->second;
  if (diff.from().value() != st.serial) {
    return absl::FailedPreconditionError(fmt::format(
        "diff of {} starts at serial {} but the persisted serial is {}",
        zone.ToText(), diff.from().value(), st.serial));
  }
  std::vector<uint8_t> payload =
      DiffPayload(diff, st.next_seq, refreshed_at, expire_seconds);
  if (absl::Status s = AppendEntry(zone, st, payload); !s.ok()) return s;
  st.serial = diff.to().value();
  ++st.diffs_since_snapshot;
  return absl::OkStatus();
}

absl::Status StateStore::SaveRefresh(const Name& zone, absl::Time refreshed_at,
                                     uint32_t expire_seconds) {
  auto it = zones_.find(zone);
  if (it == zones_.end()) {
    return absl::FailedPreconditionError(fmt::format(
        "zone {} has no persisted version to append to", zone.ToText()));
  }
  return AppendEntry(zone, it->second,
                     EntryPayload(kKindRefresh, it->second.next_seq,
                                  refreshed_at, expire_seconds));
}

bool StateStore::ShouldCompact(const Name& zone) const {
  auto it = zones_.find(zone);
  if (it == zones_.end()) return false;
  const ZoneState& st = it->second;
  if (st.broken) return true;
  if (!st.has_snapshot) return false;
  return st.diffs_since_snapshot >= options_.compact_after_diffs ||
         (st.bytes_since_snapshot >= options_.compact_after_bytes &&
          st.bytes_since_snapshot > st.snapshot_bytes / 2);
}

absl::StatusOr<std::optional<LoadedZone>> StateStore::Load(
    const Name& zone, size_t max_diffs, const BuildOptions& build) {
  zones_.erase(zone);
  std::string snap_path = SnapshotPath(zone);
  absl::StatusOr<std::optional<std::vector<uint8_t>>> snap_data =
      ReadWholeFile(snap_path);
  if (!snap_data.ok()) return snap_data.status();
  if (!*snap_data) {
    zones_[zone] = ZoneState{};
    return std::optional<LoadedZone>();
  }
  absl::StatusOr<Snapshot> snap =
      ParseSnapshot(Bytes((*snap_data)->data(), (*snap_data)->size()), zone,
                    snap_path, build);
  if (!snap.ok()) return snap.status();
  ZoneState st;
  st.has_snapshot = true;
  st.epoch = snap->epoch;
  st.snapshot_seq = snap->last_seq;
  st.next_seq = snap->last_seq + 1;
  st.snapshot_bytes = (*snap_data)->size();
  std::vector<uint8_t>().swap(**snap_data);

  LoadedZone out;
  out.version = snap->version;
  out.refreshed_at = snap->refreshed_at;
  out.expire_seconds = snap->expire;

  std::string jnl_path = JournalPath(zone);
  absl::StatusOr<std::optional<std::vector<uint8_t>>> jnl_data =
      ReadWholeFile(jnl_path);
  if (!jnl_data.ok()) return jnl_data.status();
  std::optional<JournalScan> js;
  if (*jnl_data) {
    Bytes file((*jnl_data)->data(), (*jnl_data)->size());
    absl::StatusOr<JournalScan> scan = ScanJournal(file, zone, jnl_path);
    if (!scan.ok()) return scan.status();
    js = std::move(*scan);
    if (js->epoch != st.epoch) {
      // A crash between a new snapshot and its fresh journal: the journal
      // belongs to the previous snapshot and must not be replayed.
      LogInfo("state: journal {} is from an earlier snapshot; ignored",
              jnl_path);
      js.reset();
    } else if (!js->entries.empty() &&
               js->entries.back().seq < st.snapshot_seq) {
      LogWarning("state: journal {} ends before its snapshot; history dropped",
                 jnl_path);
      js.reset();
    }
  }
  std::vector<std::shared_ptr<const ZoneDiff>> diffs;
  if (js) {
    if (js->torn) {
      LogWarning(
          "state: {} ends in a torn entry at byte {} (crash during an "
          "append); cut there",
          jnl_path, js->good_end);
      if (!CutFile(jnl_path, js->good_end, options_.sync)) {
        return IoError("cannot truncate", jnl_path, errno);
      }
    }
    // Parse only the history that can be returned; replay everything after
    // the snapshot, which must follow it without a gap.
    size_t total_diffs = 0;
    for (const Entry& e : js->entries) total_diffs += e.kind == kKindDiff;
    size_t diff_index = 0;
    uint64_t expect = st.snapshot_seq + 1;
    for (const Entry& e : js->entries) {
      bool replay = e.seq > st.snapshot_seq;
      if (replay && e.seq != expect) {
        return Damaged(jnl_path, e.offset,
                       fmt::format("entry {} found where {} was expected",
                                   e.seq, expect));
      }
      if (replay) {
        ++expect;
        out.refreshed_at = e.refreshed_at;
        out.expire_seconds = e.expire;
        st.bytes_since_snapshot += e.size;
      }
      if (e.kind != kKindDiff) continue;
      bool wanted = total_diffs - diff_index++ <= max_diffs;
      if (!replay && !wanted) continue;
      absl::StatusOr<ZoneDiff> d = ParseDiff(e.body);
      if (!d.ok()) return Damaged(jnl_path, e.offset, ToStd(d.status().message()));
      auto diff = std::make_shared<const ZoneDiff>(std::move(*d));
      if (replay) {
        absl::StatusOr<std::shared_ptr<const ZoneVersion>> v =
            ApplyDiff(*out.version, *diff, build);
        if (!v.ok()) {
          return Damaged(jnl_path, e.offset,
                         fmt::format("diff does not apply: {}",
                                     ToStd(v.status().message())));
        }
        out.version = std::move(*v);
        ++st.diffs_since_snapshot;
      }
      if (wanted) diffs.push_back(std::move(diff));
    }
    if (!js->entries.empty()) {
      st.next_seq = std::max(st.next_seq, js->entries.back().seq + 1);
    }
    st.journal_end = js->good_end;
    st.journal_valid = true;
  }
  // Keep the unbroken chain of diffs that ends at the version.
  size_t keep = 0;
  Serial at = out.version->serial();
  while (keep < diffs.size() && diffs[diffs.size() - 1 - keep]->to() == at) {
    at = diffs[diffs.size() - 1 - keep]->from();
    ++keep;
  }
  out.journal.assign(diffs.end() - static_cast<ptrdiff_t>(keep), diffs.end());
  st.serial = out.version->serial().value();
  zones_[zone] = st;
  return std::optional<LoadedZone>(std::move(out));
}

absl::Status StateStore::RemoveZone(const Name& zone) {
  zones_.erase(zone);
  for (const std::string& p : {SnapshotPath(zone), JournalPath(zone)}) {
    if (::unlink(p.c_str()) != 0 && errno != ENOENT) {
      return IoError("cannot remove", p, errno);
    }
  }
  return SyncDir(dir_, options_.sync);
}

}  // namespace xfr
