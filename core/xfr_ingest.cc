#include "core/xfr_ingest.h"

#include <algorithm>
#include <cstring>
#include <utility>

#include "core/ascii.h"
#include "fmt/format.h"

namespace xfr {
namespace {

// RFC 6895 §3.1: OPT and the meta/query TYPEs 128-255 are never zone data.
// Checked here (ZoneVersionBuilder checks it too) so the error can say in
// which message the record came.
bool IsMetaType(RRType t) {
  return t == RRType::kOPT || (t.value() >= 128 && t.value() <= 255);
}

// The SOA that closes a transfer is "the same SOA" as the one that opened
// it (RFC 5936 §2.2, RFC 1995 §4). BIND compares the two RDATAs in DNSSEC
// canonical form (dns_rdata_compare), which ignores the case of MNAME and
// RNAME; Knot stops at any SOA. We follow BIND: the names equal ignoring
// ASCII case, the five counters equal. The TTL is not compared.
bool SameSoa(const Record& a, const Record& b) {
  if (a.rdata.size() != b.rdata.size()) return false;
  if (!ParseSoaRdata(Bytes(a.rdata)) || !ParseSoaRdata(Bytes(b.rdata))) {
    return false;
  }
  size_t names = a.rdata.size() - 20;  // the counters are the last 20 bytes
  // Label length octets are at most 63, below 'A', so lowering the whole
  // name part only touches label contents.
  for (size_t i = 0; i < names; ++i) {
    if (AsciiLower(a.rdata[i]) != AsciiLower(b.rdata[i])) return false;
  }
  return std::memcmp(a.rdata.data() + names, b.rdata.data() + names, 20) == 0;
}

Serial SoaSerial(const Record& soa) {
  std::optional<SoaFields> f = ParseSoaRdata(Bytes(soa.rdata));
  return f ? f->serial : Serial(0);
}

// The spill arena holds records as ZoneVersion does: owner, TYPE, CLASS,
// TTL, RDLENGTH, RDATA, uncompressed.
void SpillAppend(std::vector<uint8_t>& arena, const RecordView& rr) {
  size_t at = arena.size();
  arena.resize(at + RecordWireSize(rr));
  StoreRecordWire(rr, arena.data() + at);
}

RecordView SpillView(const std::vector<uint8_t>& arena, size_t offset) {
  return LoadRecordWire(arena.data() + offset);  // names checked when parsed
}

IngestFailure FailureOfBuild(const absl::Status& s) {
  return s.code() == absl::StatusCode::kResourceExhausted
             ? IngestFailure::kTooLarge
             : IngestFailure::kMalformed;
}

}  // namespace

absl::StatusOr<XfrIngest> XfrIngest::Create(
    uint16_t id, const Question& question,
    std::shared_ptr<const ZoneVersion> current, IngestOptions options) {
  bool ixfr = question.qtype == RRType::kIXFR;
  if (!ixfr && question.qtype != RRType::kAXFR) {
    return absl::InvalidArgumentError(fmt::format(
        "a transfer query is AXFR or IXFR, not {}", question.qtype.ToString()));
  }
  if (ixfr && current == nullptr) {
    return absl::InvalidArgumentError(
        fmt::format("IXFR of {} needs the version it starts from",
                    question.qname.ToText()));
  }
  if (current != nullptr && !(current->origin() == question.qname)) {
    return absl::InvalidArgumentError(fmt::format(
        "the current version is of zone {}, the query asks for {}",
        current->origin().ToText(), question.qname.ToText()));
  }
  XfrIngest x;
  x.id_ = id;
  x.question_ = question;
  x.current_ = std::move(current);
  x.options_ = std::move(options);
  if (x.options_.key != nullptr) {
    absl::StatusOr<TsigStreamVerifier> v = TsigStreamVerifier::Create(
        *x.options_.key, Bytes(x.options_.request_mac.data(),
                               x.options_.request_mac.size()));
    if (!v.ok()) return v.status();
    x.verifier_.emplace(*std::move(v));
  }
  return x;
}

bool XfrIngest::FallBackToAxfr() const {
  if (question_.qtype != RRType::kIXFR) return false;
  switch (failure_) {
    case IngestFailure::kServerRcode:
      return server_rcode_ == Rcode::kNotImp ||
             server_rcode_ == Rcode::kRefused ||
             server_rcode_ == Rcode::kFormErr;
    case IngestFailure::kNotOurSerial:
    case IngestFailure::kInconsistent:
      return true;
    case IngestFailure::kTooLarge:
      // An IXFR chain can pass through a version over the limit and end
      // under it (or carry more diff records than the zone has): only the
      // AXFR of the final version says whether it fits. Without this, such
      // a zone would retry the same IXFR for ever.
      return true;
    default:
      return false;
  }
}

absl::Status XfrIngest::Fail(IngestFailure kind, std::string text) {
  if (status_.ok()) {
    failure_ = kind;
    text = fmt::format("{} of {}: {}",
                       question_.qtype == RRType::kIXFR ? "IXFR" : "AXFR",
                       question_.qname.ToText(), text);
    switch (kind) {
      case IngestFailure::kServerRcode:
        status_ = absl::UnavailableError(text);
        break;
      case IngestFailure::kTsig:
        status_ = absl::PermissionDeniedError(text);
        break;
      case IngestFailure::kNotOurSerial:
      case IngestFailure::kInconsistent:
        status_ = absl::FailedPreconditionError(text);
        break;
      case IngestFailure::kTooLarge:
        status_ = absl::ResourceExhaustedError(text);
        break;
      case IngestFailure::kTruncated:
        status_ = absl::DataLossError(text);
        break;
      default:
        status_ = absl::InvalidArgumentError(text);
        break;
    }
    // Whatever was gathered is of no use any more.
    builder_.reset();
    group_ = {};
    spill_arena_ = {};
    spill_offsets_ = {};
    diffs_ = {};
    running_.reset();
  }
  return status_;
}

std::string XfrIngest::Where(const Record& rr) const {
  return fmt::format("message {}, record {} ({} {})", messages_,
                     record_in_message_, rr.owner.ToText(),
                     rr.type.ToString());
}

absl::Status XfrIngest::Consume(Bytes message, absl::Time now) {
  if (!status_.ok()) return status_;
  if (finished_) {
    return Fail(IngestFailure::kMalformed, "message after Finish()");
  }
  if (state_ == State::kDone) {
    // RFC 5936 §2.2: the closing SOA is the last record of the answer.
    return Fail(IngestFailure::kMalformed,
                fmt::format("message {} after the end of the transfer",
                            messages_ + 1));
  }
  ++messages_;
  bytes_ += message.size();
  record_in_message_ = 0;
  absl::StatusOr<Message> parsed = ParseMessage(message);
  if (!parsed.ok()) {
    return Fail(IngestFailure::kMalformed,
                fmt::format("message {}: {}", messages_,
                            ToStd(parsed.status().message())));
  }
  Message& m = *parsed;
  if (absl::Status s = CheckHeader(m); !s.ok()) return s;
  if (verifier_) {
    if (absl::Status s = verifier_->Feed(message, m, now); !s.ok()) {
      return Fail(IngestFailure::kTsig,
                  fmt::format("message {}: {} ({})", messages_,
                              ToStd(s.message()),
                              TsigErrorName(verifier_->error())));
    }
  } else if (m.tsig) {
    // We did not sign the query, so a signed answer cannot be verified and
    // is not what we asked for; BIND rejects it the same way
    // (DNS_R_UNEXPECTEDTSIG) rather than ignore a signature.
    return Fail(IngestFailure::kTsig,
                fmt::format("message {} is TSIG-signed (key {}) but the "
                            "query was not",
                            messages_, m.tsig->key_name.ToText()));
  }
  if (absl::Status s = CheckQuestion(m); !s.ok()) return s;
  // RFC 7314 §3: the EXPIRE option of the answer; only the first message's
  // counts, later ones carry the same transfer.
  if (messages_ == 1 && m.edns && m.edns->expire) expire_ = m.edns->expire;
  // Authority and additional records (other than OPT and TSIG, which the
  // parser took out) are not part of the transfer (RFC 5936 §2.2.1) and
  // are ignored.
  for (Record& rr : m.answer) {
    ++record_in_message_;
    ++records_;
    if (absl::Status s = ConsumeRecord(std::move(rr)); !s.ok()) return s;
  }
  // RFC 1995 §4: an IXFR whose answer is a lone SOA not newer than ours
  // means we are up to date. A lone newer SOA at the end of a message may
  // be followed by the rest of the answer in the next one.
  if (state_ == State::kIxfrSecond) {
    std::partial_ordering c = first_serial_ <=> current_->serial();
    if (c == std::partial_ordering::less ||
        c == std::partial_ordering::equivalent) {
      kind_ = IngestResult::kUpToDate;
      state_ = State::kDone;
    }
  }
  return absl::OkStatus();
}

absl::Status XfrIngest::CheckHeader(const Message& m) {
  const Header& h = m.header;
  if (!h.qr) {
    return Fail(IngestFailure::kMalformed,
                fmt::format("message {} is not a response (QR=0)", messages_));
  }
  if (h.id != id_) {
    return Fail(IngestFailure::kMalformed,
                fmt::format("message {} has ID {}, the query had {}",
                            messages_, h.id, id_));
  }
  if (h.opcode != Opcode::kQuery) {
    return Fail(IngestFailure::kMalformed,
                fmt::format("message {} has opcode {}, not QUERY", messages_,
                            h.opcode.ToString()));
  }
  Rcode rcode = m.rcode();
  if (rcode != Rcode::kNoError) {
    server_rcode_ = rcode;
    std::string tsig_error;
    if (m.tsig && m.tsig->error != Rcode::kNoError) {
      tsig_error = fmt::format(" (TSIG error {})", TsigErrorName(m.tsig->error));
    }
    // Checked before TSIG: error answers to a signed query are often
    // unsigned (RFC 8945 §5.3.2), and the caller needs the RCODE to choose
    // its fallback either way.
    return Fail(IngestFailure::kServerRcode,
                fmt::format("message {}: the primary answered {}{}", messages_,
                            rcode.ToString(), tsig_error));
  }
  if (h.tc) {
    // Transfers run over TCP, where a message is never truncated (RFC 5936
    // §2.2: the answer is split over messages instead).
    return Fail(IngestFailure::kMalformed,
                fmt::format("message {} has TC set", messages_));
  }
  return absl::OkStatus();
}

absl::Status XfrIngest::CheckQuestion(const Message& m) {
  // RFC 5936 §2.2.1: the first message repeats the query's question; later
  // messages may repeat it or leave the section empty.
  if (m.questions.size() > 1) {
    return Fail(IngestFailure::kMalformed,
                fmt::format("message {} has {} questions", messages_,
                            m.questions.size()));
  }
  if (m.questions.empty()) {
    if (messages_ == 1) {
      return Fail(IngestFailure::kMalformed,
                  "the first message has no question (RFC 5936 §2.2.1)");
    }
    return absl::OkStatus();
  }
  const Question& q = m.questions.front();
  if (!(q == question_)) {
    return Fail(IngestFailure::kMalformed,
                fmt::format("message {} answers {} {} {}, not the query's "
                            "{} {} {}",
                            messages_, q.qname.ToText(), q.qclass.ToString(),
                            q.qtype.ToString(), question_.qname.ToText(),
                            question_.qclass.ToString(),
                            question_.qtype.ToString()));
  }
  return absl::OkStatus();
}

absl::Status XfrIngest::ConsumeRecord(Record rr) {
  if (state_ == State::kDone) {
    return Fail(IngestFailure::kMalformed,
                fmt::format("{} follows the final SOA", Where(rr)));
  }
  if (rr.rclass != question_.qclass) {
    return Fail(IngestFailure::kMalformed,
                fmt::format("{} has class {}, the zone has class {}",
                            Where(rr), rr.rclass.ToString(),
                            question_.qclass.ToString()));
  }
  if (!rr.owner.view().IsSubdomainOf(question_.qname.view())) {
    return Fail(IngestFailure::kMalformed,
                fmt::format("{} is outside the zone", Where(rr)));
  }
  if (IsMetaType(rr.type)) {
    return Fail(IngestFailure::kMalformed,
                fmt::format("{} is a meta-type, never zone data (RFC 6895 "
                            "§3.1)",
                            Where(rr)));
  }
  bool soa = rr.type == RRType::kSOA;
  if (soa) {
    if (!(rr.owner == question_.qname)) {
      return Fail(IngestFailure::kMalformed,
                  fmt::format("{} is an SOA below the apex", Where(rr)));
    }
    if (!ParseSoaRdata(Bytes(rr.rdata))) {
      return Fail(IngestFailure::kMalformed,
                  fmt::format("{} has malformed SOA RDATA", Where(rr)));
    }
  }

  switch (state_) {
    case State::kFirstSoa:
      // RFC 5936 §2.2 and RFC 1995 §4: the answer starts with the zone's
      // (new) SOA.
      if (!soa) {
        return Fail(IngestFailure::kMalformed,
                    fmt::format("{} comes first, not the zone's SOA",
                                Where(rr)));
      }
      first_soa_ = std::move(rr);
      first_serial_ = SoaSerial(first_soa_);
      if (question_.qtype == RRType::kIXFR) {
        state_ = State::kIxfrSecond;
      } else {
        StartAxfr();
      }
      return absl::OkStatus();

    case State::kIxfrSecond:
      // RFC 1995 §4: a second SOA starts the incremental form; anything
      // else means the primary sent the whole zone (AXFR-style).
      if (!soa) {
        StartAxfr();
        return AddAxfrRecord(std::move(rr));
      }
      if (SameSoa(rr, first_soa_)) {
        // An AXFR-style answer of a zone holding nothing but its SOA.
        StartAxfr();
        state_ = State::kDone;
        return absl::OkStatus();
      }
      if (SoaSerial(rr) != current_->serial()) {
        return Fail(IngestFailure::kNotOurSerial,
                    fmt::format("{}: the diffs start from serial {}, ours "
                                "is {}",
                                Where(rr), SoaSerial(rr).ToString(),
                                current_->serial().ToString()));
      }
      kind_ = IngestResult::kIncremental;
      running_ = current_;
      diff_ = ZoneDiff();
      diff_.old_soa = std::move(rr);
      state_ = State::kIxfrDeleting;
      return absl::OkStatus();

    case State::kAxfr:
      if (!soa) return AddAxfrRecord(std::move(rr));
      // RFC 5936 §2.2: the next SOA ends the transfer and is the same SOA.
      if (!SameSoa(rr, first_soa_)) {
        return Fail(IngestFailure::kMalformed,
                    fmt::format("{}: the closing SOA (serial {}) differs from "
                                "the opening SOA (serial {})",
                                Where(rr), SoaSerial(rr).ToString(),
                                first_serial_.ToString()));
      }
      state_ = State::kDone;
      return absl::OkStatus();

    case State::kIxfrDeleting:
      if (soa) {
        diff_.new_soa = std::move(rr);
        state_ = State::kIxfrAdding;
        return absl::OkStatus();
      }
      if (++diff_records_ > options_.max_records) {
        return Fail(IngestFailure::kTooLarge,
                    fmt::format("{}: the diffs carry more than max-records = "
                                "{} records",
                                Where(rr), options_.max_records));
      }
      diff_.removed.push_back(std::move(rr));
      return absl::OkStatus();

    case State::kIxfrAdding: {
      if (!soa) {
        if (++diff_records_ > options_.max_records) {
          return Fail(IngestFailure::kTooLarge,
                      fmt::format("{}: the diffs carry more than "
                                  "max-records = {} records",
                                  Where(rr), options_.max_records));
        }
        diff_.added.push_back(std::move(rr));
        return absl::OkStatus();
      }
      Serial s = SoaSerial(rr);
      // As BIND does, an SOA with the final serial ends the answer; one with
      // the serial this diff reached starts the next diff (RFC 1995 §4).
      if (s == first_serial_) {
        if (diff_.to() != first_serial_) {
          // The answer announced this serial, but the diffs stopped short of
          // it (or went past it): applying them would not give that zone.
          return Fail(IngestFailure::kInconsistent,
                      fmt::format("{}: the answer ends at serial {}, but the "
                                  "last diff goes to {}",
                                  Where(rr), s.ToString(),
                                  diff_.to().ToString()));
        }
        if (!SameSoa(rr, first_soa_)) {
          return Fail(IngestFailure::kMalformed,
                      fmt::format("{}: the closing SOA differs from the "
                                  "opening SOA (same serial {})",
                                  Where(rr), s.ToString()));
        }
        if (absl::Status st = FinishDiff(); !st.ok()) return st;
        state_ = State::kDone;
        return absl::OkStatus();
      }
      if (s != diff_.to()) {
        return Fail(IngestFailure::kInconsistent,
                    fmt::format("{}: a diff starts from serial {}, but the "
                                "previous one ended at {} (and the answer "
                                "ends at {})",
                                Where(rr), s.ToString(), diff_.to().ToString(),
                                first_serial_.ToString()));
      }
      if (absl::Status st = FinishDiff(); !st.ok()) return st;
      diff_ = ZoneDiff();
      diff_.old_soa = std::move(rr);
      state_ = State::kIxfrDeleting;
      return absl::OkStatus();
    }

    case State::kDone:
      break;
  }
  return absl::OkStatus();
}

absl::Status XfrIngest::FinishDiff() {
  // Applied as soon as it is complete, so a diff that does not fit our
  // version fails the transfer before the rest is received. ApplyDiff holds
  // the RFC 1995 leniency (deleting an absent record, adding a present one).
  BuildOptions build{options_.max_records};
  absl::StatusOr<std::shared_ptr<const ZoneVersion>> next =
      ApplyDiff(*running_, diff_, build);
  if (!next.ok()) {
    IngestFailure kind =
        next.status().code() == absl::StatusCode::kResourceExhausted
            ? IngestFailure::kTooLarge
            : IngestFailure::kInconsistent;
    return Fail(kind, fmt::format("diff {} (serial {} to {}) ending in "
                                  "message {}: {}",
                                  diffs_.size() + 1, diff_.from().ToString(),
                                  diff_.to().ToString(), messages_,
                                  ToStd(next.status().message())));
  }
  running_ = *std::move(next);
  diffs_.push_back(std::move(diff_));
  return absl::OkStatus();
}

void XfrIngest::StartAxfr() {
  state_ = State::kAxfr;
  size_t records = current_ ? current_->size() : 0;
  size_t bytes = current_ ? current_->wire_bytes() : 0;
  builder_.emplace(question_.qname, BuildOptions{options_.max_records},
                   records, bytes);
  group_.push_back(first_soa_);
}

size_t XfrIngest::held_records() const {
  return appended_ + spill_offsets_.size() + group_.size();
}

absl::Status XfrIngest::AddAxfrRecord(Record rr) {
  if (!group_.empty() &&
      !group_.front().owner.view().EqualsIgnoreCase(rr.owner.view())) {
    FlushGroup();
    if (!builder_->ok()) {
      absl::Status s = std::move(*builder_).Finish().status();
      return Fail(FailureOfBuild(s), fmt::format("message {}: {}", messages_,
                                                 ToStd(s.message())));
    }
  }
  group_.push_back(std::move(rr));
  // A duplicate counts until it is recognised as one (when its name's
  // records are sorted), so the limit can bite a few records early on a
  // stream with duplicates; it never lets a zone over the limit through.
  if (held_records() > options_.max_records) {
    return Fail(IngestFailure::kTooLarge,
                fmt::format("{}: more than max-records = {} records",
                            Where(group_.back()), options_.max_records));
  }
  return absl::OkStatus();
}

void XfrIngest::FlushGroup() {
  auto less = [](const Record& a, const Record& b) {
    return CompareRecords(a.view(), b.view()) < 0;
  };
  // Stable, so of records with the same identity the first received stays
  // first and is the one kept (ZoneVersion::Build semantics).
  std::stable_sort(group_.begin(), group_.end(), less);
  for (Record& r : group_) {
    if (have_last_) {
      int c = CompareRecords(last_.view(), r.view());
      if (c == 0) continue;  // a duplicate of what is already in
      if (c > 0) {
        SpillAppend(spill_arena_, r.view());
        spill_offsets_.push_back(spill_arena_.size() - RecordWireSize(r.view()));
        continue;
      }
    }
    builder_->Append(r.view());
    last_ = std::move(r);
    have_last_ = true;
    ++appended_;
  }
  group_.clear();
}

absl::StatusOr<std::shared_ptr<const ZoneVersion>>
XfrIngest::BuildAxfrVersion() {
  FlushGroup();
  absl::StatusOr<std::shared_ptr<const ZoneVersion>> in_order =
      std::move(*builder_).Finish();
  builder_.reset();
  if (!in_order.ok() || spill_offsets_.empty()) return in_order;
  const ZoneVersion& base = **in_order;

  // Merge the records that came out of order. A spilled record sorted
  // before the last record appended when it arrived, so a record of the
  // same identity already in `base` was received earlier: keeping base's
  // copy keeps the first received, as Build does.
  std::vector<size_t>& order = spill_offsets_;
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return CompareRecords(SpillView(spill_arena_, a),
                          SpillView(spill_arena_, b)) < 0;
  });
  ZoneVersionBuilder merged(question_.qname,
                            BuildOptions{options_.max_records},
                            base.size() + order.size(),
                            base.wire_bytes() + spill_arena_.size());
  size_t i = 0;
  for (size_t offset : order) {
    RecordView s = SpillView(spill_arena_, offset);
    size_t k = i;
    while (k < base.size() && CompareRecords(base.record(k), s) <= 0) ++k;
    if (k > i) merged.AppendRange(base, i, k);
    i = k;
    merged.Append(s);
  }
  if (i < base.size()) merged.AppendRange(base, i, base.size());
  spill_arena_ = {};
  spill_offsets_ = {};
  return std::move(merged).Finish();
}

absl::StatusOr<IngestResult> XfrIngest::Finish() {
  if (!status_.ok()) return status_;
  if (finished_) {
    return absl::FailedPreconditionError("XfrIngest::Finish called twice");
  }
  finished_ = true;
  if (state_ != State::kDone) {
    std::string text;
    switch (state_) {
      case State::kFirstSoa:
        text = fmt::format("truncated transfer: no record after {} message(s)",
                           messages_);
        break;
      case State::kIxfrSecond:
        text = fmt::format(
            "truncated transfer: the answer ended after the lone SOA with "
            "serial {}, which is not older than ours ({})",
            first_serial_.ToString(), current_->serial().ToString());
        break;
      default:
        text = fmt::format(
            "truncated transfer: the stream ended after {} message(s) and {} "
            "record(s) without the closing SOA",
            messages_, records_);
        break;
    }
    return Fail(IngestFailure::kTruncated, std::move(text));
  }
  if (verifier_) {
    if (absl::Status s = verifier_->Finish(); !s.ok()) {
      return Fail(IngestFailure::kTsig, std::string(ToStd(s.message())));
    }
  }

  IngestResult r;
  r.kind = kind_;
  r.serial = first_serial_;
  r.messages = messages_;
  r.records = records_;
  r.bytes = bytes_;
  r.expire = expire_;
  switch (kind_) {
    case IngestResult::kUpToDate:
      r.version = current_;
      break;
    case IngestResult::kFull: {
      absl::StatusOr<std::shared_ptr<const ZoneVersion>> v =
          BuildAxfrVersion();
      if (!v.ok()) {
        return Fail(FailureOfBuild(v.status()),
                    std::string(ToStd(v.status().message())));
      }
      r.version = *std::move(v);
      break;
    }
    case IngestResult::kIncremental: {
      absl::StatusOr<ZoneDiff> condensed = Condense(diffs_);
      if (!condensed.ok()) {
        return Fail(IngestFailure::kInconsistent,
                    std::string(ToStd(condensed.status().message())));
      }
      r.condensed = *std::move(condensed);
      r.version = std::move(running_);
      r.diffs = std::move(diffs_);
      break;
    }
  }
  return r;
}

}  // namespace xfr
