"""The primary side end to end: xfrproxy serves a master-file zone and real
clients (dig, kdig, tsigxfr) and raw sockets check every answer.

BIND is the independent oracle for the zone's content: named-compilezone
reads the same file, and every AXFR must give exactly its records.
"""
import os
import random
import signal
import socket
import struct
import subprocess
import threading
import time
import unittest

import xfrtest
from xfrproxy_run import (AXFR, BADKEY, BADVERS_BADSIG, EDNS_EXPIRE, FORMERR, IN, IXFR, MX,
                          NOERROR, NOTAUTH, NOTIMP, REFUSED, SOA, TXT, A, ProxyKey,
                          ProxyZone, XfrProxy, frame, parse_message, query, read_transfer,
                          tcp_ask, tcp_connect, tcp_read_message, tcp_transfer,
                          transfer_records, tsig_sign, udp_query)

ORIGIN = "example.com."
SERIAL = 2024010101


def make_mixed_zone(records=20000, serial=SERIAL, seed=7):
    """A zone of about `records` records of mixed types: mixed-case owners,
    TXT with escapes, an unknown type in RFC 3597 form, big RRsets, so the
    AXFR spans several 64 KiB messages."""
    rnd = random.Random(seed)
    lines = [
        f"$ORIGIN {ORIGIN}",
        "$TTL 3600",
        f"@ IN SOA ns1 hostmaster {serial} 7200 900 1209600 300",
        "@ IN NS ns1",
        "@ IN NS ns2.Example.NET.",
        "@ IN MX 10 mail",
        "ns1 IN A 192.0.2.1",
        "mail IN A 192.0.2.25",
        "MiXeD.Case IN A 192.0.2.7",
        "UPPER IN AAAA 2001:db8::7",
        'esc IN TXT "quote \\" semi \\; back \\\\ byte \\001 \\255 end" "second string"',
        "unknown IN TYPE65280 \\# 4 0A0B0C0D",
        "empty-unknown 300 IN TYPE65280 \\# 0",
        "alias IN CNAME Target.Example.com.",
        "_sip._tcp IN SRV 10 60 5060 sip.example.com.",
        "ptr IN PTR host1.example.com.",
    ]
    # A big RRset: 400 A records at one owner, and one of TXT.
    for i in range(400):
        lines.append(f"big IN A 10.200.{i >> 8}.{i & 255}")
    for i in range(200):
        lines.append(f'bigtxt IN TXT "member {i} {"x" * (i % 50)}"')
    n = len(lines) - 2
    i = 0
    while n < records:
        owner = f"h{i}" if i % 7 else f"Host{i}.Sub"
        kind = i % 5
        if kind == 0:
            lines.append(f"{owner} IN A 10.{(i >> 16) & 255}.{(i >> 8) & 255}.{i & 255}")
        elif kind == 1:
            lines.append(f"{owner} 600 IN AAAA 2001:db8::{i & 0xffff:x}")
        elif kind == 2:
            word = "".join(rnd.choice("abcdefghij") for _ in range(20))
            lines.append(f'{owner} IN TXT "t{i} {word}"')
        elif kind == 3:
            lines.append(f"{owner} IN MX {i % 50} mx{i % 13}.example.org.")
        else:
            lines.append(f"{owner} IN TYPE65280 \\# 3 {i & 0xffffff:06X}")
        n += 1
        i += 1
    return "\n".join(lines) + "\n"


def normalize(records):
    """Sorted record tuples, owners lowercased, whitespace collapsed."""
    return sorted((o.lower(), ttl, c, t, r) for o, ttl, c, t, r in records)


class PrimaryServingTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.zone_text = make_mixed_zone()
        cls.key = ProxyKey.random("sec-key.")
        cls.other = ProxyKey.random("other-key.")
        # 127.0.0.3 is a keyed secondary inside allow-transfer; 127.0.0.5 one
        # outside it, whose key must not get it in (the ACL always applies).
        cls.zone = ProxyZone(ORIGIN, cls.zone_text,
                             allow_transfer=["127.0.0.1", "::1", "127.0.0.3"],
                             secondaries=[{"address": "127.0.0.3", "key": "sec-key."},
                                          {"address": "127.0.0.5", "key": "sec-key."}])
        cls.proxy = XfrProxy([cls.zone], keys=[cls.key, cls.other], ipv6=True).start()
        cls.port = cls.proxy.port
        # The oracle: BIND's reading of the same file.
        out = xfrtest.run([xfrtest.tool("named-compilezone"), "-q", "-i", "none", "-k", "ignore",
                           "-n", "ignore", "-f", "text", "-F", "text",
                           "-s", "full", "-o", "-", ORIGIN,
                           cls.proxy.path(cls.zone.file_name)])
        cls.expected = normalize(xfrtest.parse_records(out))

    @classmethod
    def tearDownClass(cls):
        code = cls.proxy.stop()
        log = cls.proxy.log()
        cls.proxy.dir.cleanup()
        if code != 0:
            raise AssertionError(f"xfrproxy exited {code}:\n{log[-4000:]}")

    def setUp(self):
        self.assertTrue(self.proxy.alive(), self.proxy.log()[-2000:])

    # --- helpers ---------------------------------------------------------

    def check_axfr_text(self, out):
        recs = xfrtest.parse_records(out)
        self.assertGreater(len(recs), 2, out[-2000:])
        self.assertEqual(recs[0][3], "SOA")
        self.assertEqual(recs[-1][3], "SOA")
        self.assertEqual(recs[0], recs[-1])
        got = normalize(recs[:-1])  # the SOA comes twice
        self.assertEqual(len(got), len(self.expected))
        for g, e in zip(got, self.expected):
            self.assertEqual(g, e)

    def reference_records(self):
        if not hasattr(type(self), "_ref"):
            msgs = tcp_transfer(self.port, query(ORIGIN, AXFR))
            type(self)._ref = sorted(r.key() for r in transfer_records(msgs))
        return type(self)._ref

    def assert_full_zone(self, msgs):
        self.assertTrue(all(m.rcode == NOERROR for m in msgs))
        recs = transfer_records(msgs)
        self.assertEqual(recs[0].type, SOA)
        self.assertEqual(recs[-1].type, SOA)
        self.assertEqual(sorted(r.key() for r in recs), self.reference_records())

    # --- AXFR against the oracle ------------------------------------------

    def test_dig_axfr_matches_bind(self):
        out = xfrtest.dig(self.port, ORIGIN, "AXFR", "+nocomments", "+nocmd", "+nostats")
        self.check_axfr_text(out)

    def test_kdig_axfr_matches_bind(self):
        out = xfrtest.run([xfrtest.tool("kdig"), "@127.0.0.1", "-p", str(self.port),
                           ORIGIN, "AXFR", "+nocomments", "+noheader", "+nostats"],
                          check=False)
        self.check_axfr_text(out)

    def test_axfr_spans_several_messages(self):
        msgs = tcp_transfer(self.port, query(ORIGIN, AXFR))
        self.assertGreater(len(msgs), 1)
        for m in msgs:
            self.assertTrue(m.qr and m.aa, m.flags)
            self.assertLessEqual(len(m.raw), 65535)
        self.assertEqual(msgs[0].questions, [(ORIGIN, AXFR, IN)])
        recs = transfer_records(msgs)
        self.assertEqual(recs[0].soa_serial(), SERIAL)
        self.assertEqual(recs[-1].key(), recs[0].key())
        self.assertEqual(len(recs) - 1, len(self.expected))

    def test_axfr_over_ipv6(self):
        msgs = tcp_transfer(self.port, query(ORIGIN, AXFR), host="::1")
        self.assert_full_zone(msgs)
        out = xfrtest.dig(self.port, ORIGIN, "AXFR", "+nocomments", server="::1")
        self.check_axfr_text(out)

    # --- SOA and IXFR ------------------------------------------------------

    def test_soa_over_udp_and_tcp(self):
        for name, ask in (("udp", lambda q: udp_query(self.port, q)),
                          ("tcp", lambda q: tcp_ask(self.port, q))):
            with self.subTest(name):
                q = query("EXAMPLE.com.", SOA, qid=0x1234, rd=True)
                m = ask(q)
                self.assertEqual(m.id, 0x1234)
                self.assertEqual(m.rcode, NOERROR)
                self.assertTrue(m.qr and m.aa)
                self.assertTrue(m.flags & 0x0100, "RD is copied")
                # The question comes back as the client spelled it.
                self.assertEqual(m.questions, [("EXAMPLE.com.", SOA, IN)])
                self.assertEqual(len(m.answer), 1)
                self.assertEqual(m.answer[0].soa_serial(), SERIAL)
                self.assertIsNone(m.opt, "no OPT in the answer to a query without one")

    def test_ixfr_current_serial_gets_soa_only(self):
        for transport in ("tcp", "udp"):
            with self.subTest(transport):
                q = query(ORIGIN, IXFR, ixfr_serial=SERIAL)
                if transport == "tcp":
                    msgs = tcp_transfer(self.port, q)
                    self.assertEqual(len(msgs), 1)
                    m = msgs[0]
                else:
                    m = udp_query(self.port, q)
                self.assertEqual(m.rcode, NOERROR)
                self.assertFalse(m.tc)
                self.assertEqual(len(m.answer), 1)
                self.assertEqual(m.answer[0].type, SOA)
                self.assertEqual(m.answer[0].soa_serial(), SERIAL)

    def test_ixfr_unknown_old_serial_gets_full_zone(self):
        msgs = tcp_transfer(self.port, query(ORIGIN, IXFR, ixfr_serial=SERIAL - 5))
        self.assertEqual(msgs[0].questions, [(ORIGIN, IXFR, IN)])
        self.assert_full_zone(msgs)
        # And dig agrees it is the zone, AXFR-style.
        out = xfrtest.dig(self.port, ORIGIN, f"IXFR={SERIAL - 5}", "+nocomments")
        self.check_axfr_text(out)

    def test_ixfr_over_udp_old_serial_sets_tc(self):
        m = udp_query(self.port, query(ORIGIN, IXFR, ixfr_serial=SERIAL - 1))
        self.assertEqual(m.rcode, NOERROR)
        self.assertTrue(m.tc)
        self.assertEqual(m.answer, [])

    def test_refused_and_notimp(self):
        cases = {
            "other type at apex": (query(ORIGIN, A), REFUSED),
            "MX at apex": (query(ORIGIN, MX), REFUSED),
            "name in no zone": (query("example.org.", SOA), REFUSED),
            "name below the zone": (query("www.example.com.", SOA), REFUSED),
            "unknown opcode 3": (query(ORIGIN, SOA, opcode=3), NOTIMP),
            "unknown opcode 15": (query(ORIGIN, SOA, opcode=15), NOTIMP),
            "AXFR over UDP": (query(ORIGIN, AXFR), FORMERR),
        }
        for name, (q, rcode) in cases.items():
            with self.subTest(name):
                m = udp_query(self.port, q)
                self.assertEqual(m.id, struct.unpack("!H", q[:2])[0])
                self.assertEqual(m.rcode, rcode)
                self.assertEqual(m.answer, [])
                if name != "AXFR over UDP":
                    m = tcp_ask(self.port, q)
                    self.assertEqual(m.rcode, rcode)
                    self.assertEqual(m.answer, [])

    def test_edns_version_1_gets_badvers(self):
        m = udp_query(self.port, query(ORIGIN, SOA, edns=True, edns_version=1))
        self.assertEqual(m.rcode, BADVERS_BADSIG)
        self.assertIsNotNone(m.opt)
        self.assertEqual((m.opt.ttl >> 16) & 0xFF, 0, "we speak version 0")
        self.assertEqual(m.answer, [])
        out = xfrtest.dig(self.port, ORIGIN, "SOA", "+edns=1", "+noednsnegotiation")
        self.assertIn("status: BADVERS", out)

    def test_edns_expire(self):
        m = udp_query(self.port, query(ORIGIN, SOA, edns=True, edns_options=[(EDNS_EXPIRE, b"")]))
        self.assertEqual(m.rcode, NOERROR)
        opts = m.edns_options()
        self.assertIn(EDNS_EXPIRE, opts)
        # A master-file zone is its own primary: the SOA EXPIRE (RFC 7314 §4).
        self.assertEqual(struct.unpack("!I", opts[EDNS_EXPIRE])[0], 1209600)
        # Not asked, not given.
        m = udp_query(self.port, query(ORIGIN, SOA, edns=True))
        self.assertNotIn(EDNS_EXPIRE, m.edns_options())
        self.assertIsNotNone(m.opt)
        out = xfrtest.dig(self.port, ORIGIN, "SOA", "+expire")
        self.assertIn("EXPIRE: 1209600", out)

    # --- RFC 7766 pipelining -------------------------------------------------

    def test_pipelined_queries_in_one_send(self):
        ids = [0x1001, 0x1002, 0x1003, 0x1004, 0x1005]
        qs = [query(ORIGIN, AXFR, qid=ids[0]), query(ORIGIN, SOA, qid=ids[1]),
              query(ORIGIN, SOA, qid=ids[2]), query(ORIGIN, SOA, qid=ids[3]),
              query(ORIGIN, AXFR, qid=ids[4])]
        with tcp_connect(self.port) as s:
            s.sendall(b"".join(frame(q) for q in qs))
            by_id = {}
            readers = {}
            from xfrproxy_run import TransferReader
            pending = set(ids)
            while pending:
                m = parse_message(tcp_read_message(s))
                self.assertIn(m.id, ids)
                r = readers.setdefault(m.id, TransferReader())
                r.feed(m)
                if r.done:
                    pending.discard(m.id)
                    by_id[m.id] = r.messages
        for i in ids[1:4]:
            self.assertEqual(len(by_id[i]), 1)
            self.assertEqual(by_id[i][0].answer[0].soa_serial(), SERIAL)
        for i in (ids[0], ids[4]):
            self.assertGreater(len(by_id[i]), 1)
            self.assert_full_zone(by_id[i])

    def test_two_queries_split_at_odd_boundaries(self):
        data = frame(query(ORIGIN, SOA, qid=7)) + frame(query("Example.COM.", SOA, qid=8))
        for cuts in ((1,), (3, 17), (len(data) // 2 + 1,), tuple(range(1, len(data), 5))):
            with self.subTest(cuts=cuts), tcp_connect(self.port) as s:
                s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                prev = 0
                for c in cuts + (len(data),):
                    s.sendall(data[prev:c])
                    prev = c
                    time.sleep(0.02)
                got = {}
                for _ in range(2):
                    m = parse_message(tcp_read_message(s))
                    got[m.id] = m
                self.assertEqual(sorted(got), [7, 8])
                self.assertEqual(got[8].questions[0][0], "Example.COM.")
                for m in got.values():
                    self.assertEqual(m.answer[0].soa_serial(), SERIAL)

    # --- access control ------------------------------------------------------

    def assert_refused_without_data(self, raw_messages):
        self.assertEqual(len(raw_messages), 1)
        m = parse_message(raw_messages[0])
        ancount = struct.unpack("!H", raw_messages[0][6:8])[0]
        self.assertEqual(ancount, 0)
        return m

    def read_all(self, s, wait=1.0):
        """Every message the server sends until it goes quiet."""
        out = []
        s.settimeout(wait)
        try:
            while True:
                out.append(tcp_read_message(s))
        except (socket.timeout, Exception):
            pass
        return out

    def test_transfer_from_address_not_allowed_is_refused(self):
        for qtype, extra in ((AXFR, {}), (IXFR, {"ixfr_serial": SERIAL - 1})):
            with self.subTest(qtype=qtype), tcp_connect(self.port, source="127.0.0.2") as s:
                s.sendall(frame(query(ORIGIN, qtype, **extra)))
                m = self.assert_refused_without_data(self.read_all(s))
                self.assertEqual(m.rcode, REFUSED)
        out = xfrtest.run([xfrtest.tool("dig"), "@127.0.0.1", "-p", str(self.port), "-b",
                           "127.0.0.2", ORIGIN, "AXFR"], check=False)
        self.assertIn("Transfer failed", out)
        # SOA is not a transfer: it is answered from anywhere.
        m = udp_query(self.port, query(ORIGIN, SOA), source="127.0.0.2")
        self.assertEqual(m.rcode, NOERROR)

    def test_keyed_secondary_must_sign(self):
        with tcp_connect(self.port, source="127.0.0.3") as s:
            s.sendall(frame(query(ORIGIN, AXFR)))
            m = self.assert_refused_without_data(self.read_all(s))
            self.assertEqual(m.rcode, REFUSED)

    def test_signed_transfer_with_secondary_key(self):
        out = xfrtest.run([xfrtest.binary("tests", "tools", "tsigxfr"), "--server",
                           f"127.0.0.1:{self.port}", "--zone", ORIGIN, "--type", "AXFR",
                           "--key", self.key.tsigxfr_spec()])
        last = out.strip().splitlines()[-1]
        # Every message signed and verified, and the whole zone in them.
        self.assertRegex(last, r"^tsig: verified (\d+) messages \(\1 signed\), (\d+) records$")
        self.assertGreater(int(last.split()[2]), 1)
        self.assertEqual(int(last.split()[-2]), len(self.expected) + 1)
        # dig -y from the secondary's own address: the full zone.
        out = xfrtest.run([xfrtest.tool("dig"), "@127.0.0.1", "-p", str(self.port), "-b",
                           "127.0.0.3", "-y", self.key.dig_spec(), ORIGIN, "AXFR",
                           "+nocomments"], check=False)
        self.assertNotIn("Couldn't verify", out)
        recs = [r for r in xfrtest.parse_records(out) if r[3] != "TSIG"]
        self.assertEqual(normalize(recs[:-1]), self.expected)

    def raw_signed(self, key, source="127.0.0.3"):
        q = tsig_sign(query(ORIGIN, AXFR), key)
        with tcp_connect(self.port, source=source) as s:
            s.sendall(frame(q))
            return self.read_all(s)

    def test_wrong_secret_gets_badsig_and_no_data(self):
        wrong = ProxyKey(self.key.name, self.key.algorithm, ProxyKey.random("x").secret)
        m = self.assert_refused_without_data(self.raw_signed(wrong))
        self.assertEqual(m.rcode, NOTAUTH)
        self.assertEqual(m.tsig_error(), BADVERS_BADSIG)

    def test_unknown_key_gets_badkey_and_no_data(self):
        unknown = ProxyKey.random("nobody-key.")
        m = self.assert_refused_without_data(self.raw_signed(unknown))
        self.assertEqual(m.rcode, NOTAUTH)
        self.assertEqual(m.tsig_error(), BADKEY)

    def test_secondary_key_outside_allow_transfer_is_refused(self):
        # The keyed secondary's own address and key, but not in the ACL.
        m = self.assert_refused_without_data(self.raw_signed(self.key, source="127.0.0.5"))
        self.assertEqual(m.rcode, REFUSED)
        # Its key from an address nobody configured: refused too.
        m = self.assert_refused_without_data(self.raw_signed(self.key, source="127.0.0.4"))
        self.assertEqual(m.rcode, REFUSED)

    def test_key_not_of_a_secondary_is_refused(self):
        # A key the server knows but no secondary of the zone uses, from an
        # address that is not in allow-transfer.
        m = self.assert_refused_without_data(self.raw_signed(self.other, source="127.0.0.4"))
        self.assertEqual(m.rcode, REFUSED)


class ShutdownTest(unittest.TestCase):
    def test_sigterm_while_idle_exits_zero(self):
        proxy = XfrProxy([ProxyZone(ORIGIN, make_mixed_zone(200))]).start()
        try:
            t0 = time.monotonic()
            code = proxy.stop()
            self.assertEqual(code, 0, proxy.log()[-2000:])
            self.assertLess(time.monotonic() - t0, 5.0)
            self.assertIn("stopped", proxy.log())
        finally:
            proxy.cleanup()

    def test_sigterm_during_transfer_lets_it_finish(self):
        proxy = XfrProxy([ProxyZone(ORIGIN, make_mixed_zone(20000))]).start()
        try:
            with tcp_connect(proxy.port) as s:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
                q = query(ORIGIN, AXFR)
                s.sendall(frame(q))
                first = tcp_read_message(s)  # the transfer has started
                proxy.process.signal(signal.SIGTERM)
                time.sleep(0.2)
                from xfrproxy_run import TransferReader
                r = TransferReader()
                r.feed(parse_message(first))
                while not r.done:
                    r.feed(parse_message(tcp_read_message(s)))
                recs = transfer_records(r.messages)
                self.assertEqual(recs[0].type, SOA)
                self.assertEqual(recs[-1].key(), recs[0].key())
            code = proxy.stop()
            self.assertEqual(code, 0, proxy.log()[-2000:])
            self.assertIn("SIGTERM", proxy.log())
            self.assertIn("stopped", proxy.log())
        finally:
            proxy.cleanup()


if __name__ == "__main__":
    xfrtest.main()
