#include "core/text_codecs.h"

namespace xfr {
namespace {

constexpr char kHexDigits[] = "0123456789ABCDEF";
constexpr char kBase64Alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
// RFC 4648 §7, as NSEC3 uses it (RFC 5155 §3.3).
constexpr char kBase32HexAlphabet[] = "0123456789ABCDEFGHIJKLMNOPQRSTUV";

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

int Base64Value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

int Base32HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'V') return c - 'A' + 10;
  if (c >= 'a' && c <= 'v') return c - 'a' + 10;
  return -1;
}

}  // namespace

void AppendHex(Bytes b, std::string& out) {
  for (uint8_t c : b) {
    out.push_back(kHexDigits[c >> 4]);
    out.push_back(kHexDigits[c & 15]);
  }
}

bool DecodeHex(std::string_view text, std::vector<uint8_t>& out) {
  int high = -1;
  {
    for (char c : text) {
      int v = HexValue(c);
      if (v < 0) return false;
      if (high < 0) {
        high = v;
      } else {
        out.push_back(static_cast<uint8_t>(high << 4 | v));
        high = -1;
      }
    }
  }
  return high < 0;
}

void AppendBase64(Bytes b, std::string& out) {
  size_t i = 0;
  for (; i + 3 <= b.size(); i += 3) {
    uint32_t v = uint32_t{b[i]} << 16 | uint32_t{b[i + 1]} << 8 | b[i + 2];
    out.push_back(kBase64Alphabet[v >> 18]);
    out.push_back(kBase64Alphabet[(v >> 12) & 63]);
    out.push_back(kBase64Alphabet[(v >> 6) & 63]);
    out.push_back(kBase64Alphabet[v & 63]);
  }
  if (size_t left = b.size() - i; left > 0) {
    uint32_t v = uint32_t{b[i]} << 16 | (left == 2 ? uint32_t{b[i + 1]} << 8 : 0);
    out.push_back(kBase64Alphabet[v >> 18]);
    out.push_back(kBase64Alphabet[(v >> 12) & 63]);
    out.push_back(left == 2 ? kBase64Alphabet[(v >> 6) & 63] : '=');
    out.push_back('=');
  }
}

bool DecodeBase64(std::string_view text, std::vector<uint8_t>& out) {
  uint32_t acc = 0;
  int n = 0;    // sextets in the current quantum
  int pad = 0;  // '=' seen
  {
    for (char c : text) {
      if (c == '=') {
        if (n < 2) return false;
        ++pad;
        acc <<= 6;
        ++n;
      } else {
        int v = Base64Value(c);
        if (v < 0 || pad > 0) return false;
        acc = acc << 6 | static_cast<uint32_t>(v);
        ++n;
      }
      if (n == 4) {
        if (pad > 2) return false;
        out.push_back(static_cast<uint8_t>(acc >> 16));
        if (pad < 2) out.push_back(static_cast<uint8_t>(acc >> 8));
        if (pad < 1) out.push_back(static_cast<uint8_t>(acc));
        if ((pad == 2 && (acc & 0xFFFF) != 0) || (pad == 1 && (acc & 0xFF) != 0)) {
          return false;
        }
        if (pad > 0) pad = 3;  // nothing may follow padding
        acc = 0;
        n = 0;
      }
    }
  }
  return n == 0;
}

void AppendBase32Hex(Bytes b, std::string& out) {
  uint32_t acc = 0;
  int bits = 0;
  for (uint8_t c : b) {
    acc = (acc << 8) | c;
    bits += 8;
    while (bits >= 5) {
      out.push_back(kBase32HexAlphabet[(acc >> (bits - 5)) & 31]);
      bits -= 5;
    }
  }
  if (bits > 0) out.push_back(kBase32HexAlphabet[(acc << (5 - bits)) & 31]);
}

bool DecodeBase32Hex(std::string_view s, std::vector<uint8_t>& out) {
  uint32_t acc = 0;
  int bits = 0;
  for (char c : s) {
    int v = Base32HexValue(c);
    if (v < 0) return false;
    acc = (acc << 5) | static_cast<uint32_t>(v);
    bits += 5;
    if (bits >= 8) {
      out.push_back(static_cast<uint8_t>(acc >> (bits - 8)));
      bits -= 8;
    }
  }
  return bits < 5 && (acc & ((1u << bits) - 1)) == 0;
}


}  // namespace xfr
