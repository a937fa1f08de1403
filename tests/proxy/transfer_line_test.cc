// The `log: {transfers: true}` line of a finished transfer: kind, zone,
// peer, serials, and the messages and bytes the stream actually handed out.
#include <optional>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "proxy/transfer_stream.h"
#include "tests/proxy/primary_test_util.h"

namespace xfr {
namespace {

using namespace primary_test;  // NOLINT: the shared test vocabulary

TEST_F(PrimaryTest, TransferLineNamesKindSerialsAndSize) {
  const struct {
    const char* name;
    RRType qtype;
    std::optional<uint32_t> have;
    const char* head;
  } cases[] = {
      {"AXFR", RRType::kAXFR, std::nullopt, "AXFR of example.com. to 192.0.2.5:53: serial 2"},
      {"IXFR from the journal", RRType::kIXFR, 1,
       "IXFR of example.com. to 192.0.2.5:53: serial 1 -> 2 (incremental)"},
      {"IXFR from before the journal", RRType::kIXFR, 0,
       "IXFR of example.com. to 192.0.2.5:53: serial 0 -> 2 (AXFR-style)"},
  };
  for (const auto& c : cases) {
    Query q;
    q.qtype = c.qtype;
    q.ixfr_serial = c.have;
    Reply r = Send(Build(q));
    std::vector<std::vector<uint8_t>> messages = Drain(r);
    ASSERT_FALSE(messages.empty()) << c.name;
    size_t bytes = 0;
    for (const auto& m : messages) bytes += m.size();
    std::string line =
        DescribeTransferSent(*r.transfer, Peer("192.0.2.5"), kLoaded + absl::Milliseconds(12));
    EXPECT_EQ(line, fmt::format("transfer: {}, {} messages, {} bytes, 0.012s", c.head,
                                messages.size(), bytes))
        << c.name;
  }
}

TEST(TransferLineTest, StreamsThatAreNotAZonesTransferHaveNoLine) {
  struct Bare : TransferStream {
    size_t Next(std::vector<iovec>&) override { return 0; }
    void Release() override {}
  } bare;
  EXPECT_EQ(DescribeTransferSent(bare, Peer("192.0.2.5"), kLoaded), "");
}

}  // namespace
}  // namespace xfr
