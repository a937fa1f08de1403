"""Real secondaries provision themselves from the catalog xfrproxy produces
(RFC 9432): knotd 3.2 configured with the catalog zone only (`catalog-role:
interpret`, members made from a template whose master is xfrproxy), and
named 9.18 with a `catalog-zones` statement. Each serves every file zone
of xfrproxy with xfrproxy's content; a zone added to xfrproxy's config
(SIGHUP) reaches it through the catalog's NOTIFY and transfer (IXFR, which
Knot's log confirms), and a zone removed from it is dropped.

A missing server binary fails the test (never a skip)."""
import os
import re
import subprocess
import unittest

import servers
import xfrtest
from xfrproxy_run import AXFR, ProxyZone, XfrProxy, query, tcp_transfer, transfer_records

CATALOG = "catalog.test."


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
        out = self.server_lines() + [
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


class BindCatalogConsumer(servers.BindServer):
    """named (9.18) with xfrproxy's catalog as a secondary zone and a
    `catalog-zones` statement whose members are transferred from xfrproxy
    and kept in memory."""

    def __init__(self, proxy_port, port):
        super().__init__([servers.Zone(CATALOG, primaries=[(xfrtest.LOOPBACK, proxy_port)])],
                         port=port)
        self.proxy_port = proxy_port

    def _write_config(self):
        argv = super()._write_config()
        conf = self.path("named.conf")
        with open(conf) as f:
            text = f.read()
        anchor = "    notify explicit;\n};"
        if anchor not in text:
            raise AssertionError("servers.BindServer config changed: no options end to extend")
        text = text.replace(anchor, "    notify explicit;\n    allow-new-zones yes;\n"
                            f'    catalog-zones {{ zone "{CATALOG}" default-primaries '
                            f"{{ {xfrtest.LOOPBACK} port {self.proxy_port}; }} "
                            "in-memory yes min-update-interval 1; };\n};", 1)
        with open(conf, "w") as f:
            f.write(text)
        return argv


def axfr_set(port, zone):
    recs = transfer_records(tcp_transfer(port, query(zone, AXFR)))
    return sorted(r.key() for r in recs[:-1])


class _ConsumerTest:
    """The same story for each consumer: every member served with
    xfrproxy's content, an added zone appears, a removed one goes."""
    consumer = None  # a class taking (proxy_port, port)
    tools = []

    def setUp(self):
        xfrtest.require_tools(self.tools)
        self.consumer_port = xfrtest.free_port()
        self.proxy_port = xfrtest.free_port()
        self.zones = [self.proxy_zone(n) for n in ("a.test.", "b.test.", "c.test.")]
        self.proxy = CatalogProxy(self.zones, self.consumer_port, port=self.proxy_port).start()
        self.addCleanup(self.proxy.cleanup)
        self.proxy.wait_serial(CATALOG, None)
        self.server = self.consumer(self.proxy_port, self.consumer_port)
        self.server.start()
        self.addCleanup(self.server.cleanup)

    def proxy_zone(self, name):
        # The consumer is NOTIFYed of member changes too, as an operator
        # would list it.
        return ProxyZone(name, zone_text(name), allow_transfer=["127.0.0.0/8"],
                         secondaries=[{"address": f"127.0.0.1:{self.consumer_port}"}])

    def wait_member(self, name, serial=1):
        try:
            servers.wait_soa(self.server.port, name, serial=serial, timeout=30,
                             proc=self.server.process)
        except Exception as e:
            raise AssertionError(f"{self.server.name} did not serve {name}: {e}\n"
                                 f"{self.server.log()[-3000:]}")

    def catalog_serial(self):
        r = servers.query_soa(self.server.port, CATALOG)
        return r[1] if r and r[0] == 0 else None

    def wait_catalog(self, serial):
        xfrtest.wait_for(f"{self.server.name} holds catalog serial {serial}",
                         lambda: self.catalog_serial() == serial, timeout=30)

    def assert_same(self, name):
        self.assertEqual(axfr_set(self.server.port, name), axfr_set(self.proxy.port, name), name)

    def test_serves_every_member_and_follows_changes(self):
        for z in self.zones:
            self.wait_member(z.name)
            self.assert_same(z.name)
        s1 = self.proxy.wait_serial(CATALOG, None)
        self.wait_catalog(s1)

        # A zone added on xfrproxy: a new catalog serial, NOTIFY, and the
        # consumer takes the change and starts following the new member.
        d = self.proxy_zone("d.test.")
        self.proxy.zones.append(d)
        self.proxy.write_zone(d, d.text)
        self.proxy.write_config()
        self.proxy.reload()
        self.proxy.wait_serial("d.test.", 1)
        self.wait_member("d.test.")
        self.assert_same("d.test.")
        s2 = self.proxy.wait_serial(CATALOG, None)
        self.assertNotEqual(s2, s1)
        self.wait_catalog(s2)
        self.assert_catalog_ixfr()

        # A removed zone: the consumer stops serving it (it answers
        # REFUSED for a zone it does not have).
        self.proxy.zones = [z for z in self.proxy.zones if z.name != "a.test."]
        self.proxy.write_config()
        self.proxy.reload()
        xfrtest.wait_for(f"{self.server.name} drops a.test.",
                         lambda: (servers.query_soa(self.server.port, "a.test.") or (0,))[0] != 0,
                         timeout=30)
        self.wait_member("b.test.")

    def assert_catalog_ixfr(self):
        pass


class KnotConsumerTest(_ConsumerTest, unittest.TestCase):
    consumer = KnotCatalogConsumer
    tools = ["knotd", "knotc"]

    def catalog_serial(self):
        """knotd answers no queries for a catalog it interprets: ask knotc."""
        r = subprocess.run([xfrtest.tool("knotc"), "-s", self.server.path("knot.sock"),
                            "zone-status", CATALOG], capture_output=True, text=True, timeout=30)
        m = re.search(r"serial: (\d+)", r.stdout)
        return int(m.group(1)) if m else None

    def assert_catalog_ixfr(self):
        self.assertIn(f"[{CATALOG}] IXFR, incoming", self.server.log())


class BindConsumerTest(_ConsumerTest, unittest.TestCase):
    consumer = BindCatalogConsumer
    tools = ["named"]


if __name__ == "__main__":
    xfrtest.main()
