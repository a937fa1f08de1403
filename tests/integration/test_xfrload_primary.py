"""xfrload primary: the synthetic primary serves a consistent generated zone
and moves it on request.

SOA over UDP and TCP and the AXFR agree on the serial; the AXFR has exactly
--records records (dig reads it too) with the mix of a real zone
(delegations with glue, CNAMEs, MX, TXT, AAAA); the same seed gives the same
zone. Each change (SIGUSR1 here, so the test decides when) moves the serial
by one, and the IXFR from any older serial applied to that serial's AXFR
gives the new AXFR exactly; IXFR from the current serial is the SOA alone,
from an unknown one AXFR-style. NOTIFY reaches a UDP socket the test
listens on, is retried until answered, and each change sends a new one.
Every fault does what it says: truncate cuts the stream mid-message and
closes, wrong-soa answers SOA one serial ahead of the AXFR, stall never
answers a transfer, bad-tsig breaks the MAC (dig rejects the transfer),
notimp-ixfr answers IXFR NOTIMP. An xfrproxy in front converges on the
primary's serial by one AXFR and IXFRs, and the primary's /stats says so.
With --zones the primary serves that many zones, each with its own serial;
the --zones-config list is what an xfrproxy needs to follow all of them, and
a change with --change-zones K moves exactly K zones, NOTIFYing each.
"""
import re
import json
import os
import signal
import socket
import struct
import subprocess
import threading
import time
import unittest
import urllib.request

from fake_primary import UpstreamProxy
import xfrtest
from xfrproxy_run import (A, AAAA, AXFR, CNAME, IN, IXFR, MX, NOERROR, NS, REFUSED, SOA, TXT,
                          ProxyKey, WireError, encode_name, frame, parse_message, query,
                          read_transfer, tcp_ask, tcp_connect, tcp_read_message, tcp_transfer,
                          transfer_records, tsig_sign, udp_query)

ZONE = "example.com."
RECORDS = 300
SERIAL = 1000
NOTIMP = 4


class Primary:
    """`xfrload primary` on a free loopback port, its output (JSON lines)
    in a log file; stopped by PID."""

    def __init__(self, *args, records=RECORDS, serial=SERIAL, rate="0", http=False):
        self.port = xfrtest.free_port()
        self.dir = xfrtest.TempDir(prefix="xfrload-primary-")
        self.http_port = xfrtest.free_port() if http else None
        argv = [xfrtest.binary("bench", "xfrload"), "primary",
                "--listen", f"127.0.0.1:{self.port}", "--zone", ZONE,
                "--records", str(records), "--serial", str(serial),
                "--changes-per-second", rate, "--json", *args]
        if http:
            argv += ["--http", f"127.0.0.1:{self.http_port}"]
        self.proc = xfrtest.Process(argv, os.path.join(self.dir.path, "primary.log"))
        self.returncode = None
        try:
            xfrtest.wait_tcp(self.port, proc=self.proc)
        except Exception:
            self.stop()
            raise

    def log(self):
        return self.proc.log()

    def events(self, kind):
        out = []
        for line in self.log().splitlines():
            if line.startswith("{"):
                e = json.loads(line)
                if e["event"] == kind:
                    out.append(e)
        return out

    def soa(self, tcp=False):
        q = query(ZONE, SOA)
        m = tcp_ask(self.port, q) if tcp else udp_query(self.port, q)
        assert m.rcode == NOERROR and m.answer and m.answer[0].type == SOA, m
        return m.answer[0].soa_serial()

    def change(self):
        """One change now (SIGUSR1); returns the new serial once served."""
        want = self.soa() + 1
        self.proc.signal(signal.SIGUSR1)
        return self.wait_serial(want)

    def wait_serial(self, serial, timeout=20.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.soa() == serial:
                return serial
            time.sleep(0.02)
        raise TimeoutError(f"serial {serial} not served:\n{self.log()[-3000:]}")

    def stats(self):
        with urllib.request.urlopen(f"http://127.0.0.1:{self.http_port}/stats", timeout=5) as r:
            return json.loads(r.read())

    def stop(self):
        """SIGTERM; returns the totals event. A non-zero exit (a crash or
        a sanitizer report at shutdown) fails the test."""
        if self.returncode is None:
            self.returncode = self.proc.stop()
            if self.returncode != 0:
                raise AssertionError(f"xfrload primary exited {self.returncode}:\n"
                                     f"{self.log()[-4000:]}")
        totals = self.events("totals")
        return totals[-1] if totals else None

    def cleanup(self):
        self.stop()
        self.dir.cleanup()


def zone_records(dig_output):
    """The zone's records in dig's output (TSIG records left out)."""
    return [r for r in xfrtest.parse_records(dig_output) if r[3] != "TSIG"]


def zone_of(records):
    """(serial, set of record keys without the SOA) of an AXFR's records."""
    assert records[0].type == SOA and records[-1].type == SOA
    serial = records[0].soa_serial()
    assert records[-1].soa_serial() == serial
    body = records[1:-1]
    assert all(r.type != SOA for r in body), "an SOA inside the AXFR"
    keys = {r.key() for r in body}
    assert len(keys) == len(body), "a record twice in the AXFR"
    return serial, keys


def apply_ixfr(base, records):
    """Applies an IXFR answer (RFC 1995 §4: one or more difference
    sequences) to `base` (serial, keys), strictly: every deleted record must
    be there and every added one absent. Returns the new (serial, keys)."""
    serial, keys = base[0], set(base[1])
    new = records[0].soa_serial()
    assert records[-1].type == SOA and records[-1].soa_serial() == new
    body, i = records[1:-1], 0
    while i < len(body):
        assert body[i].type == SOA and body[i].soa_serial() == serial, "sequence does not start at our serial"
        i += 1
        while body[i].type != SOA:
            assert body[i].key() in keys, f"deletes a record that is not there: {body[i]}"
            keys.remove(body[i].key())
            i += 1
        serial = body[i].soa_serial()
        i += 1
        while i < len(body) and body[i].type != SOA:
            assert body[i].key() not in keys, f"adds a record already there: {body[i]}"
            keys.add(body[i].key())
            i += 1
    assert serial == new
    return serial, keys


def transfer(port, q):
    msgs = tcp_transfer(port, q)
    assert msgs[0].rcode == NOERROR, msgs[0]
    return transfer_records(msgs)


class ServingTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.p = Primary("--seed", "7", "--journal", "10")

    @classmethod
    def tearDownClass(cls):
        cls.p.cleanup()

    def axfr(self):
        return zone_of(transfer(self.p.port, query(ZONE, AXFR)))

    def test_1_zone_is_consistent_and_realistic(self):
        serial, keys = self.axfr()
        self.assertEqual(serial, self.p.soa())
        self.assertEqual(serial, self.p.soa(tcp=True))
        self.assertEqual(len(keys) + 1, RECORDS)
        types = {k[1] for k in keys}
        self.assertTrue({A, AAAA, NS, CNAME, MX, TXT} <= types, types)
        # A delegation below the apex, with glue under it.
        cuts = {k[0] for k in keys if k[1] == NS and k[0] != ZONE}
        self.assertTrue(cuts)
        self.assertTrue(any(k[0].endswith("." + c) and k[1] == A for c in cuts for k in keys))
        start = self.p.events("start")[0]
        self.assertEqual(start["records"], RECORDS)
        # dig reads the same transfer.
        out = xfrtest.dig(self.p.port, "AXFR", ZONE.rstrip("."))
        self.assertNotIn("failed", out)
        self.assertEqual(len(zone_records(out)), RECORDS + 1, out[-2000:])

    def test_2_same_seed_same_zone(self):
        base = self.axfr()
        same = Primary("--seed", "7", serial=base[0])
        other = Primary("--seed", "8", serial=base[0])
        try:
            self.assertEqual(zone_of(transfer(same.port, query(ZONE, AXFR))), base)
            self.assertNotEqual(zone_of(transfer(other.port, query(ZONE, AXFR)))[1], base[1])
        finally:
            same.cleanup()
            other.cleanup()

    def test_3_ixfr_from_every_older_serial_gives_the_new_zone(self):
        versions = [self.axfr()]
        for _ in range(3):
            new = self.p.change()
            versions.append(self.axfr())
            self.assertEqual(versions[-1][0], new)
            self.assertEqual(new, versions[-2][0] + 1)
            self.assertNotEqual(versions[-1][1], versions[-2][1])
        current = versions[-1]
        for old in versions[:-1]:
            records = transfer(self.p.port, query(ZONE, IXFR, ixfr_serial=old[0]))
            self.assertEqual(records[1].type, SOA, "expected a diff, not AXFR-style")
            self.assertEqual(apply_ixfr(old, records), current)
        # Current serial: the SOA alone (RFC 1995 §2); unknown: AXFR-style.
        records = transfer(self.p.port, query(ZONE, IXFR, ixfr_serial=current[0]))
        self.assertEqual(len(records), 1)
        records = transfer(self.p.port, query(ZONE, IXFR, ixfr_serial=5))
        self.assertEqual(zone_of(records), current)
        changes = self.p.events("change")
        self.assertEqual([c["serial"] for c in changes][-3:], [v[0] for v in versions[1:]])

    def test_4_xfrload_secondaries_verify_the_axfr(self):
        size = len(self.axfr()[1]) + 1  # the changes above moved it
        r = subprocess.run([xfrtest.binary("bench", "xfrload"), "secondaries",
                            "--target", f"127.0.0.1:{self.p.port}", "--zone", ZONE,
                            "--mode", "axfr", "--count", "4", "--requests", "12", "--json",
                            "--timeout", "10"], capture_output=True, text=True, timeout=120)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        report = json.loads(r.stdout)
        self.assertEqual(report["errors"], 0, report)
        axfr = report["by_kind"]["axfr"]
        self.assertEqual(axfr["full"], 12)
        self.assertEqual(axfr["zone_records_min"], size)
        self.assertEqual(axfr["zone_records_max"], size)


class NotifyListener:
    """A UDP socket that records every NOTIFY (ID, serial of the answer
    SOA) and answers it, except the first `ignore` datagrams."""

    def __init__(self, ignore=0):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.ignore = ignore
        self.seen = []  # (id, serial, answered)
        self.signed = []  # whether each NOTIFY carried a TSIG RR
        self.stopping = False
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        while not self.stopping:
            try:
                data, peer = self.sock.recvfrom(4096)
            except socket.timeout:
                continue
            m = parse_message(data)
            if m.opcode != 4 or m.qr:
                continue
            serial = m.answer[0].soa_serial() if m.answer else None
            answer = len(self.seen) >= self.ignore
            self.seen.append((m.id, serial, answer))
            self.signed.append(m.tsig is not None)
            if answer:
                flags = 0x8000 | (4 << 11) | 0x0400  # QR, NOTIFY, AA
                reply = struct.pack("!HHHHHH", m.id, flags, 1, 0, 0, 0)
                reply += encode_name(ZONE) + struct.pack("!HH", SOA, IN)
                self.sock.sendto(reply, peer)

    def wait(self, pred, timeout=20.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if pred(self.seen):
                return
            time.sleep(0.02)
        raise TimeoutError(f"NOTIFYs seen: {self.seen}")

    def close(self):
        self.stopping = True
        self.thread.join()
        self.sock.close()


class NotifyTest(unittest.TestCase):
    def test_notify_each_version_and_retry_until_answered(self):
        listener = NotifyListener(ignore=1)
        p = Primary("--notify", f"127.0.0.1:{listener.port}")
        try:
            # The start-up NOTIFY: ignored once, so it comes again with the
            # same ID (RFC 1996 §3.6) and is answered then.
            listener.wait(lambda s: len(s) >= 2)
            self.assertEqual(listener.seen[0][:2], listener.seen[1][:2])
            self.assertEqual(listener.seen[0][1], SERIAL)
            for want in (SERIAL + 1, SERIAL + 2):
                self.assertEqual(p.change(), want)
                listener.wait(lambda s, w=want: any(x[1] == w and x[2] for x in s))
            time.sleep(0.5)  # the counters are copied every 200 ms
        finally:
            totals = p.stop()
            listener.close()
            p.cleanup()
        self.assertEqual(p.returncode, 0)
        self.assertEqual(totals["serial"], SERIAL + 2)
        self.assertEqual(totals["versions"], 2)
        self.assertEqual(totals["notifies_acked"], 3)
        self.assertGreaterEqual(totals["notifies_sent"], 4)

    def test_changes_on_the_timer_stop_at_max_changes(self):
        p = Primary("--max-changes", "3", "--changes-per-version", "4", "--stats-interval", "0.1",
                    rate="20")
        try:
            p.wait_serial(SERIAL + 3)
            time.sleep(0.3)
            self.assertEqual(p.soa(), SERIAL + 3)
        finally:
            totals = p.stop()
            changes = p.events("change")
            stats = p.events("stats")
            p.cleanup()
        # The periodic line a benchmark script reads while the run goes on.
        self.assertTrue(stats)
        self.assertTrue(all("transfers" in s and "serial" in s for s in stats))
        self.assertEqual(stats[-1]["serial"], SERIAL + 3)
        self.assertEqual([c["serial"] for c in changes], [SERIAL + 1, SERIAL + 2, SERIAL + 3])
        for c in changes:
            self.assertEqual(c["added"] + c["removed"] + c["modified"], 4)
        self.assertEqual(totals["versions"], 3)


class FaultTest(unittest.TestCase):
    def primary(self, *args, **kw):
        p = Primary(*args, **kw)
        self.addCleanup(p.cleanup)
        return p

    def test_truncate_closes_mid_message(self):
        p = self.primary("--fault", "truncate", records=6000)
        for q in (query(ZONE, AXFR), query(ZONE, IXFR, ixfr_serial=1)):
            got = 0
            with tcp_connect(p.port, timeout=10) as s:
                s.sendall(frame(q))
                with self.assertRaises(WireError) as cm:
                    while True:
                        tcp_read_message(s)
                        got += 1
            self.assertIn("connection closed after", str(cm.exception))
            if q[2:] == query(ZONE, AXFR)[2:]:
                self.assertGreaterEqual(got, 1, "whole messages before the cut")
        self.assertEqual(p.soa(), SERIAL)  # SOA still answered

    def test_wrong_soa_is_ahead_of_the_axfr(self):
        p = self.primary("--fault", "wrong-soa")
        self.assertEqual(p.soa(), SERIAL + 1)
        self.assertEqual(p.soa(tcp=True), SERIAL + 1)
        self.assertEqual(zone_of(transfer(p.port, query(ZONE, AXFR)))[0], SERIAL)

    def test_stall_never_answers_a_transfer(self):
        p = self.primary("--fault", "stall")
        with tcp_connect(p.port, timeout=2) as s:
            s.sendall(frame(query(ZONE, AXFR)))
            with self.assertRaises(socket.timeout):
                s.recv(1)
        self.assertEqual(p.soa(), SERIAL)

    def test_notimp_ixfr(self):
        p = self.primary("--fault", "notimp-ixfr")
        m = tcp_ask(p.port, query(ZONE, IXFR, ixfr_serial=1))
        self.assertEqual(m.rcode, NOTIMP)
        self.assertEqual(zone_of(transfer(p.port, query(ZONE, AXFR)))[0], SERIAL)

    def test_tsig_required_and_bad_tsig_breaks_the_mac(self):
        key = ProxyKey.random("xfr-key.")
        listener = NotifyListener(ignore=1000)
        self.addCleanup(listener.close)
        good = self.primary("--tsig", key.tsigxfr_spec(), "--notify", f"127.0.0.1:{listener.port}")
        listener.wait(lambda s: len(s) >= 1)
        self.assertTrue(listener.signed[0], "NOTIFY not signed with the key")
        bad = self.primary("--tsig", key.tsigxfr_spec(), "--fault", "bad-tsig")
        # With a key, unsigned transfers are refused; signed ones are
        # answered signed.
        self.assertEqual(tcp_ask(good.port, query(ZONE, AXFR)).rcode, REFUSED)
        msgs = tcp_transfer(good.port, tsig_sign(query(ZONE, AXFR), key))
        self.assertEqual(msgs[0].rcode, NOERROR)
        self.assertTrue(all(m.tsig for m in msgs))
        spec = ["-y", key.dig_spec()]
        ok = xfrtest.dig(good.port, *spec, "AXFR", ZONE.rstrip("."))
        self.assertEqual(len(zone_records(ok)), RECORDS + 1, ok[-2000:])
        broken = xfrtest.dig(bad.port, *spec, "AXFR", ZONE.rstrip("."))
        # dig prints what it read, then rejects it.
        self.assertIn("tsig verify failure", broken.lower(), broken[-2000:])
        self.assertNotIn("tsig verify failure", ok.lower())


class ProxyInFrontTest(unittest.TestCase):
    def test_xfrproxy_converges_on_the_primary(self):
        proxy = UpstreamProxy([{"name": ZONE, "primaries": ["127.0.0.1:0"]}])
        p = Primary("--notify", f"127.0.0.1:{proxy.port}", http=True)
        try:
            proxy.upstream[0]["primaries"] = [f"127.0.0.1:{p.port}"]
            proxy.start()
            proxy.wait_serial(ZONE, SERIAL)
            for want in (SERIAL + 1, SERIAL + 2):
                p.change()
                proxy.wait_serial(ZONE, want)
            self.assertEqual(zone_of(transfer(proxy.port, query(ZONE, AXFR))),
                             zone_of(transfer(p.port, query(ZONE, AXFR))))
            stats = p.stats()
            # One AXFR to start with, then at most one transfer per change
            # (the test's own AXFR above is the second).
            self.assertEqual(stats["axfr"], 2)
            self.assertGreaterEqual(stats["ixfr"], 1)
            self.assertLessEqual(stats["ixfr"] + stats["ixfr_full"], 2)
            self.assertEqual(stats["serial"], SERIAL + 2)
            url = f"http://127.0.0.1:{p.http_port}/metrics"
            with urllib.request.urlopen(url, timeout=5) as r:
                metrics = r.read().decode()
            self.assertIn(f"xfrload_primary_transfers_total {stats['transfers']}", metrics)
            self.assertIn('xfrload_primary_answers_total{kind="axfr"} 2', metrics)
        finally:
            code = proxy.stop()
            p.cleanup()
            proxy.dir.cleanup()
        self.assertEqual(code, 0)


def soa_serial(port, zone):
    m = udp_query(port, query(zone, SOA))
    assert m.rcode == NOERROR and m.answer and m.answer[0].type == SOA, m
    return m.answer[0].soa_serial()


class ManyZonesTest(unittest.TestCase):
    ZONES = 50

    def test_xfrproxy_follows_every_zone_and_each_change(self):
        proxy = UpstreamProxy([])
        self.addCleanup(proxy.dir.cleanup)
        snippet = os.path.join(proxy.dir.path, "zones.yaml")
        p = Primary("--zones", str(self.ZONES), "--change-zones", "5", "--zones-config", snippet,
                    "--notify", f"127.0.0.1:{proxy.port}", records=10)
        self.addCleanup(p.cleanup)
        with open(snippet) as f:
            lines = f.read().splitlines()
        self.assertEqual(lines[0], "zones:")
        entry = re.compile(r'  - \{name: (\S+), primaries: \["(\S+)"\]\}')
        entries = [entry.fullmatch(line) for line in lines[1:]]
        self.assertTrue(all(entries), lines[:5])
        names = [m.group(1) for m in entries]
        self.assertEqual(names, [f"z{i:05d}.{ZONE}" for i in range(1, self.ZONES + 1)])
        self.assertEqual({m.group(2) for m in entries}, {f"127.0.0.1:{p.port}"})
        # The start line may reach the log a moment after the port answers.
        start = xfrtest.wait_for("xfrload's start line", lambda: p.events("start"))
        self.assertEqual(start[0]["zones"], self.ZONES)
        # Each zone is served on its own, with the generated records.
        for name in names:
            self.assertEqual(soa_serial(p.port, name), SERIAL)
        records = transfer(p.port, query(names[-1], AXFR))
        self.assertEqual(len(records), 10 + 1)
        self.assertTrue(all(r.owner.lower().endswith(names[-1]) for r in records))

        proxy.upstream = [{"name": n, "primaries": [m.group(2)]} for n, m in zip(names, entries)]
        proxy.start()
        try:
            for name in names:
                proxy.wait_serial(name, SERIAL)
            # One change moves the first five zones, by NOTIFY alone (the
            # REFRESH of 60 s is far off).
            p.proc.signal(signal.SIGUSR1)
            for name in names[:5]:
                proxy.wait_serial(name, SERIAL + 1)
            for name in names:
                want = SERIAL + 1 if name in names[:5] else SERIAL
                self.assertEqual(soa_serial(p.port, name), want, name)
                self.assertEqual(soa_serial(proxy.port, name), want, name)
            change = p.events("change")[-1]
            self.assertEqual(change["zones"], 5)
            self.assertEqual(change["serial"], SERIAL + 1)
        finally:
            code = proxy.stop()
        self.assertEqual(code, 0)
        totals = p.stop()
        self.assertEqual(totals["zones"], self.ZONES)
        # One AXFR per zone for the proxy (and the test's own), five IXFRs.
        self.assertEqual(totals["axfr"], self.ZONES + 1)
        self.assertEqual(totals["ixfr"] + totals["ixfr_full"], 5)


if __name__ == "__main__":
    xfrtest.main()
