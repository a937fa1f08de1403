"""`templates:`: three zones that name one template get its file pattern,
allow-transfer and secondaries without repeating them; a zone's own key
overrides the template's; `check` names each zone's template; and a SIGHUP
that changes the template changes every zone using it at once."""
import os
import socket
import subprocess
import threading
import unittest

import xfrtest
from xfrproxy_run import (AXFR, NOERROR, REFUSED, ProxyZone, XfrProxy, parse_message, query,
                          read_name, tcp_transfer, transfer_records)

ZONES = ["a.test.", "b.test.", "c.test."]
OWN = "own.test."  # uses the template too, but writes its own allow-transfer


def zone_text(origin, serial):
    return (f"$ORIGIN {origin}\n$TTL 3600\n"
            f"@ IN SOA ns1 hostmaster {serial} 7200 900 1209600 300\n"
            f"@ IN NS ns1\nns1 IN A 192.0.2.1\nv IN TXT \"{origin} {serial}\"\n")


class NotifySink:
    """A secondary that only answers NOTIFY (RFC 1996 §4.7: same ID and
    question, QR set) and remembers the (zone, serial) pairs it was
    notified of."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((xfrtest.LOOPBACK, 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.zones = set()
        self.lock = threading.Lock()
        self.running = True
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()

    def _loop(self):
        while self.running:
            try:
                raw, peer = self.sock.recvfrom(65535)
            except socket.timeout:
                continue
            except OSError:
                return
            m = parse_message(raw)
            if m.opcode != 4 or m.qr:
                continue
            # The SOA in the answer section (a hint, RFC 1996 §3.7) tells a
            # NOTIFY of the new version from a late one of the old.
            serial = m.answer[0].soa_serial() if m.answer else None
            with self.lock:
                self.zones.add((m.questions[0][0].lower(), serial))
            header = raw[:2] + bytes([raw[2] | 0x80, raw[3] & 0xF0]) + b"\x00\x01" + b"\x00" * 6
            _, end = read_name(raw, 12)
            self.sock.sendto(header + raw[12:end + 4], peer)

    def seen(self):
        with self.lock:
            return set(self.zones)

    def close(self):
        self.running = False
        self.thread.join()
        self.sock.close()


class TemplateProxy(XfrProxy):
    """xfrproxy whose zones carry nothing but a name and a template."""

    def __init__(self, sink_port):
        super().__init__([])
        self.sink_port = sink_port
        self.pattern = "v1/%s.zone"

    def config_text(self):
        listen = f"{self.host}:{self.port}"
        lines = [f'listen: ["{listen}"]', "threads: 1", "templates:",
                 "  - id: shared",
                 f'    file: "{self.pattern}"',
                 '    allow-transfer: ["127.0.0.0/8"]',
                 "    secondaries:",
                 f'      - {{address: "127.0.0.1:{self.sink_port}"}}',
                 "zones:"]
        lines += [f"  - {{name: {z}, template: shared}}" for z in ZONES]
        lines += [f"  - {{name: {OWN}, template: shared, allow-transfer: []}}"]
        return "\n".join(lines) + "\n"

    def write_versions(self, version, serial):
        os.makedirs(self.path(version), exist_ok=True)
        for z in ZONES + [OWN]:
            with open(self.path(f"{version}/{z.rstrip('.')}.zone"), "w") as f:
                f.write(zone_text(z, serial))


class TemplatesTest(unittest.TestCase):
    def setUp(self):
        self.sink = NotifySink()
        self.proxy = TemplateProxy(self.sink.port)
        self.proxy.write_versions("v1", 1)
        self.proxy.start(wait=False)
        xfrtest.wait_tcp(self.proxy.port, proc=self.proxy.process)
        for z in ZONES + [OWN]:
            self.proxy.wait_serial(z, 1)

    def tearDown(self):
        alive = self.proxy.alive()
        code = self.proxy.stop()
        log = self.proxy.log()
        self.proxy.dir.cleanup()
        self.sink.close()
        self.assertTrue(alive, log[-3000:])
        self.assertEqual(code, 0, log[-3000:])

    def axfr_rcode(self, zone):
        return tcp_transfer(self.proxy.port, query(zone, AXFR))[0].rcode

    def test_zones_share_the_template_and_follow_its_change(self):
        # Inherited allow-transfer admits loopback; the zone's own [] wins.
        for z in ZONES:
            self.assertEqual(self.axfr_rcode(z), NOERROR, z)
        self.assertEqual(self.axfr_rcode(OWN), REFUSED)

        r = subprocess.run([xfrtest.binary("proxy", "xfrproxy"), "check", "--config",
                            self.proxy.config_path], capture_output=True, text=True,
                           timeout=60, cwd=self.proxy.dir.path)
        self.assertEqual(r.returncode, 0, r.stderr)
        for z in ZONES + [OWN]:
            line = next(x for x in r.stdout.splitlines() if x.startswith(f"zone {z}:"))
            self.assertIn(" template shared;", line)
            self.assertIn(f"v1/{z.rstrip('.')}.zone", line)
            self.assertIn("1 secondaries", line)

        # The template now points every zone at v2: all three move to the
        # new serial and their (inherited) secondary hears of each.
        self.proxy.write_versions("v2", 2)
        self.proxy.pattern = "v2/%s.zone"
        self.proxy.write_config()
        self.proxy.reload()
        for z in ZONES + [OWN]:
            self.proxy.wait_serial(z, 2)
        want = {(z, 2) for z in ZONES + [OWN]}
        xfrtest.wait_for("NOTIFY of serial 2 for every zone of the template",
                         lambda: want <= self.sink.seen())
        self.assertEqual(self.axfr_rcode(OWN), REFUSED)


class DefaultTemplateProxy(XfrProxy):
    """xfrproxy whose zones name no template: `default` gives them their
    primaries."""

    def __init__(self, primary_port):
        super().__init__([])
        self.primary_port = primary_port

    def config_text(self):
        lines = [f'listen: ["{self.host}:{self.port}"]', "threads: 1",
                 "limits: {upstream-query-timeout: 1s, upstream-connect-timeout: 2s}",
                 "templates:",
                 "  - id: default",
                 f'    primaries: ["127.0.0.1:{self.primary_port}"]',
                 '    allow-transfer: ["127.0.0.0/8"]',
                 "zones:"]
        lines += [f"  - name: {z}" for z in ZONES]
        return "\n".join(lines) + "\n"


class TemplatePrimariesTest(unittest.TestCase):
    """Two proxies serving the three zones from files stand in for two
    primaries: one at serial 1, the other at serial 2."""

    def setUp(self):
        self.uppers = []
        for serial in (1, 2):
            zones = [ProxyZone(z, zone_text(z, serial)) for z in ZONES]
            self.uppers.append(XfrProxy(zones).start())
        self.proxy = DefaultTemplateProxy(self.uppers[0].port)
        self.proxy.start(wait=False)
        xfrtest.wait_tcp(self.proxy.port, proc=self.proxy.process)

    def tearDown(self):
        alive = self.proxy.alive()
        code = self.proxy.stop()
        log = self.proxy.log()
        self.proxy.dir.cleanup()
        for u in self.uppers:
            u.cleanup()
        self.assertTrue(alive, log[-3000:])
        self.assertEqual(code, 0, log[-3000:])

    def test_new_primaries_in_the_template_reach_every_zone(self):
        for z in ZONES:
            self.proxy.wait_serial(z, 1)
        # The SOA REFRESH is two hours: only the changed primaries, checked
        # at once on reload, can bring serial 2.
        self.proxy.primary_port = self.uppers[1].port
        self.proxy.write_config()
        self.proxy.reload()
        for z in ZONES:
            self.proxy.wait_serial(z, 2)
            recs = transfer_records(tcp_transfer(self.proxy.port, query(z, AXFR)))
            txt = [r.rdata[1:] for r in recs if r.owner.lower() == f"v.{z}" and r.type == 16]
            self.assertEqual(txt, [f"{z} 2".encode()])


if __name__ == "__main__":
    xfrtest.main()
