// RFC 1035 §5 master files, read the way BIND reads them and written the way
// `named-compilezone -s full` writes them. The reader only produces records;
// zone-level rules (one SOA, everything under the origin...) are checked when
// a zone version is built from them.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "core/name.h"
#include "core/record.h"
#include "core/types.h"

namespace xfr {

// Where each record of a master file came from, for messages that point at
// a line (the zone checks of core/zone_check.h). Kept apart from Record so
// that transfers, which have no lines, pay nothing for it.
struct ZoneFileSources {
  struct Line {
    uint32_t file = 0;  // index into `files`
    uint32_t line = 0;
  };
  std::vector<std::string> files;  // the file itself, then each $INCLUDE
  std::vector<Line> records;       // one per record read, in the same order

  // "FILE:LINE" of record `i`, or "" when `i` has no entry.
  std::string Where(size_t i) const;
};

struct ZoneFileOptions {
  // Every record must be of this class (a master file holds one zone).
  RRClass rclass = RRClass::kIN;
  // $INCLUDE is followed only this deep, which also stops include loops.
  int max_include_depth = 8;
  // When false, $INCLUDE is an error (for untrusted text, e.g. fuzzing).
  bool allow_include = true;
  // Non-fatal remarks ("TTL taken from SOA MINIMUM") are appended here.
  std::vector<std::string>* warnings = nullptr;
  // When set, filled with the file and line of every record read.
  ZoneFileSources* sources = nullptr;
};

// Reads the master file at `path`. Relative names are completed with
// `origin` until a $ORIGIN changes it. Errors read "FILE:LINE: what", and
// reading stops at the first one.
absl::StatusOr<std::vector<Record>> ReadZoneFile(
    const std::string& path, const Name& origin,
    const ZoneFileOptions& options = {});

// Same, for text in memory. `filename_for_errors` names it in messages, and
// its directory is where relative $INCLUDE paths are looked up.
absl::StatusOr<std::vector<Record>> ReadZoneText(
    std::string_view text, const Name& origin,
    std::string_view filename_for_errors, const ZoneFileOptions& options = {});

// Appends one record as a line: absolute owner, TTL, class, type, RDATA.
void AppendRecordLine(const RecordView& rr, std::string& out);

// One line per record, in the order given.
std::string WriteZoneText(absl::Span<const RecordView> records);
std::string WriteZoneText(absl::Span<const Record> records);

}  // namespace xfr
