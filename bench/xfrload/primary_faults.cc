#include "bench/xfrload/primary_faults.h"

#include <algorithm>
#include <memory>

#include "core/message.h"
#include "core/tsig.h"
#include "core/zone.h"

namespace xfr::load {
namespace {

struct Peek {
  bool ok = false;
  Opcode opcode;
  RRType qtype;
};

// The opcode and QTYPE of a one-question request, without parsing the rest:
// every SOA poll goes through here, so it costs a few bytes of reading.
Peek PeekQuestion(Bytes m) {
  absl::StatusOr<Header> h = ParseHeader(m);
  if (!h.ok() || h->qr || h->qdcount != 1) return {};
  WireReader r(m, kHeaderSize);
  while (r.ok()) {
    uint8_t len = r.U8();
    if (len == 0) break;
    if ((len & 0xC0) == 0xC0) {  // a pointer ends the name (RFC 1035 §4.1.4)
      r.U8();
      break;
    }
    if (len > kMaxLabelLength) r.Fail();
    r.Skip(len);
  }
  RRType t(r.U16());
  if (!r.ok()) return {};
  return Peek{true, h->opcode, t};
}

// Flips a bit of the MAC in a TSIG RR (RFC 8945 §4.2): the RR ends with
// MAC, Original ID (2), Error (2), Other Len (2), Other Data.
void BreakMac(uint8_t* rr, size_t len) {
  if (len < 8) return;
  size_t other = LoadU16(rr + len - 2);
  if (other + 7 > len) return;
  rr[len - other - 7] ^= 0x5a;
}

// Sends `whole` messages, then half of the next one under a length prefix
// that promises all of it, then asks the connection to close.
class TruncatedStream : public TransferStream {
 public:
  TruncatedStream(std::unique_ptr<TransferStream> inner, size_t whole)
      : inner_(std::move(inner)), whole_(whole) {}

  size_t Next(std::vector<iovec>& iov) override {
    if (done_) return 0;
    if (sent_ < whole_) {
      ++sent_;
      size_t n = inner_->Next(iov);
      done_ = n == 0;
      return n;
    }
    done_ = true;
    parts_.clear();
    size_t n = inner_->Next(parts_);
    size_t keep = n / 2;
    for (const iovec& v : parts_) {
      if (keep == 0) break;
      size_t take = std::min(keep, v.iov_len);
      iov.push_back({v.iov_base, take});
      keep -= take;
    }
    return n;
  }
  void Release() override { inner_->Release(); }
  bool CloseAfter() const override { return true; }

 private:
  std::unique_ptr<TransferStream> inner_;
  size_t whole_;
  size_t sent_ = 0;
  bool done_ = false;
  std::vector<iovec> parts_;
};

// Breaks the MAC of every message of a signed transfer. The stream puts
// each message's TSIG RR last, in scratch of its own that we may write.
class BrokenMacStream : public TransferStream {
 public:
  explicit BrokenMacStream(std::unique_ptr<TransferStream> inner)
      : inner_(std::move(inner)) {}
  size_t Next(std::vector<iovec>& iov) override {
    size_t before = iov.size();
    size_t n = inner_->Next(iov);
    if (n > 0 && iov.size() > before) {
      BreakMac(static_cast<uint8_t*>(iov.back().iov_base), iov.back().iov_len);
    }
    return n;
  }
  void Release() override { inner_->Release(); }

 private:
  std::unique_ptr<TransferStream> inner_;
};

const ServedZone* CurrentZone(const PrimaryResponder& r, const Message& m,
                              std::shared_ptr<const ServedZone>& pin) {
  LiveZone* entry = r.store()->Find(m.questions[0].qname);
  if (entry == nullptr) return nullptr;
  pin = entry->Current();
  return pin.get();
}

}  // namespace

std::string_view FaultName(Fault f) {
  switch (f) {
    case Fault::kNone: return "none";
    case Fault::kTruncate: return "truncate";
    case Fault::kWrongSoa: return "wrong-soa";
    case Fault::kStall: return "stall";
    case Fault::kBadTsig: return "bad-tsig";
    case Fault::kNotImpIxfr: return "notimp-ixfr";
  }
  return "?";
}

std::optional<Fault> ParseFault(std::string_view text) {
  for (Fault f : {Fault::kNone, Fault::kTruncate, Fault::kWrongSoa, Fault::kStall,
                  Fault::kBadTsig, Fault::kNotImpIxfr}) {
    if (text == FaultName(f)) return f;
  }
  return std::nullopt;
}

FaultingResponder::IxfrOutcome FaultingResponder::ClassifyIxfr(Bytes request,
                                                               size_t& messages) const {
  absl::StatusOr<Message> m = ParseMessage(request);
  if (!m.ok() || m->questions.size() != 1) return IxfrOutcome::kNone;
  std::optional<SoaFields> have;
  for (const Record& r : m->authority) {
    if (r.type == RRType::kSOA) have = ParseSoaRdata(Bytes(r.rdata.data(), r.rdata.size()));
  }
  std::shared_ptr<const ServedZone> pin;
  const ServedZone* z = CurrentZone(inner_, *m, pin);
  if (!have || z == nullptr) return IxfrOutcome::kNone;
  // The same decisions as PrimaryResponder (RFC 1995 §2, §4).
  if (!(have->serial < z->serial())) return IxfrOutcome::kCurrent;
  if (const auto* ixfr = z->FindIxfr(have->serial)) {
    messages = ixfr->size();
    return IxfrOutcome::kIncremental;
  }
  messages = z->axfr.size();
  return IxfrOutcome::kFull;
}

size_t FaultingResponder::AxfrMessages(Bytes request) const {
  absl::StatusOr<Message> m = ParseMessage(request);
  if (!m.ok() || m->questions.size() != 1) return 1;
  std::shared_ptr<const ServedZone> pin;
  const ServedZone* z = CurrentZone(inner_, *m, pin);
  return z == nullptr ? 1 : z->axfr.size();
}

Reply FaultingResponder::NotImp(Bytes request, const RequestContext& ctx) {
  absl::StatusOr<Message> m = ParseMessage(request);
  if (!m.ok()) return inner_.Handle(request, ctx);
  MessageBuilder b = StartResponse(*m, kMaxPlainUdpSize);
  if (m->edns) (void)b.SetEdns(Edns{});
  b.SetRcode(Rcode::kNotImp);
  std::vector<uint8_t> out = b.Finish();
  if (m->tsig) {
    // RFC 8945 §5.3: the answer to a signed request is signed, or the
    // client would take it for a TSIG failure rather than a NOTIMP.
    TsigRequestCheck check =
        VerifyTsigRequest(keys_, request, *m->tsig, m->tsig_offset, ctx.now);
    if (!check.ok()) return inner_.Handle(request, ctx);  // the inner error answer
    auto signer = TsigStreamSigner::Create(*check.key, check.request.mac);
    if (!signer.ok() || !signer->SignMessage(out, ctx.now).ok()) return Reply::Drop();
  }
  return Reply::Message(std::move(out));
}

void FaultingResponder::Count(RRType qtype, IxfrOutcome ixfr, const Reply& r) {
  bool transfer = r.kind == Reply::Kind::kTransfer;
  bool message = r.kind == Reply::Kind::kMessage;
  if (qtype == RRType::kSOA && message) {
    counters_.soa_queries.Add();
  } else if (qtype == RRType::kAXFR && transfer) {
    counters_.axfr.Add();
  } else if (qtype == RRType::kIXFR && transfer && ixfr == IxfrOutcome::kIncremental) {
    counters_.ixfr_incremental.Add();
  } else if (qtype == RRType::kIXFR && transfer && ixfr == IxfrOutcome::kFull) {
    counters_.ixfr_full.Add();
  } else if (qtype == RRType::kIXFR && message && ixfr == IxfrOutcome::kCurrent) {
    counters_.ixfr_current.Add();
  } else {
    counters_.other.Add();
  }
}

Reply FaultingResponder::Handle(Bytes request, const RequestContext& ctx) {
  Peek p = PeekQuestion(request);
  if (!p.ok || p.opcode != Opcode::kQuery) {
    counters_.other.Add();
    return inner_.Handle(request, ctx);
  }
  Fault fault = fault_.load(std::memory_order_relaxed);
  bool tcp = ctx.transport == Transport::kTcp;
  bool xfr = p.qtype == RRType::kAXFR || p.qtype == RRType::kIXFR;
  if (fault == Fault::kStall && xfr && tcp) {
    counters_.faults.Add();
    return Reply::Drop();  // the connection stays open, unanswered
  }
  if (fault == Fault::kNotImpIxfr && p.qtype == RRType::kIXFR) {
    counters_.faults.Add();
    return NotImp(request, ctx);
  }
  if (fault == Fault::kWrongSoa && p.qtype == RRType::kSOA) {
    Reply r = liar_.Handle(request, ctx);
    if (r.kind == Reply::Kind::kMessage) {
      counters_.faults.Add();
      counters_.soa_queries.Add();
    }
    return r;
  }
  IxfrOutcome ixfr = IxfrOutcome::kNone;
  size_t messages = 1;
  if (p.qtype == RRType::kIXFR) ixfr = ClassifyIxfr(request, messages);
  Reply r = inner_.Handle(request, ctx);
  Count(p.qtype, ixfr, r);
  if (fault == Fault::kTruncate && r.kind == Reply::Kind::kTransfer) {
    if (p.qtype == RRType::kAXFR) messages = AxfrMessages(request);
    counters_.faults.Add();
    r.transfer = std::make_unique<TruncatedStream>(std::move(r.transfer), messages / 2);
  } else if (fault == Fault::kBadTsig && r.kind != Reply::Kind::kDrop) {
    absl::StatusOr<Message> m = ParseMessage(request);
    // Only answers the inner responder signed: a signed request that it
    // accepted (an error answer to a bad signature stays as it is).
    if (m.ok() && m->tsig) {
      if (r.kind == Reply::Kind::kTransfer) {
        counters_.faults.Add();
        r.transfer = std::make_unique<BrokenMacStream>(std::move(r.transfer));
      } else if (r.kind == Reply::Kind::kMessage && r.message.size() > kHeaderSize &&
                 (Header::Load(r.message.data()).rcode) == 0) {
        counters_.faults.Add();
        BreakMac(r.message.data(), r.message.size());
      }
    }
  }
  return r;
}

}  // namespace xfr::load
