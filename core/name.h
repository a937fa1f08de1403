// Domain names (RFC 1035 §3.1, §4.1.4). A name is held as its uncompressed
// wire form with the case it arrived in; comparisons ignore ASCII case
// (RFC 4343) and order is the canonical order of RFC 4034 §6.1.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "core/wire.h"

namespace xfr {

inline constexpr size_t kMaxNameLength = 255;  // RFC 1035 §3.1
inline constexpr size_t kMaxLabelLength = 63;

inline uint8_t AsciiLower(uint8_t c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<uint8_t>(c + 32) : c;
}

// A borrowed, already validated uncompressed wire name.
class NameView {
 public:
  NameView() = default;
  // `wire` must be a valid uncompressed name (as produced by Name or by
  // ValidateWireName); this is not re-checked.
  explicit NameView(Bytes wire) : wire_(wire) {}

  Bytes wire() const { return wire_; }
  size_t size() const { return wire_.size(); }
  bool IsRoot() const { return wire_.size() == 1; }
  int LabelCount() const;  // root has 0
  // The name without its first `n` labels.
  NameView Suffix(int n) const;
  bool EqualsIgnoreCase(NameView o) const;
  bool IsSubdomainOf(NameView parent) const;  // true when equal, too
  std::string ToText() const;                 // "www.example.com."
  size_t HashIgnoreCase() const;

 private:
  Bytes wire_;
};

// RFC 4034 §6.1 canonical ordering: <0, 0, >0.
int CompareCanonical(NameView a, NameView b);

class Name {
 public:
  Name() : wire_(1, '\0') {}  // the root
  // From wire bytes, checking the form (no compression pointers allowed).
  static absl::StatusOr<Name> FromWire(Bytes wire);
  // From presentation format with \X and \DDD escapes. A name without a
  // trailing dot is relative to `origin` (an error when origin is null).
  // "@" is not handled here: it is a master-file convention.
  static absl::StatusOr<Name> FromText(std::string_view text,
                                       const Name* origin = nullptr);

  NameView view() const { return NameView(AsBytes(wire_)); }
  operator NameView() const { return view(); }  // NOLINT: a view is cheap
  Bytes wire() const { return AsBytes(wire_); }
  size_t size() const { return wire_.size(); }
  std::string ToText() const { return view().ToText(); }
  Name Lowercased() const;

  // Case-insensitive equality; use Identical() for byte equality.
  friend bool operator==(const Name& a, const Name& b) {
    return a.view().EqualsIgnoreCase(b.view());
  }
  bool Identical(const Name& o) const { return wire_ == o.wire_; }

  template <typename H>
  friend H AbslHashValue(H h, const Name& n) {
    return H::combine(std::move(h), n.view().HashIgnoreCase());
  }

 private:
  explicit Name(std::string wire) : wire_(std::move(wire)) {}
  std::string wire_;
};

// Orders names canonically; for sorted containers.
struct CanonicalLess {
  bool operator()(NameView a, NameView b) const {
    return CompareCanonical(a, b) < 0;
  }
};

// Checks that `wire` is exactly one uncompressed name.
absl::Status ValidateWireName(Bytes wire);

// Reads a possibly compressed name at the reader's cursor. Pointers must
// point strictly backwards, below every position visited so far in this
// name, which rules out loops and forward references; the expanded name must
// fit 255 bytes. On error the reader is failed too.
absl::Status ReadName(WireReader& r, Name& out);
// Same, appending the expanded wire form to `out` (no Name allocation).
absl::Status ReadNameInto(WireReader& r, std::string& out);

// Compression table for one message being written (RFC 1035 §4.1.4). Matches
// suffixes byte-exactly, so a compressed name keeps the case it was given.
class NameCompressor {
 public:
  // Forget every entry (start of a new message).
  void Reset() {
    table_.clear();
    log_.clear();
  }
  // Drop entries at or after `size`, used when the writer is rolled back.
  void Rollback(size_t size);

  // Writes `name` at the writer's end, reusing earlier suffixes, and records
  // its own suffixes for later names. Offsets are relative to the start of
  // the writer's buffer, which must be the start of the DNS message.
  void Write(WireWriter& w, NameView name);

 private:
  // Returns the offset of an earlier occurrence of `suffix`, or -1.
  int Find(const std::vector<uint8_t>& buf, Bytes suffix, uint64_t h) const;

  absl::flat_hash_map<uint64_t, uint16_t> table_;
  std::vector<std::pair<uint64_t, uint16_t>> log_;
};

// Writes the name uncompressed.
inline void WriteName(WireWriter& w, NameView name) { w.Append(name.wire()); }

}  // namespace xfr
