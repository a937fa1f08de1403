// Serves one AXFR/IXFR answer from a snapshot's pre-encoded messages. Per
// message only the header (ID, RD, ARCOUNT), the first message's question
// (the client's spelling), an OPT and the TSIG record are made for this
// request; the body goes out from the shared buffer as it is.
#pragma once

#include <array>
#include <deque>
#include <memory>
#include <optional>
#include <vector>

#include "absl/time/time.h"
#include "core/transfer.h"
#include "core/tsig.h"
#include "fanout/served_zone.h"
#include "proxy/responder.h"
#include "proxy/zone_store.h"

namespace xfr {

// A transfer's last bytes went out to `peer`: it now holds the serial that
// was served (an AXFR, or an IXFR ending at our version), whether or not it
// ever sent an IXFR request naming it. Reported lock-free to the zone's
// PeerTable (any serving thread).
void ReportTransferSent(const ZoneStore& store, const TransferStream& t,
                        const SocketAddress& peer, absl::Time now);

// The `log: {transfers: true}` line of a finished transfer:
//   "transfer: IXFR of example.com. to 192.0.2.7:5301: serial 5 -> 7 (incremental),
//    3 messages, 4242 bytes, 0.012s"
// An IXFR answered with the whole zone says "5 -> 7 (AXFR-style)", an
// AXFR "serial 7". Empty for a stream that is not a zone's transfer.
std::string DescribeTransferSent(const TransferStream& t, const SocketAddress& peer,
                                 absl::Time now);

class EncodedTransferStream : public TransferStream {
 public:
  // `messages` must belong to `pin`. `question` is the request's question
  // bytes; `opt` an encoded OPT RR to add to every message (empty: none).
  EncodedTransferStream(std::shared_ptr<const ServedZone> pin,
                        const std::vector<EncodedMessage>* messages, uint16_t id,
                        bool rd, std::vector<uint8_t> question,
                        std::vector<uint8_t> opt,
                        std::optional<TsigStreamSigner> signer, absl::Time now,
                        bool ixfr_requested = false, std::optional<Serial> ixfr_from = {});

  size_t Next(std::vector<iovec>& iov) override;
  void Release() override { scratch_.clear(); }
  size_t messages_sent() const { return next_; }
  const ServedZone* served() const override { return pin_.get(); }
  std::optional<TransferFacts> facts() const override;

 private:
  struct Scratch {
    std::array<uint8_t, kMaxRequestPrefixSize> prefix;
    std::vector<uint8_t> tsig;
  };

  std::shared_ptr<const ServedZone> pin_;
  const std::vector<EncodedMessage>* messages_;
  uint16_t id_;
  bool rd_;
  std::vector<uint8_t> question_;
  std::vector<uint8_t> opt_;
  std::optional<TsigStreamSigner> signer_;
  absl::Time now_;
  size_t next_ = 0;
  bool ixfr_requested_;
  std::optional<Serial> ixfr_from_;
  uint64_t bytes_ = 0;
  std::deque<Scratch> scratch_;  // stable addresses while parts are in flight
};

}  // namespace xfr
