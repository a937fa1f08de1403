// Binary-to-text encodings used by master files and the config: hex, base64
// (RFC 4648 §4) and unpadded base32hex (RFC 4648 §7, as NSEC3 uses it). The
// decoders are strict, so every text has at most one binary form: whole
// base64 quanta with '=' only as final padding and unused bits zero; hex in
// whole octets; base32hex with fewer than 5 zero leftover bits.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/wire.h"

namespace xfr {

void AppendHex(Bytes b, std::string& out);  // upper case, as BIND prints
[[nodiscard]] bool DecodeHex(std::string_view text, std::vector<uint8_t>& out);

void AppendBase64(Bytes b, std::string& out);
[[nodiscard]] bool DecodeBase64(std::string_view text, std::vector<uint8_t>& out);

void AppendBase32Hex(Bytes b, std::string& out);  // unpadded
[[nodiscard]] bool DecodeBase32Hex(std::string_view text, std::vector<uint8_t>& out);

}  // namespace xfr
