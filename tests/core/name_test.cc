#include "core/name.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace xfr {
namespace {

Name N(std::string_view t) { return *Name::FromText(t); }

TEST(NameTest, TextRoundTripKeepsCase) {
  EXPECT_EQ(N("WwW.Example.COM.").ToText(), "WwW.Example.COM.");
  EXPECT_EQ(N(".").ToText(), ".");
  EXPECT_EQ(N("a\\.b.c.").ToText(), "a\\.b.c.");
  EXPECT_EQ(N("\\000\\255x.").ToText(), "\\000\\255x.");
}

TEST(NameTest, EqualityIgnoresCase) {
  EXPECT_EQ(N("WWW.example.com."), N("www.EXAMPLE.com."));
  EXPECT_FALSE(N("WWW.example.com.").Identical(N("www.example.com.")));
  EXPECT_FALSE(N("www.example.com.") == N("www.example.org."));
}

TEST(NameTest, RelativeNeedsOrigin) {
  Name origin = N("example.com.");
  EXPECT_EQ(Name::FromText("www", &origin)->ToText(), "www.example.com.");
  EXPECT_FALSE(Name::FromText("www").ok());
}

TEST(NameTest, RejectsBadText) {
  EXPECT_FALSE(Name::FromText("a..b.").ok());
  EXPECT_FALSE(Name::FromText(std::string(64, 'a') + ".").ok());
  EXPECT_TRUE(Name::FromText(std::string(63, 'a') + ".").ok());
  EXPECT_FALSE(Name::FromText("\\256.").ok());
  EXPECT_FALSE(Name::FromText("a\\").ok());
}

TEST(NameTest, MaxLength255Bytes) {
  // 4 labels of 62 + 1 label of 1: 4*63 + 2 + 1 = 255 bytes on the wire.
  std::string l(62, 'x');
  std::string ok = l + "." + l + "." + l + "." + l + ".a.";
  ASSERT_TRUE(Name::FromText(ok).ok());
  EXPECT_EQ(Name::FromText(ok)->size(), 255u);
  EXPECT_FALSE(Name::FromText(l + "." + l + "." + l + "." + l + ".ab.").ok());
}

TEST(NameTest, CanonicalOrderRfc4034Example) {
  // RFC 4034 §6.1 lists these names in canonical order.
  std::vector<std::string> names = {
      "example.",       "a.example.",        "yljkjljk.a.example.",
      "Z.a.example.",   "zABC.a.EXAMPLE.",   "z.example.",
      "\\001.z.example.", "*.z.example.",    "\\200.z.example."};
  for (size_t i = 0; i + 1 < names.size(); ++i) {
    EXPECT_LT(CompareCanonical(N(names[i]), N(names[i + 1])), 0)
        << names[i] << " < " << names[i + 1];
    EXPECT_GT(CompareCanonical(N(names[i + 1]), N(names[i])), 0);
  }
  EXPECT_EQ(CompareCanonical(N("A.b."), N("a.B.")), 0);
}

TEST(NameTest, Subdomain) {
  EXPECT_TRUE(N("www.example.com.").view().IsSubdomainOf(N("EXAMPLE.com.")));
  EXPECT_TRUE(N("example.com.").view().IsSubdomainOf(N("example.com.")));
  EXPECT_FALSE(N("www.xample.com.").view().IsSubdomainOf(N("ample.com.")));
  EXPECT_TRUE(N("a.").view().IsSubdomainOf(N(".")));
}

struct WireCase {
  const char* name;
  std::vector<uint8_t> msg;
  size_t start;
  bool ok;
  const char* text;
};

TEST(NameTest, DecompressionTable) {
  const std::vector<WireCase> cases = {
      {"plain", {3, 'w', 'w', 'w', 0}, 0, true, "www."},
      {"pointer back", {3, 'c', 'o', 'm', 0, 1, 'a', 0xC0, 0}, 5, true,
       "a.com."},
      {"pointer loop to itself", {0xC0, 0x00}, 0, false, nullptr},
      {"forward pointer", {0xC0, 0x02, 1, 'a', 0}, 0, false, nullptr},
      {"two-step loop", {1, 'a', 0xC0, 0x04, 1, 'b', 0xC0, 0x00}, 4, false,
       nullptr},
      {"pointer out of bounds", {1, 'a', 0xC0, 0x20}, 0, false, nullptr},
      {"truncated label", {5, 'a', 'b'}, 0, false, nullptr},
      {"truncated pointer", {1, 'a', 0xC0}, 0, false, nullptr},
      {"reserved label type 0x40", {0x41, 'a', 0}, 0, false, nullptr},
      {"missing root", {1, 'a'}, 0, false, nullptr},
  };
  for (const WireCase& c : cases) {
    WireReader r(Bytes(c.msg.data(), c.msg.size()), c.start);
    Name n;
    absl::Status s = ReadName(r, n);
    EXPECT_EQ(s.ok(), c.ok) << c.name << ": " << s;
    EXPECT_EQ(r.ok(), c.ok) << c.name;
    if (c.ok) {
      EXPECT_EQ(n.ToText(), c.text) << c.name;
    }
  }
}

TEST(NameTest, DecompressedNameOver255Rejected) {
  // A chain of pointers building a name longer than 255 bytes.
  std::vector<uint8_t> msg;
  msg.push_back(0);
  size_t prev = 0;
  for (int i = 0; i < 5; ++i) {
    size_t here = msg.size();
    msg.push_back(60);
    msg.insert(msg.end(), 60, 'x');
    msg.push_back(static_cast<uint8_t>(0xC0 | (prev >> 8)));
    msg.push_back(static_cast<uint8_t>(prev));
    prev = here;
  }
  WireReader r(Bytes(msg.data(), msg.size()), prev);
  Name n;
  EXPECT_FALSE(ReadName(r, n).ok());
}

TEST(NameTest, ReaderContinuesAfterPointer) {
  std::vector<uint8_t> msg = {3, 'c', 'o', 'm', 0, 1, 'a', 0xC0, 0, 0xAB};
  WireReader r(Bytes(msg.data(), msg.size()), 5);
  Name n;
  ASSERT_TRUE(ReadName(r, n).ok());
  EXPECT_EQ(r.position(), 9u);
  EXPECT_EQ(r.U8(), 0xAB);
}

TEST(NameTest, CompressorReusesSuffixesExactCase) {
  std::vector<uint8_t> buf(12, 0);  // a header's worth of bytes first
  WireWriter w(buf);
  NameCompressor c;
  c.Write(w, N("www.example.com."));
  size_t first_end = w.size();
  c.Write(w, N("mail.example.com."));
  // "mail" label + pointer to "example.com." at offset 16.
  EXPECT_EQ(w.size() - first_end, 5u + 2u);
  EXPECT_EQ(buf[w.size() - 2], 0xC0);
  EXPECT_EQ(buf[w.size() - 1], 16);
  size_t before = w.size();
  c.Write(w, N("MAIL.example.com."));  // different case: not shared with mail
  EXPECT_EQ(w.size() - before, 5u + 2u);
  // Everything decodes back to the original text.
  WireReader r(Bytes(buf.data(), buf.size()), 12);
  Name a, b, d;
  ASSERT_TRUE(ReadName(r, a).ok());
  ASSERT_TRUE(ReadName(r, b).ok());
  ASSERT_TRUE(ReadName(r, d).ok());
  EXPECT_EQ(a.ToText(), "www.example.com.");
  EXPECT_EQ(b.ToText(), "mail.example.com.");
  EXPECT_EQ(d.ToText(), "MAIL.example.com.");
}

TEST(NameTest, CompressorRollback) {
  std::vector<uint8_t> buf;
  WireWriter w(buf);
  NameCompressor c;
  c.Write(w, N("example.com."));
  size_t mark = w.size();
  c.Write(w, N("www.other.net."));
  w.Truncate(mark);
  c.Rollback(mark);
  size_t before = w.size();
  c.Write(w, N("other.net."));  // must not point into the dropped bytes
  EXPECT_EQ(w.size() - before, N("other.net.").size());
}

}  // namespace
}  // namespace xfr
