// RDATA in presentation format (RFC 1035 §5.1, RFC 3597 §5, and the
// per-type RFCs), driven by the layout table of core/rdata.h so that no
// type-specific knowledge lives here twice. Output follows what BIND prints
// with `named-compilezone -s full`: names absolute, character-strings quoted,
// hex upper case, RRSIG times as YYYYMMDDHHmmSS; types without a layout (and
// RDATA that does not fit its layout) print in the RFC 3597 generic form.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/types/span.h"
#include "core/name.h"
#include "core/types.h"
#include "core/wire.h"

namespace xfr {

// One master-file token: its raw text (escapes not yet decoded; without the
// surrounding quotes when quoted). Quoting matters: `\#` and `@` are only
// special when unquoted, and a quoted token may be empty or hold spaces.
struct TextToken {
  std::string_view text;
  bool quoted = false;
};

// Appends the presentation form of `rdata` to `out`.
void AppendRdataText(RRType type, Bytes rdata, std::string& out);
std::string RdataToText(RRType type, Bytes rdata);

// Parses the RDATA tokens of one record into uncompressed wire form,
// replacing `out`. Relative names (and `@`) are completed with `origin`; with
// a null origin they are an error. Every type accepts the RFC 3597 `\# LEN
// HEX` form, which is checked against the type's layout when it has one.
absl::Status RdataFromText(RRType type, absl::Span<const TextToken> tokens,
                           const Name* origin, std::vector<uint8_t>& out);

// Convenience for tests and tools: splits `text` on blanks, honouring
// double quotes (no comments, no parentheses), then parses as above.
absl::Status RdataFromString(RRType type, std::string_view text,
                             const Name* origin, std::vector<uint8_t>& out);

// A TTL or duration as BIND accepts it: plain seconds, or numbers each
// followed by a unit w/d/h/m/s in any case ("1w2d3h4m5s"). nullopt when the
// text is not one or exceeds 32 bits.
std::optional<uint32_t> ParseTtl(std::string_view text);

// Decodes \X and \DDD escapes of a character-string or unquoted token;
// false on a dangling escape or a \DDD over 255.
bool UnescapeText(std::string_view raw, std::string& out);

}  // namespace xfr
