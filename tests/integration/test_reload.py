"""SIGHUP re-reads file zones: the difference between the old and the new
file becomes the next journal entry, IXFR serves it (RFC 1995), and a bad
file or a changed file without a serial increase leaves the old version
served, with a log line naming the problem."""
import re
import socket
import struct
import time
import unittest
import urllib.request

import xfrtest
from xfrproxy_run import (AXFR, IXFR, NOERROR, SOA, ProxyZone, TransferReader, XfrProxy,
                          frame, parse_message, query, tcp_connect, tcp_read_message,
                          tcp_transfer, transfer_records)

ORIGIN = "example.com."


def zone_text(serial, body):
    return (f"$ORIGIN {ORIGIN}\n$TTL 3600\n"
            f"@ IN SOA ns1 hostmaster {serial} 7200 900 1209600 300\n"
            "@ IN NS ns1\nns1 IN A 192.0.2.1\n" + body)


BASE_BODY = """www IN A 192.0.2.80
del IN A 192.0.2.99
ttl IN A 192.0.2.11
alias IN CNAME Target.example.com.
txt IN TXT "hello"
"""

# add: new; delete: del; TTL-only: ttl; RDATA case: alias.
CHANGED_BODY = """www IN A 192.0.2.80
new IN AAAA 2001:db8::1
ttl 60 IN A 192.0.2.11
alias IN CNAME TARGET.example.com.
txt IN TXT "hello"
"""


def big_body(n, tag):
    return "".join(f"h{i} IN TXT \"{tag} {i}\"\n" for i in range(n))


class ReloadTest(unittest.TestCase):
    def setUp(self):
        self.zone = ProxyZone(ORIGIN, zone_text(1, BASE_BODY))
        self.http_port = xfrtest.free_port()
        self.proxy = XfrProxy([self.zone],
                              extra=f'http: "127.0.0.1:{self.http_port}"\n').start()
        self.port = self.proxy.port

    def tearDown(self):
        alive = self.proxy.alive()
        code = self.proxy.stop()
        log = self.proxy.log()
        self.proxy.dir.cleanup()
        self.assertTrue(alive, log[-3000:])
        self.assertEqual(code, 0, log[-3000:])

    def file_refusals(self):
        url = f"http://127.0.0.1:{self.http_port}/metrics"
        with urllib.request.urlopen(url, timeout=10) as r:
            text = r.read().decode()
        return int(re.search(r"^xfrproxy_zone_file_refusals_total (\d+)$", text, re.M).group(1))

    def axfr_set(self):
        recs = transfer_records(tcp_transfer(self.port, query(ORIGIN, AXFR)))
        self.assertEqual(recs[0].key(), recs[-1].key())
        return recs[0].soa_serial(), sorted(r.key() for r in recs[:-1])

    def change(self, serial, body):
        """Writes a new file, SIGHUPs and waits for the new serial."""
        self.proxy.write_zone(self.zone, zone_text(serial, body))
        self.proxy.reload()
        self.proxy.wait_serial(ORIGIN, serial)

    def ixfr(self, from_serial):
        """(new serial, old serial, deletions, additions) of an incremental
        IXFR answer, after checking the RFC 1995 §4 layout."""
        msgs = tcp_transfer(self.port, query(ORIGIN, IXFR, ixfr_serial=from_serial))
        self.assertTrue(all(m.rcode == NOERROR for m in msgs))
        recs = transfer_records(msgs)
        self.assertGreaterEqual(len(recs), 4)
        new = recs[0]
        self.assertEqual(new.type, SOA)
        self.assertEqual(recs[1].type, SOA, "incremental, not AXFR-style")
        self.assertEqual(recs[1].soa_serial(), from_serial)
        soas = [i for i, r in enumerate(recs) if r.type == SOA]
        # new SOA, old SOA, deletions, new SOA, additions, new SOA: one diff.
        self.assertEqual(len(soas), 4, "one condensed diff")
        self.assertEqual(soas[0], 0)
        self.assertEqual(soas[1], 1)
        self.assertEqual(soas[3], len(recs) - 1)
        for i in (soas[2], soas[3]):
            self.assertEqual(recs[i].key(), new.key())
        dels = sorted(r.key() for r in recs[2:soas[2]])
        adds = sorted(r.key() for r in recs[soas[2] + 1:-1])
        return new.soa_serial(), recs[1].soa_serial(), dels, adds

    @staticmethod
    def expected_diff(old, new):
        olds = [r for r in old if r[1] != SOA]
        news = [r for r in new if r[1] != SOA]
        return sorted(set(olds) - set(news)), sorted(set(news) - set(olds))

    def test_ixfr_after_reload_is_exactly_the_diff(self):
        s1, v1 = self.axfr_set()
        self.assertEqual(s1, 1)
        self.change(2, CHANGED_BODY)
        s2, v2 = self.axfr_set()
        self.assertEqual(s2, 2)
        new, old, dels, adds = self.ixfr(1)
        self.assertEqual((new, old), (2, 1))
        self.assertEqual((dels, adds), self.expected_diff(v1, v2))
        # And the diff is what was edited, record by record.
        d = {(r[0], r[1], r[3]) for r in dels}
        a = {(r[0], r[1], r[3]) for r in adds}
        self.assertEqual(d, {("del.example.com.", 1, 3600), ("ttl.example.com.", 1, 3600),
                             ("alias.example.com.", 5, 3600)})
        self.assertEqual(a, {("new.example.com.", 28, 3600), ("ttl.example.com.", 1, 60),
                             ("alias.example.com.", 5, 3600)})
        alias_del = [r for r in dels if r[1] == 5][0][4]
        alias_add = [r for r in adds if r[1] == 5][0][4]
        self.assertIn(b"Target", alias_del)
        self.assertIn(b"TARGET", alias_add)
        # dig agrees (an independent IXFR reader).
        out = xfrtest.dig(self.port, ORIGIN, "IXFR=1", "+nocomments")
        recs = xfrtest.parse_records(out)
        self.assertEqual(len(recs), len(dels) + len(adds) + 4, out)
        # The current serial still gets the SOA alone.
        msgs = tcp_transfer(self.port, query(ORIGIN, IXFR, ixfr_serial=2))
        self.assertEqual(len(transfer_records(msgs)), 1)

    def test_successive_changes_condense_from_each_serial(self):
        bodies = {1: BASE_BODY}
        versions = {1: self.axfr_set()[1]}
        body = BASE_BODY
        edits = [
            lambda b: b + "a1 IN A 192.0.2.101\n",
            lambda b: b.replace("www IN A 192.0.2.80\n", "") + "a2 IN A 192.0.2.102\n",
            # a1 added then deleted: it must not appear in a condensed diff.
            lambda b: b.replace("a1 IN A 192.0.2.101\n", "").replace('"hello"', '"Hello"'),
            lambda b: b.replace("ttl IN", "ttl 120 IN") + "www IN A 192.0.2.80\n",
        ]
        for serial, edit in enumerate(edits, start=2):
            body = edit(body)
            bodies[serial] = body
            self.change(serial, body)
            versions[serial] = self.axfr_set()[1]
        current = max(versions)
        for start in range(1, current):
            with self.subTest(start=start):
                new, old, dels, adds = self.ixfr(start)
                self.assertEqual((new, old), (current, start))
                self.assertEqual((dels, adds), self.expected_diff(versions[start], versions[current]))
                if start == 1:
                    # a1 came and went after serial 1: nothing to send.
                    self.assertNotIn("a1.example.com.", [r[0] for r in dels + adds])

    def test_broken_file_keeps_old_version(self):
        _, v1 = self.axfr_set()
        mark = len(self.proxy.log())
        broken = zone_text(2, BASE_BODY + "bad IN A 192.0.2.300\n")
        line = broken.count("\n")  # the last line
        self.proxy.write_zone(self.zone, broken)
        self.proxy.reload()
        path = self.proxy.path(self.zone.file_name)
        self.proxy.wait_log(f"{path}:{line}:", start=mark)
        self.assertIn("still serving serial 1", self.proxy.log()[mark:])
        self.assertEqual(self.file_refusals(), 1)
        self.assertEqual(self.proxy.wait_serial(ORIGIN, None), 1)
        self.assertEqual(self.axfr_set(), (1, v1))

        # Fixed, but with a changed zone and the same serial.
        mark = len(self.proxy.log())
        self.proxy.write_zone(self.zone, zone_text(1, CHANGED_BODY))
        self.proxy.reload()
        self.proxy.wait_log("not an increase", start=mark)
        self.assertIn(path, self.proxy.log()[mark:])
        self.assertEqual(self.axfr_set(), (1, v1))

        # A serial that went backwards is no better.
        mark = len(self.proxy.log())
        self.proxy.write_zone(self.zone, zone_text(0, CHANGED_BODY))
        self.proxy.reload()
        self.proxy.wait_log("not an increase", start=mark)
        self.assertEqual(self.axfr_set(), (1, v1))
        self.assertEqual(self.file_refusals(), 3)

        # Then a good change is taken, and IXFR from 1 works.
        self.change(5, CHANGED_BODY)
        new, old, dels, adds = self.ixfr(1)
        self.assertEqual((new, old), (5, 1))
        self.assertEqual((dels, adds), self.expected_diff(v1, self.axfr_set()[1]))

    def test_transfer_in_progress_keeps_its_version(self):
        self.change(2, BASE_BODY + big_body(20000, "old"))
        _, old = self.axfr_set()
        with tcp_connect(self.port) as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            q = query(ORIGIN, AXFR)
            s.sendall(frame(q))
            reader = TransferReader()
            reader.feed(parse_message(tcp_read_message(s)))
            self.change(3, BASE_BODY + big_body(20000, "new"))
            while not reader.done:
                reader.feed(parse_message(tcp_read_message(s)))
        recs = transfer_records(reader.messages)
        self.assertEqual(recs[0].soa_serial(), 2)
        self.assertEqual(recs[-1].soa_serial(), 2)
        self.assertEqual(sorted(r.key() for r in recs[:-1]), old)
        serial, new = self.axfr_set()
        self.assertEqual(serial, 3)
        self.assertNotEqual(new, old)


if __name__ == "__main__":
    xfrtest.main()
