// TSIG signing and verification (RFC 8945) for requests, single answers and
// multi-message transfer streams. No I/O and no clock: the time is always
// passed in.
//
// Messages are handled as lists of byte spans so that a server can sign an
// answer made of [its own 12-byte header copy][question][shared pre-encoded
// body] without concatenating them; the TSIG RR comes back as bytes for the
// caller to send as one more iovec after incrementing ARCOUNT in its header
// copy. Received messages are verified in place: the 12-byte header is
// copied and patched (original ID, ARCOUNT - 1, §4.3.1) and the rest is
// digested straight from the buffer.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "core/message.h"
#include "core/tsig_key.h"
#include "core/tsig_record.h"
#include "core/types.h"
#include "core/wire.h"

namespace xfr {

inline constexpr uint16_t kDefaultTsigFudge = 300;  // §10: 300 s recommended
// §5.3.1: a client accepts up to 99 unsigned messages between signed ones.
inline constexpr int kMaxUnsignedTsigMessages = 99;

// §5.2.2.1: the shortest MAC a receiver may accept for this algorithm, the
// larger of 10 octets and half the hash output (rounded up).
size_t TsigMinMacLength(TsigAlgorithm a);

// "BADSIG", "BADKEY", ... for TSIG error codes (which share numbers with
// other RCODEs, so Rcode::ToString() cannot tell them apart).
std::string TsigErrorName(Rcode e);

// Appends the TSIG variables that enter the digest (§4.3.3): key name and
// algorithm in canonical (lowercase) form, class ANY, TTL 0, time signed,
// fudge, error, other len, other data. With `timers_only`, just time signed
// and fudge, as for the later messages of a stream (§5.3.1).
void AppendTsigVariables(std::vector<uint8_t>& out, const TsigRecord& t,
                         bool timers_only);

// The primitive everything else uses: the MAC over
//   [prior MAC size + prior MAC] (a response's request MAC, §4.3.3, or the
//                                 previous message's MAC, §5.3.1)
//   parts...                    (the message as it was before the TSIG RR
//                                 was added, in order)
//   TSIG variables of `t`       (full or timers only)
// written to `out` (resized to the full MAC length).
absl::Status ComputeTsigMac(TsigMac& mac, std::optional<Bytes> prior_mac,
                            absl::Span<const Bytes> parts, const TsigRecord& t,
                            bool timers_only, std::vector<uint8_t>& out);

// Adds one to ARCOUNT in a message header (at least 12 bytes).
void IncrementArcount(MutableBytes header);
// Appends a TSIG RR to a whole message and counts it in ARCOUNT.
void AppendTsigRecord(std::vector<uint8_t>& message, Bytes tsig_rr);

// --- Client side -----------------------------------------------------------

// Signs a request in place (appends the TSIG RR, ARCOUNT + 1) and returns
// its MAC, which the answer's verifier needs (§4.3.3 Request MAC).
absl::StatusOr<std::vector<uint8_t>> SignTsigQuery(
    const TsigKey& key, std::vector<uint8_t>& query, absl::Time now,
    uint16_t fudge = kDefaultTsigFudge);

// Verifies the answer messages to one signed request, in order (§5.3.1):
// the first message must be signed and its MAC covers the request MAC, the
// message and all TSIG variables; every later signed message covers the
// prior MAC, every unsigned message since the last signed one, itself and
// the timers only. At most 99 unsigned messages in a row; the last message
// must be signed (Finish()). Every signed message is checked against the
// fudge. After the first failure every Feed() fails the same way.
class TsigStreamVerifier {
 public:
  static absl::StatusOr<TsigStreamVerifier> Create(const TsigKey& key,
                                                   Bytes request_mac);

  // `message` is the whole received message; `tsig` and `tsig_offset` are
  // the parsed TSIG RR and where it starts, or null when unsigned.
  absl::Status Feed(Bytes message, const TsigRecord* tsig, size_t tsig_offset,
                    absl::Time now);
  // Same, with the TSIG location taken from the parsed message.
  absl::Status Feed(Bytes message, const Message& parsed, absl::Time now) {
    return Feed(message, parsed.tsig ? &*parsed.tsig : nullptr,
                parsed.tsig_offset, now);
  }
  // Call after the last message: fails when it was unsigned or nothing came.
  absl::Status Finish() const;

  // The TSIG error behind a failure: kBadSig, kBadKey, kBadTime, kFormErr,
  // or the error the server reported; kNoError while all is well.
  Rcode error() const { return error_; }
  int messages() const { return messages_; }
  int signed_messages() const { return signed_; }

 private:
  TsigStreamVerifier(const TsigKey& key, TsigMac mac, Bytes request_mac);
  absl::Status Fail(Rcode error, std::string text);
  void StartRun();

  Name key_name_;
  TsigMac mac_;
  std::vector<uint8_t> prior_mac_;
  bool run_open_ = false;  // digest started (prior MAC and unsigned messages)
  int unsigned_run_ = 0;
  int messages_ = 0;
  int signed_ = 0;
  Rcode error_ = Rcode::kNoError;
  absl::Status status_;
};

// --- Server side -----------------------------------------------------------

// The outcome of checking a signed request (§5.2).
struct TsigRequestCheck {
  // kNoError; kBadKey (unknown key or algorithm mismatch, §5.2.1); kBadSig
  // (wrong or empty MAC, §5.2.2); kBadTime (outside fudge, §5.2.3);
  // kBadTrunc (truncated below local policy, §5.2.4); kFormErr (MAC longer
  // than the hash or shorter than §5.2.2.1 allows, or a malformed message:
  // answer FORMERR without TSIG).
  Rcode error = Rcode::kNoError;
  const TsigKey* key = nullptr;  // the matching key; null on BADKEY/FORMERR
  TsigRecord request;            // the request's TSIG, echoed in answers
  std::string detail;            // for logs

  bool ok() const { return error == Rcode::kNoError; }
};

struct TsigPolicy {
  // Shortest accepted MAC; 0 accepts every truncation §5.2.2.1 allows.
  // Shorter MACs that §5.2.2.1 allows get BADTRUNC.
  size_t min_mac_length = 0;
};

// Checks a request's TSIG (§5.2) against the configured keys. `message` is
// the whole request, `tsig` its parsed TSIG RR starting at `tsig_offset`.
TsigRequestCheck VerifyTsigRequest(absl::Span<const TsigKey> keys,
                                   Bytes message, const TsigRecord& tsig,
                                   size_t tsig_offset, absl::Time now,
                                   const TsigPolicy& policy = {});

// Finishes an error answer to a request that failed the check (§5.3.2):
// sets RCODE NOTAUTH and appends a TSIG RR carrying the error. BADKEY and
// BADSIG answers are unsigned (empty MAC); BADTIME answers are signed with
// the request's Time Signed and carry the server's time in Other Data;
// BADTRUNC answers are signed. Not for kFormErr (answer FORMERR unsigned).
absl::Status AppendTsigErrorAnswer(const TsigRequestCheck& check,
                                   std::vector<uint8_t>& answer,
                                   absl::Time now);

// Signs the answer messages of one transfer (or a single answer), one per
// call, each from parts without copying them. Every message should be
// signed; AddUnsigned() exists for peers and tests that sign
// only some messages (§5.3.1 allows up to 99 unsigned in a row).
class TsigStreamSigner {
 public:
  // `request_mac` is the verified request's MAC as received (possibly
  // truncated, §5.2.2.1 item 4).
  static absl::StatusOr<TsigStreamSigner> Create(
      const TsigKey& key, Bytes request_mac,
      uint16_t fudge = kDefaultTsigFudge);

  // Signs the next message. `parts` together are the message without its
  // TSIG RR, header first (at least 12 bytes in parts[0], the ID as sent
  // and ARCOUNT not yet counting the TSIG). Replaces `tsig_rr` with the TSIG
  // RR to send after the parts; the caller then increments ARCOUNT in its
  // header copy (IncrementArcount).
  absl::Status Sign(absl::Span<const Bytes> parts, absl::Time now,
                    std::vector<uint8_t>& tsig_rr);
  // Whole-message form: appends the TSIG RR and increments ARCOUNT.
  absl::Status SignMessage(std::vector<uint8_t>& message, absl::Time now);
  // A message sent without TSIG; it is covered by the next signed one.
  absl::Status AddUnsigned(absl::Span<const Bytes> parts);

  int messages() const { return messages_; }
  const std::vector<uint8_t>& last_mac() const { return prior_mac_; }

 private:
  TsigStreamSigner(const TsigKey& key, TsigMac mac, Bytes request_mac,
                   uint16_t fudge);
  void StartRun();

  Name key_name_;
  TsigMac mac_;
  std::vector<uint8_t> prior_mac_;
  uint16_t fudge_;
  bool run_open_ = false;
  int unsigned_run_ = 0;
  int messages_ = 0;
};

}  // namespace xfr
