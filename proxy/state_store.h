// Crash-safe persistence of served zones in `state-dir`
// (docs/architecture.md, "On disk"): per zone, a snapshot of one version and an append-only
// journal of the diffs since (and a bounded history before) it, so that on
// start the proxy serves at once, IXFR from persisted serials included, and a
// crash or kill -9 at any moment loses nothing that was served before.
//
// Files per zone (stem from ZoneFileStem):
//   STEM.snap  header (magic, format, epoch, last journal sequence number,
//              refreshed_at, expire, counts, origin, header CRC32C), then the
//              version's arena as is (records in canonical order,
//              uncompressed), then the arena's CRC32C and an end marker. It
//              is written to STEM.snap.tmp, fsynced, renamed over and the
//              directory fsynced: a reader sees the old or the new file,
//              never a mix.
//   STEM.jnl   header (magic, format, epoch, origin, CRC32C), then entries,
//              each framed by a 16-byte header (magic, payload length,
//              payload CRC32C, CRC32C of those 12 bytes) and appended with
//              one write + fdatasync. An entry exists once its bytes are all
//              on disk and check: the checksums are the commit marker.
//
// Consistency rules. Every journal entry carries a sequence number; the
// snapshot records the last one it includes, so on load the entries after it
// are replayed and the ones up to it are history for IXFR. Snapshot and
// journal share a random `epoch`: a new snapshot that does not continue the
// journal (after an AXFR) gets a new epoch, so a crash between renaming the
// snapshot and resetting the journal leaves a journal that is ignored instead
// of being replayed onto the wrong version.
//
// A crash only ever tears the last append; a torn tail is truncated away with
// a warning. A bad entry followed by a good one is not a crash but damage
// (disk, operator): Load then fails with DataLoss naming the file and offset
// rather than serving an older version, because silently rolling a zone back
// (and answering IXFR from a shortened journal) is worse for an operator than
// one full transfer from the primary, which is what the caller does next.
//
// Not thread-safe: one StateStore is owned by the single owner of zone
// changes (docs/architecture.md, "Threads").
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "core/diff.h"
#include "core/crc32c.h"
#include "core/name.h"
#include "core/zone.h"

namespace xfr {


// The file stem for `zone`: the name lower-cased (names compare ignoring
// case), labels joined by '.', every byte outside [a-z0-9-] (a '.' inside a
// label included) written %XX; the root is "@". A stem over 200 bytes is cut
// and suffixed with '~' and a hash, so it always fits NAME_MAX with its
// suffix. Distinct zones get distinct stems ('@', '%', '~' never appear
// unescaped); the origin is also stored inside each file and checked.
std::string ZoneFileStem(const Name& zone);

struct LoadedZone {
  std::shared_ptr<const ZoneVersion> version;
  // Oldest first; journal.back()->to() == version->serial() and each diff
  // starts where the previous one ends. At most max_diffs.
  std::vector<std::shared_ptr<const ZoneDiff>> journal;
  absl::Time refreshed_at;
  uint32_t expire_seconds = 0;
};

class StateStore {
 public:
  struct Options {
    // Compaction: once this many diffs, or this many journal bytes, follow
    // the snapshot (and the bytes exceed half the snapshot), ShouldCompact()
    // says the caller should SaveVersion with keep_journal. Bounds load time
    // (each replayed diff copies the zone once) and disk use.
    size_t compact_after_diffs = 32;
    uint64_t compact_after_bytes = uint64_t{1} << 20;
    // Flush data to disk (fdatasync/fsync). Off only in tests and benches
    // that measure something else.
    bool sync = true;
  };

  struct SaveOptions {
    // True when `version` is the result of the diffs already appended (a
    // compaction): the journal stays as history, trimmed to max_diffs
    // diffs. False for a version reached otherwise (AXFR, first load): the
    // journal is reset, since its diffs do not lead to this version.
    bool keep_journal = false;
    size_t max_diffs = 100;
  };

  // Opens (creating with mode 0750 if needed) and locks `dir`: a second
  // StateStore on the same directory, in this or another process, fails
  // with FailedPrecondition naming the holder's PID.
  static absl::StatusOr<StateStore> Open(std::string dir, Options options);
  static absl::StatusOr<StateStore> Open(std::string dir) {
    return Open(std::move(dir), Options());
  }

  StateStore(StateStore&& o) noexcept;
  StateStore& operator=(StateStore&& o) noexcept;
  StateStore(const StateStore&) = delete;
  StateStore& operator=(const StateStore&) = delete;
  ~StateStore();

  const std::string& dir() const { return dir_; }

  // Writes `version` as the zone's snapshot (see SaveOptions). Costs one
  // write of the version's arena plus fsyncs.
  absl::Status SaveVersion(const Name& zone, const ZoneVersion& version,
                           absl::Time refreshed_at, uint32_t expire_seconds,
                           const SaveOptions& save);
  absl::Status SaveVersion(const Name& zone, const ZoneVersion& version,
                           absl::Time refreshed_at, uint32_t expire_seconds) {
    return SaveVersion(zone, version, refreshed_at, expire_seconds,
                       SaveOptions());
  }

  // Appends one diff (from the current persisted version to the next) with
  // the refresh time of the new version; costs the size of the diff and one
  // fdatasync. FailedPrecondition when the zone has no snapshot in this
  // store yet (Load or SaveVersion first), when the diff does not start at
  // the persisted serial, or after an earlier failed append (then only
  // SaveVersion recovers, and ShouldCompact() says so).
  absl::Status AppendDiff(const Name& zone, const ZoneDiff& diff,
                          absl::Time refreshed_at, uint32_t expire_seconds);

  // Records that the primary confirmed the data fresh (RFC 7314 EXPIRE
  // counts from here) without a new version: a small journal entry.
  absl::Status SaveRefresh(const Name& zone, absl::Time refreshed_at,
                           uint32_t expire_seconds);

  // True when the caller should SaveVersion(keep_journal=true) with the
  // current version (journal past the compaction limits), or
  // SaveVersion(keep_journal=false) after a failed append.
  bool ShouldCompact(const Name& zone) const;

  // The persisted state of `zone`: nullopt when there is none. The version
  // is the snapshot with the journal replayed; `journal` holds the last
  // max_diffs diffs ending at it. A torn last journal entry is truncated
  // away with a warning. DataLoss (naming the file and byte offset) for a
  // damaged snapshot or journal: the caller starts the zone empty.
  absl::StatusOr<std::optional<LoadedZone>> Load(const Name& zone,
                                                 size_t max_diffs,
                                                 const BuildOptions& build = {});

  // Deletes the zone's files (a zone removed from the configuration).
  absl::Status RemoveZone(const Name& zone);

  // Paths of the zone's files, for logs and tests.
  std::string SnapshotPath(const Name& zone) const;
  std::string JournalPath(const Name& zone) const;

 private:
  // What this process knows of a zone's files (after Load or SaveVersion).
  struct ZoneState {
    bool has_snapshot = false;
    uint64_t epoch = 0;
    uint64_t snapshot_seq = 0;    // last sequence number in the snapshot
    uint64_t next_seq = 1;        // of the next journal entry
    uint64_t snapshot_bytes = 0;  // size of the snapshot file
    uint64_t journal_end = 0;     // bytes of valid journal (header included)
    bool journal_valid = false;   // journal file matches epoch; else reset it
    bool broken = false;          // an append failed: only SaveVersion helps
    size_t diffs_since_snapshot = 0;
    uint64_t bytes_since_snapshot = 0;
    uint32_t serial = 0;  // serial of the persisted version (with journal)
  };

  StateStore(std::string dir, Options options, int lock_fd)
      : dir_(std::move(dir)), options_(options), lock_fd_(lock_fd) {}

  absl::Status ResetJournal(const Name& zone, ZoneState& st);
  absl::Status AppendEntry(const Name& zone, ZoneState& st,
                           const std::vector<uint8_t>& payload);
  absl::Status TrimJournal(const Name& zone, ZoneState& st, size_t max_diffs);

  std::string dir_;
  Options options_;
  int lock_fd_ = -1;
  absl::flat_hash_map<Name, ZoneState> zones_;
};

}  // namespace xfr
