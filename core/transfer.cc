#include "core/transfer.h"

#include <algorithm>
#include <cstring>
#include <string>

#include "fmt/format.h"

namespace xfr {
namespace {

// QR=1, AA=1, opcode QUERY, NOERROR (RFC 5936 §2.2.1: an authoritative
// answer).
constexpr uint16_t kTransferFlags = 0x8400;
constexpr uint16_t kRdFlag = 0x0100;

}  // namespace

TransferEncoder::TransferEncoder(const Question& question,
                                 size_t max_message_size)
    : question_(question),
      limit_(std::clamp(max_message_size, kMaxRequestPrefixSize,
                        kMaxMessageSize)) {
  // One buffer of the full limit, reused for every message: no reallocation
  // while records are added.
  buf_.reserve(limit_);
  StartMessage();
}

void TransferEncoder::StartMessage() {
  buf_.assign(kHeaderSize, 0);
  compressor_.Reset();
  count_ = 0;
  if (out_.empty()) {
    // Uncompressed and never entered into the compressor: a server
    // overwrites these bytes with the client's spelling of the name, which
    // would corrupt any pointer into them.
    WireWriter w(buf_, limit_);
    WriteName(w, question_.qname);
    w.U16(question_.qtype.value());
    w.U16(question_.qclass.value());
  }
  question_end_ = static_cast<uint16_t>(buf_.size());
}

void TransferEncoder::CloseMessage() {
  EncodedMessage m;
  m.wire.assign(buf_.begin(), buf_.end());
  Header h;
  h.SetFlags(kTransferFlags);
  h.qdcount = out_.empty() ? 1 : 0;
  h.ancount = static_cast<uint16_t>(count_);
  h.Store(m.wire.data());
  m.question_end = question_end_;
  m.record_count = count_;
  out_.push_back(std::move(m));
}

void TransferEncoder::Add(const RecordView& rr) {
  if (!error_.ok()) return;
  for (int attempt = 0; attempt < 2; ++attempt) {
    size_t mark = buf_.size();
    if (count_ < 0xFFFF) {
      WireWriter w(buf_, limit_);
      WriteRecord(w, &compressor_, rr);
      if (w.ok()) {
        ++count_;
        ++total_records_;
        return;
      }
    }
    // Take the partial record back, name-table entries included, so that
    // the message is exactly as it was before this record.
    buf_.resize(mark);
    compressor_.Rollback(mark);
    if (count_ == 0) break;  // it does not fit even an empty message
    CloseMessage();
    StartMessage();
  }
  error_ = absl::InvalidArgumentError(fmt::format(
      "{} record at {} (RDATA {} bytes) does not fit in a {}-byte transfer "
      "message",
      rr.type.ToString(), rr.owner.ToText(), rr.rdata.size(), limit_));
}

absl::StatusOr<std::vector<EncodedMessage>> TransferEncoder::Finish() {
  if (!error_.ok()) return error_;
  CloseMessage();
  std::vector<EncodedMessage> out = std::move(out_);
  out_.clear();
  // The encoder is spent; a further Add() fails rather than producing a
  // second "first" message.
  error_ = absl::FailedPreconditionError("TransferEncoder already finished");
  return out;
}

std::vector<uint8_t> EncodeQuestion(const Question& q) {
  std::vector<uint8_t> out;
  out.reserve(q.qname.size() + 4);
  WireWriter w(out);
  WriteName(w, q.qname);
  w.U16(q.qtype.value());
  w.U16(q.qclass.value());
  return out;
}

absl::StatusOr<size_t> WriteRequestPrefix(const EncodedMessage& m, uint16_t id,
                                          bool rd, Bytes question,
                                          MutableBytes out) {
  size_t n = m.question_end;
  if (m.wire.size() < n || n < kHeaderSize) {
    return absl::InvalidArgumentError("malformed encoded message");
  }
  if (out.size() < n) {
    return absl::InvalidArgumentError(
        fmt::format("prefix buffer of {} bytes, need {}", out.size(), n));
  }
  Bytes ours = m.question();
  if (!ours.empty()) {
    // The name may differ in ASCII case only; type and class exactly.
    bool same = question.size() == ours.size() && ours.size() >= 4;
    size_t name_len = same ? ours.size() - 4 : 0;
    for (size_t i = 0; same && i < name_len; ++i) {
      same = AsciiLower(question[i]) == AsciiLower(ours[i]);
    }
    if (same) {
      same = std::memcmp(question.data() + name_len, ours.data() + name_len,
                         4) == 0;
    }
    if (!same) {
      return absl::InvalidArgumentError(
          "request question differs from the encoded transfer's question");
    }
  }
  std::memcpy(out.data(), m.wire.data(), kHeaderSize);
  StoreU16(out.data(), id);
  // RFC 1035 §4.1.1: RD is copied from the query.
  uint16_t flags = LoadU16(m.wire.data() + 2);
  flags = static_cast<uint16_t>(rd ? (flags | kRdFlag) : (flags & ~kRdFlag));
  StoreU16(out.data() + 2, flags);
  if (!ours.empty()) {
    std::memcpy(out.data() + kHeaderSize, question.data(), question.size());
  }
  return n;
}

absl::StatusOr<std::vector<uint8_t>> MaterializeForRequest(
    const EncodedMessage& m, uint16_t id, bool rd, Bytes question) {
  std::vector<uint8_t> out(m.wire.size());
  absl::StatusOr<size_t> n = WriteRequestPrefix(
      m, id, rd, question, MutableBytes(out.data(), out.size()));
  if (!n.ok()) return n.status();
  Bytes body = m.body();
  if (!body.empty()) std::memcpy(out.data() + *n, body.data(), body.size());
  return out;
}

}  // namespace xfr
