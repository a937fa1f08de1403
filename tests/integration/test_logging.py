"""`log:`: the syslog target, priorities for the systemd journal, one line
per transfer served, level filtering (and its change on SIGHUP), and the
rate limit on lines a peer can cause at will.

The syslog test runs xfrproxy in a private mount namespace (`unshare -m`,
root) whose /dev is a directory of the test's holding a Unix datagram socket
as /dev/log, so the lines syslog(3) sends are read by the test and nothing
leaks into the machine's logger."""
import os
import re
import signal
import socket
import struct
import subprocess
import unittest
import urllib.request

import xfrtest
from xfrproxy_run import (AXFR, IXFR, NOERROR, REFUSED, ProxyZone, XfrProxy, frame,
                          parse_message, query, tcp_connect, tcp_read_message, tcp_transfer,
                          udp_raw)
from servers import make_zone

ZONE = "example.com."
PLAIN_LINE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (error|warning|info|debug): ")
JOURNAL_LINE = re.compile(r"^<([3467])>(error|warning|info|debug): ")
LOG_DAEMON = 3 << 3


def zone_text(serial, records=40):
    return make_zone(ZONE, records, serial=serial)


def lines(text):
    return [l for l in text.splitlines() if l]


class SyslogTargetTest(unittest.TestCase):
    def test_lines_reach_dev_log_with_priorities(self):
        xfrtest.require_tools(["unshare", "mount"])
        nsdir = xfrtest.TempDir(prefix="xfrlog-ns-")
        self.addCleanup(nsdir.cleanup)
        dev = os.path.join(nsdir.path, "dev")
        os.mkdir(dev)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.addCleanup(sock.close)
        sock.bind(os.path.join(dev, "log"))
        open(os.path.join(dev, "null"), "w").close()
        # /dev in the namespace is the test's directory; /dev/null is the
        # real one, bound in before.
        setup = (f"mount --make-rprivate / && mount --bind /dev/null {dev}/null && "
                 f"mount --rbind {dev} /dev && exec \"$@\"")
        zone = ProxyZone(ZONE, zone_text(1))
        proxy = XfrProxy([zone], extra="log: {target: syslog}\n",
                         wrap=[xfrtest.tool("unshare"), "-m", "sh", "-c", setup, "sh"])
        proxy.start()
        try:
            got = []

            def read_until(pattern):
                sock.settimeout(20)
                while True:
                    data = sock.recv(65535).decode(errors="replace")
                    got.append(data)
                    if pattern in data:
                        return data

            line = read_until("serving serial 1")
            # RFC 3164 framing by syslog(3): <facility*8+priority>, then
            # the ident with the PID (LOG_PID).
            self.assertTrue(line.startswith(f"<{LOG_DAEMON | 6}>"), line)
            self.assertIn(f"xfrproxy[{proxy.process.pid}]: info: zone {ZONE}: serving serial 1",
                          line)
            read_until("serving 1 zones on")  # signals are handled from here
            # A zone file the checks refuse: an error line, and the last
            # good version is still served.
            bad = zone_text(2) + "host0 IN CNAME ns1\n"
            proxy.write_zone(zone, bad)
            proxy.reload()
            line = read_until("CNAME and other data")
            self.assertTrue(line.startswith(f"<{LOG_DAEMON | 3}>"), line)
            self.assertIn(": error: zone example.com.: ", line)
            self.assertIn("still serving serial 1", line)
            self.assertEqual(proxy.wait_serial(ZONE, 1), 1)
            # Nothing went to stderr once the target applied.
            self.assertNotIn("serving serial", proxy.log())
        finally:
            code = proxy.stop()
            proxy.dir.cleanup()
        self.assertEqual(code, 0)


class JournalStreamTest(unittest.TestCase):
    def run_with_stream(self, matching):
        def env_for_log(path):
            st = os.stat(path)
            ino = st.st_ino if matching else st.st_ino + 1
            return dict(os.environ, JOURNAL_STREAM=f"{st.st_dev}:{ino}")

        zone = ProxyZone(ZONE, zone_text(1))
        with XfrProxy([zone], env_for_log=env_for_log) as proxy:
            # Signals are handled from this line on.
            proxy.wait_log("serving 1 zones on")
            proxy.reload()
            proxy.wait_log("SIGHUP")
            return lines(proxy.log())

    def test_journal_gets_priorities_and_no_timestamp(self):
        out = self.run_with_stream(matching=True)
        self.assertTrue(out)
        for l in out:
            self.assertRegex(l, JOURNAL_LINE)
        self.assertTrue(any(l.startswith(f"<6>info: zone {ZONE}: serving serial 1") for l in out),
                        out)

    def test_stream_of_another_file_keeps_plain_lines(self):
        # JOURNAL_STREAM inherited, but stderr was redirected since.
        out = self.run_with_stream(matching=False)
        self.assertTrue(out)
        for l in out:
            self.assertRegex(l, PLAIN_LINE)


class JournalPipeTest(unittest.TestCase):
    def test_pipe_named_by_journal_stream_gets_priorities(self):
        # As systemd does it: stderr is a stream whose dev:ino is in
        # JOURNAL_STREAM (a socket there, a pipe here: both are fstat'ed).
        zone = ProxyZone(ZONE, zone_text(1))
        proxy = XfrProxy([zone])
        self.addCleanup(proxy.dir.cleanup)
        proxy.write_zone(zone, zone.text)
        proxy.write_config()
        r, w = os.pipe()
        st = os.fstat(w)
        env = dict(os.environ, JOURNAL_STREAM=f"{st.st_dev}:{st.st_ino}")
        p = subprocess.Popen([xfrtest.binary("proxy", "xfrproxy"), "--config", proxy.config_path],
                             stdin=subprocess.DEVNULL, stdout=w, stderr=w, env=env,
                             cwd=proxy.dir.path, start_new_session=True)
        os.close(w)
        out = os.fdopen(r, "r", errors="replace")
        try:
            seen = []
            # Up to the line written once signals are handled, so that the
            # SIGTERM below stops it cleanly.
            for line in out:
                seen.append(line.rstrip("\n"))
                if "serving 1 zones on" in line:
                    break
            self.assertTrue(seen, "no output")
            for l in seen:
                self.assertRegex(l, JOURNAL_LINE)
            self.assertIn(f"<6>info: zone {ZONE}: serving serial 1", "\n".join(seen))
        finally:
            os.kill(p.pid, signal.SIGTERM)
            rest = out.read()  # until the daemon closes its end
            out.close()
            self.assertEqual(p.wait(timeout=30), 0, rest)
        for l in lines(rest):
            self.assertRegex(l, JOURNAL_LINE)


class TransferLinesTest(unittest.TestCase):
    def transfer(self, proxy, q):
        msgs = tcp_transfer(proxy.port, q)
        self.assertTrue(all(m.rcode == NOERROR for m in msgs))
        return len(msgs), sum(len(m.raw) for m in msgs)

    def test_one_line_per_transfer_served(self):
        zone = ProxyZone(ZONE, zone_text(1, records=3000))
        with XfrProxy([zone], extra="log: {transfers: true}\n") as proxy:
            peer = re.escape("127.0.0.1:") + r"\d+"
            n, size = self.transfer(proxy, query(ZONE, AXFR))
            self.assertGreater(n, 1)
            proxy.wait_log("transfer: AXFR")
            text = zone_text(2, records=3000) + "added IN A 192.0.2.99\n"
            proxy.write_zone(zone, text)
            proxy.reload()
            proxy.wait_serial(ZONE, 2)
            ixfr_n, ixfr_size = self.transfer(proxy, query(ZONE, IXFR, ixfr_serial=1))
            # Serial 0 is older than 2 (RFC 1982) and not in the journal.
            style_n, style_size = self.transfer(proxy, query(ZONE, IXFR, ixfr_serial=0))
            xfrtest.wait_for("three transfer lines",
                             lambda: len(re.findall("transfer: ", proxy.log())) == 3)
            got = [l.split(" info: ", 1)[1] for l in lines(proxy.log()) if "transfer: " in l]
            expected = [
                rf"transfer: AXFR of {re.escape(ZONE)} to {peer}: serial 1, {n} messages, "
                rf"{size} bytes, \d+\.\d{{3}}s",
                rf"transfer: IXFR of {re.escape(ZONE)} to {peer}: serial 1 -> 2 \(incremental\), "
                rf"{ixfr_n} messages, {ixfr_size} bytes, \d+\.\d{{3}}s",
                rf"transfer: IXFR of {re.escape(ZONE)} to {peer}: serial 0 -> 2 "
                rf"\(AXFR-style\), {style_n} messages, {style_size} bytes, \d+\.\d{{3}}s",
            ]
            self.assertEqual(len(got), 3, got)
            for line, pattern in zip(got, expected):
                self.assertRegex(line, "^" + pattern + "$")

    def test_no_transfer_lines_by_default(self):
        zone = ProxyZone(ZONE, zone_text(1))
        with XfrProxy([zone]) as proxy:
            self.transfer(proxy, query(ZONE, AXFR))
            # The stop line comes after the transfer's would have.
            code = proxy.stop()
            self.assertEqual(code, 0)
            log = proxy.log()
            self.assertIn("stopped: ", log)
            self.assertIn("1 transfers served", log)
            self.assertNotIn("transfer: ", log)


class LevelTest(unittest.TestCase):
    def test_level_filters_and_changes_on_reload(self):
        zone = ProxyZone(ZONE, zone_text(1))
        garbage = struct.pack("!HHHHHH", 0x1234, 0, 1, 0, 0, 0) + b"\x07trunc"
        with XfrProxy([zone], extra="log: {level: warning}\n") as proxy:
            udp_raw(proxy.port, garbage)  # FORMERR: a debug line
            # No info line at warning level: not even the start-up ones.
            self.assertEqual([l for l in lines(proxy.log()) if " info: " in l], [])
            proxy.extra = "log: {level: debug}\n"
            proxy.write_config()
            proxy.reload()
            # The reload says what changed, at the new level.
            proxy.wait_log("log: level debug, target stderr, transfers off")
            start = len(proxy.log())
            self.assertIsNotNone(udp_raw(proxy.port, garbage))
            proxy.wait_log("debug: FORMERR to 127.0.0.1:", start=start)
            self.assertNotIn("FORMERR", proxy.log()[:start])
            proxy.extra = "log: {level: error}\n"
            proxy.write_config()
            proxy.reload()
            # A refused transfer is info: from now on nothing but errors.
            xfrtest.wait_for("level error applied", lambda: self._refused_is_silent(proxy))

    def _refused_is_silent(self, proxy):
        start = len(proxy.log())
        m = parse_message(self._ask(proxy, query("other.test.", AXFR)))
        return m.rcode == REFUSED and "refused" not in proxy.log()[start:] and \
            all(" error: " in l for l in lines(proxy.log()[start:]))

    def _ask(self, proxy, q):
        with tcp_connect(proxy.port) as s:
            s.sendall(frame(q))
            return tcp_read_message(s)


class RateLimitTest(unittest.TestCase):
    def test_refused_queries_are_limited_and_counted(self):
        zone = ProxyZone(ZONE, zone_text(1), allow_transfer=[])
        total = 40
        http_port = xfrtest.free_port()
        with XfrProxy([zone], extra=f'http: "127.0.0.1:{http_port}"\n') as proxy:
            with tcp_connect(proxy.port) as s:
                s.sendall(b"".join(frame(query(ZONE, AXFR, qid=i)) for i in range(total)))
                for _ in range(total):
                    self.assertEqual(parse_message(tcp_read_message(s)).rcode, REFUSED)
            pattern = re.compile(r"(\d+) similar messages suppressed: \"refused \{\} of \{\} to "
                                 r"\{\}: \{\}\"")

            def accounted():
                log = proxy.log()
                written = log.count(f"refused AXFR of {ZONE} to 127.0.0.1:")
                held = sum(int(n) for n in pattern.findall(log))
                return (written, held) if written + held == total else None

            written, held = xfrtest.wait_for("every refusal written or counted", accounted,
                                             timeout=60)
            # Ten per window: however slowly the queries came, most were
            # held back, and the count says how many.
            self.assertGreater(held, 0)
            self.assertLess(written, total)
            # /metrics counts what was held back, for an alert on floods.
            url = f"http://127.0.0.1:{http_port}/metrics"
            with urllib.request.urlopen(url, timeout=10) as r:
                text = r.read().decode()
            self.assertIn(f"\nxfrproxy_log_lines_suppressed_total {held}\n", text)


if __name__ == "__main__":
    xfrtest.main()
