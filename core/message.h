// DNS messages (RFC 1035 §4.1): the header, questions, the three record
// sections, and the two pseudo-records that live in the additional section,
// OPT (RFC 6891) and TSIG (RFC 8945). ParseMessage reads a whole message;
// MessageBuilder writes an ordinary single message (queries, SOA answers,
// NOTIFY, errors). Multi-message transfers have their own encoder
// (core/transfer.h) because they are built once and served many times.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include "absl/status/statusor.h"
#include "core/name.h"
#include "core/record.h"
#include "core/tsig_record.h"
#include "core/types.h"
#include "core/wire.h"

namespace xfr {

inline constexpr size_t kHeaderSize = 12;
// RFC 1035 §4.2.1: without EDNS a UDP message is at most 512 bytes.
inline constexpr size_t kMaxPlainUdpSize = 512;
// RFC 1035 §4.2.2: the TCP length prefix is 16 bits.
inline constexpr size_t kMaxMessageSize = 65535;
// RFC 7314 §2: the EDNS EXPIRE option code.
inline constexpr uint16_t kEdnsExpireOption = 9;

// The fixed 12-byte header (RFC 1035 §4.1.1; AD and CD from RFC 4035 §3.2).
struct Header {
  uint16_t id = 0;
  bool qr = false;
  Opcode opcode = Opcode::kQuery;
  bool aa = false;
  bool tc = false;
  bool rd = false;
  bool ra = false;
  bool ad = false;
  bool cd = false;
  uint8_t rcode = 0;  // the low 4 bits; OPT carries the high 8 (RFC 6891 §6.1.3)
  // Section counts as read from the wire. MessageBuilder ignores these and
  // writes the counts of what it actually holds.
  uint16_t qdcount = 0;
  uint16_t ancount = 0;
  uint16_t nscount = 0;
  uint16_t arcount = 0;

  // The 16-bit flags word (QR, OPCODE, AA, TC, RD, RA, Z=0, AD, CD, RCODE).
  uint16_t Flags() const;
  void SetFlags(uint16_t flags);
  // Writes the 12 header bytes to `out`.
  void Store(uint8_t* out) const;
  // Reads 12 header bytes from `in` (the caller checked the length).
  static Header Load(const uint8_t* in);
};

struct Question {
  Name qname;
  RRType qtype;
  RRClass qclass = RRClass::kIN;

  friend bool operator==(const Question& a, const Question& b) {
    return a.qtype == b.qtype && a.qclass == b.qclass && a.qname == b.qname;
  }
};

struct EdnsOption {
  uint16_t code = 0;
  std::vector<uint8_t> data;
  friend bool operator==(const EdnsOption&, const EdnsOption&) = default;
};

// The OPT pseudo-record (RFC 6891 §6.1.2-6.1.3).
struct Edns {
  uint16_t udp_payload_size = 1232;
  uint8_t version = 0;
  bool dnssec_ok = false;
  uint8_t extended_rcode = 0;  // the high 8 bits of the 12-bit RCODE
  // RFC 7314: a query carries the EXPIRE option empty (expire_present set,
  // expire empty); an answer carries the remaining seconds.
  bool expire_present = false;
  std::optional<uint32_t> expire;
  std::vector<EdnsOption> options;  // every other option, in wire order

  friend bool operator==(const Edns&, const Edns&) = default;
};

struct Message {
  Header header;
  std::vector<Question> questions;
  std::vector<Record> answer;
  std::vector<Record> authority;
  std::vector<Record> additional;  // without the OPT and TSIG records
  std::optional<Edns> edns;
  std::optional<TsigRecord> tsig;
  // Byte offset of the TSIG RR in the wire message: RFC 8945 §4.3.3 MACs the
  // message as it was before the TSIG RR was appended (ARCOUNT one less).
  size_t tsig_offset = 0;
  // Byte offset just past the question section, so a server can copy the
  // client's question bytes (RFC 5936 §2.2.1 keeps its case).
  size_t question_end = kHeaderSize;

  // The full 12-bit RCODE (RFC 6891 §6.1.3): header bits plus OPT's.
  Rcode rcode() const;
  const Question* question() const {
    return questions.empty() ? nullptr : &questions.front();
  }
};

// Reads just the header; fails on fewer than 12 bytes.
absl::StatusOr<Header> ParseHeader(Bytes wire);

// Reads a whole message. Every record is checked (RDATA of known types field
// by field, names of the RFC 1035 types expanded, unknown types byte for
// byte); at most one OPT, only in the additional section, owned by the root;
// TSIG only as the very last record; no bytes after the last record.
absl::StatusOr<Message> ParseMessage(Bytes wire);

enum class Section : uint8_t { kAnswer, kAuthority, kAdditional };

// Builds one message with name compression and a size limit. Records must be
// added section by section in order (answer, authority, additional); a
// record that does not fit, or comes after a later section, is refused and
// leaves the message as it was, so the caller can stop and set TC.
class MessageBuilder {
 public:
  // `limit`: 512 for plain UDP, the client's EDNS payload size for EDNS UDP,
  // 65535 for TCP. Callers that will append a TSIG RR pass the limit minus
  // the room that RR needs.
  explicit MessageBuilder(size_t limit = kMaxMessageSize);

  Header& header() { return header_; }
  void SetHeader(const Header& h) { header_ = h; }

  // Questions come before any record.
  [[nodiscard]] bool AddQuestion(const Question& q);
  [[nodiscard]] bool AddRecord(Section section, const RecordView& rr);
  [[nodiscard]] bool AddRecord(Section section, const Record& rr) {
    return AddRecord(section, rr.view());
  }
  // Sets the OPT record, written after every other additional record when
  // the message is finished (RFC 6891 §6.1.1; a TSIG RR appended later comes
  // after it, RFC 8945 §5.1); its room is reserved now, so later records
  // cannot crowd it out. False if it does not fit.
  [[nodiscard]] bool SetEdns(const Edns& edns);
  // Sets the full 12-bit RCODE: the low 4 bits go in the header, the high 8
  // in OPT's extended RCODE (RFC 6891 §6.1.3), which needs SetEdns.
  void SetRcode(Rcode rcode);

  // Bytes written so far, OPT room included.
  size_t size() const { return buf_.size() + opt_size_; }
  size_t limit() const { return limit_; }

  // Patches the header and counts, appends OPT and returns the message. The
  // builder is spent afterwards.
  std::vector<uint8_t> Finish();

 private:
  Header header_;
  std::vector<uint8_t> buf_;
  NameCompressor compressor_;
  size_t limit_;
  Section section_ = Section::kAnswer;
  uint16_t counts_[4] = {0, 0, 0, 0};  // qd, an, ns, ar
  std::optional<Edns> edns_;
  size_t opt_size_ = 0;
  std::optional<uint8_t> extended_rcode_;
};

// The header of a response to `query` (RFC 1035 §4.1.1): same ID and opcode,
// QR set, RD copied; everything else clear.
Header ResponseHeader(const Header& query);

// A builder holding that header and a copy of the query's question (with the
// client's case), ready for records.
MessageBuilder StartResponse(const Message& query,
                             size_t limit = kMaxMessageSize);

// The size of the OPT RR that `edns` encodes to.
size_t EdnsWireSize(const Edns& edns);

}  // namespace xfr
