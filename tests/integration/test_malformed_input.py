"""Hostile input: a corpus of malformed packets sent over UDP and TCP. The
server must never answer a response (QR=1) or a runt, must answer a packet
with a well-formed header but a broken body with FORMERR and the same ID,
and must keep answering ordinary queries after each one; at the end it is
still alive and exits 0 on SIGTERM."""
import random
import socket
import struct
import time
import unittest

import xfrtest
from xfrproxy_run import (AXFR, FORMERR, NOERROR, OPT, SOA, TSIG, ProxyZone, WireError,
                          XfrProxy, encode_name, frame, parse_message, query, tcp_connect,
                          tcp_read_message, udp_query, udp_raw)
from servers import make_zone

ORIGIN = "example.com."
QNAME = encode_name(ORIGIN)


def header(qid=0xBEEF, flags=0, qd=1, an=0, ns=0, ar=0):
    return struct.pack("!HHHHHH", qid, flags, qd, an, ns, ar)


SOA_Q = QNAME + struct.pack("!HH", SOA, 1)
OPT_RR = b"\0" + struct.pack("!HHIH", OPT, 1232, 0, 0)
_TSIG_RDATA = (encode_name("hmac-sha256.") + b"\0\0\0\0\0\1" + struct.pack("!HH", 300, 0) +
               struct.pack("!HHH", 0xBEEF, 0, 0))
TSIG_RR = encode_name("key.") + struct.pack("!HHIH", TSIG, 255, 0, len(_TSIG_RDATA)) + _TSIG_RDATA

# Packets whose header is well formed (QR=0) but whose body is not: the
# answer is FORMERR with the same ID.
FORMERR_CASES = {
    "header only, QDCOUNT=1": header(),
    "pointer loop in QNAME": header() + b"\xc0\x0c" + struct.pack("!HH", SOA, 1),
    "pointer to itself via a label": header() + b"\x01a\xc0\x0c" + struct.pack("!HH", SOA, 1),
    "forward pointer": header() + b"\xc0\x12" + struct.pack("!HH", SOA, 1) + QNAME,
    "label longer than 63": header() + b"\x40" + b"a" * 64 + b"\0" + struct.pack("!HH", SOA, 1),
    "name longer than 255": header() + (b"\x3f" + b"a" * 63) * 4 + b"\x05aaaaa\0"
                            + struct.pack("!HH", SOA, 1),
    "QDCOUNT larger than the data": header(qd=3) + SOA_Q,
    "ANCOUNT larger than the data": header(an=5) + SOA_Q,
    "ARCOUNT larger than the data": header(ar=2) + SOA_Q + OPT_RR,
    "truncated question": header() + QNAME + b"\0",
    "huge RDLENGTH": header(ar=1) + SOA_Q + b"\0" + struct.pack("!HHIH", 1, 1, 0, 0xFFFF) + b"\0" * 8,
    "two OPTs": header(ar=2) + SOA_Q + OPT_RR + OPT_RR,
    "OPT with a non-root owner": header(ar=1) + SOA_Q + b"\x01x\0" + OPT_RR[1:],
    "TSIG not last": header(ar=2) + SOA_Q + TSIG_RR + OPT_RR,
    "trailing garbage": header() + SOA_Q + b"\x01\x02\x03",
    "two questions": header(qd=2) + SOA_Q + SOA_Q,
    "no question": header(qd=0),
}

# Never answered: runts and responses.
SILENT_CASES = dict(
    {f"{n} bytes": bytes(range(1, n + 1)) for n in range(0, 12)},
    **{
        "QR=1 response": header(flags=0x8000) + SOA_Q,
        "QR=1 with a broken body": header(flags=0x8400, an=9) + b"\xc0\x0c",
        "QR=1 NOTIFY answer": header(flags=0x8000 | (4 << 11)) + SOA_Q,
    })


def random_packets(seed=1995, count=200):
    rnd = random.Random(seed)
    out = []
    for i in range(count):
        n = rnd.choice([rnd.randrange(0, 40), rnd.randrange(12, 600)])
        p = bytearray(rnd.randbytes(n))
        if i % 2 and len(p) >= 12:
            p[2] &= 0x7F  # QR=0, so the parser is really exercised
            p[4:6] = b"\0\1"
        out.append(bytes(p))
    return out


class MalformedInputTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.proxy = XfrProxy([ProxyZone(ORIGIN, make_zone(ORIGIN, 500))]).start()
        cls.port = cls.proxy.port

    @classmethod
    def tearDownClass(cls):
        alive = cls.proxy.alive()
        code = cls.proxy.stop()
        log = cls.proxy.log()
        cls.proxy.dir.cleanup()
        if not alive or code != 0:
            raise AssertionError(f"xfrproxy alive={alive} exit={code}:\n{log[-4000:]}")

    def assert_still_serving(self):
        self.assertTrue(self.proxy.alive(), self.proxy.log()[-3000:])
        m = udp_query(self.port, query(ORIGIN, SOA))
        self.assertEqual(m.rcode, NOERROR)
        with tcp_connect(self.port, timeout=10) as s:
            s.sendall(frame(query(ORIGIN, SOA, qid=4242)))
            m = parse_message(tcp_read_message(s))
            self.assertEqual((m.id, m.rcode), (4242, NOERROR))

    def assert_formerr(self, raw, sent):
        self.assertIsNotNone(raw, "no answer")
        self.assertGreaterEqual(len(raw), 12)
        qid, flags = struct.unpack("!HH", raw[:4])
        self.assertEqual(qid, struct.unpack("!H", sent[:2])[0])
        self.assertTrue(flags & 0x8000, "QR set")
        self.assertEqual(flags & 15, FORMERR)
        self.assertEqual(struct.unpack("!H", raw[6:8])[0], 0, "no answer records")

    def tcp_exchange(self, packet, wait=1.0):
        """Sends one framed packet; returns the answer bytes, or None when
        the server sent nothing (or closed)."""
        with tcp_connect(self.port, timeout=wait) as s:
            s.sendall(frame(packet))
            try:
                return tcp_read_message(s)
            except (socket.timeout, WireError, ConnectionResetError):
                return None

    def test_formerr_with_same_id_over_udp_and_tcp(self):
        for name, p in FORMERR_CASES.items():
            with self.subTest(name, transport="udp"):
                self.assert_formerr(udp_raw(self.port, p), p)
                self.assert_still_serving()
            with self.subTest(name, transport="tcp"):
                self.assert_formerr(self.tcp_exchange(p), p)
                self.assert_still_serving()

    def test_runts_and_responses_get_no_answer(self):
        for name, p in SILENT_CASES.items():
            with self.subTest(name, transport="udp"):
                self.assertIsNone(udp_raw(self.port, p, timeout=0.5))
            with self.subTest(name, transport="tcp"):
                self.assertIsNone(self.tcp_exchange(p, wait=0.5))
            self.assert_still_serving()

    def test_random_bytes(self):
        for i, p in enumerate(random_packets()):
            with self.subTest(i=i, packet=p[:24].hex()):
                for raw in (udp_raw(self.port, p, timeout=0.2), self.tcp_exchange(p, wait=0.2)):
                    if raw is None:
                        continue
                    # Whatever is answered is a well-formed response to it.
                    self.assertGreaterEqual(len(p), 12, "a runt was answered")
                    self.assertEqual(raw[:2], p[:2])
                    m = parse_message(raw)
                    self.assertTrue(m.qr)
                    self.assertFalse(p[2] & 0x80, "a response was answered")
            if i % 20 == 0:
                self.assert_still_serving()
        self.assert_still_serving()

    def test_64k_of_garbage_over_tcp(self):
        rnd = random.Random(64)
        garbage = rnd.randbytes(65536)
        with tcp_connect(self.port, timeout=5) as s:
            try:
                s.sendall(garbage)
                s.shutdown(socket.SHUT_WR)
                while s.recv(65536):
                    pass
            except (ConnectionResetError, BrokenPipeError, socket.timeout):
                pass
        self.assert_still_serving()

    def test_length_prefix_longer_than_data_then_close(self):
        for announced, sent in ((512, 100), (65535, 12), (40, 0), (2, 1)):
            with self.subTest(announced=announced, sent=sent):
                with tcp_connect(self.port, timeout=5) as s:
                    s.sendall(struct.pack("!H", announced) + query(ORIGIN, SOA)[:sent])
                self.assert_still_serving()
        # Half a length prefix, then close.
        with tcp_connect(self.port, timeout=5) as s:
            s.sendall(b"\x00")
        self.assert_still_serving()

    def test_abandoned_transfer(self):
        # A client that asks for a transfer and resets the connection at once.
        for _ in range(5):
            s = tcp_connect(self.port, timeout=5)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            s.sendall(frame(query(ORIGIN, AXFR)))
            s.close()
        self.assert_still_serving()


if __name__ == "__main__":
    xfrtest.main()
