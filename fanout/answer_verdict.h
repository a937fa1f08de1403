// How a secondary's answer to one of our requests (a NOTIFY, or a SOA query
// of verify-peers) reads: whether it counts as an answer, and what went
// wrong in words an operator can act on, for the log and /peers'
// last_error. I/O-free; the callers have parsed and, for a keyed peer,
// verified the message.
#pragma once

#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "core/tsig_record.h"
#include "core/types.h"

namespace xfr {

struct AnswerVerdict {
  // Authentic (a keyed peer's answer verified; RFC 8945 §5.3) or from an
  // unkeyed peer: it ends the retries, whatever its RCODE.
  bool accepted = false;
  // Accepted with NOERROR.
  bool ok = false;
  // Empty when ok, else e.g. "NOTIFY refused: NOTAUTH (BADKEY: the peer
  // does not know our key)".
  std::string text;
};

// `request` names what we sent ("NOTIFY", "SOA query"); `rcode` is the
// answer's RCODE; `tsig` its TSIG RR or null; `keyed` whether we signed the
// request; `verified` the verification of the answer (ignored unkeyed).
//
// RFC 8945 §5.3.2: a server that cannot use our key answers NOTAUTH with
// the TSIG error (BADKEY, BADSIG, BADTIME) in an unsigned TSIG RR. Such an
// answer cannot be authenticated, so it is not accepted (a forger could
// otherwise silence the retries), but it tells the operator what to fix.
AnswerVerdict DescribeAnswer(std::string_view request, Rcode rcode,
                             const TsigRecord* tsig, bool keyed,
                             const absl::Status& verified);

}  // namespace xfr
