#include "core/message.h"

#include <algorithm>
#include <string>

#include "fmt/format.h"

namespace xfr {
namespace {

constexpr const char* kSectionNames[] = {"answer", "authority", "additional"};

// Smallest wire sizes, used to reject counts that cannot fit before
// reserving anything: a question is a root name plus type and class; a
// record is a root owner plus the 10 fixed bytes.
constexpr size_t kMinQuestionSize = 5;
constexpr size_t kMinRecordSize = 11;

absl::Status Malformed(std::string what) {
  return absl::InvalidArgumentError(std::move(what));
}

// The OPT pseudo-record (RFC 6891 §6.1.2-6.1.3): CLASS is the UDP payload
// size, TTL packs extended RCODE, version and the DO bit, RDATA is a list of
// {code, length, data} options.
absl::StatusOr<Edns> ParseOpt(const Record& rec) {
  Edns e;
  e.udp_payload_size = rec.rclass.value();
  e.extended_rcode = static_cast<uint8_t>(rec.ttl >> 24);
  e.version = static_cast<uint8_t>(rec.ttl >> 16);
  e.dnssec_ok = (rec.ttl & 0x8000) != 0;
  WireReader r(Bytes(rec.rdata.data(), rec.rdata.size()));
  while (r.ok() && r.remaining() > 0) {
    uint16_t code = r.U16();
    uint16_t len = r.U16();
    Bytes data = r.Take(len);
    if (!r.ok()) return Malformed("OPT: truncated EDNS option");
    if (code == kEdnsExpireOption) {
      // RFC 7314 §2: empty in a query, 4 bytes of seconds in an answer.
      if (e.expire_present) return Malformed("OPT: more than one EXPIRE option");
      if (len != 0 && len != 4) {
        return Malformed(fmt::format(
            "OPT: EXPIRE option of {} bytes (RFC 7314 allows 0 or 4)", len));
      }
      e.expire_present = true;
      if (len == 4) e.expire = LoadU32(data.data());
      continue;
    }
    e.options.push_back(EdnsOption{code, {data.begin(), data.end()}});
  }
  return e;
}

void WriteOpt(WireWriter& w, const Edns& e) {
  w.U8(0);  // owner: the root (RFC 6891 §6.1.2)
  w.U16(RRType::kOPT.value());
  w.U16(e.udp_payload_size);
  w.U32(uint32_t{e.extended_rcode} << 24 | uint32_t{e.version} << 16 |
        (e.dnssec_ok ? 0x8000u : 0u));
  size_t len_at = w.size();
  w.U16(0);
  size_t start = w.size();
  if (e.expire_present || e.expire.has_value()) {
    w.U16(kEdnsExpireOption);
    w.U16(e.expire.has_value() ? 4 : 0);
    if (e.expire.has_value()) w.U32(*e.expire);
  }
  for (const EdnsOption& o : e.options) {
    w.U16(o.code);
    w.U16(static_cast<uint16_t>(o.data.size()));
    w.Append(Bytes(o.data.data(), o.data.size()));
  }
  if (w.ok()) w.PatchU16(len_at, static_cast<uint16_t>(w.size() - start));
}

}  // namespace

uint16_t Header::Flags() const {
  return static_cast<uint16_t>(
      (qr ? 0x8000 : 0) | (opcode.value() & 0xF) << 11 | (aa ? 0x0400 : 0) |
      (tc ? 0x0200 : 0) | (rd ? 0x0100 : 0) | (ra ? 0x0080 : 0) |
      (ad ? 0x0020 : 0) | (cd ? 0x0010 : 0) | (rcode & 0xF));
}

void Header::SetFlags(uint16_t f) {
  qr = (f & 0x8000) != 0;
  opcode = Opcode(static_cast<uint8_t>((f >> 11) & 0xF));
  aa = (f & 0x0400) != 0;
  tc = (f & 0x0200) != 0;
  rd = (f & 0x0100) != 0;
  ra = (f & 0x0080) != 0;
  ad = (f & 0x0020) != 0;
  cd = (f & 0x0010) != 0;
  rcode = static_cast<uint8_t>(f & 0xF);
}

void Header::Store(uint8_t* out) const {
  StoreU16(out, id);
  StoreU16(out + 2, Flags());
  StoreU16(out + 4, qdcount);
  StoreU16(out + 6, ancount);
  StoreU16(out + 8, nscount);
  StoreU16(out + 10, arcount);
}

Header Header::Load(const uint8_t* in) {
  Header h;
  h.id = LoadU16(in);
  h.SetFlags(LoadU16(in + 2));
  h.qdcount = LoadU16(in + 4);
  h.ancount = LoadU16(in + 6);
  h.nscount = LoadU16(in + 8);
  h.arcount = LoadU16(in + 10);
  return h;
}

Rcode Message::rcode() const {
  uint16_t high = edns.has_value() ? edns->extended_rcode : 0;
  return Rcode(static_cast<uint16_t>(high << 4 | (header.rcode & 0xF)));
}

absl::StatusOr<Header> ParseHeader(Bytes wire) {
  if (wire.size() < kHeaderSize) {
    return Malformed(fmt::format(
        "message of {} bytes is shorter than the 12-byte header", wire.size()));
  }
  return Header::Load(wire.data());
}

absl::StatusOr<Message> ParseMessage(Bytes wire) {
  absl::StatusOr<Header> header = ParseHeader(wire);
  if (!header.ok()) return header.status();
  Message m;
  m.header = *header;
  const Header& h = m.header;
  const uint16_t counts[3] = {h.ancount, h.nscount, h.arcount};
  size_t min_size = size_t{h.qdcount} * kMinQuestionSize +
                    (size_t{h.ancount} + h.nscount + h.arcount) * kMinRecordSize;
  if (min_size > wire.size() - kHeaderSize) {
    return Malformed(fmt::format(
        "section counts (QD={} AN={} NS={} AR={}) run past the end of the "
        "{}-byte message",
        h.qdcount, h.ancount, h.nscount, h.arcount, wire.size()));
  }

  WireReader r(wire, kHeaderSize);
  m.questions.reserve(h.qdcount);
  for (int i = 0; i < h.qdcount; ++i) {
    Question q;
    if (absl::Status s = ReadName(r, q.qname); !s.ok()) {
      return Malformed(fmt::format("question {}: {}", i + 1,
                                   std::string(s.message())));
    }
    q.qtype = RRType(r.U16());
    q.qclass = RRClass(r.U16());
    if (!r.ok()) return Malformed(fmt::format("question {}: truncated", i + 1));
    m.questions.push_back(std::move(q));
  }
  m.question_end = r.position();

  std::vector<Record>* sections[3] = {&m.answer, &m.authority, &m.additional};
  for (int sec = 0; sec < 3; ++sec) {
    const bool additional = sec == 2;
    sections[sec]->reserve(counts[sec]);
    for (int i = 0; i < counts[sec]; ++i) {
      size_t start = r.position();
      Record rec;
      if (absl::Status s = ReadRecord(r, rec); !s.ok()) {
        return Malformed(fmt::format("{} record {} of {}: {}",
                                     kSectionNames[sec], i + 1, counts[sec],
                                     std::string(s.message())));
      }
      if (rec.type == RRType::kOPT) {
        // RFC 6891 §6.1.1: at most one, in the additional section, owned by
        // the root.
        if (!additional) {
          return Malformed(
              fmt::format("OPT record in the {} section", kSectionNames[sec]));
        }
        if (m.edns.has_value()) return Malformed("more than one OPT record");
        if (!rec.owner.view().IsRoot()) {
          return Malformed(fmt::format("OPT record owned by {}, not the root",
                                       rec.owner.ToText()));
        }
        absl::StatusOr<Edns> e = ParseOpt(rec);
        if (!e.ok()) return e.status();
        m.edns = *std::move(e);
        continue;
      }
      if (rec.type == RRType::kTSIG) {
        // RFC 8945 §5.1: the TSIG RR is the last record of the additional
        // section (so after OPT); anywhere else is FORMERR.
        if (!additional || i != counts[sec] - 1) {
          return Malformed(fmt::format(
              "TSIG record is not the last record (in the {} section, "
              "record {} of {})",
              kSectionNames[sec], i + 1, counts[sec]));
        }
        absl::StatusOr<TsigRecord> t =
            ParseTsigRdata(rec.owner, Bytes(rec.rdata.data(), rec.rdata.size()));
        if (!t.ok()) return t.status();
        m.tsig = *std::move(t);
        m.tsig_offset = start;
        continue;
      }
      sections[sec]->push_back(std::move(rec));
    }
  }
  if (r.remaining() != 0) {
    return Malformed(fmt::format("{} trailing bytes after the last record",
                                 r.remaining()));
  }
  return m;
}

size_t EdnsWireSize(const Edns& e) {
  size_t n = 11;  // root owner, type, class, TTL, RDLENGTH
  if (e.expire_present || e.expire.has_value()) {
    n += 4 + (e.expire.has_value() ? 4 : 0);
  }
  for (const EdnsOption& o : e.options) n += 4 + o.data.size();
  return n;
}

MessageBuilder::MessageBuilder(size_t limit)
    : limit_(std::clamp(limit, kHeaderSize, kMaxMessageSize)) {
  buf_.reserve(std::min<size_t>(limit_, kMaxPlainUdpSize));
  buf_.resize(kHeaderSize);
}

bool MessageBuilder::AddQuestion(const Question& q) {
  if (counts_[1] + counts_[2] + counts_[3] != 0 || counts_[0] == 0xFFFF) {
    return false;
  }
  size_t mark = buf_.size();
  WireWriter w(buf_, limit_ - opt_size_);
  compressor_.Write(w, q.qname);
  w.U16(q.qtype.value());
  w.U16(q.qclass.value());
  if (!w.ok()) {
    buf_.resize(mark);
    compressor_.Rollback(mark);
    return false;
  }
  ++counts_[0];
  return true;
}

bool MessageBuilder::AddRecord(Section section, const RecordView& rr) {
  // OPT has its own setter so that it is written once, last.
  if (section < section_ || rr.type == RRType::kOPT) return false;
  int idx = 1 + static_cast<int>(section);
  if (counts_[idx] == 0xFFFF) return false;
  size_t mark = buf_.size();
  WireWriter w(buf_, limit_ - opt_size_);
  WriteRecord(w, &compressor_, rr);
  if (!w.ok()) {
    buf_.resize(mark);
    compressor_.Rollback(mark);
    return false;
  }
  section_ = section;
  ++counts_[idx];
  return true;
}

bool MessageBuilder::SetEdns(const Edns& edns) {
  size_t n = EdnsWireSize(edns);
  if (buf_.size() + n > limit_) return false;
  edns_ = edns;
  opt_size_ = n;
  return true;
}

void MessageBuilder::SetRcode(Rcode rcode) {
  header_.rcode = static_cast<uint8_t>(rcode.value() & 0xF);
  extended_rcode_ = static_cast<uint8_t>(rcode.value() >> 4);
}

std::vector<uint8_t> MessageBuilder::Finish() {
  Header h = header_;
  h.qdcount = counts_[0];
  h.ancount = counts_[1];
  h.nscount = counts_[2];
  h.arcount = counts_[3];
  if (edns_.has_value()) {
    if (extended_rcode_.has_value()) edns_->extended_rcode = *extended_rcode_;
    // The room was reserved in SetEdns, so this cannot overflow.
    WireWriter w(buf_, limit_);
    WriteOpt(w, *edns_);
    ++h.arcount;
  }
  h.Store(buf_.data());
  return std::move(buf_);
}

Header ResponseHeader(const Header& query) {
  Header h;
  h.id = query.id;
  h.qr = true;
  h.opcode = query.opcode;
  h.rd = query.rd;
  return h;
}

MessageBuilder StartResponse(const Message& query, size_t limit) {
  MessageBuilder b(limit);
  b.SetHeader(ResponseHeader(query.header));
  for (const Question& q : query.questions) {
    if (!b.AddQuestion(q)) break;
  }
  return b;
}

}  // namespace xfr
