#include "bench/xfrload/verifier.h"

#include "core/ascii.h"
#include "core/rdata.h"
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

bool AnswerVerifier::IsZoneSoa(const WalkedRecord& rr, Serial& serial) {
  if (rr.type != RRType::kSOA || !rr.owner_view().EqualsIgnoreCase(zone_.view())) {
    return false;
  }
  // ReadRdata already checked the SOA RDATA layout field by field.
  auto soa = ParseSoaRdata(Bytes(rr.rdata.data(), rr.rdata.size()));
  if (!soa) return false;
  serial = soa->serial;
  return true;
}

bool AnswerVerifier::OnRecord(const WalkedRecord& rr) {
  ++records_;
  Serial s;
  const bool soa = IsZoneSoa(rr, s);
  switch (state_) {
    case State::kFirst:
      if (!soa) {
        structure_detail_ = fmt::format("first answer record is {} {}, not the zone's SOA",
                                        rr.owner_view().ToText(), rr.type.ToString());
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
          structure_detail_ = fmt::format("closing SOA serial {} differs from the opening {}",
                                          s.value(), first_serial_.value());
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
        structure_detail_ = fmt::format("IXFR diff from serial {} follows a diff to {}",
                                        s.value(), diff_to_.value());
        return false;
      }
      return true;
    case State::kEnded:
      structure_detail_ = fmt::format("record {} {} after the closing SOA",
                                      rr.owner_view().ToText(), rr.type.ToString());
      return false;
  }
  return false;
}

absl::Status AnswerVerifier::ReadWalked(WireReader& r) {
  walked_.owner.clear();
  if (absl::Status s = ReadNameInto(r, walked_.owner); !s.ok()) {
    return absl::InvalidArgumentError(fmt::format("owner name: {}", ToStd(s.message())));
  }
  walked_.type = RRType(r.U16());
  r.U16();  // CLASS: OPT uses it for the payload size, TSIG is ANY
  walked_.ttl = r.U32();
  uint16_t rdlength = r.U16();
  if (!r.ok()) return absl::InvalidArgumentError("truncated record header");
  if (absl::Status s = ReadRdata(r, walked_.type, rdlength, walked_.rdata); !s.ok()) {
    return absl::InvalidArgumentError(fmt::format("{} record at {}: {}",
                                                  walked_.type.ToString(),
                                                  walked_.owner_view().ToText(),
                                                  ToStd(s.message())));
  }
  return absl::OkStatus();
}

AnswerVerifier::Step AnswerVerifier::Feed(Bytes message, absl::Time now) {
  static constexpr const char* kSections[] = {"answer", "authority", "additional"};
  if (error_) return Step::kFailed;
  if (done_) return Failed(ErrorKind::kStructure, "message after the answer was complete");
  ++messages_;
  // The message is walked record by record rather than parsed into a
  // Message (the checks are ParseMessage's); answer records go to the
  // structure check as they are read, and its verdict waits until the
  // faults that take precedence (ID, TSIG, RCODE, question) are ruled out.
  auto header = ParseHeader(message);
  if (!header.ok()) {
    return Failed(ErrorKind::kParse, fmt::format("message {}: {}", messages_,
                                                 ToStd(header.status().message())));
  }
  const Header& h = *header;
  WireReader r(message, kHeaderSize);
  for (int i = 0; i < h.qdcount; ++i) {
    if (absl::Status s = ReadName(r, question_.qname); !s.ok()) {
      return Failed(ErrorKind::kParse, fmt::format("message {}: question {}: {}", messages_,
                                                   i + 1, ToStd(s.message())));
    }
    question_.qtype = RRType(r.U16());
    question_.qclass = RRClass(r.U16());
    if (!r.ok()) {
      return Failed(ErrorKind::kParse,
                    fmt::format("message {}: question {}: truncated", messages_, i + 1));
    }
  }
  const uint16_t counts[3] = {h.ancount, h.nscount, h.arcount};
  std::optional<TsigRecord> tsig;
  size_t tsig_offset = 0;
  bool have_opt = false;
  uint16_t extended_rcode = 0;
  uint64_t answers = 0;
  bool structure_ok = true;
  for (int sec = 0; sec < 3; ++sec) {
    for (int i = 0; i < counts[sec]; ++i) {
      size_t start = r.position();
      if (absl::Status s = ReadWalked(r); !s.ok()) {
        return Failed(ErrorKind::kParse,
                      fmt::format("message {}: {} record {} of {}: {}", messages_,
                                  kSections[sec], i + 1, counts[sec], ToStd(s.message())));
      }
      if (walked_.type == RRType::kOPT) {
        // RFC 6891 §6.1.1: at most one, in the additional section, owned
        // by the root; its TTL carries the RCODE's high 8 bits (§6.1.3).
        if (sec != 2 || have_opt || !walked_.owner_view().IsRoot()) {
          return Failed(ErrorKind::kParse,
                        fmt::format("message {}: misplaced OPT record", messages_));
        }
        have_opt = true;
        extended_rcode = static_cast<uint16_t>(walked_.ttl >> 24);
        continue;
      }
      if (walked_.type == RRType::kTSIG) {
        // RFC 8945 §5.1: the last record of the additional section.
        if (sec != 2 || i != counts[sec] - 1) {
          return Failed(ErrorKind::kParse,
                        fmt::format("message {}: TSIG record is not the last", messages_));
        }
        auto owner = Name::FromWire(AsBytes(walked_.owner));
        auto t = owner.ok() ? ParseTsigRdata(*owner, Bytes(walked_.rdata.data(),
                                                           walked_.rdata.size()))
                            : absl::StatusOr<TsigRecord>(owner.status());
        if (!t.ok()) {
          return Failed(ErrorKind::kParse, fmt::format("message {}: TSIG: {}", messages_,
                                                       ToStd(t.status().message())));
        }
        tsig = *std::move(t);
        tsig_offset = start;
        continue;
      }
      if (sec != 0) continue;
      ++answers;
      // An SOA answer is one message whose first answer record is the SOA.
      if (structure_ok && (kind_ != QueryKind::kSoa || answers == 1)) {
        structure_ok = OnRecord(walked_);
      }
    }
  }
  if (r.remaining() != 0) {
    return Failed(ErrorKind::kParse, fmt::format("message {}: {} trailing bytes after the "
                                                 "last record", messages_, r.remaining()));
  }
  if (h.id != id_ || !h.qr || h.opcode != Opcode::kQuery) {
    return Failed(ErrorKind::kId,
                  fmt::format("message {}: ID {} QR {} opcode {} (query ID {})",
                              messages_, h.id, h.qr, h.opcode.value(), id_));
  }
  if (tsig_) {
    if (absl::Status s = tsig_->Feed(message, tsig ? &*tsig : nullptr, tsig_offset, now);
        !s.ok()) {
      return Failed(ErrorKind::kTsig, fmt::format("message {}: {}", messages_,
                                                  ToStd(s.message())));
    }
  }
  Rcode rcode(static_cast<uint16_t>(extended_rcode << 4 | (h.rcode & 0xF)));
  if (rcode != Rcode::kNoError) {
    answer_rcode_ = rcode;
    return Failed(ErrorKind::kRcode, fmt::format("message {}: RCODE {}", messages_,
                                                 rcode.ToString()));
  }
  if (h.tc) return Failed(ErrorKind::kTruncated, fmt::format("message {}: TC=1", messages_));
  if (h.qdcount > 1) {
    return Failed(ErrorKind::kQuestion, fmt::format("message {}: {} questions",
                                                    messages_, h.qdcount));
  }
  if (h.qdcount == 1) {
    const Question& q = question_;
    RRType want = kind_ == QueryKind::kSoa    ? RRType::kSOA
                  : kind_ == QueryKind::kIxfr ? RRType::kIXFR
                                              : RRType::kAXFR;
    if (q.qtype != want || q.qclass != RRClass::kIN || !(q.qname == zone_)) {
      return Failed(ErrorKind::kQuestion,
                    fmt::format("message {}: question {} {} is not the query's",
                                messages_, q.qname.ToText(), q.qtype.ToString()));
    }
  }
  if (answers == 0 && messages_ == 1) {
    return Failed(ErrorKind::kStructure, "empty answer section");
  }
  if (!structure_ok) return Failed(ErrorKind::kStructure, structure_detail_);
  if (kind_ == QueryKind::kSoa) records_ = answers;
  if (state_ == State::kIxfrSecond && messages_ == 1 && answers == 1 &&
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
