"""`xfrproxy ctl` against a running xfrproxy (docs/operations.md, "Control").

A file zone with two secondaries (Python UDP sockets that answer NOTIFY)
and a state-dir, so the control socket is at its default place,
<state-dir>/control. Every verb is driven through the real binary:
- status and peers, in text and with --json (which must parse);
- notify to every secondary and to one, and to an address that is not one;
- refresh and retransfer of a file zone say what applies to it instead;
- reload re-reads the zone file; a broken config makes it fail with the
  file:line:column error and the daemon keeps serving; a broken zone file
  makes it fail with the zone named;
- the socket is mode 0660 (another user gets EACCES from the kernel), a
  stale socket left by kill -9 is replaced, and a clean stop removes it;
- with no daemon, and with no control socket configured, the error says so
  and the exit status is non-zero.
"""
import json
import os
import shutil
import stat
import subprocess
import time
import unittest

import xfrtest
from test_peer_state import Secondary
from xfrproxy_run import ProxyZone, XfrProxy

ZONE = "ctl.example."


def zone_text(serial):
    return (f"$ORIGIN {ZONE}\n$TTL 3600\n"
            f"@ IN SOA ns1 hostmaster {serial} 7200 900 1209600 300\n"
            "@ IN NS ns1\nns1 IN A 192.0.2.1\n"
            f"www IN TXT \"version {serial}\"\n")


class CtlTest(unittest.TestCase):
    def setUp(self):
        self.secondaries = [Secondary("127.0.0.1", answer_notify=True) for _ in range(2)]
        for s in self.secondaries:
            self.addCleanup(s.close)
        self.zone = ProxyZone(ZONE, zone_text(1),
                              secondaries=[{"address": s.address} for s in self.secondaries])
        self.proxy = XfrProxy([self.zone], extra="state-dir: state\n")
        self.proxy.start()
        self.addCleanup(self.proxy.cleanup)
        self.socket = self.proxy.path("state/control")
        # The start-up NOTIFY has reached both before a test counts them.
        for s in self.secondaries:
            xfrtest.wait_for("start-up NOTIFY", lambda s=s: s.notifies(1))

    def ctl(self, *args):
        return self.proxy.ctl(*args)

    def assert_ok(self, *args):
        rc, out, err = self.ctl(*args)
        self.assertEqual(rc, 0, f"ctl {args}: {err}{out}")
        return out

    # --- status and peers -----------------------------------------------

    def test_status_in_text_and_json(self):
        out = self.assert_ok("status")
        self.assertTrue(out.startswith(f"{ZONE}\n"), out)
        for line in ("  serial         1 (", f"  source         file {self.proxy.path('')}",
                     "  health         ok", "  loaded         ", "  journal        0 diffs",
                     "  expiry         never", "  last error     -"):
            self.assertIn(line, out)
        self.assertRegex(out, r"  peers in sync  \d/2\n")
        doc = json.loads(self.assert_ok("--json", "status", ZONE))
        self.assertTrue(doc["ok"])
        (z,) = doc["zones"]
        self.assertEqual((z["name"], z["serial"], z["file"], z["peers"], z["health"]),
                         (ZONE, 1, True, 2, "ok"))
        self.assertIsNone(z["expire_seconds_remaining"])

    def test_unknown_zone_fails(self):
        rc, out, err = self.ctl("status", "nope.example")
        self.assertEqual((rc, out), (1, ""))
        self.assertEqual(err, "xfrproxy ctl: unknown zone nope.example.\n")
        rc, out, _ = self.ctl("--json", "peers", "nope.example")
        self.assertEqual(rc, 1)
        self.assertEqual(json.loads(out), {"ok": False, "error": "unknown zone nope.example."})

    def test_peers_in_text_and_json(self):
        out = self.assert_ok("peers", ZONE)
        lines = out.splitlines()
        self.assertEqual(lines[0], ZONE)
        self.assertTrue(lines[1].startswith("ADDRESS"), out)
        self.assertEqual({l.split()[0] for l in lines[2:]}, {s.address for s in self.secondaries})
        doc = json.loads(self.assert_ok("--json", "peers", ZONE))
        self.assertEqual(doc["zone"], ZONE)
        self.assertEqual({p["address"] for p in doc["peers"]},
                         {s.address for s in self.secondaries})
        for p in doc["peers"]:
            self.assertIn(p["state"], {"notified", "in-sync", "lagging", "unreachable", "unknown"})

    # --- notify ----------------------------------------------------------

    def test_notify_every_secondary_then_one(self):
        a, b = self.secondaries
        before = [len(s.notifies(1)) for s in self.secondaries]
        out = self.assert_ok("notify", ZONE)
        self.assertEqual(out, f"zone {ZONE}: NOTIFY for serial 1 sent to 2 secondaries\n")
        for s, n in zip(self.secondaries, before):
            xfrtest.wait_for(f"NOTIFY again at {s.address}",
                             lambda s=s, n=n: len(s.notifies(1)) > n)
        before = [len(s.notifies(1)) for s in self.secondaries]
        out = self.assert_ok("notify", ZONE, a.address)
        self.assertEqual(out, f"zone {ZONE}: NOTIFY for serial 1 sent to 1 secondary\n")
        xfrtest.wait_for("NOTIFY to the one asked for", lambda: len(a.notifies(1)) > before[0])
        # The other one answered its NOTIFY long ago: nothing more goes to it.
        time.sleep(0.5)
        self.assertEqual(len(b.notifies(1)), before[1])
        rc, _, err = self.ctl("notify", ZONE, "127.0.0.1:1")
        self.assertEqual(rc, 1)
        self.assertIn(f"127.0.0.1:1 is not a secondary of zone {ZONE}", err)

    # --- refresh / retransfer of a file zone -----------------------------

    def test_refresh_and_retransfer_of_a_file_zone_say_what_applies(self):
        for verb in ("refresh", "retransfer"):
            rc, out, err = self.ctl(verb, ZONE)
            self.assertEqual(rc, 1, out)
            self.assertIn(f"zone {ZONE} is served from the file", err)
            self.assertIn("`reload` re-reads the file", err)

    # --- reload ----------------------------------------------------------

    def test_reload_applies_and_reports_errors(self):
        self.proxy.write_zone(self.zone, zone_text(2))
        self.assertEqual(self.assert_ok("reload"), f"reloaded {self.proxy.config_path}\n")
        self.proxy.wait_serial(ZONE, 2, timeout=10)
        # A broken config: the error with file, line and column; nothing changes.
        good = self.proxy.config_text()
        with open(self.proxy.config_path, "w") as f:
            f.write(good + "bogus-key: 1\n")
        rc, out, err = self.ctl("reload")
        self.assertEqual(rc, 1, out)
        self.assertIn("reload failed, keeping the running configuration", err)
        self.assertRegex(err, rf"{self.proxy.config_path}:\d+:\d+: .*bogus-key")
        self.assertTrue(self.proxy.alive())
        self.assertEqual(self.proxy.wait_serial(ZONE, None), 2)
        self.assert_ok("status")
        # The same with --socket (no config read) and as JSON.
        rc, out, _ = self.proxy.ctl("--json", "--socket", self.socket, "reload")
        self.assertEqual(rc, 1)
        self.assertIn("bogus-key", json.loads(out)["error"])
        # A broken zone file: reloaded, but said, and the zone keeps serving.
        with open(self.proxy.config_path, "w") as f:
            f.write(good)
        with open(self.proxy.path(self.zone.file_name), "w") as f:
            f.write(zone_text(3).replace("IN SOA", "IN SOAP"))
        rc, out, err = self.ctl("reload")
        self.assertEqual(rc, 1, out)
        self.assertIn("configuration reloaded, but:", err)
        self.assertIn(f"zone {ZONE}:", err)
        self.assertIn("still serving serial 2", err)
        self.assertEqual(self.proxy.wait_serial(ZONE, None), 2)

    # --- the socket ------------------------------------------------------

    def test_socket_mode_stale_file_and_removal(self):
        st = os.stat(self.socket)
        self.assertTrue(stat.S_ISSOCK(st.st_mode))
        self.assertEqual(stat.S_IMODE(st.st_mode), 0o660)
        if os.geteuid() == 0:
            # Root passes any mode check: ask as nobody, who is neither the
            # owner nor in the group, with the directories open to it.
            os.chmod(self.proxy.dir.path, 0o755)
            os.chmod(self.proxy.path("state"), 0o755)
            argv = [shutil.which("setpriv"), "--reuid=nobody", "--regid=nogroup",
                    "--clear-groups", xfrtest.binary("proxy", "xfrproxy"), "ctl", "--socket",
                    self.socket, "status"]
            r = subprocess.run(argv, capture_output=True, text=True, timeout=30)
            self.assertEqual(r.returncode, 1, r.stdout)
            self.assertIn(f"cannot connect to {self.socket}: Permission denied", r.stderr)
        # kill -9 leaves the socket file; the next start replaces it.
        self.proxy._kill()
        self.assertTrue(os.path.exists(self.socket))
        self.proxy.start()
        self.assert_ok("status")
        self.assertEqual(self.proxy.stop(), 0)
        self.assertFalse(os.path.exists(self.socket), "clean stop left the control socket")
        rc, out, err = self.ctl("status")
        self.assertEqual((rc, out), (1, ""))
        self.assertEqual(err, f"xfrproxy ctl: cannot connect to {self.socket}: No such file or "
                              "directory (is xfrproxy running?)\n")
        rc, out, _ = self.ctl("--json", "status")
        self.assertEqual(rc, 1)
        self.assertFalse(json.loads(out)["ok"])

    def test_bad_verb_is_a_usage_error(self):
        rc, out, err = self.ctl("frobnicate")
        self.assertEqual(rc, 2)
        self.assertIn("unknown verb 'frobnicate'", err)


class CtlWithoutSocketTest(unittest.TestCase):
    def test_no_control_socket_configured(self):
        with XfrProxy([ProxyZone(ZONE, zone_text(1))]) as proxy:
            rc, out, err = proxy.ctl("status")
            self.assertEqual((rc, out), (1, ""))
            self.assertEqual(err, f"xfrproxy ctl: {proxy.config_path} has no control socket: set "
                                  "`control:` or `state-dir:`\n")


if __name__ == "__main__":
    xfrtest.main()
