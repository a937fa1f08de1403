"""`xfrproxy ctl refresh / retransfer / notify` against a real BIND primary.

    named (primary; its query log and xfer-out log in files of their own)
      -> xfrproxy (state-dir, so the control socket is <state-dir>/control)
        -> a Python UDP secondary that answers NOTIFY

Every SOA says REFRESH a day and RETRY an hour: after the first transfer
nothing happens unless ctl asks. The test asserts, from named's side:
  - `ctl refresh` makes xfrproxy ask named for the SOA (named's query log
    gains an SOA query from 127.0.0.1);
  - `ctl retransfer` makes xfrproxy AXFR the zone although the serial has not
    moved (named's xfer-out log shows the AXFR asked for), and the content
    that changed on named at the same serial is what xfrproxy serves after
    it (the same serial is published; BIND does the same);
  - `ctl notify ZONE PEER` reaches the secondary with the current serial;
  - `ctl status` and `ctl --json status` show the AXFR, its source and the
    refresh.
A missing server binary fails the test (never a skip).
"""
import json
import os
import re
import time
import unittest

import servers
import xfrtest
from fake_primary import UpstreamProxy
from xfrproxy_run import ServerGroup

# test_peer_state lives in tests/integration, beside this directory.
import sys  # noqa: E402
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
from test_peer_state import Secondary  # noqa: E402

ZONE = "ctlreal.example."
REFRESH, RETRY = 86400, 3600


def zone_text(serial, extra=()):
    lines = servers.make_zone(ZONE, 60, serial=serial).splitlines()
    lines = [f"@ IN SOA ns1.{ZONE} hostmaster.{ZONE} {serial} {REFRESH} {RETRY} 604800 300"
             if l.startswith("@ IN SOA") else l for l in lines]
    return "\n".join(lines + list(extra)) + "\n"


def has_marker(records):
    """The record added on named at the same serial is among `records`."""
    return any(r[0] == f"retransferred.{ZONE}" and "same serial" in r[4] for r in records)


class LoggingBind(servers.BindServer):
    """named with its query log and xfer-out log in files. `-g` forces every
    log to stderr and ignores a logging statement, so named runs with `-f`
    (foreground) and says where each category goes. Without
    ixfr-from-differences (PrimaryBind): named then loads a changed file at
    the same serial, which is what a retransfer is for."""

    def _write_config(self):
        argv = super()._write_config()
        conf = self.path("named.conf")
        with open(conf) as f:
            text = f.read()
        if "    notify explicit;" not in text or "-g" not in argv:
            raise AssertionError("servers.BindServer changed: no 'notify explicit;' or no -g")
        text = text.replace("    notify explicit;", "    notify explicit;\n    querylog yes;")
        text += "\n".join([
            "logging {",
            "    channel to_stderr { stderr; severity info; print-time yes; print-category yes; };",
            f'    channel xfer_file {{ file "{self.path("xfer-out.log")}"; severity info; '
            "print-time yes; };",
            f'    channel query_file {{ file "{self.path("queries.log")}"; severity info; '
            "print-time yes; };",
            "    category default { to_stderr; };",
            "    category xfer-out { xfer_file; to_stderr; };",
            "    category queries { query_file; };",
            "};",
        ]) + "\n"
        with open(conf, "w") as f:
            f.write(text)
        return ["-f" if a == "-g" else a for a in argv]

    def _read(self, name):
        try:
            with open(self.path(name), errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def axfrs_out(self, client="127.0.0.1"):
        """Finished outgoing AXFRs of ZONE to `client`, from the xfer-out log."""
        pat = re.compile(r"client @\S+ " + re.escape(client) + r"#\d+[^\n]*transfer of '"
                         + re.escape(ZONE.rstrip(".")) + r"/IN': AXFR ended")
        return pat.findall(self._read("xfer-out.log"))

    def soa_queries(self, client="127.0.0.1"):
        """SOA queries for ZONE from `client`, from the query log."""
        pat = re.compile(r"client @\S+ " + re.escape(client) + r"#\d+[^\n]*query: "
                         + re.escape(ZONE.rstrip(".")) + r" IN SOA ", re.IGNORECASE)
        return pat.findall(self._read("queries.log"))


class CtlRealTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        xfrtest.require_tools(["named", "dig"])

    def setUp(self):
        self.servers = ServerGroup()
        self.addCleanup(self.servers.close)

    def ctl_ok(self, proxy, *args):
        rc, out, err = proxy.ctl(*args)
        self.assertEqual(rc, 0, f"ctl {args}: {err}{out}\n{proxy.log()[-3000:]}")
        return out

    def test_refresh_retransfer_and_notify_against_bind(self):
        bind_zone = servers.Zone(ZONE, text=zone_text(1))
        named = self.servers.start(LoggingBind([bind_zone]))
        secondary = Secondary("127.0.0.1", answer_notify=True)
        self.addCleanup(secondary.close)
        proxy = self.servers.start(UpstreamProxy(
            [{"name": ZONE, "primaries": [f"127.0.0.1:{named.port}"],
              "secondaries": [{"address": secondary.address}]}], state_dir=True))
        proxy.wait_serial(ZONE, 1, timeout=30)
        xfrtest.wait_for("named logs the first AXFR", lambda: len(named.axfrs_out()) == 1)
        xfrtest.wait_for("the start-up NOTIFY", lambda: secondary.notifies(1))

        # --- refresh: an SOA query reaches named -------------------------
        before = len(named.soa_queries())
        self.assertEqual(self.ctl_ok(proxy, "refresh", ZONE),
                         f"zone {ZONE}: SOA check of the primaries started\n")
        xfrtest.wait_for("named logs the SOA query ctl refresh asked for",
                 lambda: len(named.soa_queries()) > before)
        # Same serial: nothing is transferred.
        time.sleep(0.5)
        self.assertEqual(len(named.axfrs_out()), 1)

        # --- retransfer: an AXFR at the same serial, its content served ---
        named.write_zone(bind_zone, zone_text(1, ['retransferred IN TXT "same serial"']))
        t = time.time() + 2
        os.utime(named.path(bind_zone.file_name), (t, t))
        named.reload()
        xfrtest.wait_for("named serves the new content at serial 1", lambda: "same serial" in
                 xfrtest.dig(named.port, f"retransferred.{ZONE}", "TXT", "+short"))
        self.assertFalse(has_marker(xfrtest.dig_axfr(proxy.port, ZONE)))
        start = len(proxy.log())
        self.assertEqual(self.ctl_ok(proxy, "retransfer", ZONE),
                         f"zone {ZONE}: AXFR from the primaries started (retransfer)\n")
        try:
            xfrtest.wait_for("named logs the AXFR ctl retransfer asked for",
                     lambda: len(named.axfrs_out()) == 2)
        except AssertionError:
            self.fail(f"no second AXFR in named's xfer-out log:\n{named._read('xfer-out.log')}\n"
                      f"{proxy.log()[start:]}")
        proxy.wait_log(f"retransfer: AXFR from 127.0.0.1:{named.port}", start=start, timeout=5)
        try:
            xfrtest.wait_for("xfrproxy serves what the AXFR brought",
                     lambda: has_marker(xfrtest.dig_axfr(proxy.port, ZONE)))
        except AssertionError as e:
            self.fail(f"{e}\n{proxy.log()[start:]}")
        self.assertEqual(proxy.wait_serial(ZONE, None), 1)

        status = json.loads(self.ctl_ok(proxy, "--json", "status", ZONE))["zones"][0]
        self.assertEqual(status["serial"], 1)
        self.assertEqual(status["health"], "ok")
        self.assertEqual(status["last_transfer"]["kind"], "AXFR")
        self.assertEqual(status["last_transfer"]["from"], f"127.0.0.1:{named.port}")
        self.assertIsNotNone(status["last_refresh"])
        self.assertGreater(status["expire_seconds_remaining"], 0)
        self.assertEqual(status["peers"], 1)
        text = self.ctl_ok(proxy, "status", ZONE)
        self.assertIn(f"  last transfer  AXFR from 127.0.0.1:{named.port}, ", text)
        self.assertIn("  health         ok\n", text)

        # --- notify: the current serial again, to the one secondary ------
        before = len(secondary.notifies(1))
        self.assertEqual(self.ctl_ok(proxy, "notify", ZONE, secondary.address),
                         f"zone {ZONE}: NOTIFY for serial 1 sent to 1 secondary\n")
        xfrtest.wait_for("the NOTIFY ctl asked for", lambda: len(secondary.notifies(1)) > before)
        peers = json.loads(self.ctl_ok(proxy, "--json", "peers", ZONE))["peers"]
        self.assertEqual([p["address"] for p in peers], [secondary.address])


if __name__ == "__main__":
    xfrtest.main()
