// DescribeAnswer: what an answer to our NOTIFY (or SOA query) means, one row
// per case an operator must tell apart: refused outright, refused for our
// key (RFC 8945 §5.3.2: unsigned, the TSIG error in the TSIG RR), unsigned,
// signed but failing verification.
#include "fanout/answer_verdict.h"

#include <optional>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace xfr {
namespace {

TEST(DescribeAnswerTest, Table) {
  auto tsig_error = [](Rcode e) {
    TsigRecord t;
    t.error = e;  // MAC empty: §5.3.2 BADKEY/BADSIG answers are unsigned
    return std::optional<TsigRecord>(t);
  };
  const absl::Status kVerifyFailed = absl::UnauthenticatedError("MAC mismatch");
  struct Row {
    const char* name;
    Rcode rcode;
    std::optional<TsigRecord> tsig;
    bool keyed;
    absl::Status verified;
    bool accepted;
    bool ok;
    std::string text;
  };
  std::vector<Row> rows = {
      {"plain NOERROR", Rcode::kNoError, std::nullopt, false, {}, true, true, ""},
      {"plain REFUSED", Rcode::kRefused, std::nullopt, false, {}, true, false,
       "NOTIFY refused: REFUSED"},
      {"plain NOTAUTH", Rcode::kNotAuth, std::nullopt, false, {}, true, false,
       "NOTIFY refused: NOTAUTH"},
      {"plain SERVFAIL", Rcode::kServFail, std::nullopt, false, {}, true, false,
       "NOTIFY answered SERVFAIL"},
      {"signed NOERROR, verified", Rcode::kNoError, TsigRecord{}, true, {}, true, true, ""},
      {"signed REFUSED, verified", Rcode::kRefused, TsigRecord{}, true, {}, true, false,
       "NOTIFY refused: REFUSED"},
      {"BADKEY", Rcode::kNotAuth, tsig_error(Rcode::kBadKey), true, kVerifyFailed, false,
       false, "NOTIFY refused: NOTAUTH (BADKEY: the peer does not know our key)"},
      {"BADSIG", Rcode::kNotAuth, tsig_error(Rcode::kBadSig), true, kVerifyFailed, false,
       false, "NOTIFY refused: NOTAUTH (BADSIG: the peer's secret for our key differs)"},
      {"BADTIME", Rcode::kNotAuth, tsig_error(Rcode::kBadTime), true, kVerifyFailed, false,
       false, "NOTIFY refused: NOTAUTH (BADTIME: our clocks differ by more than the fudge)"},
      {"unknown TSIG error", Rcode::kNotAuth, tsig_error(Rcode(99)), true, kVerifyFailed,
       false, false, "NOTIFY refused: NOTAUTH (TSIG error 99)"},
      {"unsigned NOERROR to a keyed peer", Rcode::kNoError, std::nullopt, true, kVerifyFailed,
       false, false, "answer not signed (the peer may not have our key)"},
      {"unsigned REFUSED to a keyed peer", Rcode::kRefused, std::nullopt, true, kVerifyFailed,
       false, false, "NOTIFY refused: REFUSED (unsigned answer, not verified)"},
      {"signed, wrong MAC", Rcode::kNoError, TsigRecord{}, true, kVerifyFailed, false, false,
       "answer failed TSIG verification (MAC mismatch)"},
  };
  for (const Row& r : rows) {
    AnswerVerdict v =
        DescribeAnswer("NOTIFY", r.rcode, r.tsig ? &*r.tsig : nullptr, r.keyed, r.verified);
    EXPECT_EQ(v.accepted, r.accepted) << r.name;
    EXPECT_EQ(v.ok, r.ok) << r.name;
    EXPECT_EQ(v.text, r.text) << r.name;
  }
}

TEST(DescribeAnswerTest, NamesTheRequest) {
  EXPECT_EQ(DescribeAnswer("SOA query", Rcode::kRefused, nullptr, false, {}).text,
            "SOA query refused: REFUSED");
}

}  // namespace
}  // namespace xfr
