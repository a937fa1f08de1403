#include "core/zonefile_lexer.h"

#include <utility>

namespace xfr {
namespace {

bool IsBlank(char c) { return c == ' ' || c == '\t' || c == '\r'; }

// Characters that end an unquoted token (RFC 1035 §5.1).
bool EndsToken(char c) {
  return IsBlank(c) || c == '\n' || c == '(' || c == ')' || c == ';' ||
         c == '"';
}

}  // namespace

bool ZoneLexer::Fail(int line, std::string msg) {
  line_ = line;
  status_ = absl::InvalidArgumentError(std::move(msg));
  return false;
}

bool ZoneLexer::Next(ZoneEntry& e) {
  e.tokens.clear();
  e.blank_owner = false;
  int depth = 0;
  int open_line = 0;
  // True while only blanks were seen since the start of a physical line.
  bool at_line_start = pos_ == 0 || text_[pos_ - 1] == '\n';
  bool line_began_blank = false;
  const size_t n = text_.size();
  while (pos_ < n) {
    char c = text_[pos_];
    if (c == '\n') {
      ++pos_;
      ++line_;
      if (depth == 0 && !e.tokens.empty()) return true;
      at_line_start = true;
      line_began_blank = false;
      continue;
    }
    if (IsBlank(c)) {
      if (at_line_start) line_began_blank = true;
      ++pos_;
      continue;
    }
    at_line_start = false;
    if (c == ';') {
      while (pos_ < n && text_[pos_] != '\n') ++pos_;
      continue;
    }
    if (c == '(') {
      if (depth++ == 0) open_line = line_;
      ++pos_;
      continue;
    }
    if (c == ')') {
      if (depth == 0) return Fail(line_, "')' without '('");
      --depth;
      ++pos_;
      continue;
    }
    if (e.tokens.empty()) {
      e.line = line_;
      // Only the physical line an entry starts on decides its owner.
      e.blank_owner = line_began_blank;
    }
    if (c == '"') {
      size_t start = ++pos_;
      while (pos_ < n && text_[pos_] != '"') {
        if (text_[pos_] == '\n' ||
            (text_[pos_] == '\\' && pos_ + 1 < n && text_[pos_ + 1] == '\n')) {
          return Fail(line_, "unterminated quoted string");
        }
        pos_ += text_[pos_] == '\\' ? 2 : 1;
      }
      if (pos_ >= n) return Fail(line_, "unterminated quoted string");
      e.tokens.push_back(TextToken{text_.substr(start, pos_ - start), true});
      ++pos_;
      continue;
    }
    size_t start = pos_;
    while (pos_ < n && !EndsToken(text_[pos_])) {
      // An escaped character never ends the token, even a blank.
      if (text_[pos_] == '\\' && pos_ + 1 < n && text_[pos_ + 1] != '\n') {
        ++pos_;
      }
      ++pos_;
    }
    e.tokens.push_back(TextToken{text_.substr(start, pos_ - start), false});
  }
  if (depth > 0) {
    return Fail(open_line, "missing closing parenthesis");
  }
  return !e.tokens.empty();
}

}  // namespace xfr
