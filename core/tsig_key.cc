#include "core/tsig_key.h"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "core/ascii.h"
#include "fmt/format.h"

namespace xfr {
namespace {

struct AlgorithmInfo {
  TsigAlgorithm algorithm;
  std::string_view name;     // presentation form, trailing dot
  std::string_view wire;     // uncompressed wire form, lowercase
  const char* digest;        // OpenSSL digest name
  size_t mac_length;
};

// Wire forms written out so that NameView can point at static storage.
constexpr AlgorithmInfo kAlgorithms[] = {
    {TsigAlgorithm::kHmacSha1, "hmac-sha1.", std::string_view("\x09hmac-sha1\x00", 11),
     "SHA1", 20},
    {TsigAlgorithm::kHmacSha224, "hmac-sha224.",
     std::string_view("\x0bhmac-sha224\x00", 13), "SHA224", 28},
    {TsigAlgorithm::kHmacSha256, "hmac-sha256.",
     std::string_view("\x0bhmac-sha256\x00", 13), "SHA256", 32},
    {TsigAlgorithm::kHmacSha384, "hmac-sha384.",
     std::string_view("\x0bhmac-sha384\x00", 13), "SHA384", 48},
    {TsigAlgorithm::kHmacSha512, "hmac-sha512.",
     std::string_view("\x0bhmac-sha512\x00", 13), "SHA512", 64},
};

const AlgorithmInfo& Info(TsigAlgorithm a) {
  for (const auto& i : kAlgorithms) {
    if (i.algorithm == a) return i;
  }
  return kAlgorithms[2];  // unreachable: every enumerator is in the table
}

}  // namespace

std::string_view TsigAlgorithmName(TsigAlgorithm a) { return Info(a).name; }

NameView TsigAlgorithmWireName(TsigAlgorithm a) {
  return NameView(AsBytes(Info(a).wire));
}

size_t TsigMacLength(TsigAlgorithm a) { return Info(a).mac_length; }

std::optional<TsigAlgorithm> ParseTsigAlgorithm(std::string_view text) {
  if (!text.empty() && text.back() == '.') text.remove_suffix(1);
  for (const auto& i : kAlgorithms) {
    std::string_view n = i.name.substr(0, i.name.size() - 1);
    if (EqualsIgnoreCase(text, n)) return i.algorithm;
  }
  return std::nullopt;
}

std::optional<TsigAlgorithm> TsigAlgorithmFromWire(NameView name) {
  for (const auto& i : kAlgorithms) {
    if (name.EqualsIgnoreCase(NameView(AsBytes(i.wire)))) return i.algorithm;
  }
  return std::nullopt;
}

absl::StatusOr<TsigKey> MakeTsigKey(std::string_view name,
                                    std::string_view algorithm,
                                    std::string_view base64_secret) {
  std::optional<TsigAlgorithm> alg = ParseTsigAlgorithm(algorithm);
  if (!alg) {
    return absl::InvalidArgumentError(fmt::format(
        "TSIG key {}: unknown algorithm \"{}\" (expected hmac-sha1, "
        "hmac-sha224, hmac-sha256, hmac-sha384 or hmac-sha512)",
        name, algorithm));
  }
  // Key names are absolute; configuration often leaves the dot out.
  std::string text(name);
  if (text.empty() || text.back() != '.') text.push_back('.');
  absl::StatusOr<Name> n = Name::FromText(text);
  if (!n.ok()) {
    return absl::InvalidArgumentError(fmt::format(
        "TSIG key name \"{}\": {}", name, ToStd(n.status().message())));
  }
  std::string secret;
  if (!absl::Base64Unescape(
          absl::string_view(base64_secret.data(), base64_secret.size()),
          &secret)) {
    return absl::InvalidArgumentError(
        fmt::format("TSIG key {}: secret is not valid base64", name));
  }
  if (secret.empty()) {
    return absl::InvalidArgumentError(
        fmt::format("TSIG key {}: secret is empty", name));
  }
  return TsigKey{*std::move(n), *alg,
                 std::vector<uint8_t>(secret.begin(), secret.end())};
}

const TsigKey* FindTsigKey(absl::Span<const TsigKey> keys, NameView name) {
  for (const TsigKey& k : keys) {
    if (k.name.view().EqualsIgnoreCase(name)) return &k;
  }
  return nullptr;
}

absl::StatusOr<TsigMac> TsigMac::Create(const TsigKey& key) {
  EVP_MAC* mac = EVP_MAC_fetch(nullptr, OSSL_MAC_NAME_HMAC, nullptr);
  if (mac == nullptr) return absl::InternalError("OpenSSL has no HMAC");
  EVP_MAC_CTX* ctx = EVP_MAC_CTX_new(mac);
  // The context holds its own reference to the algorithm.
  EVP_MAC_free(mac);
  if (ctx == nullptr) return absl::InternalError("EVP_MAC_CTX_new failed");
  const AlgorithmInfo& info = Info(key.algorithm);
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
                                       const_cast<char*>(info.digest), 0),
      OSSL_PARAM_construct_end()};
  // HMAC with an empty key is legal crypto, but OpenSSL wants a non-null
  // pointer to set one.
  static const uint8_t kEmpty[1] = {0};
  const uint8_t* k = key.secret.empty() ? kEmpty : key.secret.data();
  if (EVP_MAC_init(ctx, k, key.secret.size(), params) != 1) {
    EVP_MAC_CTX_free(ctx);
    return absl::InternalError(
        fmt::format("cannot initialise {} for key {}", info.name,
                    key.name.ToText()));
  }
  return TsigMac(ctx, key.algorithm);
}

TsigMac::TsigMac(TsigMac&& o) noexcept
    : ctx_(std::exchange(o.ctx_, nullptr)), algorithm_(o.algorithm_),
      ok_(o.ok_) {}

TsigMac& TsigMac::operator=(TsigMac&& o) noexcept {
  if (this != &o) {
    EVP_MAC_CTX_free(ctx_);
    ctx_ = std::exchange(o.ctx_, nullptr);
    algorithm_ = o.algorithm_;
    ok_ = o.ok_;
  }
  return *this;
}

TsigMac::~TsigMac() { EVP_MAC_CTX_free(ctx_); }

void TsigMac::Begin() {
  // A null key re-initialises HMAC with the key already set (OpenSSL 3
  // hmac_init), which skips the key schedule.
  ok_ = ctx_ != nullptr && EVP_MAC_init(ctx_, nullptr, 0, nullptr) == 1;
}

void TsigMac::Update(Bytes data) {
  if (!ok_ || data.empty()) return;
  ok_ = EVP_MAC_update(ctx_, data.data(), data.size()) == 1;
}

bool TsigMac::End(uint8_t* out) {
  if (!ok_) return false;
  size_t n = 0;
  ok_ = EVP_MAC_final(ctx_, out, &n, kMaxTsigMacLength) == 1 && n == length();
  return ok_;
}

}  // namespace xfr
