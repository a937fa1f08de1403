// Receiving a zone transfer from an upstream primary:
// the answer messages to one AXFR (RFC 5936) or IXFR (RFC 1995) query are
// fed in, one at a time, and the outcome is a new immutable zone version.
// Like Knot's transfer processing this is an I/O-free state machine
// (begin = Create, consume = Consume, finish = Finish) that the network
// loop drives; it never reads a clock (the time is passed in for TSIG) and
// its first failure is sticky: every later call reports the same error.
//
// Memory: an AXFR is built straight into a ZoneVersionBuilder, so a large
// zone is not held twice. Records are gathered per owner name (every
// primary sends a name's records together, though not in type or RDATA
// order), sorted, and appended while names arrive in canonical order; only
// records that arrive out of order are set aside in a compact arena and
// merged in at the end (RFC 5936 §2.2 allows any order).
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "core/diff.h"
#include "core/message.h"
#include "core/record.h"
#include "core/serial.h"
#include "core/tsig.h"
#include "core/tsig_key.h"
#include "core/types.h"
#include "core/wire.h"
#include "core/zone.h"

namespace xfr {

struct IngestOptions {
  // The zone's `max-records`: an AXFR is refused as soon as it holds more
  // distinct records, an IXFR as soon as its diffs carry more records (an
  // IXFR that big is better replaced by an AXFR) or its result would.
  size_t max_records = std::numeric_limits<size_t>::max();
  // The key the query was signed with, or null for an unsigned query. The
  // key must outlive the XfrIngest.
  const TsigKey* key = nullptr;
  // The signed query's MAC (SignTsigQuery), which the first answer's MAC
  // covers (RFC 8945 §4.3.3).
  std::vector<uint8_t> request_mac;
};

// Why a transfer failed, so the caller can decide what to do next without
// parsing messages. The status codes map as noted.
enum class IngestFailure {
  kNone,
  kMalformed,     // InvalidArgument: unparseable or protocol violation
  kServerRcode,   // Unavailable: the primary answered an error RCODE
  kTsig,          // PermissionDenied: TSIG missing, unexpected or wrong
  kNotOurSerial,  // FailedPrecondition: IXFR from a serial we do not have
  kInconsistent,  // FailedPrecondition: IXFR chain broken or diff not applicable
  kTooLarge,      // ResourceExhausted: over max_records
  kTruncated,     // DataLoss: the stream ended before the closing SOA
};

struct IngestResult {
  enum Kind {
    kUpToDate,     // IXFR answered with just an SOA not newer than ours
                   // (RFC 1995 §4); `version` is the current version
    kFull,         // AXFR, or an AXFR-style IXFR answer (RFC 1995 §4)
    kIncremental,  // IXFR diffs, applied in order to the current version
  };
  Kind kind = kFull;
  std::shared_ptr<const ZoneVersion> version;
  // The serial of the primary's SOA (the first record of the answer).
  Serial serial;
  // kIncremental: each diff as received, in order, and Condense() of them
  // (exact for diffs consistent with the versions they join; see diff.h).
  std::vector<ZoneDiff> diffs;
  std::optional<ZoneDiff> condensed;
  // Totals received: messages, answer-section records, message bytes.
  size_t messages = 0;
  size_t records = 0;
  size_t bytes = 0;
  // RFC 7314 §3: the EXPIRE value the first message's OPT carried, for the
  // caller to use instead of the SOA EXPIRE.
  std::optional<uint32_t> expire;
};

class XfrIngest {
 public:
  // One ingest per query: `id` is the query's ID, `question` its question
  // (the zone apex, AXFR or IXFR, the class). `current` is the version the
  // IXFR query asked from (required for IXFR, its serial is the one the
  // query's authority SOA carried); for AXFR it is optional and only sizes
  // the buffers.
  static absl::StatusOr<XfrIngest> Create(
      uint16_t id, const Question& question,
      std::shared_ptr<const ZoneVersion> current, IngestOptions options);

  XfrIngest(XfrIngest&&) = default;
  XfrIngest& operator=(XfrIngest&&) = default;

  // One received message: the wire bytes without the TCP length prefix;
  // `now` for the TSIG time check. Once done(), another message is an
  // error (RFC 5936 §2.2: nothing follows the closing SOA).
  absl::Status Consume(Bytes message, absl::Time now);

  // The transfer is complete: the closing SOA has been seen, or an IXFR
  // was answered with a lone SOA that is not newer than ours.
  bool done() const { return state_ == State::kDone; }

  // The outcome, once; call it when done() or when the stream ended (then
  // it reports a truncated transfer). With TSIG it also checks that the
  // last message was signed (RFC 8945 §5.3.1).
  absl::StatusOr<IngestResult> Finish();

  // After a failure: what kind, and for kServerRcode the RCODE.
  IngestFailure failure() const { return failure_; }
  Rcode server_rcode() const { return server_rcode_; }
  // True when the query was IXFR and is to be retried with AXFR: the
  // primary answered NOTIMP, REFUSED or FORMERR, or the IXFR does not fit
  // our version (another starting serial, a broken chain, a diff that does
  // not apply).
  bool FallBackToAxfr() const;

  const absl::Status& status() const { return status_; }

 private:
  enum class State {
    kFirstSoa,      // expecting the first record, the (new) SOA
    kIxfrSecond,    // IXFR: one SOA seen; the next record tells the format
    kAxfr,          // collecting zone records until the closing SOA
    kIxfrDeleting,  // after a diff's old SOA: records removed
    kIxfrAdding,    // after a diff's new SOA: records added
    kDone,
  };

  XfrIngest() = default;

  absl::Status Fail(IngestFailure kind, std::string text);
  absl::Status CheckHeader(const Message& m);
  absl::Status CheckQuestion(const Message& m);
  absl::Status ConsumeRecord(Record rr);
  absl::Status AddAxfrRecord(Record rr);
  absl::Status FinishDiff();
  void StartAxfr();
  void FlushGroup();
  absl::StatusOr<std::shared_ptr<const ZoneVersion>> BuildAxfrVersion();
  size_t held_records() const;
  // "message 3, record 17 (www.example.com. A)" for error texts.
  std::string Where(const Record& rr) const;

  // The request.
  uint16_t id_ = 0;
  Question question_;
  std::shared_ptr<const ZoneVersion> current_;
  IngestOptions options_;
  std::optional<TsigStreamVerifier> verifier_;

  State state_ = State::kFirstSoa;
  IngestResult::Kind kind_ = IngestResult::kFull;
  absl::Status status_;
  IngestFailure failure_ = IngestFailure::kNone;
  Rcode server_rcode_ = Rcode::kNoError;
  bool finished_ = false;

  // Progress, for results and error texts.
  size_t messages_ = 0;
  size_t records_ = 0;
  size_t bytes_ = 0;
  size_t record_in_message_ = 0;
  std::optional<uint32_t> expire_;

  Record first_soa_;
  Serial first_serial_;

  // AXFR: the builder takes records in canonical order; `group_` gathers
  // the records of the owner name being received, `last_` is the record
  // appended last, and records that sort before it wait in the spill arena
  // (wire form, as in ZoneVersion) until Finish merges them in.
  std::optional<ZoneVersionBuilder> builder_;
  std::vector<Record> group_;
  Record last_;
  bool have_last_ = false;
  size_t appended_ = 0;
  std::vector<uint8_t> spill_arena_;
  std::vector<size_t> spill_offsets_;

  // IXFR: the diff being received, the version so far, the diffs done.
  ZoneDiff diff_;
  std::shared_ptr<const ZoneVersion> running_;
  std::vector<ZoneDiff> diffs_;
  size_t diff_records_ = 0;
};

}  // namespace xfr
