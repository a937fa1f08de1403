// Encode once, serve many (docs/architecture.md, "Serving").
// A zone version's AXFR, and each IXFR answer, is encoded once into a
// sequence of messages that every client shares. Per request only the ID,
// the question (in the client's case) and TSIG differ, so the server sends
// [TCP length][per-request header+question][shared body][TSIG] with
// scatter/gather and never re-encodes a record.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "core/message.h"
#include "core/name.h"
#include "core/record.h"
#include "core/wire.h"

namespace xfr {

// Room kept free in every transfer message for the TSIG RR a signed
// transfer appends (RFC 8945 §5.3.1 signs each message): key name and
// algorithm name up to 255 bytes each, a 64-byte HMAC-SHA512, fixed fields
// and a 6-byte other-data, with a margin. The TCP length prefix caps a
// message at 65535 bytes (RFC 1035 §4.2.2).
inline constexpr size_t kTsigRoom = 1024;
inline constexpr size_t kDefaultTransferMessageSize =
    kMaxMessageSize - kTsigRoom;

// Largest per-request prefix (header + one question).
inline constexpr size_t kMaxRequestPrefixSize =
    kHeaderSize + kMaxNameLength + 4;

struct EncodedMessage {
  // [0, 12): header with ID 0; [12, question_end): the question, present only
  // in the first message of a transfer; [question_end, end): the body.
  std::vector<uint8_t> wire;
  uint16_t question_end = kHeaderSize;
  uint32_t record_count = 0;

  Bytes header() const { return Bytes(wire.data(), kHeaderSize); }
  Bytes question() const {
    return Bytes(wire.data() + kHeaderSize, question_end - kHeaderSize);
  }
  Bytes body() const {
    return Bytes(wire.data() + question_end, wire.size() - question_end);
  }
};

// Builds the messages of one AXFR or IXFR answer (RFC 5936 §2.2, RFC 1995
// §4). Every message: QR=1, AA=1, opcode QUERY, NOERROR, ID 0, as many
// records as fit; the question only in the first (RFC 5936 §2.2 allows
// QDCOUNT=0 after). The question name is written uncompressed and is never
// a compression target, so a server can overwrite it with the client's
// spelling without breaking pointers. Each message has its own compression
// table.
class TransferEncoder {
 public:
  explicit TransferEncoder(const Question& question,
                           size_t max_message_size = kDefaultTransferMessageSize);

  // Appends a record, opening a new message when it does not fit the current
  // one. A record too large for an empty message makes Finish() fail; later
  // Add() calls are then ignored.
  void Add(const RecordView& rr);
  void Add(const Record& rr) { Add(rr.view()); }

  size_t record_count() const { return total_records_; }

  // The messages, in order. Fails when a record could not be encoded. An
  // encoder with no records yields one message holding just the question.
  absl::StatusOr<std::vector<EncodedMessage>> Finish();

 private:
  void StartMessage();
  void CloseMessage();

  Question question_;
  size_t limit_;
  std::vector<uint8_t> buf_;  // the message being filled, reused
  NameCompressor compressor_;
  uint16_t question_end_ = kHeaderSize;
  uint32_t count_ = 0;  // records in the current message
  size_t total_records_ = 0;
  std::vector<EncodedMessage> out_;
  absl::Status error_;
};

// The question's wire bytes (uncompressed name, type, class).
std::vector<uint8_t> EncodeQuestion(const Question& q);

// Writes the per-request start of `m` into `out`: the 12-byte header with
// the request's ID and RD bit, then (first message only) the request's
// question bytes, which must equal the encoded question but for ASCII case
// (RFC 5936 §2.2.1: the answer repeats the question as asked). Returns the
// number of bytes written (m.question_end); `out` needs that much room.
absl::StatusOr<size_t> WriteRequestPrefix(const EncodedMessage& m, uint16_t id,
                                          bool rd, Bytes question,
                                          MutableBytes out);

// The whole message for one request, contiguous (tests, TSIG signing).
absl::StatusOr<std::vector<uint8_t>> MaterializeForRequest(
    const EncodedMessage& m, uint16_t id, bool rd, Bytes question);

}  // namespace xfr
