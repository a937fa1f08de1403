#include "core/rdata_text.h"

#include <arpa/inet.h>

#include <algorithm>
#include <charconv>
#include <optional>

#include "core/ascii.h"
#include "core/rdata.h"
#include "core/text_codecs.h"
#include "fmt/format.h"

namespace xfr {
namespace {

using F = Field;

absl::Status Bad(std::string msg) {
  return absl::InvalidArgumentError(std::move(msg));
}

std::optional<uint64_t> ParseUint(std::string_view s, uint64_t max) {
  if (s.empty() || s.size() > 20) return std::nullopt;
  uint64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || v > max) {
    return std::nullopt;
  }
  return v;
}

bool AllDigits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    return c >= '0' && c <= '9';
  });
}

// Hex and base64 may be split across any number of tokens (RFC 4034
// §2.2, §5.3; RFC 3597 §5): join them, then decode.
bool DecodeHexTokens(absl::Span<const TextToken> toks, std::vector<uint8_t>& out) {
  std::string joined;
  for (const TextToken& t : toks) joined.append(t.text.data(), t.text.size());
  return DecodeHex(joined, out);
}

bool DecodeBase64Tokens(absl::Span<const TextToken> toks, std::vector<uint8_t>& out) {
  std::string joined;
  for (const TextToken& t : toks) joined.append(t.text.data(), t.text.size());
  return DecodeBase64(joined, out);
}

// Days since 1970-01-01 for a proleptic Gregorian date (H. Hinnant's
// algorithm), and back.
int64_t DaysFromCivil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

void CivilFromDays(int64_t z, int64_t& y, unsigned& m, unsigned& d) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  y = static_cast<int64_t>(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  d = doy - (153 * mp + 2) / 5 + 1;
  m = mp < 10 ? mp + 3 : mp - 9;
  y += m <= 2;
}

// RRSIG times (RFC 4034 §3.2): the 32-bit value is printed as seconds since
// the epoch read without wrap-around (1970-2106), so output never depends on
// the clock. BIND prints the date nearest to now instead; for any value
// within 68 years of now the two agree, and both read back to the same bits.
void AppendTime(uint32_t t, std::string& out) {
  int64_t y;
  unsigned m, d;
  CivilFromDays(t / 86400, y, m, d);
  uint32_t s = t % 86400;
  out += fmt::format("{:04}{:02}{:02}{:02}{:02}{:02}", y, m, d, s / 3600,
                     s / 60 % 60, s % 60);
}

// YYYYMMDDHHmmSS, taken modulo 2^32 as RFC 4034 §3.2 says (so BIND's
// "19620519052659" for a time past 2038+68 reads back to the same value);
// or a plain number of seconds.
std::optional<uint32_t> ParseTime(std::string_view s) {
  if (s.size() == 14 && AllDigits(s)) {
    auto num = [&](size_t at, size_t n) {
      unsigned v = 0;
      for (size_t i = at; i < at + n; ++i) v = v * 10 + unsigned(s[i] - '0');
      return v;
    };
    unsigned y = num(0, 4), mo = num(4, 2), d = num(6, 2), h = num(8, 2),
             mi = num(10, 2), se = num(12, 2);
    static constexpr unsigned kDays[] = {31, 29, 31, 30, 31, 30,
                                         31, 31, 30, 31, 30, 31};
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (mo < 1 || mo > 12 || d < 1 || d > kDays[mo - 1] ||
        (mo == 2 && d == 29 && !leap) || h > 23 || mi > 59 || se > 59) {
      return std::nullopt;
    }
    int64_t t = DaysFromCivil(y, mo, d) * 86400 + h * 3600 + mi * 60 + se;
    return static_cast<uint32_t>(static_cast<uint64_t>(t));
  }
  if (auto v = ParseUint(s, 0xFFFFFFFF)) return static_cast<uint32_t>(*v);
  return std::nullopt;
}

// A <character-string> in quotes (RFC 1035 §5.1), escaping as BIND does:
// quote and backslash with a backslash, bytes outside 0x20-0x7e as \DDD.
void AppendQuoted(Bytes b, std::string& out) {
  out.push_back('"');
  for (uint8_t c : b) {
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(static_cast<char>(c));
    } else if (c < 0x20 || c >= 0x7f) {
      out += fmt::format("\\{:03}", c);
    } else {
      out.push_back(static_cast<char>(c));
    }
  }
  out.push_back('"');
}

// CAA tags are letters and digits (RFC 8659 §4.1); anything else a peer sent
// is escaped so the text still reads back to the same bytes.
void AppendTag(Bytes b, std::string& out) {
  for (uint8_t c : b) {
    bool alnum = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
                 (c >= 'A' && c <= 'Z');
    if (alnum) {
      out.push_back(static_cast<char>(c));
    } else {
      out += fmt::format("\\{:03}", c);
    }
  }
}

// False when the bitmap breaks RFC 4034 §4.1.2 (windows ascending, 1-32
// octets each), so the caller can fall back to the generic form.
bool AppendBitmap(Bytes b, std::string& out) {
  size_t i = 0;
  int last_window = -1;
  while (i < b.size()) {
    if (i + 2 > b.size()) return false;
    int window = b[i];
    size_t len = b[i + 1];
    if (window <= last_window || len < 1 || len > 32 || i + 2 + len > b.size()) {
      return false;
    }
    last_window = window;
    for (size_t j = 0; j < len; ++j) {
      uint8_t bits = b[i + 2 + j];
      for (int k = 0; k < 8; ++k) {
        if (bits & (0x80 >> k)) {
          RRType t(static_cast<uint16_t>(window * 256 + j * 8 + k));
          out.push_back(' ');
          out += t.ToString();
        }
      }
    }
    i += 2 + len;
  }
  return true;
}

// RFC 4034 §4.1.2: one window per high byte in use, trailing zero octets
// dropped.
void WriteBitmap(std::vector<uint16_t>& types, std::vector<uint8_t>& out) {
  std::sort(types.begin(), types.end());
  types.erase(std::unique(types.begin(), types.end()), types.end());
  size_t i = 0;
  while (i < types.size()) {
    unsigned window = types[i] >> 8;
    uint8_t bits[32] = {};
    size_t len = 0;
    for (; i < types.size() && (types[i] >> 8) == window; ++i) {
      unsigned low = types[i] & 0xFF;
      bits[low / 8] |= static_cast<uint8_t>(0x80 >> (low % 8));
      len = low / 8 + 1;
    }
    out.push_back(static_cast<uint8_t>(window));
    out.push_back(static_cast<uint8_t>(len));
    out.insert(out.end(), bits, bits + len);
  }
}

// Length of the uncompressed name at the start of `b`, or 0 when there is
// no well-formed one.
size_t NameLength(Bytes b) {
  size_t i = 0;
  while (i < b.size() && b[i] != 0) {
    if (b[i] > kMaxLabelLength) return 0;
    i += b[i] + 1;
  }
  if (i >= b.size() || i + 1 > kMaxNameLength) return 0;
  return i + 1;
}

void AppendGeneric(Bytes rdata, std::string& out) {
  out += fmt::format("\\# {}", rdata.size());
  if (!rdata.empty()) {
    out.push_back(' ');
    AppendHex(rdata, out);
  }
}

const char* FieldName(F f) {
  switch (f) {
    case F::kCompressedName: case F::kDecompressName: case F::kPlainName:
      return "domain name";
    case F::kU8: return "8-bit number";
    case F::kU16: return "16-bit number";
    case F::kU32: return "32-bit number";
    case F::kTtl: return "TTL";
    case F::kTime: return "time";
    case F::kType: return "type mnemonic";
    case F::kIPv4: return "IPv4 address";
    case F::kIPv6: return "IPv6 address";
    case F::kCharString: case F::kCharStrings: return "character-string";
    case F::kBase64Rest: return "base64 data";
    case F::kHexRest: return "hex data";
    case F::kHexLen8: return "hex string or '-'";
    case F::kBase32Len8: return "base32hex string";
    case F::kTypeBitmap: return "type list";
    case F::kCaaTag: return "CAA tag";
    case F::kStringRest: return "string";
  }
  return "field";
}

std::string Shown(const TextToken& t) { return std::string(t.text); }

absl::Status ParseName(const TextToken& t, const Name* origin,
                       std::vector<uint8_t>& out) {
  if (!t.quoted && t.text == "@") {
    if (origin == nullptr) return Bad("'@' with no origin");
    out.insert(out.end(), origin->wire().begin(), origin->wire().end());
    return absl::OkStatus();
  }
  absl::StatusOr<Name> n = Name::FromText(t.text, origin);
  if (!n.ok()) return n.status();
  out.insert(out.end(), n->wire().begin(), n->wire().end());
  return absl::OkStatus();
}

absl::Status GenericFromText(RRType type, absl::Span<const TextToken> toks,
                             std::vector<uint8_t>& out) {
  if (toks.empty()) return Bad("\\# without a length (RFC 3597 §5)");
  auto len = ParseUint(toks[0].text, 65535);
  if (!len) return Bad(fmt::format("bad \\# length '{}'", Shown(toks[0])));
  if (!DecodeHexTokens(toks.subspan(1), out)) return Bad("bad hex in \\# RDATA");
  if (out.size() != *len) {
    return Bad(fmt::format("\\# length mismatch: {} declared, {} given", *len,
                           out.size()));
  }
  if (absl::Status s = ValidateRdata(type, Bytes(out.data(), out.size()));
      !s.ok()) {
    return Bad(fmt::format("\\# RDATA is not valid {}: {}", type.ToString(),
                           ToStd(s.message())));
  }
  return absl::OkStatus();
}

void PushU16(std::vector<uint8_t>& out, uint16_t v) {
  out.push_back(static_cast<uint8_t>(v >> 8));
  out.push_back(static_cast<uint8_t>(v));
}
void PushU32(std::vector<uint8_t>& out, uint32_t v) {
  out.push_back(static_cast<uint8_t>(v >> 24));
  out.push_back(static_cast<uint8_t>(v >> 16));
  out.push_back(static_cast<uint8_t>(v >> 8));
  out.push_back(static_cast<uint8_t>(v));
}

absl::Status CharStringFromToken(const TextToken& t, std::string& scratch,
                                 std::vector<uint8_t>& out) {
  scratch.clear();
  if (!UnescapeText(t.text, scratch)) {
    return Bad(fmt::format("bad escape in '{}'", Shown(t)));
  }
  if (scratch.size() > 255) {
    return Bad(fmt::format("character-string longer than 255 bytes ({})",
                           scratch.size()));
  }
  out.push_back(static_cast<uint8_t>(scratch.size()));
  out.insert(out.end(), scratch.begin(), scratch.end());
  return absl::OkStatus();
}

}  // namespace

bool UnescapeText(std::string_view raw, std::string& out) {
  for (size_t i = 0; i < raw.size(); ++i) {
    char c = raw[i];
    if (c != '\\') {
      out.push_back(c);
      continue;
    }
    if (i + 1 >= raw.size()) return false;
    char n = raw[i + 1];
    if (n >= '0' && n <= '9') {
      if (i + 3 >= raw.size()) return false;
      char b = raw[i + 2], d = raw[i + 3];
      if (b < '0' || b > '9' || d < '0' || d > '9') return false;
      int v = (n - '0') * 100 + (b - '0') * 10 + (d - '0');
      if (v > 255) return false;
      out.push_back(static_cast<char>(v));
      i += 3;
    } else {
      out.push_back(n);
      ++i;
    }
  }
  return true;
}

std::optional<uint32_t> ParseTtl(std::string_view s) {
  if (s.empty()) return std::nullopt;
  if (AllDigits(s)) {
    auto v = ParseUint(s, 0xFFFFFFFF);
    if (!v) return std::nullopt;
    return static_cast<uint32_t>(*v);
  }
  uint64_t total = 0;
  size_t i = 0;
  while (i < s.size()) {
    size_t start = i;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i;
    if (i == start || i == s.size() || i - start > 10) return std::nullopt;
    uint64_t n = 0;
    for (size_t k = start; k < i; ++k) n = n * 10 + unsigned(s[k] - '0');
    uint64_t unit;
    switch (s[i] | 0x20) {
      case 'w': unit = 604800; break;
      case 'd': unit = 86400; break;
      case 'h': unit = 3600; break;
      case 'm': unit = 60; break;
      case 's': unit = 1; break;
      default: return std::nullopt;
    }
    ++i;
    total += n * unit;
    if (total > 0xFFFFFFFF) return std::nullopt;
  }
  return static_cast<uint32_t>(total);
}

void AppendRdataText(RRType type, Bytes rdata, std::string& out) {
  auto schema = FindRdataSchema(type);
  if (!schema) {
    AppendGeneric(rdata, out);
    return;
  }
  // The walk checks the layout as it prints; RDATA that does not fit it
  // (a caller skipped validation) is rewound and printed losslessly in the
  // generic form instead.
  const size_t start = out.size();
  bool fits = true;
  WireReader r(rdata);
  bool first = true;
  for (F f : schema->fields) {
    if (r.remaining() == 0 &&
        (f == F::kBase64Rest || f == F::kHexRest || f == F::kTypeBitmap)) {
      continue;  // an empty tail prints as nothing
    }
    // The bitmap writes its own separators, one before each type.
    if (!first && f != F::kTypeBitmap) out.push_back(' ');
    first = false;
    switch (f) {
      case F::kCompressedName: case F::kDecompressName: case F::kPlainName: {
        size_t len = NameLength(rdata.subspan(r.position()));
        fits &= len > 0;
        out += NameView(r.Take(len)).ToText();
        break;
      }
      case F::kU8: out += fmt::format("{}", r.U8()); break;
      case F::kU16: out += fmt::format("{}", r.U16()); break;
      case F::kU32: case F::kTtl: out += fmt::format("{}", r.U32()); break;
      case F::kTime: AppendTime(r.U32(), out); break;
      case F::kType: out += RRType(r.U16()).ToString(); break;
      case F::kIPv4: case F::kIPv6: {
        char buf[INET6_ADDRSTRLEN];
        bool v4 = f == F::kIPv4;
        Bytes a = r.Take(v4 ? 4 : 16);
        if (!r.ok()) break;
        inet_ntop(v4 ? AF_INET : AF_INET6, a.data(), buf, sizeof buf);
        out += buf;
        break;
      }
      case F::kCharString: AppendQuoted(r.Take(r.U8()), out); break;
      case F::kCharStrings:
        fits &= r.remaining() > 0;  // TXT holds at least one string
        while (r.remaining() > 0) {
          AppendQuoted(r.Take(r.U8()), out);
          if (r.remaining() > 0) out.push_back(' ');
        }
        break;
      case F::kBase64Rest: AppendBase64(r.Take(r.remaining()), out); break;
      case F::kHexRest: AppendHex(r.Take(r.remaining()), out); break;
      case F::kHexLen8: {
        Bytes salt = r.Take(r.U8());
        if (salt.empty()) {
          out.push_back('-');  // RFC 5155 §3.3
        } else {
          AppendHex(salt, out);
        }
        break;
      }
      case F::kBase32Len8: {
        Bytes hash = r.Take(r.U8());
        fits &= !hash.empty();
        AppendBase32Hex(hash, out);
        break;
      }
      case F::kTypeBitmap:
        fits &= AppendBitmap(r.Take(r.remaining()), out);
        break;
      case F::kCaaTag: {
        Bytes tag = r.Take(r.U8());
        fits &= !tag.empty();
        AppendTag(tag, out);
        break;
      }
      case F::kStringRest: AppendQuoted(r.Take(r.remaining()), out); break;
    }
    if (!r.ok() || !fits) break;
  }
  if (!r.ok() || !fits || r.remaining() != 0) {
    out.resize(start);
    AppendGeneric(rdata, out);
  }
}

std::string RdataToText(RRType type, Bytes rdata) {
  std::string out;
  AppendRdataText(type, rdata, out);
  return out;
}

absl::Status RdataFromText(RRType type, absl::Span<const TextToken> toks,
                           const Name* origin, std::vector<uint8_t>& out) {
  out.clear();
  if (!toks.empty() && !toks[0].quoted && toks[0].text == "\\#") {
    return GenericFromText(type, toks.subspan(1), out);
  }
  auto schema = FindRdataSchema(type);
  if (!schema) {
    return Bad(fmt::format(
        "no presentation format for {} here; use \\# (RFC 3597 §5)",
        type.ToString()));
  }
  std::string scratch;
  size_t i = 0;
  for (F f : schema->fields) {
    bool takes_rest = f == F::kCharStrings || f == F::kBase64Rest ||
                      f == F::kHexRest || f == F::kTypeBitmap;
    bool may_be_empty = f == F::kBase64Rest || f == F::kHexRest ||
                        f == F::kTypeBitmap;
    if (i >= toks.size() && !may_be_empty) {
      return Bad(fmt::format("{} RDATA ends early: missing {}",
                             type.ToString(), FieldName(f)));
    }
    if (takes_rest) {
      auto rest = toks.subspan(i);
      i = toks.size();
      switch (f) {
        case F::kCharStrings:
          for (const TextToken& t : rest) {
            if (auto s = CharStringFromToken(t, scratch, out); !s.ok()) return s;
          }
          break;
        case F::kBase64Rest:
          if (!DecodeBase64Tokens(rest, out)) return Bad("bad base64 data");
          break;
        case F::kHexRest:
          if (!DecodeHexTokens(rest, out)) return Bad("bad hex data");
          break;
        default: {  // kTypeBitmap
          std::vector<uint16_t> types;
          types.reserve(rest.size());
          for (const TextToken& t : rest) {
            auto rt = RRType::FromString(t.text);
            if (!rt) {
              return Bad(fmt::format("unknown type mnemonic '{}'", Shown(t)));
            }
            types.push_back(rt->value());
          }
          WriteBitmap(types, out);
          break;
        }
      }
      continue;
    }
    const TextToken& t = toks[i++];
    switch (f) {
      case F::kCompressedName: case F::kDecompressName: case F::kPlainName:
        if (auto s = ParseName(t, origin, out); !s.ok()) return s;
        break;
      case F::kU8: case F::kU16: case F::kU32: {
        uint64_t max = f == F::kU8 ? 0xFF : f == F::kU16 ? 0xFFFF : 0xFFFFFFFF;
        auto v = ParseUint(t.text, max);
        if (!v) {
          return Bad(AllDigits(t.text)
                         ? fmt::format("number {} out of range (max {})",
                                       Shown(t), max)
                         : fmt::format("bad number '{}'", Shown(t)));
        }
        if (f == F::kU8) {
          out.push_back(static_cast<uint8_t>(*v));
        } else if (f == F::kU16) {
          PushU16(out, static_cast<uint16_t>(*v));
        } else {
          PushU32(out, static_cast<uint32_t>(*v));
        }
        break;
      }
      case F::kTtl: {
        auto v = ParseTtl(t.text);
        if (!v) return Bad(fmt::format("bad TTL '{}'", Shown(t)));
        PushU32(out, *v);
        break;
      }
      case F::kTime: {
        auto v = ParseTime(t.text);
        if (!v) return Bad(fmt::format("bad time '{}'", Shown(t)));
        PushU32(out, *v);
        break;
      }
      case F::kType: {
        auto rt = RRType::FromString(t.text);
        if (!rt) return Bad(fmt::format("unknown type mnemonic '{}'", Shown(t)));
        PushU16(out, rt->value());
        break;
      }
      case F::kIPv4: case F::kIPv6: {
        bool v4 = f == F::kIPv4;
        uint8_t buf[16];
        std::string z(t.text);
        if (inet_pton(v4 ? AF_INET : AF_INET6, z.c_str(), buf) != 1) {
          return Bad(fmt::format("bad {} address '{}'", v4 ? "IPv4" : "IPv6",
                                 Shown(t)));
        }
        out.insert(out.end(), buf, buf + (v4 ? 4 : 16));
        break;
      }
      case F::kCharString:
        if (auto s = CharStringFromToken(t, scratch, out); !s.ok()) return s;
        break;
      case F::kHexLen8: {
        size_t at = out.size();
        out.push_back(0);
        if (!t.quoted && t.text == "-") break;
        if (!DecodeHex(t.text, out) || out.size() == at + 1) {
          return Bad(fmt::format("bad hex string '{}'", Shown(t)));
        }
        if (out.size() - at - 1 > 255) return Bad("hex string over 255 bytes");
        out[at] = static_cast<uint8_t>(out.size() - at - 1);
        break;
      }
      case F::kBase32Len8: {
        size_t at = out.size();
        out.push_back(0);
        if (!DecodeBase32Hex(t.text, out) || out.size() == at + 1) {
          return Bad(fmt::format("bad base32hex '{}'", Shown(t)));
        }
        if (out.size() - at - 1 > 255) return Bad("base32hex over 255 bytes");
        out[at] = static_cast<uint8_t>(out.size() - at - 1);
        break;
      }
      case F::kCaaTag: {
        scratch.clear();
        if (!UnescapeText(t.text, scratch) || scratch.empty() ||
            scratch.size() > 255) {
          return Bad(fmt::format("bad CAA tag '{}'", Shown(t)));
        }
        out.push_back(static_cast<uint8_t>(scratch.size()));
        out.insert(out.end(), scratch.begin(), scratch.end());
        break;
      }
      case F::kStringRest:
        scratch.clear();
        if (!UnescapeText(t.text, scratch)) {
          return Bad(fmt::format("bad escape in '{}'", Shown(t)));
        }
        out.insert(out.end(), scratch.begin(), scratch.end());
        break;
      default:
        break;
    }
  }
  if (i < toks.size()) {
    return Bad(fmt::format("trailing data '{}' after {} RDATA",
                           Shown(toks[i]), type.ToString()));
  }
  if (out.size() > 65535) return Bad("RDATA longer than 65535 bytes");
  return absl::OkStatus();
}

absl::Status RdataFromString(RRType type, std::string_view text,
                             const Name* origin, std::vector<uint8_t>& out) {
  std::vector<TextToken> toks;
  size_t i = 0;
  while (i < text.size()) {
    char c = text[i];
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
      ++i;
      continue;
    }
    bool quoted = c == '"';
    size_t start = quoted ? ++i : i;
    while (i < text.size()) {
      char d = text[i];
      if (d == '\\') {
        i += 2;
        continue;
      }
      if (quoted ? d == '"' : (d == ' ' || d == '\t' || d == '\n' || d == '"')) {
        break;
      }
      ++i;
    }
    i = std::min(i, text.size());
    if (quoted && i >= text.size()) return Bad("unterminated quoted string");
    toks.push_back(TextToken{text.substr(start, i - start), quoted});
    if (quoted) ++i;
  }
  return RdataFromText(type, toks, origin, out);
}

}  // namespace xfr
