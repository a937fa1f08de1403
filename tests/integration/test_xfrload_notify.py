"""xfrload secondaries --listen-notify: simulated secondaries that react to
NOTIFY like real ones (RFC 1996), against xfrproxy serving a file zone.

xfrproxy is configured with the N listen addresses as its secondaries; a
change of the zone file and SIGHUP make it notify them all, and each must
answer, check the SOA, fetch the change by IXFR and end on the new serial,
as the --json report counts. A fake target with slow SOA answers pins down
that a burst of NOTIFYs costs one check in flight plus one queued."""
import json
import os
import random
import socket
import struct
import subprocess
import threading
import time
import unittest

import servers
import xfrtest
from xfrproxy_run import (SOA, ProxyKey, ProxyZone, XfrProxy, encode_name, parse_message,
                          query, soa_rdata, tsig_sign)

ZONE = "example.com."
SECONDARIES = 40


def zone_text(serial):
    return servers.make_zone(ZONE, 100, serial=serial) + f'changed IN TXT "serial {serial}"\n'


def listen_base():
    """A random 127.x.y.0 and a free port: concurrent runs do not collide."""
    return f"127.{random.randrange(100, 250)}.{random.randrange(0, 250)}.0", xfrtest.free_port()


def addresses(base, port, n):
    a, b, c, _ = (int(x) for x in base.split("."))
    return [f"{a}.{b}.{c + i // 256}.{i % 256}:{port}" for i in range(n)]


def wait_bound(host, port, timeout=30.0, proc=None):
    """Waits until something holds UDP host:port (xfrload bound its sockets)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"xfrload exited early: {proc.communicate()}")
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            try:
                s.bind((host, port))
            except OSError:
                return
        time.sleep(0.05)
    raise TimeoutError(f"nothing bound {host}:{port}")


def notify_message(qid, zone=ZONE, serial=None):
    body = encode_name(zone) + struct.pack("!HH", SOA, 1)
    an = 0
    if serial is not None:
        rd = soa_rdata(serial)
        body += encode_name(zone) + struct.pack("!HHIH", SOA, 1, 3600, len(rd)) + rd
        an = 1
    return struct.pack("!HHHHHH", qid, (4 << 11) | 0x0400, 1, an, 0, 0) + body


class XfrloadNotifyTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.xfrload = xfrtest.binary("bench", "xfrload")
        cls.base, cls.lport = listen_base()
        cls.key = ProxyKey.random("notify-key")
        secondaries = [{"address": a} for a in addresses(cls.base, cls.lport, SECONDARIES)]
        cls.zone = ProxyZone(ZONE, text=zone_text(10), secondaries=secondaries)
        cls.proxy = XfrProxy([cls.zone]).start()
        cls.serial = 10

    @classmethod
    def tearDownClass(cls):
        code = cls.proxy.stop()
        log = cls.proxy.log()
        cls.proxy.dir.cleanup()
        if code != 0:
            raise AssertionError(f"xfrproxy exited {code}:\n{log[-4000:]}")

    def start_load(self, *args, proxy=None, base=None, port=None, count=SECONDARIES):
        proxy = proxy or self.proxy
        argv = [self.xfrload, "secondaries", "--target", f"127.0.0.1:{proxy.port}",
                "--zone", "example.com", "--count", str(count), "--json",
                "--listen-notify", f"{base or self.base}:{port or self.lport}",
                "--timeout", "20", *args]
        return argv, subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                      text=True)

    def finish(self, argv, proc, expect_rc=0):
        out, err = proc.communicate(timeout=120)
        self.assertEqual(proc.returncode, expect_rc, f"{argv}\n{out}\n{err}")
        return json.loads(out)

    def bump(self, proxy=None, zone=None):
        """Writes the next serial into the zone file and reloads."""
        proxy, zone = proxy or self.proxy, zone or self.zone
        type(self).serial += 1
        proxy.write_zone(zone, zone_text(self.serial))
        proxy.reload()
        proxy.wait_serial(ZONE, self.serial)
        return self.serial

    def test_every_secondary_notified_ends_on_new_serial_by_ixfr(self):
        start = self.serial
        argv, proc = self.start_load("--expect-serial", str(start + 1), "--duration", "60")
        wait_bound(self.base, self.lport, proc=proc)
        new = self.bump()
        r = self.finish(argv, proc)
        self.assertEqual(r["mode"], "notify")
        self.assertEqual(r["errors"], 0, r["first_error"])
        self.assertEqual(r["base_serial"], start)
        n = r["notify"]
        self.assertGreaterEqual(n["received"], SECONDARIES)
        self.assertEqual(n["rejected"], 0)
        self.assertEqual(n["round_serial"], new)
        self.assertEqual(n["notified"], SECONDARIES)
        self.assertIsNotNone(n["converged_ms"])
        self.assertGreaterEqual(n["spread_ms"], 0)
        self.assertEqual(n["expect_holders"], SECONDARIES)
        self.assertIsNotNone(n["expect_reached_s"])
        self.assertEqual(n["serials"], [{"serial": new, "secondaries": SECONDARIES}])
        # One IXFR each, incremental from the old serial.
        self.assertEqual(n["incremental"], SECONDARIES)
        self.assertEqual(n["full"], 0)
        ixfr = r["by_kind"]["ixfr"]
        self.assertEqual(ixfr["completed"], SECONDARIES)
        self.assertEqual(ixfr["incremental"], SECONDARIES)
        self.assertEqual(r["by_kind"]["axfr"]["started"], 0)
        # Every check began with an SOA query that found the new serial.
        self.assertGreaterEqual(r["by_kind"]["soa"]["completed"], SECONDARIES)
        # Fresh connections, one per transfer, each from the secondary's own
        # address.
        self.assertEqual(r["tcp_connections"], SECONDARIES)

    def test_empty_secondaries_fetch_the_zone_by_axfr(self):
        argv, proc = self.start_load("--serial", "none", "--expect-serial", str(self.serial),
                                     "--duration", "60", "--threads", "2")
        r = self.finish(argv, proc)
        self.assertEqual(r["errors"], 0, r["first_error"])
        self.assertEqual(r["threads"], 2)
        n = r["notify"]
        self.assertEqual(n["full"], SECONDARIES)
        self.assertEqual(n["serials"], [{"serial": self.serial, "secondaries": SECONDARIES}])
        axfr = r["by_kind"]["axfr"]
        self.assertEqual(axfr["completed"], SECONDARIES)
        self.assertEqual(axfr["zone_records_min"], axfr["zone_records_max"])

    def test_unconverged_secondaries_are_errors(self):
        # Nobody changes the zone: the run ends at its duration, every
        # secondary still behind.
        argv, proc = self.start_load("--count", "3", "--expect-serial", str(self.serial + 100),
                                     "--duration", "1", count=3)
        r = self.finish(argv, proc, expect_rc=1)
        self.assertEqual(r["errors_by_kind"]["unconverged"], 3)
        self.assertIn("unconverged", r["first_error"])
        self.assertIsNone(r["notify"]["expect_reached_s"])

    def test_signed_notify_is_answered_signed(self):
        key = self.key
        base, port = listen_base()
        secondaries = [{"address": a, "key": key.name} for a in addresses(base, port, 5)]
        zone = ProxyZone(ZONE, text=zone_text(100), secondaries=secondaries)
        with XfrProxy([zone], keys=[key]) as proxy:
            # No --expect-serial: the run lasts long enough for xfrproxy to
            # send again (after 1 s) any NOTIFY whose answer it rejected.
            argv, proc = self.start_load("--duration", "4", "--tsig", key.tsigxfr_spec(),
                                         proxy=proxy, base=base, port=port, count=5)
            wait_bound(base, port, proc=proc)
            proxy.write_zone(zone, zone_text(101))
            proxy.reload()
            r = self.finish(argv, proc)
        self.assertEqual(r["errors"], 0, r["first_error"])
        n = r["notify"]
        self.assertEqual(n["rejected"], 0)
        # Signed answers accepted: no NOTIFY came twice with the same ID.
        self.assertEqual(n["duplicates"], 0)
        self.assertEqual(n["incremental"], 5)
        self.assertEqual(n["serials"], [{"serial": 101, "secondaries": 5}])
        self.assertEqual(r["abandoned"], 0)

    def test_bad_usage(self):
        for args in (["--listen-notify", "127.1.0.0:5400"],  # never ends
                     ["--listen-notify", "127.1.0.0:5400", "--duration", "1", "--mode", "ixfr"],
                     ["--listen-notify", "127.255.255.250:5400", "--count", "10",
                      "--duration", "1"],
                     ["--expect-serial", "3"]):
            r = subprocess.run([self.xfrload, "secondaries", "--target", "127.0.0.1:53",
                                "--zone", "example.com", *args],
                               capture_output=True, text=True, timeout=30)
            self.assertEqual(r.returncode, 2, f"{args}: {r.stderr}")


class FakeSlowTarget:
    """Answers SOA queries over UDP with serial 5, each after `delay`."""

    def __init__(self, delay):
        self.delay = delay
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((xfrtest.LOOPBACK, 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.queries = 0
        self.stopping = False
        self.thread = threading.Thread(target=self._serve, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stopping = True
        self.thread.join(5)
        self.sock.close()

    def _serve(self):
        while not self.stopping:
            try:
                q, peer = self.sock.recvfrom(4096)
            except socket.timeout:
                continue
            self.queries += 1
            threading.Timer(self.delay, self._answer, (q, peer)).start()

    def _answer(self, q, peer):
        qend = 12
        while q[qend] != 0:
            qend += q[qend] + 1
        qend += 5
        rd = soa_rdata(5)
        a = (q[:2] + struct.pack("!HHHHH", 0x8400, 1, 1, 0, 0) + q[12:qend] +
             encode_name(ZONE) + struct.pack("!HHIH", SOA, 1, 3600, len(rd)) + rd)
        try:
            self.sock.sendto(a, peer)
        except OSError:
            pass


class NotifyBurstTest(unittest.TestCase):
    def test_burst_costs_one_check_and_one_recheck(self):
        xfrload = xfrtest.binary("bench", "xfrload")
        base, port = listen_base()
        with FakeSlowTarget(delay=0.6) as target:
            argv = [xfrload, "secondaries", "--target", f"127.0.0.1:{target.port}",
                    "--zone", "example.com", "--count", "1", "--serial", "5", "--json",
                    "--listen-notify", f"{base}:{port}", "--duration", "5"]
            proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                    text=True)
            wait_bound(base, port, proc=proc)
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                s.settimeout(5)
                answers = []
                for qid in range(1000, 1020):
                    s.sendto(notify_message(qid, serial=6), (base, port))
                    answers.append(parse_message(s.recvfrom(4096)[0]))
                # Another zone is refused; a query is not a NOTIFY at all.
                s.sendto(notify_message(7, zone="example.org."), (base, port))
                refused = parse_message(s.recvfrom(4096)[0])
                s.sendto(query(ZONE, SOA, qid=8), (base, port))
            out, err = proc.communicate(timeout=60)
        self.assertEqual(proc.returncode, 0, f"{out}\n{err}")
        for qid, m in zip(range(1000, 1020), answers):
            # RFC 1996 §4.7: QR=1, same ID and question; AA as the NOTIFY.
            self.assertEqual(m.id, qid)
            self.assertTrue(m.qr)
            self.assertEqual(m.opcode, 4)
            self.assertTrue(m.aa)
            self.assertEqual(m.rcode, 0)
            self.assertEqual(m.questions, [(ZONE, SOA, 1)])
        self.assertEqual(refused.rcode, 5)
        r = json.loads(out)
        n = r["notify"]
        self.assertEqual(n["received"], 20)
        self.assertEqual(n["rejected"], 2)
        # The first NOTIFY starts a check; the 19 during it queue one more.
        self.assertEqual(n["checks"], 2)
        self.assertEqual(n["rechecks"], 1)
        self.assertEqual(target.queries, 2)
        # Serial 5 is not newer than 5: no transfer.
        self.assertEqual(r["by_kind"]["ixfr"]["started"], 0)
        self.assertEqual(n["serials"], [{"serial": 5, "secondaries": 1}])


class PrintConfigTest(unittest.TestCase):
    def test_print_config_lists_the_addresses(self):
        xfrload = xfrtest.binary("bench", "xfrload")
        r = subprocess.run([xfrload, "secondaries", "--listen-notify", "127.1.0.254:5400",
                            "--count", "3", "--print-config"],
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout, 'secondaries:\n'
                                   '  - {address: "127.1.0.254:5400"}\n'
                                   '  - {address: "127.1.0.255:5400"}\n'
                                   '  - {address: "127.1.1.0:5400"}\n')


if __name__ == "__main__":
    xfrtest.main()
