#include "bench/xfrload/verifier.h"

#include "core/ascii.h"
#include "core/zone.h"
#include "fmt/format.h"

namespace xfr::load {

std::string_view QueryKindName(QueryKind k) {
  switch (k) {
    case QueryKind::kSoa: return "soa";
    case QueryKind::kIxfr: return "ixfr";
    case QueryKind::kAxfr: return "axfr";
  }
  return "?";
}

std::string_view ErrorKindName(ErrorKind k) {
  switch (k) {
    case ErrorKind::kConnect: return "connect";
    case ErrorKind::kTimeout: return "timeout";
    case ErrorKind::kIo: return "io";
    case ErrorKind::kIncomplete: return "incomplete";
    case ErrorKind::kParse: return "parse";
    case ErrorKind::kId: return "id";
    case ErrorKind::kRcode: return "rcode";
    case ErrorKind::kQuestion: return "question";
    case ErrorKind::kStructure: return "structure";
    case ErrorKind::kTsig: return "tsig";
    case ErrorKind::kTruncated: return "truncated";
    case ErrorKind::kUnconverged: return "unconverged";
  }
  return "?";
}

absl::Status BuildQuery(QueryKind kind, const Name& zone, uint16_t id,
                        Serial client_serial, const TsigKey* key,
                        absl::Time now, std::vector<uint8_t>& out,
                        std::vector<uint8_t>& request_mac) {
  MessageBuilder b(kMaxPlainUdpSize);
  b.header().id = id;
  RRType qtype = kind == QueryKind::kSoa    ? RRType::kSOA
                 : kind == QueryKind::kIxfr ? RRType::kIXFR
                                            : RRType::kAXFR;
  if (!b.AddQuestion(Question{zone, qtype, RRClass::kIN})) {
    return absl::InternalError("query question does not fit");
  }
  if (kind == QueryKind::kIxfr) {
    // RFC 1995 §3: the authority section holds the client's SOA; only its
    // serial matters to the server, so MNAME and RNAME are the root.
    Record soa;
    soa.owner = zone;
    soa.type = RRType::kSOA;
    soa.rdata = {0, 0};
    soa.rdata.resize(2 + 20);
    StoreU32(&soa.rdata[2], client_serial.value());
    if (!b.AddRecord(Section::kAuthority, soa)) {
      return absl::InternalError("IXFR query SOA does not fit");
    }
  }
  out = b.Finish();
  request_mac.clear();
  if (key != nullptr) {
    auto mac = SignTsigQuery(*key, out, now);
    if (!mac.ok()) return mac.status();
    request_mac = *std::move(mac);
  }
  return absl::OkStatus();
}

absl::Status AnswerVerifier::Begin(QueryKind kind, const Name& zone,
                                   uint16_t id, Serial client_serial,
                                   const TsigKey* key, Bytes request_mac) {
  kind_ = kind;
  if (!zone_.Identical(zone)) zone_ = zone;
  id_ = id;
  client_serial_ = client_serial;
  tsig_.reset();
  if (key != nullptr) {
    auto v = TsigStreamVerifier::Create(*key, request_mac);
    if (!v.ok()) return v.status();
    tsig_.emplace(*std::move(v));
  }
  state_ = State::kFirst;
  style_ = AnswerStyle::kNone;
  first_serial_ = Serial();
  diff_to_ = Serial();
  messages_ = 0;
  records_ = 0;
  done_ = false;
  answer_rcode_ = Rcode::kNoError;
  error_.reset();
  detail_.clear();
  return absl::OkStatus();
}

AnswerVerifier::Step AnswerVerifier::Failed(ErrorKind kind, std::string detail) {
  Fail(kind, std::move(detail));
  return Step::kFailed;
}

void AnswerVerifier::Fail(ErrorKind kind, std::string detail) {
  if (error_) return;  // the first failure is the one reported
  error_ = kind;
  detail_ = std::move(detail);
}

bool AnswerVerifier::IsZoneSoa(const Record& rr, Serial& serial) {
  if (rr.type != RRType::kSOA || !rr.owner.view().EqualsIgnoreCase(zone_.view())) {
    return false;
  }
  // ReadRecord already checked the SOA RDATA layout field by field.
  auto soa = ParseSoaRdata(Bytes(rr.rdata.data(), rr.rdata.size()));
  if (!soa) return false;
  serial = soa->serial;
  return true;
}

bool AnswerVerifier::OnRecord(const Record& rr) {
  ++records_;
  Serial s;
  const bool soa = IsZoneSoa(rr, s);
  switch (state_) {
    case State::kFirst:
      if (!soa) {
        Fail(ErrorKind::kStructure,
             fmt::format("first answer record is {} {}, not the zone's SOA",
                         rr.owner.ToText(), rr.type.ToString()));
        return false;
      }
      first_serial_ = s;
      if (kind_ == QueryKind::kSoa) {
        style_ = AnswerStyle::kSoa;
        state_ = State::kEnded;
      } else if (kind_ == QueryKind::kAxfr) {
        style_ = AnswerStyle::kFull;
        state_ = State::kBody;
      } else {
        state_ = State::kIxfrSecond;
      }
      return true;
    case State::kIxfrSecond:
      // RFC 1995 §4: a second SOA carrying the client's serial opens the
      // diff sequences; anything else is an AXFR-style answer.
      if (soa && s == client_serial_) {
        style_ = AnswerStyle::kIncremental;
        state_ = State::kDeleting;
        return true;
      }
      style_ = AnswerStyle::kFull;
      state_ = State::kBody;
      --records_;
      return OnRecord(rr);
    case State::kBody:
      if (soa) {
        if (s != first_serial_) {
          Fail(ErrorKind::kStructure,
               fmt::format("closing SOA serial {} differs from the opening {}",
                           s.value(), first_serial_.value()));
          return false;
        }
        state_ = State::kEnded;
      }
      return true;
    case State::kDeleting:
      if (soa) {
        diff_to_ = s;
        state_ = State::kAdding;
      }
      return true;
    case State::kAdding:
      if (!soa) return true;
      if (s == first_serial_ && diff_to_ == first_serial_) {
        state_ = State::kEnded;
      } else if (s == diff_to_) {
        state_ = State::kDeleting;  // the next diff starts where this ended
      } else {
        Fail(ErrorKind::kStructure,
             fmt::format("IXFR diff from serial {} follows a diff to {}",
                         s.value(), diff_to_.value()));
        return false;
      }
      return true;
    case State::kEnded:
      Fail(ErrorKind::kStructure,
           fmt::format("record {} {} after the closing SOA", rr.owner.ToText(),
                       rr.type.ToString()));
      return false;
  }
  return false;
}

AnswerVerifier::Step AnswerVerifier::Feed(Bytes message, absl::Time now) {
  if (error_) return Step::kFailed;
  if (done_) return Failed(ErrorKind::kStructure, "message after the answer was complete");
  ++messages_;
  auto parsed = ParseMessage(message);
  if (!parsed.ok()) {
    return Failed(ErrorKind::kParse, fmt::format("message {}: {}", messages_,
                                                 ToStd(parsed.status().message())));
  }
  const Message& m = *parsed;
  const Header& h = m.header;
  if (h.id != id_ || !h.qr || h.opcode != Opcode::kQuery) {
    return Failed(ErrorKind::kId,
                  fmt::format("message {}: ID {} QR {} opcode {} (query ID {})",
                              messages_, h.id, h.qr, h.opcode.value(), id_));
  }
  if (tsig_) {
    if (absl::Status s = tsig_->Feed(message, m, now); !s.ok()) {
      return Failed(ErrorKind::kTsig, fmt::format("message {}: {}", messages_,
                                                  ToStd(s.message())));
    }
  }
  if (m.rcode() != Rcode::kNoError) {
    answer_rcode_ = m.rcode();
    return Failed(ErrorKind::kRcode, fmt::format("message {}: RCODE {}", messages_,
                                                 m.rcode().ToString()));
  }
  if (h.tc) return Failed(ErrorKind::kTruncated, fmt::format("message {}: TC=1", messages_));
  if (m.questions.size() > 1) {
    return Failed(ErrorKind::kQuestion, fmt::format("message {}: {} questions",
                                                    messages_, m.questions.size()));
  }
  if (const Question* q = m.question()) {
    RRType want = kind_ == QueryKind::kSoa    ? RRType::kSOA
                  : kind_ == QueryKind::kIxfr ? RRType::kIXFR
                                              : RRType::kAXFR;
    if (q->qtype != want || q->qclass != RRClass::kIN || !(q->qname == zone_)) {
      return Failed(ErrorKind::kQuestion,
                    fmt::format("message {}: question {} {} is not the query's",
                                messages_, q->qname.ToText(), q->qtype.ToString()));
    }
  }
  if (m.answer.empty() && messages_ == 1) {
    return Failed(ErrorKind::kStructure, "empty answer section");
  }
  if (kind_ == QueryKind::kSoa) {
    // An SOA answer is one message whose first answer record is the SOA.
    if (!OnRecord(m.answer.front())) return Step::kFailed;
    records_ = m.answer.size();
  } else {
    for (const Record& rr : m.answer) {
      if (!OnRecord(rr)) return Step::kFailed;
    }
  }
  if (state_ == State::kIxfrSecond && messages_ == 1 && m.answer.size() == 1 &&
      !(first_serial_ > client_serial_)) {
    // RFC 1995 §4: a lone SOA that is not newer: the client is current.
    style_ = AnswerStyle::kSoa;
    state_ = State::kEnded;
  }
  if (state_ != State::kEnded) return Step::kMore;
  if (tsig_) {
    if (absl::Status s = tsig_->Finish(); !s.ok()) {
      return Failed(ErrorKind::kTsig, std::string(ToStd(s.message())));
    }
  }
  done_ = true;
  return Step::kDone;
}

}  // namespace xfr::load
