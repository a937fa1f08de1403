// Parses arbitrary bytes as a DNS message; whatever parses is rebuilt with
// MessageBuilder (plus WriteTsigRecord) and parsed again, and the two parses
// must agree on every question, record, EDNS field and TSIG field. This
// pins down that the reader and the writer agree on compression, OPT and
// TSIG placement, and that neither reads out of bounds.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "core/message.h"
#include "core/tsig_record.h"

namespace {

void Check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "round trip mismatch: %s\n", what);
    std::abort();
  }
}

void SameRecords(const std::vector<xfr::Record>& a,
                 const std::vector<xfr::Record>& b, const char* section) {
  Check(a.size() == b.size(), section);
  for (size_t i = 0; i < a.size(); ++i) {
    Check(a[i] == b[i], section);
    Check(a[i].owner.Identical(b[i].owner), section);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  absl::StatusOr<xfr::Message> m = xfr::ParseMessage(xfr::Bytes(data, size));
  if (!m.ok()) return 0;
  (void)m->rcode();

  xfr::MessageBuilder b;
  b.SetHeader(m->header);
  for (const xfr::Question& q : m->questions) {
    // Decompressing (RFC 3597 "decompress only" names) can make the rebuilt
    // message larger than the input; that is not a mismatch.
    if (!b.AddQuestion(q)) return 0;
  }
  for (const xfr::Record& r : m->answer) {
    if (!b.AddRecord(xfr::Section::kAnswer, r)) return 0;
  }
  for (const xfr::Record& r : m->authority) {
    if (!b.AddRecord(xfr::Section::kAuthority, r)) return 0;
  }
  for (const xfr::Record& r : m->additional) {
    if (!b.AddRecord(xfr::Section::kAdditional, r)) return 0;
  }
  if (m->edns.has_value() && !b.SetEdns(*m->edns)) return 0;
  std::vector<uint8_t> wire = b.Finish();
  size_t tsig_at = wire.size();
  if (m->tsig.has_value()) {
    xfr::WireWriter w(wire, 1 << 20);
    xfr::WriteTsigRecord(w, *m->tsig);
    Check(w.ok(), "TSIG write");
    w.PatchU16(10, static_cast<uint16_t>(xfr::LoadU16(&wire[10]) + 1));
  }

  absl::StatusOr<xfr::Message> m2 =
      xfr::ParseMessage(xfr::Bytes(wire.data(), wire.size()));
  if (!m2.ok()) {
    std::fprintf(stderr, "rebuilt message does not parse: %s\n",
                 std::string(m2.status().message()).c_str());
    std::abort();
  }
  Check(m2->header.id == m->header.id, "id");
  Check(m2->header.Flags() == m->header.Flags(), "flags");
  Check(m2->rcode() == m->rcode(), "rcode");
  Check(m2->questions.size() == m->questions.size(), "question count");
  for (size_t i = 0; i < m->questions.size(); ++i) {
    Check(m2->questions[i] == m->questions[i], "question");
    Check(m2->questions[i].qname.Identical(m->questions[i].qname),
          "question case");
  }
  SameRecords(m->answer, m2->answer, "answer");
  SameRecords(m->authority, m2->authority, "authority");
  SameRecords(m->additional, m2->additional, "additional");
  Check(m2->edns == m->edns, "edns");
  Check(m2->tsig == m->tsig, "tsig");
  if (m->tsig.has_value()) Check(m2->tsig_offset == tsig_at, "tsig offset");
  return 0;
}
