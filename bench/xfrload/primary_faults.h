// What the synthetic primary puts in front of the proxy's PrimaryResponder:
// it counts what it serves (SOA answers, AXFRs, IXFRs by outcome), and on
// request misbehaves the way broken primaries do, so that secondaries and
// xfrproxy's upstream side can be tested against them:
//   truncate     a transfer stops in the middle of a message and the TCP
//                connection is closed (the length prefix promised more);
//   wrong-soa    SOA queries get a serial one ahead of the zone the
//                transfers carry;
//   stall        transfer requests are read and never answered;
//   bad-tsig     signed answers carry a broken MAC (RFC 8945 §5.3: the
//                client must reject them);
//   notimp-ixfr  IXFR is answered NOTIMP (RFC 1995 §4 lets a client fall
//                back to AXFR).
// Normal answers go through untouched: this wrapper adds a counter bump and
// a look at the question, nothing else.
#pragma once

#include <atomic>
#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "core/tsig_key.h"
#include "proxy/primary.h"
#include "proxy/responder.h"
#include "proxy/stats.h"

namespace xfr::load {

enum class Fault : uint8_t { kNone, kTruncate, kWrongSoa, kStall, kBadTsig, kNotImpIxfr };

std::string_view FaultName(Fault f);
std::optional<Fault> ParseFault(std::string_view text);

struct PrimaryCounters {
  Counter soa_queries;       // SOA answers, UDP and TCP
  Counter axfr;              // AXFR answers started
  Counter ixfr_incremental;  // IXFR answered with a diff from the journal
  Counter ixfr_full;         // IXFR answered AXFR-style (serial not in journal)
  Counter ixfr_current;      // IXFR from the current serial: the SOA alone
  Counter other;             // anything else (refused, NOTIFY, malformed)
  Counter faults;            // answers the fault changed
};

class FaultingResponder : public Responder {
 public:
  // `inner` serves the zone; `liar` serves the same zone with the
  // wrong-soa serial. `fault` is shared by every serving thread and may
  // change while serving. `keys` sign the NOTIMP answers to signed IXFRs.
  FaultingResponder(PrimaryResponder& inner, PrimaryResponder& liar,
                    const std::atomic<Fault>& fault, PrimaryCounters& counters,
                    std::vector<TsigKey> keys)
      : inner_(inner), liar_(liar), fault_(fault), counters_(counters),
        keys_(std::move(keys)) {}

  Reply Handle(Bytes request, const RequestContext& ctx) override;

 private:
  enum class IxfrOutcome : uint8_t { kNone, kCurrent, kIncremental, kFull };
  // What the inner responder will make of an IXFR, and how many messages
  // its answer has (for truncate); read from the current snapshot.
  IxfrOutcome ClassifyIxfr(Bytes request, size_t& messages) const;
  size_t AxfrMessages(Bytes request) const;
  Reply NotImp(Bytes request, const RequestContext& ctx);
  void Count(RRType qtype, IxfrOutcome ixfr, const Reply& r);

  PrimaryResponder& inner_;
  PrimaryResponder& liar_;
  const std::atomic<Fault>& fault_;
  PrimaryCounters& counters_;
  std::vector<TsigKey> keys_;
};

}  // namespace xfr::load
