"""A real knotd (3.2) provisions itself from the catalog xfrproxy produces
(RFC 9432): it is configured with the catalog zone only (`catalog-role:
interpret`, members made from a template whose master is xfrproxy), and
serves every file zone of xfrproxy with xfrproxy's content. A zone added
to xfrproxy's config (SIGHUP) reaches knotd through the catalog's NOTIFY
and IXFR, and a zone removed from it is dropped by knotd.

A missing server binary fails the test (never a skip)."""
import os
import re
import subprocess
import unittest

import servers
import xfrtest
from xfrproxy_run import AXFR, ProxyZone, XfrProxy, query, tcp_transfer, transfer_records

CATALOG = "catalog.test."
TOOLS = ["knotd", "knotc"]


def zone_text(name, serial=1, hosts=20):
    body = "".join(f"h{i} IN TXT \"{name} host {i}\"\n" for i in range(hosts))
    return (f"$ORIGIN {name}\n$TTL 3600\n"
            f"@ IN SOA ns1 hostmaster {serial} 7200 900 1209600 300\n"
            "@ IN NS ns1\nns1 IN A 192.0.2.1\n" + body)


class CatalogProxy(XfrProxy):
    """xfrproxy whose config also has the produced catalog, NOTIFYing the
    consumer at `consumer_port`."""

    def __init__(self, zones, consumer_port, **kw):
        super().__init__(zones, **kw)
        self.consumer_port = consumer_port

    def config_text(self):
        entry = (f"  - name: {CATALOG}\n    catalog: produce\n"
                 '    allow-transfer: ["127.0.0.0/8"]\n'
                 f'    secondaries: [{{address: "127.0.0.1:{self.consumer_port}"}}]\n')
        return super().config_text().replace("zones:\n", "zones:\n" + entry, 1)


class KnotCatalogConsumer(servers.KnotServer):
    """knotd configured with nothing but xfrproxy's catalog: its member
    zones come from the catalog and are built on the `member` template."""

    def __init__(self, proxy_port, port):
        super().__init__([], port=port)
        self.proxy_port = proxy_port

    def _write_config(self):
        d = self.dir.path
        out = [
            "server:",
            f'    rundir: "{d}"',
            f'    pidfile: "{d}/knot.pid"',
            f"    listen: {xfrtest.LOOPBACK}@{self.port}",
            "    background-workers: 1",
            "    udp-workers: 1",
            "    tcp-workers: 2",
            "database:",
            f'    storage: "{d}/db"',
            "control:",
            f'    listen: "{d}/knot.sock"',
            "log:",
            "  - target: stderr",
            "    any: info",
            "remote:",
            "  - id: xfrproxy",
            f"    address: {xfrtest.LOOPBACK}@{self.proxy_port}",
            "acl:",
            "  - id: from_xfrproxy",
            "    address: [127.0.0.0/8]",
            "    action: [notify, transfer]",
            "template:",
            "  - id: default",
            f'    storage: "{d}"',
            "    zonefile-sync: -1",
            "    journal-content: all",
            "    semantic-checks: off",
            "  - id: member",
            f'    storage: "{d}"',
            "    zonefile-sync: -1",
            "    journal-content: all",
            "    semantic-checks: off",
            "    master: xfrproxy",
            "    acl: from_xfrproxy",
            "zone:",
            f"  - domain: {CATALOG}",
            "    master: xfrproxy",
            "    acl: from_xfrproxy",
            "    catalog-role: interpret",
            "    catalog-template: member",
        ]
        conf = self.path("knot.conf")
        with open(conf, "w") as f:
            f.write("\n".join(out) + "\n")
        os.makedirs(self.path("db"), exist_ok=True)
        return [xfrtest.tool("knotd"), "-c", conf]


def axfr_set(port, zone):
    recs = transfer_records(tcp_transfer(port, query(zone, AXFR)))
    return sorted(r.key() for r in recs[:-1])


class CatalogProducerInteropTest(unittest.TestCase):
    def setUp(self):
        xfrtest.require_tools(TOOLS)
        self.knot_port = xfrtest.free_port()
        self.proxy_port = xfrtest.free_port()
        self.zones = [ProxyZone(n, zone_text(n), allow_transfer=["127.0.0.0/8"],
                                secondaries=[{"address": f"127.0.0.1:{self.knot_port}"}])
                      for n in ("a.test.", "b.test.", "c.test.")]
        self.proxy = CatalogProxy(self.zones, self.knot_port, port=self.proxy_port).start()
        self.addCleanup(self.proxy.cleanup)
        self.proxy.wait_serial(CATALOG, None)
        self.knot = KnotCatalogConsumer(self.proxy_port, self.knot_port)
        self.knot.start()
        self.addCleanup(self.knot.cleanup)

    def wait_member(self, name, serial=1):
        try:
            servers.wait_soa(self.knot.port, name, serial=serial, timeout=30,
                             proc=self.knot.process)
        except Exception as e:
            raise AssertionError(f"knotd did not serve {name}: {e}\n{self.knot.log()[-3000:]}")

    def catalog_serial_on_knot(self):
        """The catalog's serial as knotd holds it (knotd answers no queries
        for a catalog it interprets, so ask knotc)."""
        r = subprocess.run([xfrtest.tool("knotc"), "-s", self.knot.path("knot.sock"),
                            "zone-status", CATALOG], capture_output=True, text=True, timeout=30)
        m = re.search(r"serial: (\d+)", r.stdout)
        return int(m.group(1)) if m else None

    def wait_catalog_on_knot(self, serial):
        xfrtest.wait_for(f"knotd holds catalog serial {serial}",
                         lambda: self.catalog_serial_on_knot() == serial, timeout=30)

    def assert_same(self, name):
        self.assertEqual(axfr_set(self.knot.port, name), axfr_set(self.proxy.port, name), name)

    def test_knot_serves_every_member_and_follows_changes(self):
        for z in self.zones:
            self.wait_member(z.name)
            self.assert_same(z.name)
        s1 = self.proxy.wait_serial(CATALOG, None)
        self.wait_catalog_on_knot(s1)

        # A zone added on xfrproxy: a new catalog serial, NOTIFY, and knotd
        # takes the change by IXFR and starts following the new member.
        d = ProxyZone("d.test.", zone_text("d.test."), allow_transfer=["127.0.0.0/8"],
                      secondaries=[{"address": f"127.0.0.1:{self.knot_port}"}])
        self.proxy.zones.append(d)
        self.proxy.write_zone(d, d.text)
        self.proxy.write_config()
        self.proxy.reload()
        self.proxy.wait_serial("d.test.", 1)
        self.wait_member("d.test.")
        self.assert_same("d.test.")
        s2 = self.proxy.wait_serial(CATALOG, None)
        self.assertNotEqual(s2, s1)
        self.wait_catalog_on_knot(s2)
        self.assertIn(f"[{CATALOG}] IXFR, incoming", self.knot.log())

        # A removed zone: knotd stops serving it (it answers REFUSED for
        # a zone it does not have).
        self.proxy.zones = [z for z in self.proxy.zones if z.name != "a.test."]
        self.proxy.write_config()
        self.proxy.reload()
        xfrtest.wait_for("knotd drops a.test.",
                         lambda: (servers.query_soa(self.knot.port, "a.test.") or (0,))[0] != 0,
                         timeout=30)
        self.wait_member("b.test.")


if __name__ == "__main__":
    xfrtest.main()
