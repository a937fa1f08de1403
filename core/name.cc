#include "core/name.h"

#include <algorithm>
#include <array>
#include <cstring>

#include "absl/hash/hash.h"
#include "fmt/format.h"

namespace xfr {
namespace {

constexpr int kMaxLabels = 128;

// Offsets of each label's length byte, root label excluded.
int LabelOffsets(Bytes w, std::array<uint8_t, kMaxLabels>& offs) {
  int n = 0;
  size_t i = 0;
  while (i < w.size() && w[i] != 0) {
    offs[n++] = static_cast<uint8_t>(i);
    i += w[i] + 1;
  }
  return n;
}

bool IsPrintable(uint8_t c) { return c > 0x20 && c < 0x7f; }

// FNV-1a over a wire suffix, exact bytes.
uint64_t HashExact(Bytes b) {
  uint64_t h = 1469598103934665603ull;
  for (uint8_t c : b) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

}  // namespace

int NameView::LabelCount() const {
  int n = 0;
  for (size_t i = 0; i < wire_.size() && wire_[i] != 0; i += wire_[i] + 1) ++n;
  return n;
}

NameView NameView::Suffix(int n) const {
  size_t i = 0;
  for (; n > 0 && i < wire_.size() && wire_[i] != 0; --n) i += wire_[i] + 1;
  return NameView(wire_.subspan(i));
}

bool NameView::EqualsIgnoreCase(NameView o) const {
  if (wire_.size() != o.wire_.size()) return false;
  // Length bytes are <64 so lowercasing them is harmless.
  for (size_t i = 0; i < wire_.size(); ++i) {
    if (AsciiLower(wire_[i]) != AsciiLower(o.wire_[i])) return false;
  }
  return true;
}

bool NameView::IsSubdomainOf(NameView parent) const {
  if (parent.size() > size()) return false;
  // Walk label boundaries so "xample.com" is not a suffix of "example.com".
  size_t want = size() - parent.size();
  size_t i = 0;
  while (i < want) i += wire_[i] + 1;
  return i == want && NameView(wire_.subspan(i)).EqualsIgnoreCase(parent);
}

std::string NameView::ToText() const {
  if (IsRoot() || wire_.empty()) return ".";
  std::string out;
  out.reserve(wire_.size() + 1);
  size_t i = 0;
  while (i < wire_.size() && wire_[i] != 0) {
    uint8_t len = wire_[i];
    for (size_t j = i + 1; j <= i + len; ++j) {
      uint8_t c = wire_[j];
      if (c == '.' || c == '\\' || c == '"' || c == '(' || c == ')' ||
          c == ';' || c == '@' || c == '$') {
        out.push_back('\\');
        out.push_back(static_cast<char>(c));
      } else if (IsPrintable(c)) {
        out.push_back(static_cast<char>(c));
      } else {
        char buf[5];
        std::snprintf(buf, sizeof buf, "\\%03u", c);
        out += buf;
      }
    }
    out.push_back('.');
    i += len + 1;
  }
  return out;
}

size_t NameView::HashIgnoreCase() const {
  uint64_t h = 1469598103934665603ull;
  for (uint8_t c : wire_) {
    h ^= AsciiLower(c);
    h *= 1099511628211ull;
  }
  return static_cast<size_t>(h);
}

int CompareCanonical(NameView a, NameView b) {
  std::array<uint8_t, kMaxLabels> oa, ob;
  int na = LabelOffsets(a.wire(), oa);
  int nb = LabelOffsets(b.wire(), ob);
  const uint8_t* wa = a.wire().data();
  const uint8_t* wb = b.wire().data();
  for (int ia = na - 1, ib = nb - 1; ia >= 0 && ib >= 0; --ia, --ib) {
    const uint8_t* la = wa + oa[ia];
    const uint8_t* lb = wb + ob[ib];
    int len = std::min(la[0], lb[0]);
    for (int k = 1; k <= len; ++k) {
      uint8_t ca = AsciiLower(la[k]), cb = AsciiLower(lb[k]);
      if (ca != cb) return ca < cb ? -1 : 1;
    }
    if (la[0] != lb[0]) return la[0] < lb[0] ? -1 : 1;
  }
  return na == nb ? 0 : (na < nb ? -1 : 1);
}

absl::Status ValidateWireName(Bytes w) {
  size_t i = 0;
  if (w.size() > kMaxNameLength) {
    return absl::InvalidArgumentError("name longer than 255 bytes");
  }
  while (i < w.size()) {
    uint8_t len = w[i];
    if (len == 0) {
      if (i + 1 != w.size()) {
        return absl::InvalidArgumentError("trailing bytes after name");
      }
      return absl::OkStatus();
    }
    if (len > kMaxLabelLength) {
      return absl::InvalidArgumentError("label longer than 63 bytes");
    }
    i += len + 1;
  }
  return absl::InvalidArgumentError("name not terminated by the root label");
}

absl::StatusOr<Name> Name::FromWire(Bytes wire) {
  if (absl::Status s = ValidateWireName(wire); !s.ok()) return s;
  return Name(std::string(wire.begin(), wire.end()));
}

absl::StatusOr<Name> Name::FromText(std::string_view text, const Name* origin) {
  if (text.empty()) return absl::InvalidArgumentError("empty name");
  if (text == ".") return Name();
  std::string wire;
  wire.reserve(text.size() + 2);
  std::string label;
  bool absolute = false;
  auto flush = [&](bool allow_empty) -> absl::Status {
    if (label.empty() && !allow_empty) {
      return absl::InvalidArgumentError(
          fmt::format("{}{}{}", "empty label in name '", text, "'"));
    }
    if (label.size() > kMaxLabelLength) {
      return absl::InvalidArgumentError(
          fmt::format("{}{}{}", "label longer than 63 bytes in '", text, "'"));
    }
    wire.push_back(static_cast<char>(label.size()));
    wire += label;
    label.clear();
    return absl::OkStatus();
  };
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '\\') {
      if (i + 1 >= text.size()) {
        return absl::InvalidArgumentError(
            fmt::format("{}{}{}", "dangling escape in '", text, "'"));
      }
      if (std::isdigit(static_cast<unsigned char>(text[i + 1]))) {
        if (i + 3 >= text.size() ||
            !std::isdigit(static_cast<unsigned char>(text[i + 2])) ||
            !std::isdigit(static_cast<unsigned char>(text[i + 3]))) {
          return absl::InvalidArgumentError(
              fmt::format("{}{}{}", "bad \\DDD escape in '", text, "'"));
        }
        int v = (text[i + 1] - '0') * 100 + (text[i + 2] - '0') * 10 +
                (text[i + 3] - '0');
        if (v > 255) {
          return absl::InvalidArgumentError(
              fmt::format("{}{}{}", "\\DDD escape over 255 in '", text, "'"));
        }
        label.push_back(static_cast<char>(v));
        i += 3;
      } else {
        label.push_back(text[++i]);
      }
    } else if (c == '.') {
      if (absl::Status s = flush(false); !s.ok()) return s;
      if (i + 1 == text.size()) absolute = true;
    } else {
      label.push_back(c);
    }
  }
  if (!absolute) {
    if (!label.empty()) {
      if (absl::Status s = flush(false); !s.ok()) return s;
    }
    if (origin == nullptr) {
      return absl::InvalidArgumentError(
          fmt::format("{}{}{}", "relative name '", text, "' with no origin"));
    }
    wire.append(reinterpret_cast<const char*>(origin->wire().data()),
                origin->wire().size());
  } else {
    wire.push_back('\0');
  }
  if (wire.size() > kMaxNameLength) {
    return absl::InvalidArgumentError(
        fmt::format("{}{}{}", "name longer than 255 bytes: '", text, "'"));
  }
  return Name(std::move(wire));
}

Name Name::Lowercased() const {
  std::string w = wire_;
  for (char& c : w) c = static_cast<char>(AsciiLower(static_cast<uint8_t>(c)));
  return Name(std::move(w));
}

absl::Status ReadNameInto(WireReader& r, std::string& out) {
  Bytes msg = r.message();
  size_t pos = r.position();
  size_t lowest = pos;  // every pointer must go below this
  bool jumped = false;
  size_t start_len = out.size();
  auto fail = [&](const char* why) {
    r.Fail();
    out.resize(start_len);
    return absl::InvalidArgumentError(why);
  };
  if (!r.ok()) return fail("read past end");
  while (true) {
    if (pos >= msg.size()) return fail("name runs past the end of the message");
    uint8_t len = msg[pos];
    if ((len & 0xC0) == 0xC0) {
      if (pos + 1 >= msg.size()) return fail("truncated compression pointer");
      size_t target = (size_t{len & 0x3Fu} << 8) | msg[pos + 1];
      if (target >= lowest) {
        return fail(target == pos ? "compression pointer loop"
                                  : "forward compression pointer");
      }
      if (!jumped) {
        r.Seek(pos + 2);
        jumped = true;
      }
      lowest = target;
      pos = target;
      continue;
    }
    if (len & 0xC0) return fail("reserved label type");
    if (pos + 1 + len > msg.size()) return fail("label runs past the end");
    if (out.size() - start_len + len + 1 > kMaxNameLength) {
      return fail("name longer than 255 bytes");
    }
    out.append(reinterpret_cast<const char*>(msg.data() + pos), len + 1);
    pos += len + 1;
    if (len == 0) break;
  }
  if (!jumped) r.Seek(pos);
  return absl::OkStatus();
}

absl::Status ReadName(WireReader& r, Name& out) {
  std::string wire;
  if (absl::Status s = ReadNameInto(r, wire); !s.ok()) return s;
  out = *Name::FromWire(AsBytes(wire));
  return absl::OkStatus();
}

void NameCompressor::Rollback(size_t size) {
  while (!log_.empty() && log_.back().second >= size) {
    auto it = table_.find(log_.back().first);
    if (it != table_.end() && it->second == log_.back().second) {
      table_.erase(it);
    }
    log_.pop_back();
  }
}

int NameCompressor::Find(const std::vector<uint8_t>& buf, Bytes suffix,
                         uint64_t h) const {
  auto it = table_.find(h);
  if (it == table_.end()) return -1;
  // Verify against the bytes actually written (hash collisions are possible);
  // the earlier occurrence may itself end in a pointer.
  size_t pos = it->second;
  size_t i = 0;
  for (int guard = 0; guard < 256; ++guard) {
    if (pos >= buf.size()) return -1;
    uint8_t len = buf[pos];
    if ((len & 0xC0) == 0xC0) {
      if (pos + 1 >= buf.size()) return -1;
      pos = (size_t{len & 0x3Fu} << 8) | buf[pos + 1];
      continue;
    }
    if (i + len + 1 > suffix.size() || pos + len + 1 > buf.size()) return -1;
    if (std::memcmp(&buf[pos], &suffix[i], len + 1) != 0) return -1;
    i += len + 1;
    pos += len + 1;
    if (len == 0) return i == suffix.size() ? it->second : -1;
  }
  return -1;
}

void NameCompressor::Write(WireWriter& w, NameView name) {
  Bytes wire = name.wire();
  const std::vector<uint8_t>& buf = w.buffer();
  size_t i = 0;
  while (i < wire.size() && wire[i] != 0) {
    Bytes suffix = wire.subspan(i);
    uint64_t h = HashExact(suffix);
    int at = Find(buf, suffix, h);
    if (at >= 0) {
      w.U16(static_cast<uint16_t>(0xC000 | at));
      return;
    }
    size_t here = w.size();
    if (here < 0x4000 && w.ok()) {
      table_.emplace(h, static_cast<uint16_t>(here));
      log_.emplace_back(h, static_cast<uint16_t>(here));
    }
    w.Append(wire.subspan(i, wire[i] + 1));
    i += wire[i] + 1;
  }
  w.U8(0);
}

}  // namespace xfr
