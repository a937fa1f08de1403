"""xfrproxy follows real primaries: BIND 9.18 and Knot DNS 3.2.

1. named (ixfr-from-differences, also-notify to xfrproxy) -> xfrproxy ->
   knotd, NSD and named as xfrproxy's secondaries. After each of several
   changes on named (new zone file, SIGHUP), named NOTIFYs xfrproxy, which
   takes the change by IXFR; each secondary is then refreshed explicitly
   (xfrproxy sends no NOTIFY downstream yet) and must hold exactly named's
   content (AXFR compared). named must have served exactly one transfer per
   version to xfrproxy (its xfer-out log), however many transfers the
   secondaries made from xfrproxy.
2. knotd as primary with `notify` to xfrproxy: xfrproxy converges and takes
   each change by IXFR (its log says so).
3. TSIG with different keys on each side: knotd gives the zone only with key
   A (xfrproxy's primary-key; knotd's NOTIFY is signed with A too); a knotd
   secondary gets it from xfrproxy only with key B; all converge.

A missing server binary fails the test (never a skip).
"""
import os
import re
import time
import unittest

import nsd_server
import servers
import xfrtest
from fake_primary import UpstreamProxy
from xfrproxy_run import ProxyKey, ServerGroup

ZONE = "example.com."
RECORDS = 600
DIG_SOURCE = "127.0.0.2"  # our own AXFRs from named, not counted as xfrproxy's
TOOLS = ["named", "rndc", "knotd", "knotc", "nsd", "nsd-control", "nsd-checkconf", "dig"]


def zone_text(serial, records=RECORDS):
    """Version `serial`: make_zone's content, minus a few records and plus
    a few others that depend on the serial, so each change is a small diff."""
    lines = servers.make_zone(ZONE, records, serial=serial).splitlines()
    gone = {f"host{2 * serial}", f"txt{2 * serial + 1}"}
    lines = [l for l in lines if l.split(" ", 1)[0] not in gone]
    lines += [f"v{serial} IN A 192.0.2.{serial % 250}",
              f'version IN TXT "serial {serial}"',
              f"mail IN MX 10 mx{serial}"]
    return "\n".join(lines) + "\n"


def axfr(port, zone=ZONE, key=None, source=None):
    """`source` binds dig to another loopback address (so a primary's log
    tells its transfers from xfrproxy's, which come from 127.0.0.1)."""
    args = ["-y", key.dig_spec()] if key else []
    return xfrtest.dig_axfr(port, zone, *args, *(["-b", source] if source else []))


class PrimaryBind(servers.BindServer):
    """named as a primary that computes IXFR diffs from zone file changes."""

    def _write_config(self):
        argv = super()._write_config()
        conf = self.path("named.conf")
        with open(conf) as f:
            text = f.read()
        if "    notify explicit;" not in text:
            raise AssertionError("servers.BindServer config changed: no 'notify explicit;'")
        text = text.replace("    notify explicit;",
                            "    notify explicit;\n    ixfr-from-differences yes;")
        with open(conf, "w") as f:
            f.write(text)
        return argv

    def transfers_out(self, zone, client="127.0.0.1"):
        """(kind, client port) of every finished outgoing transfer of `zone`
        to `client` (xfrproxy's address) in named's xfer-out log."""
        pat = re.compile(r"client @\S+ " + re.escape(client) + r"#(\d+)[^\n]*transfer of '"
                         + re.escape(zone.rstrip(".")) + r"/IN': (AXFR|IXFR) ended")
        return [(m.group(2), m.group(1)) for m in pat.finditer(self.log())]


class PrimaryKnot(servers.KnotServer):
    """knotd as a primary whose NOTIFYs are signed with `notify_key`."""

    def __init__(self, *args, notify_key=None, **kw):
        super().__init__(*args, **kw)
        self.notify_key = notify_key

    def _write_config(self):
        argv = super()._write_config()
        if self.notify_key is None:
            return argv
        conf = self.path("knot.conf")
        with open(conf) as f:
            lines = f.read().splitlines()
        out = []
        for line in lines:
            out.append(line)
            # "  - id: notifyI_J" then its "    address: ..." line.
            if line.strip().startswith("address:") and out[-2].strip().startswith("- id: notify"):
                out.append(f"    key: {self.notify_key.bare_name}")
        with open(conf, "w") as f:
            f.write("\n".join(out) + "\n")
        return argv

    def serial(self, zone=ZONE):
        r = servers.query_soa(self.port, zone)
        return r[1] if r else None


class KnotSecondary(servers.KnotServer):
    def refresh(self, zone):
        xfrtest.run([xfrtest.tool("knotc"), "-s", self.path("knot.sock"), "zone-refresh", zone])


class NsdSecondary(nsd_server.NsdServer):
    def refresh(self, zone):
        self.control("transfer", zone)


class BindSecondary(servers.BindServer):
    """named with an rndc channel on loopback, to ask for a refresh."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.rndc_port = xfrtest.free_port()
        self.rndc_key = servers.Key.random("rndc-key")

    def _write_config(self):
        argv = super()._write_config()
        conf = self.path("named.conf")
        with open(conf) as f:
            text = f.read()
        if "controls { };" not in text:
            raise AssertionError("servers.BindServer config changed: no 'controls { };'")
        k = self.rndc_key
        key = f'key "{k.bare_name}" {{ algorithm {k.algorithm}; secret "{k.secret}"; }};'
        text = text.replace("controls { };", key + "\ncontrols { inet 127.0.0.1 port "
                            f'{self.rndc_port} allow {{ 127.0.0.1; }} keys {{ "{k.bare_name}"; }}; }};')
        with open(conf, "w") as f:
            f.write(text)
        with open(self.path("rndc.conf"), "w") as f:
            f.write(key + "\noptions { default-server 127.0.0.1; "
                    f'default-port {self.rndc_port}; default-key "{k.bare_name}"; }};\n')
        return argv

    def refresh(self, zone):
        xfrtest.run([xfrtest.tool("rndc"), "-c", self.path("rndc.conf"), "refresh",
                     zone.rstrip(".")])


class RealPrimariesTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        xfrtest.require_tools(TOOLS)

    def setUp(self):
        self.servers = ServerGroup()
        self.addCleanup(self.servers.close)

    def bump_file(self, server, zone, text):
        server.write_zone(zone, text)
        # named reloads a file only when its mtime moved: make sure it did.
        p = server.path(zone.file_name)
        t = time.time() + 2
        os.utime(p, (t, t))

    def test_bind_primary_to_knot_nsd_bind_secondaries(self):
        proxy_port = xfrtest.free_port()
        bind_zone = servers.Zone(ZONE, text=zone_text(1), notify=[("127.0.0.1", proxy_port)])
        named = self.servers.start(PrimaryBind([bind_zone]))
        proxy = self.servers.start(UpstreamProxy(
            [{"name": ZONE, "primaries": [f"127.0.0.1:{named.port}"]}], port=proxy_port))
        proxy.wait_serial(ZONE, 1, timeout=30)
        primary = [("127.0.0.1", proxy_port)]
        secondaries = {
            "knotd": KnotSecondary([servers.Zone(ZONE, primaries=primary)]),
            "nsd": NsdSecondary([servers.Zone(ZONE, primaries=primary)]),
            "named": BindSecondary([servers.Zone(ZONE, primaries=primary)]),
        }
        for name, s in secondaries.items():
            self.servers.start(s)
        for name, s in secondaries.items():
            servers.wait_soa(s.port, ZONE, serial=1, timeout=30, proc=s.process)
        self.assertEqual(axfr(proxy.port), axfr(named.port, source=DIG_SOURCE))

        changes = [2, 3, 4, 5]
        for serial in changes:
            start = len(proxy.log())
            self.bump_file(named, bind_zone, zone_text(serial))
            named.reload()
            servers.wait_soa(named.port, ZONE, serial=serial, timeout=20, proc=named.process)
            # named's NOTIFY brings it to xfrproxy; nothing else asks.
            proxy.wait_serial(ZONE, serial, timeout=20)
            proxy.wait_log(f"{serial - 1} -> {serial} by IXFR from 127.0.0.1:{named.port}",
                           start=start, timeout=5)
            want = axfr(named.port, source=DIG_SOURCE)
            self.assertEqual(axfr(proxy.port), want, f"xfrproxy at serial {serial}")
            for name, s in secondaries.items():
                s.refresh(ZONE)
            for name, s in secondaries.items():
                try:
                    servers.wait_soa(s.port, ZONE, serial=serial, timeout=30, proc=s.process)
                except TimeoutError as e:
                    self.fail(f"{name} did not follow xfrproxy to {serial}: {e}\n{s.log()[-2000:]}")
                self.assertEqual(axfr(s.port), want, f"{name} at serial {serial}")
            # More downstream load on xfrproxy alone: full transfers by dig.
            for _ in range(3):
                self.assertEqual(axfr(proxy.port), want)

        # One transfer per version from named to xfrproxy (the first AXFR,
        # then one IXFR per change), whatever the secondaries asked of it.
        out = named.transfers_out(ZONE)
        self.assertEqual(len(out), 1 + len(changes), f"named's transfers out: {out}\n"
                         + named.log()[-3000:])
        self.assertEqual([k for k, _ in out], ["AXFR"] + ["IXFR"] * len(changes))
        self.assertEqual(len([1 for _, c in named.transfers_out(ZONE, "127.0.0.2")]),
                         1 + len(changes), "the test's own AXFRs from named")

    def test_knot_primary_changes_by_ixfr(self):
        proxy_port = xfrtest.free_port()
        kzone = servers.Zone(ZONE, text=zone_text(1), notify=[("127.0.0.1", proxy_port)])
        knot = self.servers.start(PrimaryKnot([kzone]))
        proxy = self.servers.start(UpstreamProxy(
            [{"name": ZONE, "primaries": [f"127.0.0.1:{knot.port}"]}], port=proxy_port))
        serial = proxy.wait_serial(ZONE, knot.serial(), timeout=30)
        self.assertEqual(axfr(proxy.port), axfr(knot.port))
        for version in (2, 3, 4):
            start = len(proxy.log())
            knot.write_zone(kzone, zone_text(version))
            knot.reload()
            deadline = time.monotonic() + 20
            while knot.serial() == serial and time.monotonic() < deadline:
                time.sleep(0.1)
            new = knot.serial()
            self.assertNotEqual(new, serial, f"knotd did not load version {version}")
            proxy.wait_serial(ZONE, new, timeout=20)
            proxy.wait_log(f"{serial} -> {new} by IXFR from 127.0.0.1:{knot.port}",
                           start=start, timeout=5)
            self.assertEqual(axfr(proxy.port), axfr(knot.port))
            serial = new

    def test_tsig_different_keys_upstream_and_downstream(self):
        key_a = servers.Key.random("upstream-a")
        key_b = servers.Key.random("downstream-b")
        proxy_port = xfrtest.free_port()
        kzone = servers.Zone(ZONE, text=zone_text(1), transfer_keys=[key_a],
                             notify=[("127.0.0.1", proxy_port)])
        knot = self.servers.start(PrimaryKnot([kzone], notify_key=key_a))
        # Without key A knotd refuses the zone.
        text = xfrtest.dig(knot.port, ZONE, "AXFR", "+noall", "+answer")
        self.assertNotIn("SOA", text)

        second_port = xfrtest.free_port()
        proxy = self.servers.start(UpstreamProxy(
            [{"name": ZONE, "primaries": [f"127.0.0.1:{knot.port}"], "primary_key": key_a.bare_name,
              "secondaries": [{"address": f"127.0.0.1:{second_port}", "key": key_b.bare_name,
                               "notify": False}]}],
            keys=[ProxyKey(k.bare_name, k.algorithm, k.secret) for k in (key_a, key_b)],
            port=proxy_port))
        serial = proxy.wait_serial(ZONE, knot.serial(), timeout=30)
        # Downstream, xfrproxy wants key B: not A, not nothing.
        for k in (None, key_a):
            args = ["-y", k.dig_spec()] if k else []
            text = xfrtest.dig(proxy.port, *args, ZONE, "AXFR", "+noall", "+answer")
            self.assertNotIn("\tSOA\t", text, f"xfrproxy gave the zone with key {k}")
        self.assertEqual(axfr(proxy.port, key=key_b), axfr(knot.port, key=key_a))

        secondary = KnotSecondary([servers.Zone(ZONE, primaries=[("127.0.0.1", proxy_port)],
                                                primary_key=key_b)], port=second_port)
        self.servers.start(secondary)
        servers.wait_soa(secondary.port, ZONE, serial=serial, timeout=30, proc=secondary.process)

        start = len(proxy.log())
        knot.write_zone(kzone, zone_text(2))
        knot.reload()
        deadline = time.monotonic() + 20
        while knot.serial() == serial and time.monotonic() < deadline:
            time.sleep(0.1)
        new = knot.serial()
        self.assertNotEqual(new, serial)
        # knotd's NOTIFY, signed with A, reaches xfrproxy.
        proxy.wait_serial(ZONE, new, timeout=20)
        proxy.wait_log(f"{serial} -> {new} by IXFR", start=start, timeout=5)
        secondary.refresh(ZONE)
        servers.wait_soa(secondary.port, ZONE, serial=new, timeout=30, proc=secondary.process)
        want = axfr(knot.port, key=key_a)
        self.assertEqual(axfr(proxy.port, key=key_b), want)
        self.assertEqual(axfr(secondary.port), want)


if __name__ == "__main__":
    xfrtest.main()
