"""`catalog: produce`: xfrproxy serves an RFC 9432 catalog of its zones.
AXFR lists every member once under a stable label; a reload that adds a
zone makes a new serial whose IXFR is exactly the added PTR, one that
changes nothing keeps the serial, and state-dir keeps serial and journal
across a restart."""
import re
import unittest

import xfrtest
from xfrproxy_run import (AXFR, IXFR, NOERROR, SOA, ProxyZone, XfrProxy, query,
                          read_name, tcp_transfer, transfer_records)

CATALOG = "catalog.test."
FOLLOWED = "followed.test."
PTR, TXT, NS = 12, 16, 2
LABEL = re.compile(r"^[0-9a-f]{16}\.zones\." + re.escape(CATALOG) + "$")


def zone_text(name, serial=1):
    return (f"$ORIGIN {name}\n$TTL 3600\n"
            f"@ IN SOA ns1 hostmaster {serial} 7200 900 1209600 300\n"
            "@ IN NS ns1\nns1 IN A 192.0.2.1\n")


class CatalogProxy(XfrProxy):
    """An XfrProxy whose config also has the produced catalog entry and a
    followed zone."""

    def __init__(self, zones, **kw):
        super().__init__(zones, **kw)
        self.dead_port = xfrtest.free_port()

    def config_text(self):
        # A followed zone whose primary never answers is a member too: the
        # catalog lists what is configured, served yet or not.
        entry = (f"  - name: {CATALOG}\n    catalog: produce\n"
                 '    allow-transfer: ["127.0.0.0/8"]\n'
                 f'  - {{name: {FOLLOWED}, primaries: ["127.0.0.1:{self.dead_port}"]}}\n')
        return super().config_text().replace("zones:\n", "zones:\n" + entry, 1)


def ptr_target(rr):
    return read_name(rr.rdata, 0)[0]


class CatalogProducerTest(unittest.TestCase):
    def setUp(self):
        self.zones = [ProxyZone(n, zone_text(n)) for n in ("a.test.", "B.test.")]
        self.proxy = CatalogProxy(self.zones, extra="state-dir: state\n").start()
        self.proxy.wait_serial(CATALOG, None)

    def tearDown(self):
        alive = self.proxy.alive()
        code = self.proxy.stop()
        log = self.proxy.log()
        self.proxy.dir.cleanup()
        self.assertTrue(alive, log[-3000:])
        self.assertEqual(code, 0, log[-3000:])

    def axfr(self):
        msgs = tcp_transfer(self.proxy.port, query(CATALOG, AXFR))
        self.assertTrue(all(m.rcode == NOERROR for m in msgs))
        recs = transfer_records(msgs)
        self.assertEqual(recs[0].key(), recs[-1].key())
        return recs[0].soa_serial(), recs[:-1]

    def members(self, recs):
        """{member name: PTR owner} of a catalog's records."""
        out = {}
        for r in recs:
            if r.type == PTR:
                self.assertRegex(r.owner, LABEL)
                self.assertNotIn(ptr_target(r), out, "one PTR per member")
                out[ptr_target(r)] = r.owner.lower()
        return out

    def reload(self):
        code, out, err = self.proxy.ctl("reload")
        self.assertEqual(code, 0, out + err)

    def add_zone(self, name):
        z = ProxyZone(name, zone_text(name))
        self.proxy.zones.append(z)
        self.proxy.write_zone(z, z.text)
        self.proxy.write_config()
        self.reload()
        self.proxy.wait_serial(name, 1)

    def test_axfr_lists_every_zone_with_version_2(self):
        serial, recs = self.axfr()
        self.assertEqual(set(self.members(recs)), {"a.test.", "b.test.", FOLLOWED})
        txt = [r for r in recs if r.type == TXT]
        self.assertEqual([(r.owner.lower(), r.rdata) for r in txt],
                         [("version." + CATALOG, b"\x012")])
        ns = [r for r in recs if r.type == NS]
        self.assertEqual([ptr_target(r) for r in ns], ["invalid."])
        soa = [r for r in recs if r.type == SOA][0]
        self.assertEqual(read_name(soa.rdata, 0)[0], "invalid.")
        self.assertEqual(len(recs), 6)

    def test_ctl_refresh_of_the_catalog_says_it_has_no_primary(self):
        code, out, err = self.proxy.ctl("refresh", CATALOG)
        self.assertNotEqual(code, 0)
        self.assertIn("is a catalog xfrproxy produces", out + err)
        code, out, err = self.proxy.ctl("status", CATALOG)
        self.assertEqual(code, 0, out + err)
        self.assertIn("catalog of 3 zones", out)

    def test_reload_adds_a_member_by_ixfr_and_keeps_labels(self):
        s1, recs1 = self.axfr()
        before = self.members(recs1)
        # Nothing changed in membership: same serial, nothing to transfer.
        self.reload()
        self.assertEqual(self.axfr()[0], s1)

        self.add_zone("c.test.")
        s2 = self.proxy.wait_serial(CATALOG, None)
        self.assertNotEqual(s2, s1)
        self.assertLess((s2 - s1) % 2**32, 2**31, "RFC 1982 increase")
        _, recs2 = self.axfr()
        after = self.members(recs2)
        self.assertEqual({k: after[k] for k in before}, before, "labels are stable")

        msgs = tcp_transfer(self.proxy.port, query(CATALOG, IXFR, ixfr_serial=s1))
        recs = transfer_records(msgs)
        self.assertEqual([r.type for r in recs], [SOA, SOA, SOA, PTR, SOA])
        self.assertEqual(recs[1].soa_serial(), s1)
        self.assertEqual(recs[2].soa_serial(), s2)
        self.assertEqual(ptr_target(recs[3]), "c.test.")
        self.assertEqual(recs[3].owner.lower(), after["c.test."])

        # A restart serves the same serial and journal from state-dir.
        self.proxy.stop()
        self.proxy.start()
        self.assertEqual(self.proxy.wait_serial(CATALOG, None), s2)
        recs = transfer_records(
            tcp_transfer(self.proxy.port, query(CATALOG, IXFR, ixfr_serial=s1)))
        self.assertEqual([r.type for r in recs], [SOA, SOA, SOA, PTR, SOA])

        # Removing a zone deletes its PTR, and only that.
        self.proxy.zones = [z for z in self.proxy.zones if z.name != "a.test."]
        self.proxy.write_config()
        self.reload()
        s3 = self.proxy.wait_serial(CATALOG, None)
        self.assertNotEqual(s3, s2)
        recs = transfer_records(
            tcp_transfer(self.proxy.port, query(CATALOG, IXFR, ixfr_serial=s2)))
        self.assertEqual([r.type for r in recs], [SOA, SOA, PTR, SOA, SOA])
        self.assertEqual(ptr_target(recs[2]), "a.test.")


if __name__ == "__main__":
    xfrtest.main()
