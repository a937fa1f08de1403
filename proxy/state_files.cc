#include "proxy/state_files.h"

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

namespace xfr::state_files {

// ------------------------------------------------------------ file format

constexpr char kSnapMagic[8] = {'X', 'F', 'R', 'S', 'N', 'A', 'P', '\0'};
constexpr char kJnlMagic[8] = {'X', 'F', 'R', 'J', 'R', 'N', 'L', '\0'};
constexpr uint32_t kFormat = 1;
constexpr uint32_t kEntryMagic = 0x58454E31;  // "XEN1"
constexpr size_t kEntryFrame = 16;
// kind, seq, refreshed_at, expire.
constexpr size_t kEntryFixed = 1 + 8 + 8 + 4;
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

}  // namespace xfr::state_files
