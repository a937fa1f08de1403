"""/peers per-peer state end to end.

Python UDP sockets on their own loopback addresses (127.0.0.x, so that a
transfer from one of them is told apart from the others) play the
secondaries of two zones. After a change:
- one that answers the NOTIFY and then takes an AXFR (it never sends an
  IXFR naming the new serial) shows `in-sync` at the new serial: the proxy
  learnt it from the finished transfer;
- one that answers but never comes shows `notified` within the grace (the
  NOTIFY retry window, 31 s) and `lagging` after it;
- one that never answers shows `unreachable` once the retries ran out;
- in a zone with `verify-peers: true`, one that answers the NOTIFY and then
  SOA queries with the new serial (a secondary pulling from elsewhere)
  becomes `in-sync` through the SOA check;
- the NOTIFYs leave from the zone's `notify-source` (127.0.0.9), or from the
  proxy's single listen address (127.0.0.1) by default.
"""
import json
import socket
import struct
import threading
import time
import unittest
import urllib.request

import xfrtest
from xfrproxy_run import AXFR, SOA, ProxyZone, XfrProxy, parse_message, query, soa_rdata, tcp_transfer

PLAIN = "plain.example."
VERIFIED = "verified.example."
GRACE = 31  # NotifyOptions defaults: 1 + 2 + 4 + 8 + 16 s


def zone_text(origin, serial):
    return (f"$ORIGIN {origin}\n$TTL 3600\n"
            f"@ IN SOA ns1 hostmaster {serial} 7200 900 1209600 300\n"
            "@ IN NS ns1\nns1 IN A 192.0.2.1\n"
            f"www IN TXT \"version {serial}\"\n")


def question_end(data):
    i = 12
    while data[i] != 0:
        i += 1 + data[i]
    return i + 1 + 4


class Secondary:
    """A UDP socket on `ip` that records what it gets (with the source
    address) and answers NOTIFY when `answer_notify`, and SOA queries with
    serial `soa_serial` when that is set."""

    def __init__(self, ip, answer_notify, soa_serial=None):
        self.ip = ip
        self.answer_notify = answer_notify
        self.soa_serial = soa_serial
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((ip, 0))
        self.sock.settimeout(0.1)
        self.port = self.sock.getsockname()[1]
        self.received = []  # (source, Message)
        self.lock = threading.Lock()
        self.stopping = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    @property
    def address(self):
        return f"{self.ip}:{self.port}"

    def _run(self):
        while not self.stopping:
            try:
                data, peer = self.sock.recvfrom(65535)
            except socket.timeout:
                continue
            except OSError:
                return
            m = parse_message(data)
            with self.lock:
                self.received.append((peer, m))
            end = question_end(data)
            if m.opcode == 4 and self.answer_notify:
                flags = 0x8000 | (4 << 11) | 0x0400
                self.sock.sendto(data[:2] + struct.pack("!HHHHH", flags, 1, 0, 0, 0) +
                                 data[12:end], peer)
            elif m.opcode == 0 and self.soa_serial is not None:
                rdata = soa_rdata(self.soa_serial)
                answer = b"\xc0\x0c" + struct.pack("!HHIH", SOA, 1, 3600, len(rdata)) + rdata
                self.sock.sendto(data[:2] + struct.pack("!HHHHH", 0x8400, 1, 1, 0, 0) +
                                 data[12:end] + answer, peer)

    def notifies(self, serial):
        with self.lock:
            return [(src, m) for src, m in self.received if m.opcode == 4 and m.answer
                    and m.answer[0].soa_serial() == serial]

    def soa_queries(self):
        with self.lock:
            return [m for _, m in self.received if m.opcode == 0]

    def close(self):
        self.stopping = True
        self.thread.join()
        self.sock.close()


class Proxy(XfrProxy):
    """XfrProxy with per-zone lines added to the config."""

    def __init__(self, zones, zone_lines, **kw):
        super().__init__(zones, **kw)
        self.zone_lines = zone_lines

    def config_text(self):
        text = super().config_text()
        for name, lines in self.zone_lines.items():
            text = text.replace(f"  - name: {name}\n",
                                f"  - name: {name}\n" + "".join(f"    {l}\n" for l in lines))
        return text


def wait_for(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


class PeerStateTest(unittest.TestCase):
    def setUp(self):
        self.taker = Secondary("127.0.0.2", answer_notify=True)
        self.idle = Secondary("127.0.0.3", answer_notify=True)
        self.silent = Secondary("127.0.0.4", answer_notify=False)
        self.elsewhere = Secondary("127.0.0.5", answer_notify=True, soa_serial=2)
        self.all = [self.taker, self.idle, self.silent, self.elsewhere]
        self.plain = ProxyZone(PLAIN, zone_text(PLAIN, 1), secondaries=[
            {"address": s.address} for s in (self.taker, self.idle, self.silent)])
        self.verified = ProxyZone(VERIFIED, zone_text(VERIFIED, 1),
                                  secondaries=[{"address": self.elsewhere.address}])
        self.http_port = xfrtest.free_port()
        self.proxy = Proxy([self.plain, self.verified],
                           {VERIFIED: ["verify-peers: true", "notify-source: 127.0.0.9"]},
                           extra=f'http: "127.0.0.1:{self.http_port}"\n').start()
        xfrtest.wait_tcp(self.http_port)

    def tearDown(self):
        code = self.proxy.stop()
        log = self.proxy.log()
        self.proxy.dir.cleanup()
        for s in self.all:
            s.close()
        self.assertEqual(code, 0, log[-4000:])

    def get(self, path):
        with urllib.request.urlopen(f"http://127.0.0.1:{self.http_port}{path}", timeout=10) as r:
            return r.read().decode()

    def peers(self):
        doc = json.loads(self.get("/peers"))
        return {p["address"]: p for z in doc["zones"] for p in z["peers"]}

    def state(self, s):
        return self.peers()[s.address]

    def test_states_after_a_change(self):
        for z in (self.plain, self.verified):
            self.proxy.write_zone(z, zone_text(z.name, 2))
        changed = time.monotonic()
        self.proxy.reload()
        for z in (self.plain, self.verified):
            self.proxy.wait_serial(z.name, 2)
        wait_for(lambda: self.taker.notifies(2), 10, "a NOTIFY at the taker")

        # NOTIFYs leave from the zone's notify-source, else the listen address.
        self.assertEqual({src[0] for src, _ in self.taker.notifies(2)}, {"127.0.0.1"})
        wait_for(lambda: self.elsewhere.notifies(2), 10, "a NOTIFY at the verified peer")
        self.assertEqual({src[0] for src, _ in self.elsewhere.notifies(2)}, {"127.0.0.9"})

        # The taker transfers (AXFR: no IXFR naming serial 2 ever reaches us).
        tcp_transfer(self.proxy.port, query(PLAIN, AXFR), source="127.0.0.2")
        taker = wait_for(lambda: (p := self.state(self.taker))["state"] == "in-sync" and p,
                         10, "the taker in sync")
        self.assertEqual(taker["serial"], 2)
        self.assertEqual(taker["seconds_behind"], 0)

        # Within the grace: told, not yet judged.
        self.assertLess(time.monotonic() - changed, GRACE - 5)
        peers = self.peers()
        self.assertEqual(peers[self.idle.address]["state"], "notified", peers)
        self.assertEqual(peers[self.silent.address]["state"], "notified", peers)
        self.assertEqual(peers[self.elsewhere.address]["state"], "notified", peers)
        self.assertEqual(self.elsewhere.soa_queries(), [], "SOA check before the grace")
        metrics = self.get("/metrics")
        self.assertIn(f'xfrproxy_peers_in_sync{{zone="{PLAIN}"}} 1\n', metrics)
        self.assertIn(f'xfrproxy_peers{{zone="{PLAIN}"}} 3\n', metrics)

        # After the grace and the retries.
        wait_for(lambda: self.state(self.silent)["state"] == "unreachable", GRACE + 15,
                 "the silent peer unreachable")
        elsewhere = wait_for(
            lambda: (p := self.state(self.elsewhere))["state"] == "in-sync" and p,
            GRACE + 15, "the verified peer in sync through its SOA answer")
        self.assertEqual(elsewhere["serial"], 2)
        self.assertTrue(self.elsewhere.soa_queries())
        q = self.elsewhere.soa_queries()[0]
        self.assertEqual([(n.lower(), t) for n, t, _ in q.questions], [(VERIFIED, SOA)])
        idle = wait_for(lambda: (p := self.state(self.idle))["state"] == "lagging" and p,
                        10, "the idle peer lagging")
        self.assertGreaterEqual(idle["seconds_behind"], GRACE - 2)
        silent = self.state(self.silent)
        self.assertIn("NOTIFY unanswered", silent["last_error"])
        self.assertGreater(silent["seconds_behind"], 0)
        # Unverified zones send no SOA queries.
        self.assertEqual(self.idle.soa_queries(), [])
        self.assertEqual(self.state(self.taker)["state"], "in-sync")
        self.assertIn(f'xfrproxy_peers_in_sync{{zone="{VERIFIED}"}} 1\n', self.get("/metrics"))

    def test_reload_keeps_peers_and_flags_a_shared_address(self):
        self.proxy.write_zone(self.plain, zone_text(PLAIN, 2))
        self.proxy.reload()
        self.proxy.wait_serial(PLAIN, 2)
        wait_for(lambda: self.taker.notifies(2), 10, "a NOTIFY at the taker")
        tcp_transfer(self.proxy.port, query(PLAIN, AXFR), source="127.0.0.2")
        wait_for(lambda: self.state(self.taker)["state"] == "in-sync", 10, "the taker in sync")
        self.assertFalse(self.state(self.taker)["shared_address"])

        # A second secondary on the taker's host (another port) is added.
        neighbour = Secondary("127.0.0.2", answer_notify=True)
        self.all.append(neighbour)
        self.plain.secondaries.append({"address": neighbour.address})
        self.proxy.write_config()
        mark = len(self.proxy.log())
        self.proxy.reload()
        self.proxy.wait_log("share one IP address", start=mark)
        peers = wait_for(lambda: (p := self.peers()).get(neighbour.address) and p, 10,
                         "the new secondary on /peers")
        # The taker keeps what was learnt before the reload.
        self.assertEqual(peers[self.taker.address]["state"], "in-sync", peers)
        self.assertEqual(peers[self.taker.address]["serial"], 2)
        self.assertTrue(peers[self.taker.address]["shared_address"])
        self.assertTrue(peers[neighbour.address]["shared_address"])
        self.assertEqual(peers[self.idle.address]["state"], "notified", peers)
        self.assertIn(f'xfrproxy_peers{{zone="{PLAIN}"}} 4\n', self.get("/metrics"))


if __name__ == "__main__":
    unittest.main()
