"""xfrload secondaries against xfrproxy on loopback: every mode completes the
requested number of verified requests with no error and the zone's record
count, and a server that cuts an AXFR short makes xfrload fail."""
import json
import os
import socket
import struct
import subprocess
import threading
import time
import unittest

import servers
import xfrtest

ZONE_RECORDS = 200  # make_zone adds SOA, 2 NS and 2 A to these


def zone_text(serial, extra=""):
    return servers.make_zone("example.com.", ZONE_RECORDS, serial=serial) + extra


class XfrloadTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.xfrload = xfrtest.binary("bench", "xfrload")
        cls.tmp = xfrtest.TempDir()
        cls.port = xfrtest.free_port()
        cls.zone_path = cls.tmp.file("example.com.zone", zone_text(10))
        config = cls.tmp.file("xfrproxy.yaml", f"""listen: ["127.0.0.1:{cls.port}"]
threads: 1
zones:
  - name: example.com.
    file: example.com.zone
    allow-transfer: ["127.0.0.0/8"]
""")
        cls.proxy = xfrtest.Process([xfrtest.binary("proxy", "xfrproxy"), "--config", config],
                                    os.path.join(cls.tmp.path, "xfrproxy.log"))
        try:
            xfrtest.wait_tcp(cls.port, proc=cls.proxy)
            # A second version, so that IXFR from serial 10 is a diff.
            cls.tmp.file("example.com.zone",
                         zone_text(11, 'added IN TXT "new in 11"\n'))
            cls.proxy.signal(1)  # SIGHUP
            deadline = time.monotonic() + 20
            while xfrtest.dig(cls.port, "example.com", "SOA", "+short").split()[2:3] != ["11"]:
                if time.monotonic() > deadline:
                    raise TimeoutError("xfrproxy did not load serial 11:\n" + cls.proxy.log())
                time.sleep(0.1)
        except Exception:
            cls.proxy.stop()
            cls.tmp.cleanup()
            raise
        # SOA, NS x2, A x2, the generated records, and the added TXT.
        cls.zone_size = 5 + ZONE_RECORDS + 1

    @classmethod
    def tearDownClass(cls):
        cls.proxy.stop()
        cls.tmp.cleanup()

    def load(self, *args, port=None, expect_rc=0):
        argv = [self.xfrload, "secondaries", "--target", f"127.0.0.1:{port or self.port}",
                "--zone", "example.com", "--json", "--timeout", "10", *args]
        r = subprocess.run(argv, capture_output=True, text=True, timeout=120)
        self.assertEqual(r.returncode, expect_rc, f"{argv}\n{r.stdout}\n{r.stderr}")
        return json.loads(r.stdout)

    def assert_clean(self, report, requests):
        self.assertEqual(report["errors"], 0, report["first_error"])
        self.assertEqual(report["requests"], requests)
        self.assertEqual(report["completed"], requests)
        for key in ("p50", "p90", "p99", "max"):
            self.assertGreaterEqual(report["latency_ms"][key], 0)
        self.assertGreater(report["elapsed_s"], 0)

    def test_soa_polls(self):
        r = self.load("--mode", "soa", "--count", "20", "--concurrency", "5",
                      "--requests", "200")
        self.assert_clean(r, 200)
        soa = r["by_kind"]["soa"]
        self.assertEqual(soa["completed"], 200)
        self.assertEqual(soa["records"], 200)  # one SOA per answer
        self.assertEqual(r["tcp_connections"], 0)

    def test_axfr_pipelined_reuses_connections(self):
        r = self.load("--mode", "axfr", "--count", "8", "--concurrency", "4",
                      "--requests", "40", "--pipeline")
        self.assert_clean(r, 40)
        axfr = r["by_kind"]["axfr"]
        self.assertEqual(axfr["full"], 40)
        self.assertEqual(axfr["zone_records_min"], self.zone_size)
        self.assertEqual(axfr["zone_records_max"], self.zone_size)
        self.assertEqual(axfr["records"], 40 * (self.zone_size + 1))
        self.assertEqual(r["tcp_connections"], 8)

    def test_axfr_fresh_connections(self):
        r = self.load("--mode", "axfr", "--count", "8", "--concurrency", "4",
                      "--requests", "24", "--fresh-connections")
        self.assert_clean(r, 24)
        self.assertEqual(r["by_kind"]["axfr"]["zone_records_max"], self.zone_size)
        self.assertEqual(r["by_kind"]["axfr"]["zone_records_min"], self.zone_size)
        self.assertEqual(r["tcp_connections"], 24)

    def test_ixfr_current_and_one_behind(self):
        # Secondary i claims 11 - i % 2: half are current (a lone SOA), half
        # one version behind (a diff from the journal).
        r = self.load("--mode", "ixfr", "--count", "6", "--serial-spread", "2",
                      "--concurrency", "3", "--requests", "30")
        self.assert_clean(r, 30)
        self.assertEqual(r["base_serial"], 11)
        ixfr = r["by_kind"]["ixfr"]
        self.assertEqual(ixfr["soa_only"], 15)
        self.assertEqual(ixfr["incremental"], 15)
        # A diff: SOA 11, SOA 10, SOA 11, the added TXT, SOA 11 (plus the
        # generated records, which did not change).
        self.assertEqual(ixfr["records"], 15 * 1 + 15 * 5)

    def test_ixfr_from_unknown_serial_is_axfr_style(self):
        r = self.load("--mode", "ixfr", "--count", "3", "--serial", "1",
                      "--requests", "6")
        self.assert_clean(r, 6)
        ixfr = r["by_kind"]["ixfr"]
        self.assertEqual(ixfr["full"], 6)
        self.assertEqual(ixfr["zone_records_min"], self.zone_size)
        self.assertEqual(ixfr["zone_records_max"], self.zone_size)

    def test_mixed_for_a_duration(self):
        r = self.load("--mode", "mixed", "--count", "9", "--concurrency", "3",
                      "--duration", "1")
        self.assertEqual(r["errors"], 0, r["first_error"])
        self.assertGreater(r["completed"], 9)
        self.assertEqual(r["completed"], r["requests"])
        kinds = r["by_kind"]
        for k in ("soa", "ixfr", "axfr"):
            self.assertGreater(kinds[k]["completed"], 0, k)
        self.assertEqual(kinds["axfr"]["zone_records_min"], self.zone_size)

    def test_truncated_axfr_is_an_error(self):
        with FakeTruncatingServer() as fake:
            r = self.load("--mode", "axfr", "--count", "2", "--requests", "4",
                          "--fresh-connections", port=fake.port, expect_rc=1)
        self.assertEqual(r["completed"], 0)
        self.assertEqual(r["errors"], 4)
        self.assertEqual(r["errors_by_kind"]["incomplete"], 4)
        self.assertIn("closed the connection", r["first_error"])

    def test_bad_usage_exits_2(self):
        r = subprocess.run([self.xfrload, "secondaries", "--zone", "example.com"],
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 2)
        self.assertIn("--target", r.stderr)


class XfrloadTsigWithKnotTest(unittest.TestCase):
    """Signed transfers from knotd: with the right key every answer message
    verifies; with a wrong secret the server's BADSIG answer is a tsig error."""
    KEY = servers.Key("xfr-key", "hmac-sha256", "c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0MTI=")

    @classmethod
    def setUpClass(cls):
        cls.xfrload = xfrtest.binary("bench", "xfrload")
        zone = servers.Zone("example.com.", text=servers.make_zone("example.com.", 3000),
                            transfer_keys=[cls.KEY])
        cls.knot = servers.KnotServer([zone], [cls.KEY]).start()

    @classmethod
    def tearDownClass(cls):
        cls.knot.cleanup()

    def load(self, secret, mode):
        r = subprocess.run([self.xfrload, "secondaries", "--target", f"127.0.0.1:{self.knot.port}",
                            "--zone", "example.com", "--mode", mode, "--count", "4",
                            "--concurrency", "2", "--requests", "8", "--json",
                            "--tsig", f"xfr-key:hmac-sha256:{secret}"],
                           capture_output=True, text=True, timeout=120)
        return r.returncode, json.loads(r.stdout)

    def test_signed_axfr_and_mixed_verify(self):
        for mode in ("axfr", "mixed"):
            rc, r = self.load(self.KEY.secret, mode)
            self.assertEqual(rc, 0, r["first_error"])
            self.assertEqual(r["completed"], 8)
        rc, r = self.load(self.KEY.secret, "axfr")
        self.assertEqual(r["by_kind"]["axfr"]["zone_records_max"], 3005)

    def test_wrong_secret_is_a_tsig_error(self):
        rc, r = self.load("d3Jvbmd3cm9uZ3dyb25nd3Jvbmd3cm9uZ3dyb25nMTI=", "axfr")
        self.assertEqual(rc, 1)
        self.assertEqual(r["errors_by_kind"]["tsig"], 8)
        self.assertIn("BADSIG", r["first_error"])


def _name(text):
    out = b""
    for label in text.rstrip(".").split("."):
        out += bytes([len(label)]) + label.encode()
    return out + b"\0"


class FakeTruncatingServer:
    """Answers each AXFR with one message holding the SOA and an A record,
    then closes the connection: the closing SOA never comes."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((xfrtest.LOOPBACK, 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.stopping = False

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stopping = True
        self.sock.close()
        self.thread.join(5)

    def _serve(self):
        while not self.stopping:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                try:
                    length = struct.unpack("!H", self._read(conn, 2))[0]
                    query = self._read(conn, length)
                except (OSError, EOFError):
                    continue
                qid = query[:2]
                question = query[12:]  # one question, no other records
                soa_rdata = (_name("ns1.example.com") + _name("hostmaster.example.com") +
                             struct.pack("!IIIII", 10, 3600, 600, 86400, 300))
                soa = _name("example.com") + struct.pack("!HHIH", 6, 1, 3600, len(soa_rdata)) + soa_rdata
                a = _name("www.example.com") + struct.pack("!HHIH", 1, 1, 3600, 4) + bytes([192, 0, 2, 1])
                header = qid + struct.pack("!HHHHH", 0x8400, 1, 2, 0, 0)
                msg = header + question + soa + a
                conn.sendall(struct.pack("!H", len(msg)) + msg)

    @staticmethod
    def _read(conn, n):
        data = b""
        while len(data) < n:
            chunk = conn.recv(n - len(data))
            if not chunk:
                raise EOFError
            data += chunk
        return data


if __name__ == "__main__":
    xfrtest.main()
