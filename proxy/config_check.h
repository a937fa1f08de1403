// What `xfrproxy check` verifies beyond the config itself: the content of
// every `file:` zone, read and checked as the server reads it, and that
// `state-dir` can be created and written. Each problem is one line that
// names the file (and line) at fault, so that an operator fixes them all in
// one pass instead of one per run.
#pragma once

#include <string>
#include <vector>

#include "proxy/config.h"

namespace xfr {

// Reads every `file:` zone of `config` and checks it: the master-file syntax
// (reading stops at the first syntax error of a file), the rules of
// core/zone_check.h, and what building the served version refuses (for
// instance more than max-records records). Lines read "FILE:LINE: what", or
// "FILE: what" for a zone-wide problem.
std::vector<std::string> CheckZoneContents(const Config& config);

// Creates `dir` when it is missing (one level, mode 0750, as the server
// does), then writes, syncs and removes a probe file in it. The error names
// the path and the system's reason.
absl::Status CheckStateDirWritable(const std::string& dir);

}  // namespace xfr
