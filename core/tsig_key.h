// TSIG keys and the keyed HMAC that signs with them (RFC 8945 §6). Kept apart
// from the message-level signing rules in tsig.h: a key is configuration, the
// MAC is a crypto primitive, and neither knows about DNS messages.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "core/name.h"
#include "core/wire.h"

// OpenSSL's context type, declared here so that users of this header do not
// pull in the OpenSSL headers (openssl/types.h spells it the same way).
typedef struct evp_mac_ctx_st EVP_MAC_CTX;

namespace xfr {

// The HMAC algorithms of RFC 8945 §6 that a server is expected to support
// (hmac-md5 and GSS-TSIG are out of scope).
enum class TsigAlgorithm {
  kHmacSha1,
  kHmacSha224,
  kHmacSha256,
  kHmacSha384,
  kHmacSha512,
};

inline constexpr size_t kMaxTsigMacLength = 64;  // SHA-512 output

// The algorithm's domain name in presentation form: "hmac-sha256.".
std::string_view TsigAlgorithmName(TsigAlgorithm a);
// The same name in wire form (lowercase, as the digest needs it, §4.3.3).
NameView TsigAlgorithmWireName(TsigAlgorithm a);
// Full HMAC output length in octets.
size_t TsigMacLength(TsigAlgorithm a);
// From configuration text: "hmac-sha256" or "hmac-sha256.", any case.
std::optional<TsigAlgorithm> ParseTsigAlgorithm(std::string_view text);
// From the Algorithm Name of a TSIG record (case-insensitive).
std::optional<TsigAlgorithm> TsigAlgorithmFromWire(NameView name);

struct TsigKey {
  Name name;
  TsigAlgorithm algorithm = TsigAlgorithm::kHmacSha256;
  std::vector<uint8_t> secret;

  // The same key byte for byte (name spelling included), so a reload can
  // tell whether anything signed with it must be redone.
  friend bool operator==(const TsigKey& a, const TsigKey& b) {
    return a.name.Identical(b.name) && a.algorithm == b.algorithm && a.secret == b.secret;
  }
};

// Builds a key from configuration strings. The name may omit its trailing
// dot (key names are absolute). Errors name what is wrong: unknown
// algorithm, bad base64, empty secret, bad name.
absl::StatusOr<TsigKey> MakeTsigKey(std::string_view name,
                                    std::string_view algorithm,
                                    std::string_view base64_secret);

// The key whose name equals `name` (case-insensitively), or null.
const TsigKey* FindTsigKey(absl::Span<const TsigKey> keys, NameView name);

// A keyed HMAC context for one key. The algorithm is fetched and the key
// schedule computed once; Begin() rewinds to the keyed state, so one
// TsigMac serves every message of a transfer.
class TsigMac {
 public:
  static absl::StatusOr<TsigMac> Create(const TsigKey& key);
  TsigMac(TsigMac&& o) noexcept;
  TsigMac& operator=(TsigMac&& o) noexcept;
  TsigMac(const TsigMac&) = delete;
  TsigMac& operator=(const TsigMac&) = delete;
  ~TsigMac();

  TsigAlgorithm algorithm() const { return algorithm_; }
  size_t length() const { return TsigMacLength(algorithm_); }

  // Starts a new MAC computation with the same key.
  void Begin();
  void Update(Bytes data);
  // Writes length() octets to `out`. False when OpenSSL failed anywhere
  // since Begin() (the failure is sticky, like the wire cursor's).
  [[nodiscard]] bool End(uint8_t* out);

 private:
  TsigMac(EVP_MAC_CTX* ctx, TsigAlgorithm a) : ctx_(ctx), algorithm_(a) {}

  EVP_MAC_CTX* ctx_ = nullptr;
  TsigAlgorithm algorithm_;
  bool ok_ = true;
};

}  // namespace xfr
