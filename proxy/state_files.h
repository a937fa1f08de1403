// The on-disk formats behind StateStore (proxy/state_store.h explains them
// and the consistency rules): snapshot and journal headers, journal entries
// and their frames, diffs as stored, and the careful file I/O (whole-file
// reads, atomic replacement, directory sync). Internal to the state store.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "core/diff.h"
#include "core/name.h"
#include "core/wire.h"
#include "core/zone.h"

namespace xfr::state_files {

inline constexpr char kSnapEnd[8] = {'X', 'F', 'R', 'S', 'E', 'N', 'D', '\0'};
inline constexpr uint8_t kKindDiff = 1;
inline constexpr uint8_t kKindRefresh = 2;

struct Snapshot {
  std::shared_ptr<const ZoneVersion> version;
  uint64_t epoch = 0;
  uint64_t last_seq = 0;
  absl::Time refreshed_at;
  uint32_t expire = 0;
};

struct Entry {
  size_t offset = 0;  // of the frame
  size_t size = 0;    // frame + payload
  uint8_t kind = 0;
  uint64_t seq = 0;
  absl::Time refreshed_at;
  uint32_t expire = 0;
  Bytes body;  // after the fixed payload fields
};

struct JournalScan {
  uint64_t epoch = 0;
  size_t header_size = 0;
  std::vector<Entry> entries;
  size_t good_end = 0;  // end of the last good entry
  bool torn = false;    // bytes after good_end to cut away
};

absl::Status IoError(std::string_view what, const std::string& path, int e);
// A damaged file: names it and the offset where the damage starts.
absl::Status Damaged(const std::string& path, size_t offset, std::string_view what);
void PutU32(std::vector<uint8_t>& out, uint32_t v);
void PutBytes(std::vector<uint8_t>& out, Bytes b);

// The file's bytes; nullopt when it does not exist.
absl::StatusOr<std::optional<std::vector<uint8_t>>> ReadWholeFile(const std::string& path);
bool WriteAll(int fd, Bytes b, off_t offset);
absl::Status SyncDir(const std::string& dir, bool sync);
// Writes `parts` to path.tmp, syncs, renames over `path`, syncs `dir`.
absl::Status WriteFileAtomically(const std::string& dir, const std::string& path,
                                 std::initializer_list<Bytes> parts, bool sync);
// A random epoch different from `old`.
uint64_t NewEpoch(uint64_t old);
bool CutFile(const std::string& path, size_t size, bool sync);

std::vector<uint8_t> SnapshotHeader(const ZoneVersion& v, uint64_t epoch, uint64_t last_seq,
                                    absl::Time refreshed, uint32_t expire);
absl::StatusOr<Snapshot> ParseSnapshot(Bytes file, const Name& zone, const std::string& path,
                                       const BuildOptions& build);

std::vector<uint8_t> JournalHeader(const Name& zone, uint64_t epoch);
std::vector<uint8_t> EntryPayload(uint8_t kind, uint64_t seq, absl::Time refreshed,
                                  uint32_t expire);
std::vector<uint8_t> FrameEntry(Bytes payload);
absl::StatusOr<JournalScan> ScanJournal(Bytes file, const Name& zone, const std::string& path);
absl::StatusOr<ZoneDiff> ParseDiff(Bytes body);
std::vector<uint8_t> DiffPayload(const ZoneDiff& diff, uint64_t seq, absl::Time refreshed,
                                 uint32_t expire);

}  // namespace xfr::state_files
