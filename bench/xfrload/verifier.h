// Checks the answers a simulated secondary receives, one message at a time,
// with no I/O: the load driver feeds each received message and learns when
// the answer is complete, or why it is wrong. Every message must parse (as
// ParseMessage would have it: every name, every known RDATA layout, OPT and
// TSIG in their places, no trailing bytes), carry the query's ID, QR=1,
// opcode QUERY, NOERROR and the query's question when it has one; a signed query's answer must verify
// message by message (RFC 8945 §5.3.1). On top of that:
//   SOA:  the first answer record is the zone's SOA.
//   AXFR: SOA first, SOA with the same serial last, as the very last record
//         of a message (RFC 5936 §2.2).
//   IXFR: RFC 1995 §4: a lone SOA when the client is current; else the new
//         SOA, then either diff sequences (old SOA, deletions, new SOA,
//         additions, with serials chained) or an AXFR-style body, and the
//         new SOA again at the end.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "core/message.h"
#include "core/name.h"
#include "core/serial.h"
#include "core/tsig.h"
#include "core/tsig_key.h"
#include "core/wire.h"

namespace xfr::load {

enum class QueryKind : uint8_t { kSoa, kIxfr, kAxfr };
std::string_view QueryKindName(QueryKind k);

// Why a request failed, as counted in the report.
enum class ErrorKind : uint8_t {
  kConnect,     // TCP connection refused or failed
  kTimeout,     // no complete answer within --timeout
  kIo,          // send/receive failed, or a framing error
  kIncomplete,  // the server closed the connection mid-answer
  kParse,       // a message does not parse
  kId,          // wrong ID, QR clear or wrong opcode
  kRcode,       // an RCODE other than NOERROR
  kQuestion,    // the question is not the query's
  kStructure,   // SOA / AXFR / IXFR structure violated
  kTsig,        // a signed answer failed verification
  kTruncated,   // TC=1 on a UDP answer, or on a TCP message
  // --expect-serial: a secondary still behind when the run ended (counted
  // per secondary, not per request).
  kUnconverged,
};
inline constexpr int kErrorKinds = 12;
std::string_view ErrorKindName(ErrorKind k);

// What an answer turned out to be.
enum class AnswerStyle : uint8_t {
  kNone,
  kSoa,          // an SOA query's answer, or IXFR: client is current
  kIncremental,  // IXFR diff sequences
  kFull,         // AXFR, or an AXFR-style IXFR answer
};

// Writes the query for `kind` into `out` (without a TCP length prefix):
// RD=0, one question; for IXFR the client's SOA in the authority section
// (RFC 1995 §3). With a key, the query is signed and `request_mac` receives
// its MAC, which the answer's verification needs.
absl::Status BuildQuery(QueryKind kind, const Name& zone, uint16_t id,
                        Serial client_serial, const TsigKey* key,
                        absl::Time now, std::vector<uint8_t>& out,
                        std::vector<uint8_t>& request_mac);

class AnswerVerifier {
 public:
  enum class Step { kMore, kDone, kFailed };

  // Starts checking the answer to one query. `key` (may be null) and
  // `request_mac` come from BuildQuery.
  absl::Status Begin(QueryKind kind, const Name& zone, uint16_t id,
                     Serial client_serial, const TsigKey* key,
                     Bytes request_mac);
  // Feeds the next received message (without TCP length prefix). After
  // kDone or kFailed, further messages are errors.
  Step Feed(Bytes message, absl::Time now);
  // Records the failure of the transport (timeout, closed connection...).
  void Fail(ErrorKind kind, std::string detail);

  bool done() const { return done_; }
  bool failed() const { return error_.has_value(); }
  ErrorKind error_kind() const { return error_ ? *error_ : ErrorKind::kIo; }
  // The RCODE of an answer that failed with kRcode (IXFR refused: NOTIMP,
  // REFUSED or FORMERR make a secondary fall back to AXFR).
  Rcode answer_rcode() const { return answer_rcode_; }
  const std::string& error_detail() const { return detail_; }

  uint64_t messages() const { return messages_; }
  // Records in the answer sections, every SOA included.
  uint64_t records() const { return records_; }
  // The zone's records in a full answer (the closing SOA repeats the
  // opening one and is not counted twice); 0 otherwise.
  uint64_t zone_records() const {
    return style_ == AnswerStyle::kFull && records_ > 0 ? records_ - 1 : 0;
  }
  AnswerStyle style() const { return style_; }
  // The serial of the server's (first) SOA.
  Serial server_serial() const { return first_serial_; }

 private:
  enum class State : uint8_t {
    kFirst,      // expecting the first SOA
    kIxfrSecond, // after IXFR's first SOA: old SOA (diffs) or AXFR-style
    kBody,       // AXFR body: until the closing SOA
    kDeleting,   // inside a diff's deletions
    kAdding,     // inside a diff's additions
    kEnded,      // closing SOA seen
  };
  // A record of the message being walked. Its buffers are reused from
  // record to record, so verifying a 100,000-record AXFR allocates nothing
  // per record: a load generator must not cost more than the server.
  struct WalkedRecord {
    std::string owner;  // uncompressed wire form
    RRType type;
    uint32_t ttl = 0;
    std::vector<uint8_t> rdata;  // names expanded
    NameView owner_view() const { return NameView(AsBytes(owner)); }
  };

  Step Failed(ErrorKind kind, std::string detail);
  // Reads the record at the cursor into walked_, with ReadRecord's checks.
  absl::Status ReadWalked(WireReader& r);
  // One answer record; false on a structure error, described in
  // structure_detail_ (reported only if the message has no worse fault).
  bool OnRecord(const WalkedRecord& rr);
  bool IsZoneSoa(const WalkedRecord& rr, Serial& serial);

  QueryKind kind_ = QueryKind::kSoa;
  Name zone_;
  uint16_t id_ = 0;
  Serial client_serial_;
  std::optional<TsigStreamVerifier> tsig_;
  State state_ = State::kFirst;
  AnswerStyle style_ = AnswerStyle::kNone;
  Serial first_serial_;
  Serial diff_to_;  // the serial the current diff moves to
  uint64_t messages_ = 0;
  uint64_t records_ = 0;
  bool done_ = false;
  WalkedRecord walked_;
  Question question_;
  std::string structure_detail_;
  Rcode answer_rcode_ = Rcode::kNoError;
  std::optional<ErrorKind> error_;
  std::string detail_;
};

}  // namespace xfr::load
