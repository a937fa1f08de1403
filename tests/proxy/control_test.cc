// The control protocol of `xfrproxy ctl` (proxy/control.h): request lines,
// good and malformed, answers, and the status and peers renderings with a
// fixed clock; the `control:` key; and the socket server and client on a
// real Unix socket in a temp dir (mode, stale file, a slow client).
#include "proxy/control.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "fmt/format.h"
#include "gtest/gtest.h"
#include "proxy/config.h"
#include "proxy/control_client.h"
#include "proxy/control_server.h"

namespace xfr {
namespace {

const absl::Time kNow = absl::FromUnixSeconds(1'800'000'000);  // 2027-01-15T08:00:00Z

struct RequestCase {
  std::string name;
  std::string line;
  std::string want;  // the request formatted back, or "error: <part of the message>"
};

void PrintTo(const RequestCase& c, std::ostream* os) { *os << c.name; }

class ControlRequestParse : public testing::TestWithParam<RequestCase> {};

TEST_P(ControlRequestParse, AcceptsOnlyWellFormedRequests) {
  const RequestCase& c = GetParam();
  absl::StatusOr<ControlRequest> r = ParseControlRequest(c.line);
  if (c.want.starts_with("error: ")) {
    ASSERT_FALSE(r.ok()) << c.line;
    EXPECT_NE(std::string(r.status().message()).find(c.want.substr(7)), std::string::npos)
        << r.status();
  } else {
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(FormatControlRequest(*r), c.want);
  }
}

const RequestCase kRequests[] = {
    {"StatusOfEveryZone", "xfrproxy-ctl/1 text status\n", "xfrproxy-ctl/1 text status\n"},
    {"StatusOfOneZoneMadeAbsolute", "xfrproxy-ctl/1 json status example.com",
     "xfrproxy-ctl/1 json status example.com.\n"},
    {"CarriageReturnIsTolerated", "xfrproxy-ctl/1 text reload\r\n",
     "xfrproxy-ctl/1 text reload\n"},
    {"NotifyOnePeer", "xfrproxy-ctl/1 text notify example.com. 192.0.2.7:53\n",
     "xfrproxy-ctl/1 text notify example.com. 192.0.2.7:53\n"},
    {"NotifyEveryPeer", "xfrproxy-ctl/1 text notify example.com.\n",
     "xfrproxy-ctl/1 text notify example.com.\n"},
    {"Refresh", "xfrproxy-ctl/1 text refresh a.example.\n",
     "xfrproxy-ctl/1 text refresh a.example.\n"},
    {"Retransfer", "xfrproxy-ctl/1 text retransfer a.example.\n",
     "xfrproxy-ctl/1 text retransfer a.example.\n"},
    {"Peers", "xfrproxy-ctl/1 json peers a.example.\n", "xfrproxy-ctl/1 json peers a.example.\n"},
    // --- Malformed -----------------------------------------------------------
    {"Empty", "", "error: not a control request"},
    {"OnlyANewline", "\n", "error: not a control request"},
    {"NoProtocolTag", "status\n", "error: not a control request"},
    {"OtherProtocolVersion", "xfrproxy-ctl/2 text status\n", "error: not a control request"},
    {"HttpOnTheSocket", "GET / HTTP/1.1\r\n", "error: not a control request"},
    {"NoVerb", "xfrproxy-ctl/1 text\n", "error: not a control request"},
    {"BadFormat", "xfrproxy-ctl/1 yaml status\n", "error: bad format"},
    {"UnknownVerb", "xfrproxy-ctl/1 text stop\n", "error: unknown verb 'stop'"},
    {"VerbIsCaseSensitive", "xfrproxy-ctl/1 text STATUS\n", "error: unknown verb"},
    {"RefreshNeedsAZone", "xfrproxy-ctl/1 text refresh\n",
     "error: 'refresh' takes 1 to 1 arguments: usage: refresh ZONE"},
    {"ReloadTakesNothing", "xfrproxy-ctl/1 text reload example.com.\n",
     "error: 'reload' takes no arguments"},
    {"StatusTakesOneZone", "xfrproxy-ctl/1 text status a. b.\n",
     "error: 'status' takes at most 1 argument"},
    {"NotifyTakesAtMostAPeer", "xfrproxy-ctl/1 text notify a. 192.0.2.1 192.0.2.2\n",
     "error: usage: notify ZONE [PEER]"},
    {"DoubleSpaceIsAnEmptyWord", "xfrproxy-ctl/1 text status  a.\n",
     "error: 'status' takes at most 1 argument"},
    {"BadZoneName", "xfrproxy-ctl/1 text status a..b\n", "error: bad zone name 'a..b'"},
    {"ControlBytesInAZone", std::string("xfrproxy-ctl/1 text status a\x01.\n"),
     "error: bad zone name"},
    {"TooLong", "xfrproxy-ctl/1 text status " + std::string(1100, 'a') + "\n",
     "error: request too long"},
};

INSTANTIATE_TEST_SUITE_P(Requests, ControlRequestParse, testing::ValuesIn(kRequests),
                         [](const testing::TestParamInfo<RequestCase>& i) { return i.param.name; });

TEST(ControlResponseTest, SerializesAndParsesBack) {
  ControlResponse ok{true, "zone a.: SOA check started\n"};
  auto back = ParseControlResponse(SerializeControlResponse(ok));
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_TRUE(back->ok);
  EXPECT_EQ(back->body, ok.body);
  auto err = ParseControlResponse("error\nunknown zone b.\n");
  ASSERT_TRUE(err.ok());
  EXPECT_FALSE(err->ok);
  EXPECT_EQ(err->body, "unknown zone b.\n");
}

TEST(ControlResponseTest, IncompleteOrForeignAnswersAreErrors) {
  EXPECT_NE(std::string(ParseControlResponse("").status().message()).find("without an answer"),
            std::string::npos);
  EXPECT_NE(std::string(ParseControlResponse("ok").status().message()).find("cut short"),
            std::string::npos);
  EXPECT_NE(std::string(ParseControlResponse("HTTP/1.1 200 OK\r\n").status().message())
                .find("not a control answer"),
            std::string::npos);
}

TEST(ControlResponseTest, MessagesInTextAndJson) {
  EXPECT_EQ(ControlMessage(false, true, "reloaded x.yaml").body, "reloaded x.yaml\n");
  EXPECT_EQ(ControlMessage(true, true, "reloaded x.yaml").body,
            "{\"ok\":true,\"message\":\"reloaded x.yaml\"}\n");
  ControlResponse e = ControlMessage(true, false, "x.yaml:3:1: bad \"key\"\n");
  EXPECT_FALSE(e.ok);
  EXPECT_EQ(e.body, "{\"ok\":false,\"error\":\"x.yaml:3:1: bad \\\"key\\\"\\n\"}\n");
}

std::vector<ZoneStatus> SampleZones() {
  ZoneStatus up;
  up.name = "example.com.";
  up.source = "primaries 192.0.2.1:53 192.0.2.2:53";
  up.serial = 2026120501;
  up.records = 1200;
  up.health = "degraded";
  up.last_refresh = kNow - absl::Seconds(65);
  up.last_transfer_kind = "IXFR";
  up.last_transfer_from = "192.0.2.2:53";
  up.last_transfer_at = kNow - absl::Minutes(10);
  up.next_refresh = kNow + absl::Seconds(30);
  up.expire_seconds = 3600 * 24 * 7;
  up.journal = 1;
  up.peers_total = 3;
  up.peers_in_sync = 2;
  up.last_error = "no usable SOA answer from any primary (192.0.2.1:53: timed out)";
  ZoneStatus file;
  file.name = "local.example.";
  file.source = "file /etc/xfrproxy/local.zone";
  file.file = true;
  file.serial = 7;
  file.records = 4;
  file.health = "ok";
  file.last_refresh = kNow - absl::Hours(2);
  file.journal = 3;
  return {up, file};
}

TEST(ControlStatusTest, TextIsABlockPerZoneWithAlignedLabels) {
  EXPECT_EQ(RenderStatusText(SampleZones(), kNow),
            "example.com.\n"
            "  serial         2026120501 (1200 records)\n"
            "  source         primaries 192.0.2.1:53 192.0.2.2:53\n"
            "  health         degraded\n"
            "  last refresh   2027-01-15T07:58:55Z (1m5s ago)\n"
            "  last transfer  IXFR from 192.0.2.2:53, 2027-01-15T07:50:00Z (10m ago)\n"
            "  next refresh   2027-01-15T08:00:30Z (in 30s)\n"
            "  expiry         in 168h\n"
            "  journal        1 diff\n"
            "  peers in sync  2/3\n"
            "  last error     no usable SOA answer from any primary (192.0.2.1:53: timed out)\n"
            "\n"
            "local.example.\n"
            "  serial         7 (4 records)\n"
            "  source         file /etc/xfrproxy/local.zone\n"
            "  health         ok\n"
            "  loaded         2027-01-15T06:00:00Z (2h ago)\n"
            "  next refresh   - (re-read on reload)\n"
            "  expiry         never (xfrproxy is the primary)\n"
            "  journal        3 diffs\n"
            "  peers in sync  - (no secondaries)\n"
            "  last error     -\n");
}

TEST(ControlStatusTest, ZoneWithoutDataAndExpiredZone) {
  ZoneStatus none;
  none.name = "new.example.";
  none.source = "primaries 192.0.2.1:53";
  none.health = "no-data";
  ZoneStatus expired = none;
  expired.name = "old.example.";
  expired.serial = 3;
  expired.health = "expired";
  expired.expire_seconds = 0;
  std::string text = RenderStatusText({none, expired}, kNow);
  EXPECT_NE(text.find("  serial         - (nothing served yet)\n"), std::string::npos) << text;
  EXPECT_NE(text.find("  last transfer  - (none since start)\n"), std::string::npos) << text;
  EXPECT_NE(text.find("  expiry         EXPIRED\n"), std::string::npos) << text;
  EXPECT_EQ(RenderStatusText({}, kNow), "no zones\n");
}

TEST(ControlStatusTest, JsonHasEveryField) {
  EXPECT_EQ(
      RenderStatusJson({SampleZones()[1]}),
      "{\"ok\":true,\"zones\":[{\"name\":\"local.example.\",\"source\":\"file "
      "/etc/xfrproxy/local.zone\",\"file\":true,\"serial\":7,\"records\":4,\"health\":\"ok\","
      "\"last_refresh\":\"2027-01-15T06:00:00Z\",\"last_transfer\":null,\"next_refresh\":null,"
      "\"expire_seconds_remaining\":null,\"journal_diffs\":3,\"peers\":0,\"peers_in_sync\":0,"
      "\"last_error\":null}]}\n");
  std::string up = RenderStatusJson({SampleZones()[0]});
  EXPECT_NE(up.find("\"last_transfer\":{\"kind\":\"IXFR\",\"from\":\"192.0.2.2:53\",\"at\":"
                    "\"2027-01-15T07:50:00Z\"}"),
            std::string::npos)
      << up;
  EXPECT_NE(up.find("\"expire_seconds_remaining\":604800"), std::string::npos) << up;
}

TEST(ControlPeersTest, TableWithAHeaderAndAlignedColumns) {
  PeerReport a;
  a.address = "198.51.100.7:53";
  a.state = "in-sync";
  a.serial = Serial(12);
  a.last_notify = kNow - absl::Seconds(40);
  a.last_seen = kNow - absl::Seconds(38);
  PeerReport b;
  b.address = "[2001:db8::8]:5300";
  b.state = "unreachable";
  b.seconds_behind = 40;
  b.last_notify = kNow - absl::Seconds(40);
  b.last_error = "NOTIFY unanswered after 5 tries";
  b.shared_address = true;
  EXPECT_EQ(RenderPeersText("example.com.", {a, b}, kNow),
            "example.com.\n"
            "ADDRESS                         STATE        SERIAL  BEHIND  LAST NOTIFY  "
            "LAST SEEN  LAST ERROR\n"
            "198.51.100.7:53                 in-sync      12      -       40s ago      "
            "38s ago    -\n"
            "[2001:db8::8]:5300 (shared IP)  unreachable  -       40s     40s ago      "
            "-          NOTIFY unanswered after 5 tries\n");
  EXPECT_EQ(RenderPeersText("example.com.", {}, kNow), "example.com.: no secondaries\n");
  std::string json = RenderPeersJsonBody("example.com.", {a});
  EXPECT_EQ(json,
            "{\"ok\":true,\"zone\":\"example.com.\",\"peers\":[{\"address\":\"198.51.100.7:53\","
            "\"state\":\"in-sync\",\"serial\":12,\"seconds_behind\":0,\"last_notify\":"
            "\"2027-01-15T07:59:20Z\",\"last_seen\":\"2027-01-15T07:59:22Z\",\"last_error\":null,"
            "\"shared_address\":false}]}\n");
}

// --- `control:` in the config ---------------------------------------------

absl::StatusOr<Config> Load(std::string_view top) {
  std::string text = std::string("listen: [\"127.0.0.1:5300\"]\n") + std::string(top) +
                     "zones:\n  - {name: a.example, primaries: [\"192.0.2.1\"]}\n";
  return LoadConfigText(text, "c.yaml", "/etc/xfr");
}

TEST(ControlConfigTest, SocketDefaultsToStateDirAndCanBeSet) {
  auto none = Load("");
  ASSERT_TRUE(none.ok()) << none.status();
  EXPECT_EQ(none->control_socket, "");
  auto by_state = Load("state-dir: /var/lib/xfrproxy\n");
  ASSERT_TRUE(by_state.ok()) << by_state.status();
  EXPECT_EQ(by_state->control_socket, "/var/lib/xfrproxy/control");
  auto set = Load("state-dir: /var/lib/xfrproxy\ncontrol: run/ctl.sock\n");
  ASSERT_TRUE(set.ok()) << set.status();
  EXPECT_EQ(set->control_socket, "/etc/xfr/run/ctl.sock");
  auto alone = Load("control: /run/xfrproxy.sock\n");
  ASSERT_TRUE(alone.ok()) << alone.status();
  EXPECT_EQ(alone->control_socket, "/run/xfrproxy.sock");
}

TEST(ControlConfigTest, BadValuesNameTheLine) {
  EXPECT_EQ(std::string(Load("control: \"\"\n").status().message()),
            "c.yaml:2:10: control: empty path");
  EXPECT_EQ(std::string(Load("control: [a]\n").status().message()).substr(0, 20),
            "c.yaml:2:10: control");
  std::string long_dir = "/" + std::string(110, 'd');
  std::string m(Load("state-dir: " + long_dir + "\n").status().message());
  EXPECT_TRUE(m.starts_with("c.yaml:2:12: state-dir: the control socket path")) << m;
  EXPECT_NE(m.find("set `control:` to a shorter path"), std::string::npos) << m;
  m = std::string(Load("control: " + long_dir + "\n").status().message());
  EXPECT_TRUE(m.starts_with("c.yaml:2:10: control: the control socket path")) << m;
}

// --- The command line of `xfrproxy ctl` -------------------------------------

TEST(CtlArgsTest, OptionsAnywhereAndTheVerb) {
  auto o = ParseCtlArgs({"--json", "status", "example.com", "--socket=/run/x.sock"});
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_TRUE(o->request.json);
  EXPECT_EQ(o->socket_path, "/run/x.sock");
  EXPECT_EQ(o->config_path, kDefaultConfigPath);
  EXPECT_EQ(FormatControlRequest(o->request), "xfrproxy-ctl/1 json status example.com.\n");
  o = ParseCtlArgs({"-c", "/etc/x.yaml", "notify", "a.", "192.0.2.1"});
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->config_path, "/etc/x.yaml");
  EXPECT_EQ(o->request.peer, "192.0.2.1");
  EXPECT_EQ(ParseCtlArgs({"--config"}).status().message(), "--config needs a value");
  EXPECT_EQ(ParseCtlArgs({"--verbose", "status"}).status().message(),
            "unknown option '--verbose'");
  EXPECT_NE(std::string(ParseCtlArgs({}).status().message()).find("no verb"), std::string::npos);
  EXPECT_TRUE(ParseCtlArgs({"--help"})->help);
}

// --- The socket: server and client ------------------------------------------

class ControlSocketTest : public testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/xfrctl-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    path_ = dir_ + "/control";
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  static ControlResponse Echo(const ControlRequest& r) {
    return ControlMessage(r.json, true, fmt::format("did {}", ControlVerbName(r.verb)));
  }
  sockaddr_un Address() const {
    sockaddr_un sun{};
    sun.sun_family = AF_UNIX;
    std::memcpy(sun.sun_path, path_.data(), path_.size());
    return sun;
  }
  // A raw client connection, or -1.
  int Connect() const {
    int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un sun = Address();
    if (::connect(fd, reinterpret_cast<sockaddr*>(&sun), sizeof sun) != 0) {
      ::close(fd);
      return -1;
    }
    return fd;
  }
  ControlRequest Request(ControlVerb verb) {
    ControlRequest r;
    r.verb = verb;
    return r;
  }

  std::string dir_;
  std::string path_;
};

TEST_F(ControlSocketTest, AnswersWithMode0660AndRemovesTheFileAtStop) {
  auto server = ControlServer::Start(path_, Echo);
  ASSERT_TRUE(server.ok()) << server.status();
  struct stat st;
  ASSERT_EQ(::stat(path_.c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  // Owner and group only: the kernel refuses connect() to anyone else.
  EXPECT_EQ(st.st_mode & 0777, 0660u);
  auto r = SendControlRequest(path_, Request(ControlVerb::kReload), absl::Seconds(5));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->ok);
  EXPECT_EQ(r->body, "did reload\n");
  (*server)->Stop();
  EXPECT_NE(::access(path_.c_str(), F_OK), 0);
}

TEST_F(ControlSocketTest, StaleSocketIsReplacedALiveOneIsNot) {
  {
    // A socket file nobody listens on, as a kill -9 leaves it.
    int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un sun = Address();
    ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&sun), sizeof sun), 0);
    ::close(fd);
  }
  auto server = ControlServer::Start(path_, Echo);
  ASSERT_TRUE(server.ok()) << server.status();
  auto second = ControlServer::Start(path_, Echo);
  ASSERT_FALSE(second.ok());
  EXPECT_NE(std::string(second.status().message()).find("another xfrproxy is answering"),
            std::string::npos)
      << second.status();
  // The first one still answers.
  EXPECT_TRUE(SendControlRequest(path_, Request(ControlVerb::kStatus), absl::Seconds(5)).ok());
}

TEST_F(ControlSocketTest, AFileThatIsNotASocketIsLeftAlone) {
  { std::ofstream(path_) << "operator's file\n"; }
  auto server = ControlServer::Start(path_, Echo);
  ASSERT_FALSE(server.ok());
  EXPECT_NE(std::string(server.status().message()).find("exists and is not a socket"),
            std::string::npos);
  EXPECT_TRUE(std::filesystem::is_regular_file(path_));
}

TEST_F(ControlSocketTest, SlowClientDoesNotBlockOthers) {
  ControlServerOptions o;
  o.io_timeout = absl::Seconds(30);
  auto server = ControlServer::Start(path_, Echo, o);
  ASSERT_TRUE(server.ok()) << server.status();
  // Connected, half a request, then silence.
  int slow = Connect();
  ASSERT_GE(slow, 0);
  ASSERT_EQ(::send(slow, "xfrproxy-ctl/1 te", 17, 0), 17);
  auto r = SendControlRequest(path_, Request(ControlVerb::kStatus), absl::Seconds(5));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->body, "did status\n");
  ::close(slow);
}

TEST_F(ControlSocketTest, MalformedRequestGetsAnErrorAnswer) {
  auto server = ControlServer::Start(path_, Echo);
  ASSERT_TRUE(server.ok()) << server.status();
  int fd = Connect();
  ASSERT_GE(fd, 0);
  std::string bad = "xfrproxy-ctl/1 json frobnicate\n";
  ASSERT_EQ(::send(fd, bad.data(), bad.size(), 0), static_cast<ssize_t>(bad.size()));
  std::string got;
  char buf[512];
  for (ssize_t n; (n = ::recv(fd, buf, sizeof buf, 0)) > 0;) got.append(buf, n);
  ::close(fd);
  EXPECT_TRUE(got.starts_with("error\n{\"ok\":false,\"error\":\"unknown verb 'frobnicate'"))
      << got;
}

TEST_F(ControlSocketTest, NoDaemonIsAClearError) {
  auto r = SendControlRequest(path_, Request(ControlVerb::kStatus), absl::Seconds(1));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(),
            "cannot connect to " + path_ + ": No such file or directory (is xfrproxy running?)");
}

}  // namespace
}  // namespace xfr
