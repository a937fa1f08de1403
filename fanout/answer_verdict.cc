#include "fanout/answer_verdict.h"

#include "fmt/format.h"

namespace xfr {
namespace {

// The TSIG error space (RFC 8945 §5.3.2 and the IANA registry); BADSIG
// shares 16 with BADVERS, so Rcode::ToString cannot name it here.
std::string TsigErrorText(Rcode e) {
  switch (e.value()) {
    case 16: return "BADSIG: the peer's secret for our key differs";
    case 17: return "BADKEY: the peer does not know our key";
    case 18: return "BADTIME: our clocks differ by more than the fudge";
    case 22: return "BADTRUNC: the peer refuses our MAC length";
    default: return fmt::format("TSIG error {}", e.value());
  }
}

std::string Refusal(std::string_view request, Rcode rcode) {
  if (rcode == Rcode::kRefused || rcode == Rcode::kNotAuth) {
    return fmt::format("{} refused: {}", request, rcode.ToString());
  }
  return fmt::format("{} answered {}", request, rcode.ToString());
}

}  // namespace

AnswerVerdict DescribeAnswer(std::string_view request, Rcode rcode,
                             const TsigRecord* tsig, bool keyed,
                             const absl::Status& verified) {
  AnswerVerdict v;
  if (keyed && !verified.ok()) {
    if (tsig != nullptr && tsig->error != Rcode::kNoError) {
      // §5.3.2: the peer could not use our signature and says why.
      v.text = fmt::format("{} ({})", Refusal(request, rcode),
                           TsigErrorText(tsig->error));
    } else if (tsig == nullptr) {
      v.text = rcode == Rcode::kNoError
                   ? std::string("answer not signed (the peer may not have our key)")
                   : fmt::format("{} (unsigned answer, not verified)",
                                 Refusal(request, rcode));
    } else {
      v.text = fmt::format("answer failed TSIG verification ({})",
                           std::string(verified.message()));
    }
    return v;
  }
  v.accepted = true;
  v.ok = rcode == Rcode::kNoError;
  if (!v.ok) v.text = Refusal(request, rcode);
  return v;
}

}  // namespace xfr
