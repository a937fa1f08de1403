// Bounds-checked cursor over DNS wire bytes with a sticky error, in the manner
// of Knot's wire_ctx: after the first failure every read yields zero and
// changes nothing, so a parser reads a whole structure and checks ok() once.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>
#include <vector>

#include "absl/types/span.h"

namespace xfr {

using Bytes = absl::Span<const uint8_t>;
using MutableBytes = absl::Span<uint8_t>;

inline Bytes AsBytes(std::string_view s) {
  return Bytes(reinterpret_cast<const uint8_t*>(s.data()), s.size());
}

class WireReader {
 public:
  // `message` is the whole DNS message: compression pointers are offsets
  // into it. The cursor starts at `start`.
  explicit WireReader(Bytes message, size_t start = 0)
      : buf_(message), pos_(start) {
    if (start > message.size()) Fail();
  }

  bool ok() const { return ok_; }
  size_t position() const { return pos_; }
  size_t remaining() const { return ok_ ? buf_.size() - pos_ : 0; }
  Bytes message() const { return buf_; }
  void Fail() { ok_ = false; }

  uint8_t U8() {
    if (!Need(1)) return 0;
    return buf_[pos_++];
  }
  uint16_t U16() {
    if (!Need(2)) return 0;
    uint16_t v = static_cast<uint16_t>(buf_[pos_] << 8 | buf_[pos_ + 1]);
    pos_ += 2;
    return v;
  }
  uint32_t U32() {
    if (!Need(4)) return 0;
    uint32_t v = uint32_t{buf_[pos_]} << 24 | uint32_t{buf_[pos_ + 1]} << 16 |
                 uint32_t{buf_[pos_ + 2]} << 8 | uint32_t{buf_[pos_ + 3]};
    pos_ += 4;
    return v;
  }
  // A view of the next n bytes; empty (and failed) when fewer remain.
  Bytes Take(size_t n) {
    if (!Need(n)) return {};
    Bytes out = buf_.subspan(pos_, n);
    pos_ += n;
    return out;
  }
  void Skip(size_t n) {
    if (Need(n)) pos_ += n;
  }
  void Seek(size_t pos) {
    if (pos > buf_.size()) Fail();
    if (ok_) pos_ = pos;
  }

 private:
  bool Need(size_t n) {
    if (!ok_ || buf_.size() - pos_ < n) {
      ok_ = false;
      return false;
    }
    return true;
  }

  Bytes buf_;
  size_t pos_ = 0;
  bool ok_ = true;
};

// Appends to a byte vector, refusing to grow past `limit` (a DNS message is
// at most 65535 bytes, a UDP answer often less). Overflow is sticky like the
// reader's error; Truncate() rolls back to an earlier size and clears it, so
// a builder can try a record and take it back when it does not fit.
class WireWriter {
 public:
  explicit WireWriter(std::vector<uint8_t>& out, size_t limit = 65535)
      : out_(out), limit_(limit) {}

  bool ok() const { return ok_; }
  size_t size() const { return out_.size(); }
  size_t limit() const { return limit_; }
  std::vector<uint8_t>& buffer() { return out_; }

  void U8(uint8_t v) {
    if (Room(1)) out_.push_back(v);
  }
  void U16(uint16_t v) {
    if (!Room(2)) return;
    uint8_t b[2] = {static_cast<uint8_t>(v >> 8), static_cast<uint8_t>(v)};
    out_.insert(out_.end(), b, b + 2);
  }
  void U32(uint32_t v) {
    if (!Room(4)) return;
    uint8_t b[4] = {static_cast<uint8_t>(v >> 24), static_cast<uint8_t>(v >> 16),
                    static_cast<uint8_t>(v >> 8), static_cast<uint8_t>(v)};
    out_.insert(out_.end(), b, b + 4);
  }
  void Append(Bytes b) {
    if (Room(b.size())) out_.insert(out_.end(), b.begin(), b.end());
  }
  // Overwrites a 16-bit field written earlier (counts, RDLENGTH).
  void PatchU16(size_t at, uint16_t v) {
    if (at + 2 > out_.size()) return;
    out_[at] = static_cast<uint8_t>(v >> 8);
    out_[at + 1] = static_cast<uint8_t>(v);
  }
  void Truncate(size_t n) {
    if (n < out_.size()) out_.resize(n);
    ok_ = true;
  }

 private:
  bool Room(size_t n) {
    if (!ok_ || out_.size() + n > limit_) {
      ok_ = false;
      return false;
    }
    return true;
  }

  std::vector<uint8_t>& out_;
  size_t limit_;
  bool ok_ = true;
};

inline uint16_t LoadU16(const uint8_t* p) {
  return static_cast<uint16_t>(p[0] << 8 | p[1]);
}
inline uint32_t LoadU32(const uint8_t* p) {
  return uint32_t{p[0]} << 24 | uint32_t{p[1]} << 16 | uint32_t{p[2]} << 8 |
         uint32_t{p[3]};
}
inline void StoreU16(uint8_t* p, uint16_t v) {
  p[0] = static_cast<uint8_t>(v >> 8);
  p[1] = static_cast<uint8_t>(v);
}
inline void StoreU32(uint8_t* p, uint32_t v) {
  p[0] = static_cast<uint8_t>(v >> 24);
  p[1] = static_cast<uint8_t>(v >> 16);
  p[2] = static_cast<uint8_t>(v >> 8);
  p[3] = static_cast<uint8_t>(v);
}

}  // namespace xfr
