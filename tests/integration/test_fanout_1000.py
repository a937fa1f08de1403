"""One primary, one xfrproxy, 1,000 secondaries.

A fake primary serves the zone; xfrproxy follows it with 1,000 configured
secondaries, played by 1,000 UDP sockets in this process. After a change on
the primary (and its NOTIFY to xfrproxy), every secondary must receive a
NOTIFY for the new serial, answer it, and bring itself up to date with an
IXFR from xfrproxy, ending on the new serial; meanwhile the primary must
have served exactly one transfer for the change."""
import concurrent.futures
import resource
import selectors
import socket
import struct
import time
import unittest

import xfrtest
from fake_primary import FakePrimary, UpstreamProxy, make_records, primary_addr
from xfrproxy_run import (IXFR, SOA, WireError, parse_message, query, tcp_transfer,
                          transfer_records)

ZONE = "example.com."
PEERS = 1000


def raise_fd_limit(need):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < need:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(need, soft)), hard))


def answer_notify(sock, raw, peer):
    """The secondary's side of RFC 1996 §4.7: same ID and question, QR=1."""
    qid, flags = struct.unpack("!HH", raw[:4])
    reply = struct.pack("!HH", qid, (flags | 0x8000) & ~0x000F) + struct.pack("!HHHH", 1, 0, 0, 0)
    # Echo the question: it ends 4 bytes after the name that starts at 12.
    i = 12
    while raw[i] != 0:
        i += raw[i] + 1
    reply += raw[12:i + 5]
    sock.sendto(reply, peer)


class FanoutThousandTest(unittest.TestCase):
    def test_every_secondary_notified_and_converged_one_upstream_transfer(self):
        raise_fd_limit(PEERS + 512)
        socks = []
        for _ in range(PEERS):
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.bind(("127.0.0.1", 0))
            s.setblocking(False)
            socks.append(s)
        try:
            self.run_fanout(socks)
        finally:
            for s in socks:
                s.close()

    def collect_notifies(self, socks, serial, timeout=60.0):
        """Answers NOTIFYs until every socket has had one for `serial`."""
        sel = selectors.DefaultSelector()
        for s in socks:
            sel.register(s, selectors.EVENT_READ)
        got = set()
        deadline = time.monotonic() + timeout
        while len(got) < len(socks) and time.monotonic() < deadline:
            for key, _ in sel.select(timeout=0.5):
                s = key.fileobj
                while True:
                    try:
                        raw, peer = s.recvfrom(4096)
                    except BlockingIOError:
                        break
                    m = parse_message(raw)
                    self.assertEqual(m.opcode, 4, "not a NOTIFY")
                    self.assertFalse(m.qr)
                    self.assertTrue(m.aa)
                    answer_notify(s, raw, peer)
                    soa = [r for r in m.answer if r.type == SOA]
                    if soa and soa[0].soa_serial() == serial:
                        got.add(s.getsockname()[1])
        sel.close()
        return got

    def run_fanout(self, socks):
        primary = FakePrimary(ZONE)
        primary.publish(make_records(ZONE, 1, 200))
        primary.start()
        secondaries = [{"address": f"127.0.0.1:{s.getsockname()[1]}"} for s in socks]
        proxy = UpstreamProxy([{"name": ZONE, "primaries": [primary_addr(primary)],
                                "secondaries": secondaries}], threads=2)
        try:
            proxy.start()
            proxy.wait_serial(ZONE, 1, timeout=30)
            # The first version is announced to everybody too.
            first = self.collect_notifies(socks, 1)
            self.assertEqual(len(first), PEERS)
            transfers_before = primary.count("IXFR") + primary.count("AXFR")

            primary.publish(make_records(ZONE, 2, 200))
            primary.notify(proxy.port)
            got = self.collect_notifies(socks, 2)
            self.assertEqual(len(got), PEERS, f"{PEERS - len(got)} secondaries got no NOTIFY")

            def catch_up(_):
                msgs = tcp_transfer(proxy.port, query(ZONE, IXFR, ixfr_serial=1), timeout=60)
                recs = transfer_records(msgs)
                # Incremental (the old SOA second) and ending on serial 2.
                return (recs[0].soa_serial(), recs[1].type == SOA and recs[1].soa_serial() == 1,
                        recs[-1].soa_serial())

            with concurrent.futures.ThreadPoolExecutor(max_workers=16) as pool:
                results = list(pool.map(catch_up, range(PEERS)))
            self.assertEqual(results, [(2, True, 2)] * PEERS)
            transfers = primary.count("IXFR") + primary.count("AXFR") - transfers_before
            self.assertEqual(transfers, 1, "the primary must see one transfer per change")
        finally:
            proxy.cleanup()
            primary.stop()


if __name__ == "__main__":
    xfrtest.main()
