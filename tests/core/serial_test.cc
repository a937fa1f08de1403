#include "core/serial.h"

#include "gtest/gtest.h"

namespace xfr {
namespace {

TEST(SerialTest, Rfc1982Ordering) {
  EXPECT_TRUE(Serial(1) < Serial(2));
  EXPECT_TRUE(Serial(0xFFFFFFFF) < Serial(0));  // wraps
  EXPECT_TRUE(Serial(0xFFFFFFF0) < Serial(5));
  EXPECT_TRUE(Serial(5) > Serial(0xFFFFFFF0));
  EXPECT_TRUE(Serial(7) == Serial(7));
  EXPECT_TRUE(Serial(0) < Serial(0x7FFFFFFF));
  EXPECT_TRUE(Serial(0) > Serial(0x80000001));
}

TEST(SerialTest, HalfwayIsUndefined) {
  Serial a(0), b(0x80000000);
  EXPECT_FALSE(a < b);
  EXPECT_FALSE(a > b);
  EXPECT_FALSE(a == b);
  EXPECT_EQ(a <=> b, std::partial_ordering::unordered);
}

TEST(SerialTest, PlusWraps) {
  EXPECT_EQ(Serial(0xFFFFFFFF).Plus(2), Serial(1));
  EXPECT_TRUE(Serial(10).Plus(0x7FFFFFFF) > Serial(10));
}

}  // namespace
}  // namespace xfr
