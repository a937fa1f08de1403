// StateStore: versions and journals survive a restart (a new StateStore on
// the same directory), a torn last journal entry is cut away at every
// possible crash point, damage before good data is an error naming the file
// and offset, compaction keeps history and state consistent, the directory
// is locked against a second user, and zone names map to safe file names.
#include "proxy/state_store.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "core/zonefile.h"
#include "fmt/format.h"
#include "gtest/gtest.h"

namespace xfr {
namespace {

const absl::Time kT0 = absl::FromUnixSeconds(1'700'000'000);

Name N(std::string_view t) { return *Name::FromText(t); }

// Version `serial` of a zone that changes at every serial: one record
// added, one deleted, one TTL changed.
std::string ZoneText(std::string_view origin, uint32_t serial) {
  std::string t = fmt::format(
      "$ORIGIN {}\n$TTL 3600\n@ IN SOA ns1 hostmaster {} 7200 900 86400 300\n"
      "@ IN NS ns1\nns1 IN A 192.0.2.1\nttl {} IN A 192.0.2.2\n"
      "Mixed IN TXT \"CaSe\"\nx IN TYPE65280 \\# 3 010203\n",
      origin, serial, 100 + serial);
  for (uint32_t i = serial; i < serial + 5; ++i) {
    t += fmt::format("h{} IN TXT \"record {}\"\n", i, i);
  }
  return t;
}

std::shared_ptr<const ZoneVersion> Version(uint32_t serial,
                                           std::string_view origin = "example.com.") {
  auto rs = ReadZoneText(ZoneText(origin, serial), N(origin), "t.zone");
  EXPECT_TRUE(rs.ok()) << rs.status();
  auto v = ZoneVersion::Build(N(origin), std::move(*rs));
  EXPECT_TRUE(v.ok()) << v.status();
  return *v;
}

ZoneDiff Diff(uint32_t from, uint32_t to) {
  return ComputeDiff(*Version(from), *Version(to));
}

std::vector<uint8_t> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(in), {});
}
void WriteFile(const std::string& path, const std::vector<uint8_t>& data,
               size_t size) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(data.data()),
            static_cast<std::streamsize>(size));
}
size_t FileSize(const std::string& path) {
  return std::filesystem::file_size(path);
}

class StateStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/state_store_test.XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    root_ = tmpl;
    dir_ = root_ + "/state";
  }
  void TearDown() override { std::filesystem::remove_all(root_); }

  StateStore Open() {
    StateStore::Options o;
    o.sync = false;  // durability is not what these tests observe
    auto s = StateStore::Open(dir_, o);
    EXPECT_TRUE(s.ok()) << s.status();
    return std::move(*s);
  }

  // Load through a fresh store, as after a restart.
  absl::StatusOr<std::optional<LoadedZone>> Reload(const Name& zone,
                                                   size_t max_diffs = 100) {
    StateStore s = Open();
    return s.Load(zone, max_diffs);
  }

  std::string root_;
  std::string dir_;
  Name zone_ = N("example.com.");
};

TEST_F(StateStoreTest, RoundTripVersion) {
  auto v = Version(1);
  {
    StateStore s = Open();
    auto none = s.Load(zone_, 10);
    ASSERT_TRUE(none.ok()) << none.status();
    EXPECT_FALSE(none->has_value());
    ASSERT_TRUE(s.SaveVersion(zone_, *v, kT0, 86400).ok());
  }
  struct stat sb;
  ASSERT_EQ(::stat(dir_.c_str(), &sb), 0);
  EXPECT_EQ(sb.st_mode & 0777, 0750u);
  auto l = Reload(zone_);
  ASSERT_TRUE(l.ok()) << l.status();
  ASSERT_TRUE(l->has_value());
  EXPECT_EQ(*(*l)->version, *v);
  EXPECT_EQ((*l)->version->serial(), Serial(1));
  EXPECT_EQ((*l)->refreshed_at, kT0);
  EXPECT_EQ((*l)->expire_seconds, 86400u);
  EXPECT_TRUE((*l)->journal.empty());
  // RDATA case and unknown types come back byte-exact.
  auto txt = (*l)->version->FindRRset(N("mixed.example.com."), RRType::kTXT);
  ASSERT_EQ(txt.size(), 1u);
  EXPECT_EQ(std::string(txt[0].rdata.begin(), txt[0].rdata.end()), "\x04" "CaSe");
}

TEST_F(StateStoreTest, VersionAndThreeDiffsLoadLastVersionAndDiffs) {
  {
    StateStore s = Open();
    ASSERT_TRUE(s.SaveVersion(zone_, *Version(1), kT0, 100).ok());
    for (uint32_t i = 1; i <= 3; ++i) {
      auto st = s.AppendDiff(zone_, Diff(i, i + 1), kT0 + absl::Seconds(i), 100 + i);
      ASSERT_TRUE(st.ok()) << st;
    }
  }
  auto l = Reload(zone_);
  ASSERT_TRUE(l.ok()) << l.status();
  ASSERT_TRUE(l->has_value());
  EXPECT_EQ(*(*l)->version, *Version(4));
  ASSERT_EQ((*l)->journal.size(), 3u);
  for (uint32_t i = 0; i < 3; ++i) EXPECT_EQ(*(*l)->journal[i], Diff(i + 1, i + 2));
  EXPECT_EQ((*l)->refreshed_at, kT0 + absl::Seconds(3));
  EXPECT_EQ((*l)->expire_seconds, 103u);
}

TEST_F(StateStoreTest, JournalLongerThanMaxDiffsReturnsOnlyTheLast) {
  {
    StateStore s = Open();
    ASSERT_TRUE(s.SaveVersion(zone_, *Version(1), kT0, 100).ok());
    for (uint32_t i = 1; i <= 6; ++i) ASSERT_TRUE(s.AppendDiff(zone_, Diff(i, i + 1), kT0, 100).ok());
  }
  auto l = Reload(zone_, 2);
  ASSERT_TRUE(l.ok()) << l.status();
  EXPECT_EQ(*(*l)->version, *Version(7));
  ASSERT_EQ((*l)->journal.size(), 2u);
  EXPECT_EQ(*(*l)->journal[0], Diff(5, 6));
  EXPECT_EQ(*(*l)->journal[1], Diff(6, 7));
  auto none = Reload(zone_, 0);
  ASSERT_TRUE(none.ok()) << none.status();
  EXPECT_EQ(*(*none)->version, *Version(7));
  EXPECT_TRUE((*none)->journal.empty());
}

TEST_F(StateStoreTest, AppendNeedsAPersistedVersionAndTheRightSerial) {
  StateStore s = Open();
  auto st = s.AppendDiff(zone_, Diff(1, 2), kT0, 1);
  EXPECT_EQ(st.code(), absl::StatusCode::kFailedPrecondition) << st;
  ASSERT_TRUE(s.SaveVersion(zone_, *Version(1), kT0, 100).ok());
  st = s.AppendDiff(zone_, Diff(2, 3), kT0, 1);
  EXPECT_EQ(st.code(), absl::StatusCode::kFailedPrecondition) << st;
  EXPECT_NE(st.message().find("serial 2"), std::string::npos) << st;
  EXPECT_TRUE(s.AppendDiff(zone_, Diff(1, 2), kT0, 1).ok());
}

// A crash during an append leaves any prefix of the last entry: every one
// of them must load as the state before that append, be cut away, and the
// journal must take the same append again afterwards.
TEST_F(StateStoreTest, TornLastEntryAtEveryOffsetLoadsPreviousState) {
  size_t good_end = 0;
  std::string path;
  {
    StateStore s = Open();
    ASSERT_TRUE(s.SaveVersion(zone_, *Version(1), kT0, 100).ok());
    ASSERT_TRUE(s.AppendDiff(zone_, Diff(1, 2), kT0, 100).ok());
    path = s.JournalPath(zone_);
    good_end = FileSize(path);
    ASSERT_TRUE(s.AppendDiff(zone_, Diff(2, 3), kT0, 100).ok());
  }
  std::vector<uint8_t> full = ReadFile(path);
  ASSERT_GT(full.size(), good_end);
  for (size_t cut = good_end; cut < full.size(); ++cut) {
    SCOPED_TRACE(fmt::format("journal cut at {} of {}", cut, full.size()));
    WriteFile(path, full, cut);
    StateStore s = Open();
    auto l = s.Load(zone_, 100);
    ASSERT_TRUE(l.ok()) << l.status();
    ASSERT_TRUE(l->has_value());
    EXPECT_EQ(*(*l)->version, *Version(2));
    ASSERT_EQ((*l)->journal.size(), 1u);
    EXPECT_EQ(FileSize(path), good_end);
    ASSERT_TRUE(s.AppendDiff(zone_, Diff(2, 3), kT0, 100).ok());
    EXPECT_EQ(ReadFile(path), full);
  }
  // The tail landed as zeros (file size extended before the data).
  std::vector<uint8_t> zeroed = full;
  std::fill(zeroed.begin() + static_cast<ptrdiff_t>(good_end), zeroed.end(), 0);
  WriteFile(path, zeroed, zeroed.size());
  auto l = Reload(zone_);
  ASSERT_TRUE(l.ok()) << l.status();
  EXPECT_EQ(*(*l)->version, *Version(2));
}

// Decision: damage followed by good entries is not a crash artefact but
// corruption, and Load fails (naming file and offset) instead of serving an
// older version; the caller starts empty and transfers the zone afresh.
TEST_F(StateStoreTest, FlippedByteInOlderEntryIsAnErrorNamingFileAndOffset) {
  size_t first_entry = 0;
  std::string path;
  {
    StateStore s = Open();
    ASSERT_TRUE(s.SaveVersion(zone_, *Version(1), kT0, 100).ok());
    path = s.JournalPath(zone_);
    first_entry = FileSize(path);
    for (uint32_t i = 1; i <= 3; ++i) ASSERT_TRUE(s.AppendDiff(zone_, Diff(i, i + 1), kT0, 100).ok());
  }
  std::vector<uint8_t> full = ReadFile(path);
  for (size_t at : {first_entry + 2, first_entry + 20, first_entry + 40}) {
    SCOPED_TRACE(at);
    std::vector<uint8_t> bad = full;
    bad[at] ^= 0x20;
    WriteFile(path, bad, bad.size());
    auto l = Reload(zone_);
    ASSERT_FALSE(l.ok());
    EXPECT_EQ(l.status().code(), absl::StatusCode::kDataLoss);
    EXPECT_NE(l.status().message().find(path), std::string::npos) << l.status();
    EXPECT_NE(l.status().message().find(fmt::format("at byte {}", first_entry)),
              std::string::npos)
        << l.status();
    // The files are left for the operator to inspect.
    EXPECT_EQ(ReadFile(path), bad);
  }
}

TEST_F(StateStoreTest, DamagedSnapshotIsAnErrorNamingTheFile) {
  std::string path;
  {
    StateStore s = Open();
    ASSERT_TRUE(s.SaveVersion(zone_, *Version(1), kT0, 100).ok());
    path = s.SnapshotPath(zone_);
  }
  std::vector<uint8_t> full = ReadFile(path);
  for (size_t at : {size_t{0}, size_t{20}, full.size() / 2, full.size() - 1}) {
    SCOPED_TRACE(at);
    std::vector<uint8_t> bad = full;
    bad[at] ^= 0x01;
    WriteFile(path, bad, bad.size());
    auto l = Reload(zone_);
    ASSERT_FALSE(l.ok());
    EXPECT_EQ(l.status().code(), absl::StatusCode::kDataLoss);
    EXPECT_NE(l.status().message().find(path), std::string::npos) << l.status();
  }
  WriteFile(path, full, full.size() - 3);
  auto l = Reload(zone_);
  EXPECT_EQ(l.status().code(), absl::StatusCode::kDataLoss);
}

TEST_F(StateStoreTest, CompactionKeepsHistoryAndState) {
  StateStore::Options o;
  o.sync = false;
  o.compact_after_diffs = 3;
  {
    auto s = StateStore::Open(dir_, o);
    ASSERT_TRUE(s.ok()) << s.status();
    ASSERT_TRUE(s->SaveVersion(zone_, *Version(1), kT0, 100).ok());
    for (uint32_t i = 1; i <= 3; ++i) {
      EXPECT_FALSE(s->ShouldCompact(zone_));
      ASSERT_TRUE(s->AppendDiff(zone_, Diff(i, i + 1), kT0, 100).ok());
    }
    EXPECT_TRUE(s->ShouldCompact(zone_));
    StateStore::SaveOptions keep{.keep_journal = true, .max_diffs = 2};
    ASSERT_TRUE(s->SaveVersion(zone_, *Version(4), kT0, 100, keep).ok());
    EXPECT_FALSE(s->ShouldCompact(zone_));
    ASSERT_TRUE(s->AppendDiff(zone_, Diff(4, 5), kT0 + absl::Seconds(9), 50).ok());
  }
  auto l = Reload(zone_);
  ASSERT_TRUE(l.ok()) << l.status();
  EXPECT_EQ(*(*l)->version, *Version(5));
  ASSERT_EQ((*l)->journal.size(), 3u);
  EXPECT_EQ(*(*l)->journal[0], Diff(2, 3));
  EXPECT_EQ(*(*l)->journal[1], Diff(3, 4));
  EXPECT_EQ(*(*l)->journal[2], Diff(4, 5));
  EXPECT_EQ((*l)->refreshed_at, kT0 + absl::Seconds(9));
  EXPECT_EQ((*l)->expire_seconds, 50u);
}

// A version from an AXFR resets the journal. A crash between the new
// snapshot and the new journal leaves the old journal, which must not be
// replayed onto the new version.
TEST_F(StateStoreTest, FreshSnapshotWithStaleJournalIgnoresTheJournal) {
  std::string path;
  std::vector<uint8_t> old_journal;
  {
    StateStore s = Open();
    ASSERT_TRUE(s.SaveVersion(zone_, *Version(1), kT0, 100).ok());
    ASSERT_TRUE(s.AppendDiff(zone_, Diff(1, 2), kT0, 100).ok());
    path = s.JournalPath(zone_);
    old_journal = ReadFile(path);
    ASSERT_TRUE(s.SaveVersion(zone_, *Version(40), kT0, 100).ok());
  }
  WriteFile(path, old_journal, old_journal.size());  // the crash window
  StateStore s = Open();
  auto l = s.Load(zone_, 100);
  ASSERT_TRUE(l.ok()) << l.status();
  EXPECT_EQ(*(*l)->version, *Version(40));
  EXPECT_TRUE((*l)->journal.empty());
  ASSERT_TRUE(s.AppendDiff(zone_, Diff(40, 41), kT0, 100).ok());
  { StateStore drop = std::move(s); }
  auto again = Reload(zone_);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(*(*again)->version, *Version(41));
  ASSERT_EQ((*again)->journal.size(), 1u);
}

TEST_F(StateStoreTest, RefreshIsPersistedWithoutANewVersion) {
  {
    StateStore s = Open();
    ASSERT_TRUE(s.SaveVersion(zone_, *Version(1), kT0, 100).ok());
    ASSERT_TRUE(s.SaveRefresh(zone_, kT0 + absl::Hours(1), 77).ok());
  }
  auto l = Reload(zone_);
  ASSERT_TRUE(l.ok()) << l.status();
  EXPECT_EQ(*(*l)->version, *Version(1));
  EXPECT_EQ((*l)->refreshed_at, kT0 + absl::Hours(1));
  EXPECT_EQ((*l)->expire_seconds, 77u);
}

TEST_F(StateStoreTest, SecondOpenOfTheSameDirFailsNamingThePid) {
  auto first = StateStore::Open(dir_);
  ASSERT_TRUE(first.ok()) << first.status();
  auto second = StateStore::Open(dir_);
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(second.status().message().find(fmt::format("pid {}", ::getpid())),
            std::string::npos)
      << second.status();
  EXPECT_NE(second.status().message().find(dir_), std::string::npos);
  { StateStore drop = std::move(*first); }
  EXPECT_TRUE(StateStore::Open(dir_).ok());
}

TEST(ZoneFileStemTest, EscapesAndLowercases) {
  struct Case {
    const char* name;
    const char* zone;
    const char* stem;
  } cases[] = {
      {"plain", "example.com.", "example.com"},
      {"root", ".", "@"},
      {"case folded", "ExAmple.COM.", "example.com"},
      {"dot inside label", "a\\.b.example.", "a%2Eb.example"},
      {"underscore", "_tcp.x.", "%5Ftcp.x"},
      {"slash and space", "a/b\\032c.", "a%2Fb%20c"},
      {"percent and at", "%@.", "%25%40"},
      {"high and zero bytes", "\\255\\000.", "%FF%00"},
      {"dotdot label", "\\.\\..", "%2E%2E"},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(ZoneFileStem(N(c.zone)), c.stem) << c.name;
  }
  std::string a = std::string(60, 'a') + "." + std::string(60, 'b') + "." +
                  std::string(60, '/') + ".";
  std::string b = a.substr(0, a.size() - 2) + "?.";
  std::string sa = ZoneFileStem(N(a)), sb = ZoneFileStem(N(b));
  EXPECT_LE(sa.size(), 200u);
  EXPECT_NE(sa.find('~'), std::string::npos);
  EXPECT_NE(sa, sb);
  EXPECT_EQ(ZoneFileStem(N(a)), ZoneFileStem(N(a)));
}

TEST_F(StateStoreTest, WeirdAndRootZonesRoundTrip) {
  for (const char* origin : {".", "We\\.ird/zone\\032name.example."}) {
    SCOPED_TRACE(origin);
    Name zone = N(origin);
    auto v = Version(5, origin);
    {
      StateStore s = Open();
      ASSERT_TRUE(s.SaveVersion(zone, *v, kT0, 100).ok());
      EXPECT_TRUE(std::filesystem::exists(s.SnapshotPath(zone)));
      EXPECT_EQ(std::filesystem::path(s.SnapshotPath(zone)).parent_path(), dir_);
    }
    auto l = Reload(zone);
    ASSERT_TRUE(l.ok()) << l.status();
    ASSERT_TRUE(l->has_value());
    EXPECT_EQ(*(*l)->version, *v);
  }
  // A file of one zone is never taken for another.
  StateStore s = Open();
  std::filesystem::copy_file(s.SnapshotPath(N(".")), s.SnapshotPath(zone_));
  auto l = s.Load(zone_, 1);
  EXPECT_EQ(l.status().code(), absl::StatusCode::kDataLoss) << l.status();
}

TEST(Crc32cTest, KnownVectors) {
  // RFC 3720 §B.4 test vectors.
  std::vector<uint8_t> zeros(32, 0), ones(32, 0xFF), inc(32);
  for (int i = 0; i < 32; ++i) inc[i] = static_cast<uint8_t>(i);
  EXPECT_EQ(Crc32c(Bytes(zeros.data(), zeros.size())), 0x8A9136AAu);
  EXPECT_EQ(Crc32c(Bytes(ones.data(), ones.size())), 0x62A8AB43u);
  EXPECT_EQ(Crc32c(Bytes(inc.data(), inc.size())), 0x46DD794Eu);
  EXPECT_EQ(Crc32c(AsBytes("123456789")), 0xE3069283u);
  EXPECT_EQ(Crc32c(AsBytes("56789"), Crc32c(AsBytes("1234"))), 0xE3069283u);
}

}  // namespace
}  // namespace xfr
