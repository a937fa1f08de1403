"""TSIG interop: Knot DNS and BIND verify our signatures, we verify theirs.

Each server holds one zone of a few thousand records (a multi-message AXFR)
whose transfers require one of five keys, one per HMAC algorithm. Our client
(tests/tools/tsigxfr) signs SOA, IXFR and AXFR queries and verifies every
answer message with TsigStreamVerifier; a wrong secret, an unknown key, a
corrupted MAC and a skewed clock must each be refused with the right TSIG
error. dig/kdig with the same keys check the fixture itself.

The other way round, tests/tools/tsigserve checks requests with
VerifyTsigRequest and signs answers with TsigStreamSigner from message parts
as the proxy does; dig, kdig, and Knot and BIND as secondaries verify it.
"""
import re
import subprocess
import unittest

import servers
import xfrtest

ZONE = "example.com."
RECORDS = 3000
ALGORITHMS = ["hmac-sha1", "hmac-sha224", "hmac-sha256", "hmac-sha384", "hmac-sha512"]
SUMMARY = re.compile(r"tsig: verified (\d+) messages \((\d+) signed\), (\d+) records")


class TsigInteropMixin:
    server_class = None

    @classmethod
    def setUpClass(cls):
        cls.keys = {alg: servers.Key.random(f"{alg}-key", alg) for alg in ALGORITHMS}
        cls.zone_text = servers.make_zone(ZONE, RECORDS)
        zone = servers.Zone(ZONE, text=cls.zone_text, transfer_keys=list(cls.keys.values()))
        cls.server = cls.server_class([zone]).start()

    @classmethod
    def tearDownClass(cls):
        cls.server.cleanup()

    def tsigxfr(self, key, qtype="AXFR", *extra, quiet=True):
        argv = [xfrtest.binary("tests", "tools", "tsigxfr"),
                "--server", f"{xfrtest.LOOPBACK}:{self.server.port}",
                "--zone", ZONE, "--type", qtype, "--key", key.spec(), *extra]
        if quiet:
            argv.append("--quiet")
        r = subprocess.run(argv, capture_output=True, text=True, timeout=120)
        return r.returncode, r.stdout + r.stderr

    def verified(self, out):
        m = SUMMARY.search(out)
        self.assertIsNotNone(m, out[-2000:])
        return tuple(int(x) for x in m.groups())

    def test_signed_axfr_verifies_for_every_algorithm(self):
        # The transfer repeats the SOA at the end (RFC 5936 §2.2).
        want_records = servers.zone_record_count(self.zone_text) + 1
        for alg, key in self.keys.items():
            with self.subTest(algorithm=alg):
                rc, out = self.tsigxfr(key)
                self.assertEqual(rc, 0, out[-2000:])
                messages, signed, records = self.verified(out)
                self.assertGreater(messages, 1, "expected a multi-message AXFR")
                self.assertGreaterEqual(signed, 1)
                self.assertEqual(records, want_records)

    def test_axfr_records_match_dig(self):
        key = self.keys["hmac-sha256"]
        rc, out = self.tsigxfr(key, quiet=False)
        self.assertEqual(rc, 0, out[-2000:])
        ours = sorted(f"{f[0].lower()} {f[3]}" for f in (line.split() for line in out.splitlines())
                      if f and f[0] != "tsig:")
        text = xfrtest.dig(self.server.port, "-y", key.dig_spec(), ZONE, "AXFR", "+nocmd",
                           "+nostats", "+noall", "+answer")
        theirs = sorted(f"{r[0]} {r[3]}" for r in xfrtest.parse_records(text))
        self.assertEqual(ours, theirs)

    def test_signed_soa_query(self):
        rc, out = self.tsigxfr(self.keys["hmac-sha512"], "SOA")
        self.assertEqual(rc, 0, out)
        self.assertEqual(self.verified(out), (1, 1, 1))

    def test_signed_ixfr_when_current_is_one_soa(self):
        rc, out = self.tsigxfr(self.keys["hmac-sha384"], "IXFR", "--serial", "1")
        self.assertEqual(rc, 0, out)
        self.assertEqual(self.verified(out), (1, 1, 1))

    def test_wrong_secret_is_refused_with_badsig(self):
        good = self.keys["hmac-sha256"]
        wrong = servers.Key(good.name, good.algorithm, servers.Key.random("x").secret)
        rc, out = self.tsigxfr(wrong)
        self.assertEqual(rc, 1, out)
        self.assertIn("BADSIG", out)
        self.assertIn("NOTAUTH", out)
        self.assertNotIn("tsig: verified", out)

    def test_corrupted_mac_is_refused_with_badsig(self):
        rc, out = self.tsigxfr(self.keys["hmac-sha1"], "AXFR", "--corrupt-mac")
        self.assertEqual(rc, 1, out)
        self.assertIn("BADSIG", out)

    def test_unknown_key_is_refused_with_badkey(self):
        rc, out = self.tsigxfr(servers.Key.random("nobody-key"))
        self.assertEqual(rc, 1, out)
        self.assertIn("BADKEY", out)

    def test_skewed_clock_gets_signed_badtime(self):
        # The server's BADTIME answer is signed (RFC 8945 §5.3.2): our
        # verifier checks its MAC and reports the server's time.
        rc, out = self.tsigxfr(self.keys["hmac-sha256"], "SOA", "--time-offset", "-4000")
        self.assertEqual(rc, 1, out)
        self.assertIn("BADTIME", out)
        self.assertIn("server time", out)

    def test_fixture_dig_and_kdig_transfer_with_key(self):
        key = self.keys["hmac-sha256"]
        want = servers.zone_record_count(self.zone_text) + 1
        outputs = {
            "dig": xfrtest.dig(self.server.port, "-y", key.dig_spec(), ZONE, "AXFR"),
            "kdig": xfrtest.run([xfrtest.tool("kdig"), f"@{xfrtest.LOOPBACK}", "-p",
                                 str(self.server.port), "-y", key.dig_spec(), ZONE, "AXFR"]),
        }
        for tool, text in outputs.items():
            with self.subTest(tool=tool):
                self.assertNotIn("failed", text.lower())
                records = xfrtest.parse_records(text)
                # Both print each message's TSIG RR among the records.
                tsigs = [r for r in records if r[3] == "TSIG"]
                self.assertGreater(len(tsigs), 1)
                self.assertEqual(len(records) - len(tsigs), want)

    def test_fixture_refuses_unsigned_transfer(self):
        text = xfrtest.dig(self.server.port, ZONE, "AXFR")
        self.assertEqual(len(xfrtest.parse_records(text)), 0, text[-2000:])


class OurServerTsigTest(unittest.TestCase):
    """Our server-side TSIG, verified by dig, kdig, Knot and BIND."""
    SERIAL = 5
    RECORDS = 3000

    @classmethod
    def setUpClass(cls):
        cls.keys = {alg: servers.Key.random(f"srv-{alg}", alg) for alg in ALGORITHMS}
        cls.dir = xfrtest.TempDir(prefix="xfr-tsigserve-")
        cls.port = xfrtest.free_port()
        argv = [xfrtest.binary("tests", "tools", "tsigserve"), "--port", str(cls.port),
                "--records", str(cls.RECORDS), "--serial", str(cls.SERIAL)]
        for k in cls.keys.values():
            argv += ["--key", k.spec()]
        cls.proc = xfrtest.Process(argv, cls.dir.file("tsigserve.log"))
        xfrtest.wait_tcp(cls.port, proc=cls.proc)

    @classmethod
    def tearDownClass(cls):
        cls.proc.stop()
        cls.dir.cleanup()

    # SOA, NS, the A records, and the closing SOA.
    WANT = RECORDS + 3

    def transfer(self, tool, key, qtype="AXFR"):
        if tool == "dig":
            return xfrtest.dig(self.port, "-y", key.dig_spec(), ZONE, qtype)
        return xfrtest.run([xfrtest.tool("kdig"), f"@{xfrtest.LOOPBACK}", "-p", str(self.port),
                            "-y", key.dig_spec(), ZONE, qtype], check=False)

    def test_dig_and_kdig_verify_our_signed_axfr_for_every_algorithm(self):
        # dig and the secondaries below are the strict checks of the later
        # messages' MACs: kdig 3.2 was seen to accept a stream whose
        # continuation MACs were wrong (a deliberately broken signer).
        for alg, key in self.keys.items():
            for tool in ("dig", "kdig"):
                with self.subTest(algorithm=alg, tool=tool):
                    text = self.transfer(tool, key)
                    for bad in ("failed", "couldn't verify", "could not be validated",
                                "badsig", "badkey"):
                        self.assertNotIn(bad, text.lower(), text[-1500:])
                    records = xfrtest.parse_records(text)
                    tsigs = [r for r in records if r[3] == "TSIG"]
                    self.assertGreater(len(tsigs), 1, "expected a signed multi-message AXFR")
                    self.assertEqual(len(records) - len(tsigs), self.WANT)

    def test_dig_verifies_our_signed_soa_answer(self):
        text = self.transfer("dig", self.keys["hmac-sha256"], "SOA")
        self.assertIn("status: NOERROR", text)
        self.assertNotIn("could not be validated", text)
        self.assertIn("TSIG PSEUDOSECTION", text)

    def test_wrong_secret_gets_unsigned_badsig(self):
        good = self.keys["hmac-sha256"]
        wrong = servers.Key(good.name, good.algorithm, servers.Key.random("x").secret)
        text = self.transfer("dig", wrong, "SOA")
        self.assertIn("status: NOTAUTH", text)
        self.assertRegex(text, r"TSIG\s+hmac-sha256\. \d+ 300 0 \d+ BADSIG")

    def test_unknown_key_gets_badkey(self):
        text = self.transfer("dig", servers.Key.random("stranger"), "SOA")
        self.assertIn("status: NOTAUTH", text)
        self.assertIn("BADKEY", text)

    def test_badtime_answer_is_signed_and_carries_our_time(self):
        argv = [xfrtest.binary("tests", "tools", "tsigxfr"), "--server",
                f"{xfrtest.LOOPBACK}:{self.port}", "--zone", ZONE, "--type", "SOA",
                "--key", self.keys["hmac-sha512"].spec(), "--time-offset", "-1000"]
        r = subprocess.run(argv, capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 1, r.stdout)
        self.assertIn("BADTIME", r.stdout)
        self.assertIn("server time", r.stdout)

    def test_knot_and_bind_secondaries_transfer_with_our_signatures(self):
        for cls, alg in ((servers.KnotServer, "hmac-sha224"), (servers.BindServer, "hmac-sha512")):
            with self.subTest(server=cls.name):
                key = self.keys[alg]
                zone = servers.Zone(ZONE, primaries=[(xfrtest.LOOPBACK, self.port)], primary_key=key)
                with cls([zone]) as secondary:
                    serial = servers.wait_soa(secondary.port, ZONE, self.SERIAL, timeout=60,
                                              proc=secondary.process.proc)
                    self.assertEqual(serial, self.SERIAL)
                    text = xfrtest.dig(secondary.port, ZONE, "AXFR")
                    self.assertEqual(len(xfrtest.parse_records(text)), self.WANT, text[-1000:])


class KnotTsigTest(TsigInteropMixin, unittest.TestCase):
    server_class = servers.KnotServer


class BindTsigTest(TsigInteropMixin, unittest.TestCase):
    server_class = servers.BindServer


if __name__ == "__main__":
    xfrtest.main()
