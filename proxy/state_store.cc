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

namespace xfr {
namespace {

// ------------------------------------------------------------ file format

constexpr char kSnapMagic[8] = {'X', 'F', 'R', 'S', 'N', 'A', 'P', '\0'};
constexpr char kSnapEnd[8] = {'X', 'F', 'R', 'S', 'E', 'N', 'D', '\0'};
constexpr char kJnlMagic[8] = {'X', 'F', 'R', 'J', 'R', 'N', 'L', '\0'};
constexpr uint32_t kFormat = 1;
constexpr uint32_t kEntryMagic = 0x58454E31;  // "XEN1"
constexpr size_t kEntryFrame = 16;
// kind, seq, refreshed_at, expire.
constexpr size_t kEntryFixed = 1 + 8 + 8 + 4;
constexpr uint8_t kKindDiff = 1;
constexpr uint8_t kKindRefresh = 2;
constexpr size_t kSnapTrailer = 4 + sizeof(kSnapEnd);

std::string Errno(int e) { return std::strerror(e); }

absl::Status IoError(std::string_view what, const std::string& path, int e) {
  return absl::InternalError(fmt::format("{} {}: {}", what, path, Errno(e)));
}

absl::Status Damaged(const std::string& path, size_t offset,
                     std::string_view what) {
  return absl::DataLossError(
      fmt::format("{}: at byte {}: {}", path, offset, what));
}

void PutU64(std::vector<uint8_t>& out, uint64_t v) {
  for (int s = 56; s >= 0; s -= 8) out.push_back(static_cast<uint8_t>(v >> s));
}
void PutU32(std::vector<uint8_t>& out, uint32_t v) {
  for (int s = 24; s >= 0; s -= 8) out.push_back(static_cast<uint8_t>(v >> s));
}
void PutU16(std::vector<uint8_t>& out, uint16_t v) {
  out.push_back(static_cast<uint8_t>(v >> 8));
  out.push_back(static_cast<uint8_t>(v));
}
void PutBytes(std::vector<uint8_t>& out, Bytes b) {
  out.insert(out.end(), b.begin(), b.end());
}
uint64_t GetU64(WireReader& r) {
  uint64_t hi = r.U32();
  return hi << 32 | r.U32();
}

void PutRecord(std::vector<uint8_t>& out, const RecordView& rr) {
  PutBytes(out, rr.owner.wire());
  PutU16(out, rr.type.value());
  PutU16(out, rr.rclass.value());
  PutU32(out, rr.ttl);
  PutU16(out, static_cast<uint16_t>(rr.rdata.size()));
  PutBytes(out, rr.rdata);
}

// Reads one record stored by PutRecord (or a version's arena), checking the
// owner and the RDATA of known types: the file is not trusted.
absl::Status ReadStoredRecord(WireReader& r, RecordView& out) {
  size_t start = r.position();
  Bytes all = r.message();
  size_t p = start;
  while (r.ok() && p < all.size() && all[p] != 0 && p - start < kMaxNameLength) {
    p += all[p] + 1;
  }
  if (p >= all.size()) return absl::InvalidArgumentError("truncated owner name");
  Bytes owner = r.Take(p + 1 - start);
  if (!r.ok()) return absl::InvalidArgumentError("truncated owner name");
  if (absl::Status s = ValidateWireName(owner); !s.ok()) return s;
  out.owner = NameView(owner);
  out.type = RRType(r.U16());
  out.rclass = RRClass(r.U16());
  out.ttl = r.U32();
  uint16_t rdlength = r.U16();
  out.rdata = r.Take(rdlength);
  if (!r.ok()) return absl::InvalidArgumentError("truncated record");
  return ValidateRdata(out.type, out.rdata);
}

int64_t TimeToWire(absl::Time t) { return absl::ToUnixMicros(t); }
absl::Time TimeFromWire(uint64_t v) {
  return absl::FromUnixMicros(static_cast<int64_t>(v));
}

// ------------------------------------------------------------ file I/O

// The whole file, or nullopt when it does not exist.
absl::StatusOr<std::optional<std::vector<uint8_t>>> ReadWholeFile(
    const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return std::optional<std::vector<uint8_t>>();
    return IoError("cannot open", path, errno);
  }
  struct stat sb;
  if (::fstat(fd, &sb) != 0) {
    int e = errno;
    ::close(fd);
    return IoError("cannot stat", path, e);
  }
  std::vector<uint8_t> data(static_cast<size_t>(sb.st_size));
  size_t got = 0;
  while (got < data.size()) {
    ssize_t n = ::read(fd, data.data() + got, data.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int e = errno;
      ::close(fd);
      return IoError("cannot read", path, e);
    }
    if (n == 0) break;
    got += static_cast<size_t>(n);
  }
  ::close(fd);
  data.resize(got);
  return std::optional<std::vector<uint8_t>>(std::move(data));
}

bool WriteAll(int fd, Bytes b, off_t offset) {
  size_t done = 0;
  while (done < b.size()) {
    ssize_t n = ::pwrite(fd, b.data() + done, b.size() - done,
                         offset + static_cast<off_t>(done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    done += static_cast<size_t>(n);
  }
  return true;
}

absl::Status SyncDir(const std::string& dir, bool sync) {
  if (!sync) return absl::OkStatus();
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return IoError("cannot open directory", dir, errno);
  int rc = ::fsync(fd);
  int e = errno;
  ::close(fd);
  if (rc != 0) return IoError("cannot fsync directory", dir, e);
  return absl::OkStatus();
}

// Write to PATH.tmp, fsync, rename over PATH, fsync the directory: readers
// (and a restart after a crash) see the old file or the new one, whole.
absl::Status WriteFileAtomically(const std::string& dir,
                                 const std::string& path,
                                 std::initializer_list<Bytes> parts,
                                 bool sync) {
  std::string tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
  if (fd < 0) return IoError("cannot create", tmp, errno);
  off_t at = 0;
  for (Bytes b : parts) {
    if (!WriteAll(fd, b, at)) {
      int e = errno;
      ::close(fd);
      ::unlink(tmp.c_str());
      return IoError("cannot write", tmp, e);
    }
    at += static_cast<off_t>(b.size());
  }
  if (sync && ::fsync(fd) != 0) {
    int e = errno;
    ::close(fd);
    ::unlink(tmp.c_str());
    return IoError("cannot fsync", tmp, e);
  }
  ::close(fd);
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    int e = errno;
    ::unlink(tmp.c_str());
    return IoError("cannot rename over", path, e);
  }
  return SyncDir(dir, sync);
}

uint64_t NewEpoch(uint64_t old) {
  uint64_t e = 0;
  if (::getrandom(&e, sizeof(e), 0) != sizeof(e)) {
    e = static_cast<uint64_t>(absl::ToUnixNanos(absl::Now())) ^
        (uint64_t{static_cast<uint32_t>(::getpid())} << 32);
  }
  if (e == 0 || e == old) e = old + 1;
  return e;
}

// ------------------------------------------------------------ snapshot

struct Snapshot {
  std::shared_ptr<const ZoneVersion> version;
  uint64_t epoch = 0;
  uint64_t last_seq = 0;
  absl::Time refreshed_at;
  uint32_t expire = 0;
};

// Everything before the arena.
std::vector<uint8_t> SnapshotHeader(const ZoneVersion& v, uint64_t epoch,
                                    uint64_t last_seq, absl::Time refreshed,
                                    uint32_t expire) {
  std::vector<uint8_t> h(kSnapMagic, kSnapMagic + sizeof(kSnapMagic));
  PutU32(h, kFormat);
  PutU64(h, epoch);
  PutU64(h, last_seq);
  PutU64(h, static_cast<uint64_t>(TimeToWire(refreshed)));
  PutU32(h, expire);
  PutU64(h, v.size());
  PutU64(h, v.wire_bytes());
  PutU16(h, static_cast<uint16_t>(v.origin().size()));
  PutBytes(h, v.origin().wire());
  PutU32(h, Crc32c(Bytes(h.data(), h.size())));
  return h;
}

absl::StatusOr<Snapshot> ParseSnapshot(Bytes file, const Name& zone,
                                       const std::string& path,
                                       const BuildOptions& build) {
  WireReader r(file);
  Bytes magic = r.Take(sizeof(kSnapMagic));
  if (!r.ok() || std::memcmp(magic.data(), kSnapMagic, sizeof(kSnapMagic)) != 0) {
    return Damaged(path, 0, "not an xfrproxy snapshot (bad magic)");
  }
  uint32_t format = r.U32();
  if (r.ok() && format != kFormat) {
    return Damaged(path, 8, fmt::format("unsupported format {}", format));
  }
  Snapshot s;
  s.epoch = GetU64(r);
  s.last_seq = GetU64(r);
  s.refreshed_at = TimeFromWire(GetU64(r));
  s.expire = r.U32();
  uint64_t count = GetU64(r);
  uint64_t arena_bytes = GetU64(r);
  Bytes origin_wire = r.Take(r.U16());
  size_t header_end = r.position();
  uint32_t crc = r.U32();
  if (!r.ok()) return Damaged(path, file.size(), "truncated header");
  if (Crc32c(file.first(header_end)) != crc) {
    return Damaged(path, header_end, "header checksum mismatch");
  }
  absl::StatusOr<Name> origin = Name::FromWire(origin_wire);
  if (!origin.ok() || !(*origin == zone)) {
    return Damaged(path, 0, fmt::format("holds another zone, not {}",
                                        zone.ToText()));
  }
  size_t arena_at = r.position();
  if (arena_bytes > file.size() - arena_at ||
      file.size() - arena_at - arena_bytes != kSnapTrailer) {
    return Damaged(path, file.size(),
                   fmt::format("size does not match the header ({} bytes of "
                               "records announced)", arena_bytes));
  }
  Bytes arena = file.subspan(arena_at, arena_bytes);
  WireReader tr(file, arena_at + arena_bytes);
  uint32_t arena_crc = tr.U32();
  Bytes end = tr.Take(sizeof(kSnapEnd));
  if (!tr.ok() || std::memcmp(end.data(), kSnapEnd, sizeof(kSnapEnd)) != 0) {
    return Damaged(path, arena_at + arena_bytes + 4, "no end marker");
  }
  if (Crc32c(arena) != arena_crc) {
    return Damaged(path, arena_at, "record data checksum mismatch");
  }
  // Records are stored in canonical order: appending rebuilds the version
  // without sorting, and the builder still checks order and zone rules.
  ZoneVersionBuilder builder(*origin, build,
                             static_cast<size_t>(std::min<uint64_t>(count, arena_bytes / 11)),
                             arena.size());
  WireReader ar(arena);
  uint64_t seen = 0;
  while (ar.remaining() > 0) {
    size_t at = ar.position();
    RecordView rr;
    if (absl::Status st = ReadStoredRecord(ar, rr); !st.ok()) {
      return Damaged(path, arena_at + at, ToStd(st.message()));
    }
    builder.Append(rr);
    if (!builder.ok()) break;
    ++seen;
  }
  absl::StatusOr<std::shared_ptr<const ZoneVersion>> v =
      std::move(builder).Finish();
  if (!v.ok()) return Damaged(path, arena_at, ToStd(v.status().message()));
  if (seen != count || (*v)->size() != count) {
    return Damaged(path, arena_at,
                   fmt::format("{} records announced, {} found", count, seen));
  }
  s.version = std::move(*v);
  return s;
}

// ------------------------------------------------------------ journal

std::vector<uint8_t> JournalHeader(const Name& zone, uint64_t epoch) {
  std::vector<uint8_t> h(kJnlMagic, kJnlMagic + sizeof(kJnlMagic));
  PutU32(h, kFormat);
  PutU64(h, epoch);
  PutU16(h, static_cast<uint16_t>(zone.size()));
  PutBytes(h, zone.wire());
  PutU32(h, Crc32c(Bytes(h.data(), h.size())));
  return h;
}

std::vector<uint8_t> EntryPayload(uint8_t kind, uint64_t seq,
                                  absl::Time refreshed, uint32_t expire) {
  std::vector<uint8_t> p;
  p.push_back(kind);
  PutU64(p, seq);
  PutU64(p, static_cast<uint64_t>(TimeToWire(refreshed)));
  PutU32(p, expire);
  return p;
}

std::vector<uint8_t> FrameEntry(Bytes payload) {
  std::vector<uint8_t> e;
  e.reserve(kEntryFrame + payload.size());
  PutU32(e, kEntryMagic);
  PutU32(e, static_cast<uint32_t>(payload.size()));
  PutU32(e, Crc32c(payload));
  PutU32(e, Crc32c(Bytes(e.data(), e.size())));
  PutBytes(e, payload);
  return e;
}

struct Entry {
  size_t offset = 0;  // of the frame
  size_t size = 0;    // frame + payload
  uint8_t kind = 0;
  uint64_t seq = 0;
  absl::Time refreshed_at;
  uint32_t expire = 0;
  Bytes body;  // after the fixed payload fields
};

// The entry at `at` if its frame and payload check; nullopt otherwise.
std::optional<Entry> EntryAt(Bytes file, size_t at) {
  if (file.size() - at < kEntryFrame) return std::nullopt;
  const uint8_t* p = file.data() + at;
  if (LoadU32(p) != kEntryMagic || Crc32c(Bytes(p, 12)) != LoadU32(p + 12)) {
    return std::nullopt;
  }
  size_t len = LoadU32(p + 4);
  if (len > file.size() - at - kEntryFrame) return std::nullopt;
  Bytes payload(p + kEntryFrame, len);
  if (Crc32c(payload) != LoadU32(p + 8)) return std::nullopt;
  Entry e;
  e.offset = at;
  e.size = kEntryFrame + len;
  if (len < kEntryFixed) return e;  // kind 0: malformed, reported by caller
  WireReader r(payload);
  e.kind = r.U8();
  e.seq = GetU64(r);
  e.refreshed_at = TimeFromWire(GetU64(r));
  e.expire = r.U32();
  e.body = payload.subspan(kEntryFixed);
  return e;
}

struct JournalScan {
  uint64_t epoch = 0;
  size_t header_size = 0;
  std::vector<Entry> entries;
  size_t good_end = 0;  // end of the last good entry
  bool torn = false;    // bytes after good_end to cut away
};

absl::StatusOr<JournalScan> ScanJournal(Bytes file, const Name& zone,
                                        const std::string& path) {
  JournalScan js;
  WireReader r(file);
  Bytes magic = r.Take(sizeof(kJnlMagic));
  // The header is written by rename, never appended: a bad one is damage.
  if (!r.ok() || std::memcmp(magic.data(), kJnlMagic, sizeof(kJnlMagic)) != 0) {
    return Damaged(path, 0, "not an xfrproxy journal (bad magic)");
  }
  uint32_t format = r.U32();
  js.epoch = GetU64(r);
  Bytes origin_wire = r.Take(r.U16());
  size_t header_end = r.position();
  uint32_t crc = r.U32();
  if (!r.ok()) return Damaged(path, file.size(), "truncated header");
  if (Crc32c(file.first(header_end)) != crc) {
    return Damaged(path, header_end, "header checksum mismatch");
  }
  if (format != kFormat) {
    return Damaged(path, 8, fmt::format("unsupported format {}", format));
  }
  absl::StatusOr<Name> origin = Name::FromWire(origin_wire);
  if (!origin.ok() || !(*origin == zone)) {
    return Damaged(path, 0, fmt::format("holds another zone, not {}",
                                        zone.ToText()));
  }
  js.header_size = r.position();
  size_t at = js.header_size;
  while (at < file.size()) {
    std::optional<Entry> e = EntryAt(file, at);
    if (!e) {
      // A crash tears only the last append. A good entry further on means
      // this one was damaged after it was committed.
      for (size_t q = at + 1; q + kEntryFrame <= file.size(); ++q) {
        if (LoadU32(file.data() + q) == kEntryMagic && EntryAt(file, q)) {
          return Damaged(path, at, "damaged journal entry before good ones");
        }
      }
      js.torn = true;
      break;
    }
    if (e->kind != kKindDiff && e->kind != kKindRefresh) {
      return Damaged(path, at, "journal entry of unknown kind");
    }
    if (!js.entries.empty() && e->seq <= js.entries.back().seq) {
      return Damaged(path, at, "journal sequence numbers go backwards");
    }
    at += e->size;
    js.entries.push_back(*e);
  }
  js.good_end = at;
  return js;
}

absl::Status ReadRecordInto(WireReader& r, Record& out) {
  RecordView v;
  if (absl::Status s = ReadStoredRecord(r, v); !s.ok()) return s;
  out = ToRecord(v);
  return absl::OkStatus();
}

absl::StatusOr<ZoneDiff> ParseDiff(Bytes body) {
  WireReader r(body);
  ZoneDiff d;
  if (absl::Status s = ReadRecordInto(r, d.old_soa); !s.ok()) return s;
  if (absl::Status s = ReadRecordInto(r, d.new_soa); !s.ok()) return s;
  for (std::vector<Record>* list : {&d.removed, &d.added}) {
    uint32_t n = r.U32();
    // Each record takes at least 11 bytes: bound n before reserving.
    if (!r.ok() || n > r.remaining() / 11) {
      return absl::InvalidArgumentError("bad record count");
    }
    list->resize(n);
    for (Record& rec : *list) {
      if (absl::Status s = ReadRecordInto(r, rec); !s.ok()) return s;
    }
  }
  if (r.remaining() != 0) return absl::InvalidArgumentError("trailing bytes");
  return d;
}

std::vector<uint8_t> DiffPayload(const ZoneDiff& diff, uint64_t seq,
                                 absl::Time refreshed, uint32_t expire) {
  std::vector<uint8_t> p = EntryPayload(kKindDiff, seq, refreshed, expire);
  PutRecord(p, diff.old_soa.view());
  PutRecord(p, diff.new_soa.view());
  for (const std::vector<Record>* list : {&diff.removed, &diff.added}) {
    PutU32(p, static_cast<uint32_t>(list->size()));
    for (const Record& rec : *list) PutRecord(p, rec.view());
  }
  return p;
}

bool CutFile(const std::string& path, size_t size, bool sync) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return false;
  bool ok = ::ftruncate(fd, static_cast<off_t>(size)) == 0 &&
            (!sync || ::fsync(fd) == 0);
  ::close(fd);
  return ok;
}

}  // namespace

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
