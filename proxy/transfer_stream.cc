#include "proxy/transfer_stream.h"

#include <cstring>

#include "core/message.h"
#include "core/wire.h"
#include "proxy/log.h"

namespace xfr {
namespace {
constexpr uint16_t kRdFlag = 0x0100;
}

void ReportTransferSent(const ZoneStore& store, const TransferStream& t,
                        const SocketAddress& peer, absl::Time now) {
  const ServedZone* z = t.served();
  if (z == nullptr) return;
  LiveZone* entry = store.Find(z->version->origin());
  if (entry == nullptr) return;
  if (auto peers = entry->peers()) peers->ReportHeldSerial(peer.ip().bytes(), z->serial(), now);
}

EncodedTransferStream::EncodedTransferStream(
    std::shared_ptr<const ServedZone> pin,
    const std::vector<EncodedMessage>* messages, uint16_t id, bool rd,
    std::vector<uint8_t> question, std::vector<uint8_t> opt,
    std::optional<TsigStreamSigner> signer, absl::Time now, bool ixfr_requested,
    std::optional<Serial> ixfr_from)
    : pin_(std::move(pin)),
      messages_(messages),
      id_(id),
      rd_(rd),
      question_(std::move(question)),
      opt_(std::move(opt)),
      signer_(std::move(signer)),
      now_(now),
      ixfr_requested_(ixfr_requested),
      ixfr_from_(ixfr_from) {}

std::optional<TransferFacts> EncodedTransferStream::facts() const {
  TransferFacts f;
  f.ixfr_requested = ixfr_requested_;
  f.from = ixfr_from_;
  f.incremental = messages_ != &pin_->axfr;
  f.messages = next_;
  f.bytes = bytes_;
  f.started = now_;
  return f;
}

std::string DescribeTransferSent(const TransferStream& t, const SocketAddress& peer,
                                 absl::Time now) {
  const ServedZone* z = t.served();
  std::optional<TransferFacts> f = t.facts();
  if (z == nullptr || !f) return "";
  std::string serials;
  if (!f->ixfr_requested) {
    serials = fmt::format("serial {}", z->serial().ToString());
  } else {
    serials = fmt::format("serial {} -> {} ({})", f->from ? f->from->ToString() : "?",
                          z->serial().ToString(), f->incremental ? "incremental" : "AXFR-style");
  }
  return fmt::format("transfer: {} of {} to {}: {}, {} messages, {} bytes, {:.3f}s",
                     f->ixfr_requested ? "IXFR" : "AXFR", z->version->origin().ToText(),
                     peer.ToString(), serials, f->messages, f->bytes,
                     absl::ToDoubleSeconds(now - f->started));
}

size_t EncodedTransferStream::Next(std::vector<iovec>& iov) {
  if (next_ >= messages_->size()) return 0;
  const EncodedMessage& m = (*messages_)[next_++];
  Scratch& s = scratch_.emplace_back();
  uint8_t* p = s.prefix.data();
  std::memcpy(p, m.wire.data(), kHeaderSize);
  StoreU16(p, id_);
  uint16_t flags = LoadU16(p + 2);
  StoreU16(p + 2, static_cast<uint16_t>(rd_ ? flags | kRdFlag : flags & ~kRdFlag));
  size_t prefix_len = kHeaderSize;
  if (m.question_end > kHeaderSize) {
    // The first message repeats the question as the client asked it (RFC
    // 5936 §2.2.1): same name but for case, so the same length; an IXFR
    // answered AXFR-style keeps the client's QTYPE IXFR (RFC 1995 §4).
    std::memcpy(p + kHeaderSize, question_.data(), question_.size());
    prefix_len += question_.size();
  }
  if (!opt_.empty()) StoreU16(p + 10, static_cast<uint16_t>(LoadU16(p + 10) + 1));

  Bytes body = m.body();
  size_t total = prefix_len + body.size() + opt_.size();
  bytes_ += total;
  iov.push_back({p, prefix_len});
  if (!body.empty()) iov.push_back({const_cast<uint8_t*>(body.data()), body.size()});
  if (!opt_.empty()) iov.push_back({opt_.data(), opt_.size()});
  if (signer_) {
    // RFC 8945 §5.3.1: every message of the answer is signed, each MAC
    // chained to the previous one.
    Bytes parts[3] = {Bytes(p, prefix_len), body, Bytes(opt_.data(), opt_.size())};
    if (absl::Status st = signer_->Sign(parts, now_, s.tsig); !st.ok()) {
      LogError("signing transfer message {}: {}", next_, std::string(st.message()));
      // Cannot happen with a valid key; end the stream rather than send an
      // unsigned message the client would reject anyway.
      next_ = messages_->size();
      iov.resize(iov.size() - (body.empty() ? 1 : 2) - (opt_.empty() ? 0 : 1));
      return 0;
    }
    // The MAC covers the message as it was before the TSIG RR (RFC 8945
    // §4.3.1); only now does ARCOUNT count it.
    IncrementArcount(MutableBytes(p, kHeaderSize));
    iov.push_back({s.tsig.data(), s.tsig.size()});
    total += s.tsig.size();
    bytes_ += s.tsig.size();
  }
  return total;
}

}  // namespace xfr
