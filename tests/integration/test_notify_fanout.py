"""NOTIFY fan-out end to end (RFC 1996).

Python UDP sockets on loopback play the secondaries. After a zone file
change and SIGHUP, every one of them must get a NOTIFY (opcode 4, QR=0,
AA=1, question <zone, SOA, IN>, the new SOA in the answer section) for the
new serial; one that answers gets no retransmission; one that stays silent
gets the same NOTIFY (same ID) again after about 1 s, 2 s, 4 s; a secondary
with notify: false gets nothing; a keyed secondary gets a NOTIFY signed with
its key.
"""
import socket
import threading
import time
import unittest

import xfrtest  # noqa: F401  (the binary lookup xfrproxy_run uses)
from xfrproxy_run import (NOERROR, SOA, TSIG, ProxyKey, ProxyZone, XfrProxy,
                          parse_message)

ORIGIN = "example.com."
NOTIFY_OPCODE = 4


def zone_text(serial):
    return (f"$ORIGIN {ORIGIN}\n$TTL 3600\n"
            f"@ IN SOA ns1 hostmaster {serial} 7200 900 1209600 300\n"
            "@ IN NS ns1\nns1 IN A 192.0.2.1\n"
            f"www IN TXT \"version {serial}\"\n")


class Secondary:
    """A UDP socket on 127.0.0.1 that records every datagram and, when
    `answer` is set, answers NOTIFY the way BIND does: QR=1, AA=1, same ID,
    the question echoed, NOERROR."""

    def __init__(self, answer):
        self.answer = answer
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.1)
        self.port = self.sock.getsockname()[1]
        self.received = []  # (monotonic time, Message)
        self.lock = threading.Lock()
        self.stopping = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    @property
    def address(self):
        return f"127.0.0.1:{self.port}"

    def _run(self):
        while not self.stopping:
            try:
                data, peer = self.sock.recvfrom(65535)
            except socket.timeout:
                continue
            except OSError:
                return
            try:
                m = parse_message(data)
            except Exception:  # recorded as garbage: the test then fails
                m = None
            with self.lock:
                self.received.append((time.monotonic(), m, data))
            if self.answer and m is not None:
                question_end = 12 + _question_length(data)
                flags = 0x8000 | (NOTIFY_OPCODE << 11) | 0x0400
                reply = data[:2] + flags.to_bytes(2, "big") + b"\x00\x01\x00\x00\x00\x00\x00\x00"
                self.sock.sendto(reply + data[12:question_end], peer)

    def notifies(self, serial):
        """The NOTIFY messages received so far for `serial`."""
        with self.lock:
            return [(t, m) for t, m, _ in self.received
                    if m is not None and m.answer and m.answer[0].type == SOA
                    and m.answer[0].soa_serial() == serial]

    def garbage(self):
        with self.lock:
            return [d for _, m, d in self.received if m is None]

    def close(self):
        self.stopping = True
        self.thread.join()
        self.sock.close()


def _question_length(data):
    i = 12
    while data[i] != 0:
        i += 1 + data[i]
    return i + 1 + 4 - 12


def wait_for(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


class NotifyFanoutTest(unittest.TestCase):
    def setUp(self):
        self.key = ProxyKey.random("notify-key.")
        self.answering = [Secondary(answer=True) for _ in range(3)]
        self.silent = Secondary(answer=False)
        self.muted = Secondary(answer=True)    # notify: false
        self.keyed = Secondary(answer=False)   # signed NOTIFY
        secondaries = [{"address": s.address} for s in self.answering]
        secondaries.append({"address": self.silent.address})
        secondaries.append({"address": self.muted.address, "notify": False})
        secondaries.append({"address": self.keyed.address, "key": self.key.name})
        self.zone = ProxyZone(ORIGIN, zone_text(1), secondaries=secondaries)
        self.proxy = XfrProxy([self.zone], keys=[self.key]).start()
        self.all = self.answering + [self.silent, self.muted, self.keyed]

    def tearDown(self):
        code = self.proxy.stop()
        log = self.proxy.log()
        self.proxy.dir.cleanup()
        for s in self.all:
            s.close()
        self.assertEqual(code, 0, log[-4000:])

    def change_to(self, serial):
        start = len(self.proxy.log())
        self.proxy.write_zone(self.zone, zone_text(serial))
        self.proxy.reload()
        self.proxy.wait_serial(ORIGIN, serial)
        self.proxy.wait_log(f"notify: zone {ORIGIN} serial {serial}", start=start)

    def check_notify(self, m, serial):
        self.assertFalse(m.qr)
        self.assertEqual(m.opcode, NOTIFY_OPCODE)
        self.assertTrue(m.aa)
        self.assertEqual(m.rcode, NOERROR)
        self.assertEqual([(q[0].lower(), q[1], q[2]) for q in m.questions], [(ORIGIN, SOA, 1)])
        self.assertEqual(len(m.answer), 1)
        self.assertEqual(m.answer[0].type, SOA)
        self.assertEqual(m.answer[0].soa_serial(), serial)

    def test_every_secondary_gets_the_new_serial_and_answering_stops_retries(self):
        self.change_to(2)
        targets = self.answering + [self.silent, self.keyed]
        wait_for(lambda: all(s.notifies(2) for s in targets), 10, "a NOTIFY at every secondary")
        for s in targets:
            self.check_notify(s.notifies(2)[0][1], 2)
        # Each answering secondary has its own ID.
        ids = {s.notifies(2)[0][1].id for s in self.answering}
        self.assertEqual(len(ids), len(self.answering))
        # Long enough for two retransmissions at the 1 s / 2 s back-off.
        time.sleep(4.5)
        for s in self.answering:
            self.assertEqual(len(s.notifies(2)), 1, "an answered NOTIFY was sent again")
        silent = self.silent.notifies(2)
        self.assertGreaterEqual(len(silent), 3, "no retransmission to a silent secondary")
        self.assertEqual({m.id for _, m in silent}, {silent[0][1].id})
        gaps = [b[0] - a[0] for a, b in zip(silent, silent[1:])]
        self.assertGreater(gaps[1], gaps[0] * 1.4, f"no back-off: {gaps}")
        self.assertEqual(self.muted.notifies(2), [], "notify: false was notified")
        for s in self.all:
            self.assertEqual(s.garbage(), [])

    def test_keyed_secondary_gets_a_signed_notify(self):
        self.change_to(2)
        wait_for(lambda: self.keyed.notifies(2), 10, "a NOTIFY at the keyed secondary")
        m = self.keyed.notifies(2)[0][1]
        self.check_notify(m, 2)
        self.assertEqual(m.additional[-1].type, TSIG)
        self.assertEqual(m.additional[-1].owner.lower(), self.key.name)
        # The unkeyed ones are not signed.
        wait_for(lambda: self.answering[0].notifies(2), 10, "a NOTIFY at a plain secondary")
        self.assertFalse(any(r.type == TSIG for r in self.answering[0].notifies(2)[0][1].additional))

    def test_a_newer_serial_supersedes_the_pending_one(self):
        self.change_to(2)
        wait_for(lambda: self.silent.notifies(2), 10, "a NOTIFY for serial 2")
        self.change_to(3)
        wait_for(lambda: self.silent.notifies(3), 10, "a NOTIFY for serial 3")
        count2 = len(self.silent.notifies(2))
        time.sleep(3.5)
        self.assertEqual(len(self.silent.notifies(2)), count2,
                         "serial 2 still retransmitted after serial 3")
        self.assertGreaterEqual(len(self.silent.notifies(3)), 2)


if __name__ == "__main__":
    unittest.main()
