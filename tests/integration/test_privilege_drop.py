"""`user:` / `group:`: started as root, xfrproxy binds port 53, opens
state-dir and its control socket, then runs as the account for good: every
thread has its ids, no capability is left, and transfers, SIGHUP reloads,
`ctl` and state written after the switch keep working (the state files are
the account's). Root without `user:` is warned about once; an unprivileged
process cannot switch to another account and says so."""
import os
import pwd
import grp
import signal
import subprocess
import unittest
import urllib.request

import xfrtest
from xfrproxy_run import AXFR, SOA, ProxyZone, XfrProxy, query, tcp_transfer, transfer_records

ORIGIN = "drop.test."
# Port 53 of a loopback address of its own, away from other tests' servers.
HOST = "127.0.53.2"
USER, GROUP = "nobody", "nogroup"


def zone_text(serial):
    return (f"$ORIGIN {ORIGIN}\n$TTL 3600\n"
            f"@ IN SOA ns1 hostmaster {serial} 7200 900 1209600 300\n"
            "@ IN NS ns1\nns1 IN A 192.0.2.1\n"
            + "".join(f"h{i} IN A 192.0.2.{i % 250 + 1}\n" for i in range(serial * 10)))


def proc_status(path):
    """The fields of a /proc/.../status file that say who a task is."""
    out = {}
    with open(path) as f:
        for line in f:
            key, _, value = line.partition(":")
            out[key] = value.split()
    return out


@unittest.skipUnless(os.geteuid() == 0, "switching accounts needs root: run the tests as root")
class PrivilegeDropTest(unittest.TestCase):
    def setUp(self):
        self.uid = pwd.getpwnam(USER).pw_uid
        self.gid = grp.getgrnam(GROUP).gr_gid
        self.proxy = None

    def tearDown(self):
        if self.proxy is not None:
            self.proxy.cleanup()

    def start(self, extra, port, host=HOST, env=None, wait=True):
        self.proxy = XfrProxy([ProxyZone(ORIGIN, zone_text(1))], extra=extra, port=port,
                              host=host, env=env)
        # The account must still read the config and the zone file on
        # SIGHUP: the temp dir is root's 0700 otherwise.
        os.chmod(self.proxy.dir.path, 0o755)
        return self.proxy.start(wait=wait)

    def assert_is_account(self, pid):
        """Every thread runs as the account, with no capability left."""
        tasks = os.listdir(f"/proc/{pid}/task")
        self.assertGreater(len(tasks), 1, "expected serving threads besides the main one")
        for tid in tasks:
            st = proc_status(f"/proc/{pid}/task/{tid}/status")
            who = f"thread {tid} ({st['Name'][0]})"
            self.assertEqual(st["Uid"], [str(self.uid)] * 4, who)
            self.assertEqual(st["Gid"], [str(self.gid)] * 4, who)
            self.assertNotIn("0", st.get("Groups", []), who)
            for cap in ("CapEff", "CapPrm", "CapAmb"):
                self.assertEqual(int(st[cap][0], 16), 0, f"{who} {cap}")

    def test_runs_as_the_account_after_binding_port_53(self):
        # With the http endpoint, whose library runs threads of its own.
        http = xfrtest.free_port()
        proxy = self.start(f"state-dir: state\nuser: {USER}\ngroup: {GROUP}\n"
                           f"http: \"127.0.0.1:{http}\"\n", port=53)
        pid = proxy.process.pid
        # Serving starts as soon as the listeners are bound; the switch
        # follows once the rest (control socket, state-dir) is set up.
        proxy.wait_log(f"running as user {USER}")
        self.assert_is_account(pid)

        recs = transfer_records(tcp_transfer(53, query(ORIGIN, AXFR), host=HOST))
        self.assertEqual(recs[0].type, SOA)
        self.assertEqual(len(recs), 1 + 2 + 10 + 1)

        # state-dir and the control socket were handed over.
        state = proxy.path("state")
        for name in ["", *os.listdir(state)]:
            st = os.lstat(os.path.join(state, name))
            self.assertEqual((st.st_uid, st.st_gid), (self.uid, self.gid), name or state)
        code, out, err = proxy.ctl("status", ORIGIN)
        self.assertEqual(code, 0, out + err)
        with urllib.request.urlopen(f"http://127.0.0.1:{http}/healthz", timeout=10) as r:
            self.assertEqual(r.status, 200)

        # A reload after the switch reads the new file, serves it, and the
        # journal written for it is the account's.
        proxy.write_zone(proxy.zones[0], zone_text(2))
        proxy.reload()
        proxy.wait_serial(ORIGIN, 2)
        journal = os.path.join(state, "drop.test.jnl")
        st = xfrtest.wait_for("journal written", lambda: os.path.exists(journal) and
                              os.lstat(journal))
        self.assertEqual((st.st_uid, st.st_gid), (self.uid, self.gid))
        recs = transfer_records(tcp_transfer(53, query(ORIGIN, AXFR), host=HOST))
        self.assertEqual(len(recs), 1 + 2 + 20 + 1)
        self.assert_is_account(pid)
        self.assertNotIn("running as root", proxy.log())
        self.assertEqual(proxy.stop(), 0, proxy.log()[-3000:])

    def test_root_without_user_is_warned_once(self):
        proxy = self.start("state-dir: state\n", port=xfrtest.free_port(), host=xfrtest.LOOPBACK)
        for _ in range(2):
            code, out, err = proxy.ctl("reload")
            self.assertEqual(code, 0, out + err)
        self.assertEqual(proxy.log().count("running as root"), 1, proxy.log()[-3000:])
        self.assertEqual(proxy.stop(), 0, proxy.log()[-3000:])

    def test_unprivileged_process_cannot_switch_to_another_account(self):
        # Started as nobody, with `user: daemon`: only root could switch.
        self.proxy = XfrProxy([ProxyZone(ORIGIN, zone_text(1))], extra="user: daemon\n")
        os.chmod(self.proxy.dir.path, 0o755)
        for z in self.proxy.zones:
            self.proxy.write_zone(z, z.text)
        self.proxy.write_config()
        argv = [xfrtest.tool("setpriv"), f"--reuid={USER}", f"--regid={GROUP}", "--clear-groups",
                xfrtest.binary("proxy", "xfrproxy"), "--config", self.proxy.config_path]
        r = subprocess.run(argv, capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn("user: cannot switch to daemon:daemon", r.stderr)
        self.assertIn(f"xfrproxy runs as uid {self.uid} gid {self.gid}", r.stderr)
        self.assertIn("only root can switch accounts", r.stderr)

    def test_unknown_user_stops_the_start(self):
        self.proxy = XfrProxy([ProxyZone(ORIGIN, zone_text(1))],
                              extra="user: no-such-user-xfr\n")
        for z in self.proxy.zones:
            self.proxy.write_zone(z, z.text)
        self.proxy.write_config()
        r = subprocess.run([xfrtest.binary("proxy", "xfrproxy"), "--config",
                            self.proxy.config_path], capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 1)
        self.assertIn("user: no such user 'no-such-user-xfr'", r.stderr)


if __name__ == "__main__":
    xfrtest.main()
