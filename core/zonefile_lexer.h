// Splits master-file text into entries (RFC 1035 §5.1): one entry per line,
// except that parentheses continue an entry across line ends; `;` starts a
// comment; double quotes make one token of text with blanks in it. Tokens
// are views into the text with their escapes left in place (names and
// character-strings decode them differently), so lexing allocates nothing
// beyond the reused token vector.
#pragma once

#include <string_view>

#include "absl/container/inlined_vector.h"
#include "absl/status/status.h"
#include "core/rdata_text.h"

namespace xfr {

struct ZoneEntry {
  int line = 0;              // line of the entry's first token
  bool blank_owner = false;  // the line starts with a blank: previous owner
  absl::InlinedVector<TextToken, 16> tokens;
};

class ZoneLexer {
 public:
  explicit ZoneLexer(std::string_view text) : text_(text) {}

  // Fills `e` with the next non-empty entry. Returns false at the end of the
  // text, or with `status` set on a lexical error (then line() is where).
  bool Next(ZoneEntry& e);

  const absl::Status& status() const { return status_; }
  int line() const { return line_; }

 private:
  bool Fail(int line, std::string msg);

  std::string_view text_;
  size_t pos_ = 0;
  int line_ = 1;
  absl::Status status_;
};

}  // namespace xfr
