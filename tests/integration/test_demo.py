"""`xfrproxy demo`, the README's first command, end to end: a synthetic
primary, the proxy and simulated secondaries come up on loopback with no
setup; the zone changes; every secondary follows each change through the
proxy's NOTIFY by IXFR while the primary serves one transfer per version;
the proxy serves the proxied names as edge addresses; Ctrl-C (SIGINT) stops
everything with exit status 0 and a last frame of figures.
"""
import os
import re
import select
import signal
import subprocess
import time
import unittest

import xfrtest

SECONDARIES = 20


class DemoTest(unittest.TestCase):
    def test_demo_runs_converges_and_stops_on_ctrl_c(self):
        proc = subprocess.Popen(
            [xfrtest.binary("proxy", "xfrproxy"), "demo", "--secondaries", str(SECONDARIES),
             "--records", "1000", "--interval", "1"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        out = ""
        try:
            # Frames come once a second; wait for one where every secondary
            # has followed at least two changes by IXFR.
            deadline = time.monotonic() + 60
            frame = None
            while time.monotonic() < deadline and proc.poll() is None:
                ready, _, _ = select.select([proc.stdout], [], [], 1.0)
                if not ready:
                    continue
                out += os.read(proc.stdout.fileno(), 65536).decode()
                frames = out.split("xfrproxy demo:")
                for f in frames[:-1]:
                    m = re.search(r"in sync (\d+)/(\d+).*IXFR (\d+)", f)
                    if m and m.group(1) == m.group(2) == str(SECONDARIES) \
                            and int(m.group(3)) >= 2 * SECONDARIES:
                        frame = f
                if frame:
                    break
            self.assertIsNotNone(frame, f"no converged frame:\n{out[-3000:]}\n"
                                 f"{proc.stderr.read() if proc.poll() is not None else ''}")
            self.assertIn("errors 0", frame)
            port = int(re.search(r"xfrproxy\s+127\.0\.0\.1:(\d+)", frame).group(1))
            # The proxied names are served as the edge addresses (the
            # proxy answers SOA and transfers, so look in its AXFR).
            recs = xfrtest.parse_records(xfrtest.dig(
                port, "demo.example.", "AXFR", "+nocmd", "+nostats", "+noall", "+answer"))
            # The demo proxies www and cdn-00000000..19 (those that exist).
            cdn = {r[0] for r in recs if re.fullmatch(r"cdn-000000[01]\d\.demo\.example\.", r[0])}
            self.assertTrue(cdn, "no proxied cdn- name in the zone")
            for owner in ["www.demo.example."] + sorted(cdn):
                self.assertEqual(sorted((r[3], r[4]) for r in recs if r[0] == owner),
                                 [("A", "203.0.113.10"), ("A", "203.0.113.11"),
                                  ("AAAA", "2001:db8:ed9e::10")], owner)
        finally:
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)
            try:
                rest, err = proc.communicate(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                rest, err = proc.communicate()
        out += rest
        self.assertEqual(proc.returncode, 0, f"{out[-2000:]}\n{err}")
        last = out.split("xfrproxy demo:")[-1]
        self.assertIn("stopped", last)
        # One upstream transfer per version, many served downstream.
        versions = int(re.search(r"primary .* versions (\d+)", last).group(1))
        upstream = int(re.search(r"upstream transfers (\d+)", last).group(1))
        served = int(re.search(r"served (\d+) \(", last).group(1))
        self.assertGreaterEqual(versions, 2)
        self.assertLessEqual(upstream, versions + 1)
        self.assertGreaterEqual(served, SECONDARIES * 3)


if __name__ == "__main__":
    xfrtest.main()
