"""Proxied names are served as edge addresses (README "Proxied
names"), end to end through xfrproxy serving a master file:

  - the AXFR is the rewritten view: at www and at every name below cdn the
    A/AAAA/CNAME RRsets are the edge addresses with the policy's TTL, other
    types pass, cdn itself and a proxied name without addresses are left
    alone;
  - a change of the origin address at a proxied name gives an IXFR with the
    SOA change only;
  - a policy change on SIGHUP waits for the next serial, and then the IXFR
    holds exactly the deletions and additions of the name entering the
    policy;
  - the condensed IXFR from the first serial applied to its AXFR gives the
    last AXFR;
  - after a restart from state-dir the rewritten view is served as saved and
    the next change is still an exact IXFR.
"""
import os
import unittest

import xfrtest
from xfrproxy_run import ProxyZone, XfrProxy

ZONE = "example.com."
EDGE4 = ["203.0.113.1", "203.0.113.2"]
EDGE6 = ["2001:db8:ed9e::1"]
POLICY = {"names": ["www.example.com.", "*.cdn.example.com."],
          "edge-v4": EDGE4, "edge-v6": EDGE6, "ttl": 300}


def zone_text(serial, www="192.0.2.80", extra=()):
    lines = [
        "$ORIGIN example.com.",
        "$TTL 3600",
        f"@ IN SOA ns1 hostmaster {serial} 3600 600 86400 300",
        "@ IN NS ns1",
        "@ IN A 192.0.2.10",
        "ns1 IN A 192.0.2.1",
        f"www IN A {www}",
        "www IN AAAA 2001:db8::80",
        'www IN TXT "web"',
        "shop IN A 192.0.2.30",
        "cdn IN A 192.0.2.40",
        "a.cdn IN A 192.0.2.41",
        "b.x.cdn 600 IN CNAME origin.example.net.",
        'txtonly.cdn IN TXT "no address"',
        "mail IN MX 10 mail",
        "mail IN A 192.0.2.25",
        *extra,
    ]
    return "\n".join(lines) + "\n"


def edges(owner):
    return ({(owner, 300, "IN", "A", a) for a in EDGE4}
            | {(owner, 300, "IN", "AAAA", a) for a in EDGE6})


def expected_view(serial, www_proxied=True, shop_proxied=False):
    """The rewritten zone as dig prints it, written out by hand."""
    soa = ("example.com.", 3600, "IN", "SOA",
           f"ns1.example.com. hostmaster.example.com. {serial} 3600 600 86400 300")
    out = {
        soa,
        ("example.com.", 3600, "IN", "NS", "ns1.example.com."),
        ("example.com.", 3600, "IN", "A", "192.0.2.10"),
        ("ns1.example.com.", 3600, "IN", "A", "192.0.2.1"),
        ("www.example.com.", 3600, "IN", "TXT", '"web"'),
        ("cdn.example.com.", 3600, "IN", "A", "192.0.2.40"),
        ("txtonly.cdn.example.com.", 3600, "IN", "TXT", '"no address"'),
        ("mail.example.com.", 3600, "IN", "MX", "10 mail.example.com."),
        ("mail.example.com.", 3600, "IN", "A", "192.0.2.25"),
    }
    out |= edges("a.cdn.example.com.") | edges("b.x.cdn.example.com.")
    out |= edges("www.example.com.") if www_proxied else set()
    out |= edges("shop.example.com.") if shop_proxied else {
        ("shop.example.com.", 3600, "IN", "A", "192.0.2.30")}
    return out


def axfr(port):
    return set(xfrtest.dig_axfr(port, ZONE))


def ixfr(port, serial):
    """(deleted, added) of an incremental answer, as sets; fails on an
    AXFR-style answer."""
    text = xfrtest.dig(port, ZONE, f"IXFR={serial}", "+nocmd", "+nostats", "+noall", "+answer")
    recs = xfrtest.parse_records(text)
    soas = [i for i, r in enumerate(recs) if r[3] == "SOA"]
    if len(recs) < 4 or recs[1][3] != "SOA":
        raise AssertionError(f"IXFR from {serial} is not incremental:\n{text[-2000:]}")
    deleted, added, section = set(), set(), None
    for r in recs[1:-1]:
        if r[3] == "SOA":
            section = "del" if section in (None, "add") else "add"
            continue
        (deleted if section == "del" else added).add(r)
    assert soas[-1] == len(recs) - 1
    return deleted, added


def apply_ixfr(view, serial_to, diff):
    deleted, added = diff
    soa = {r for r in view if r[3] == "SOA"}
    body = (view - soa - deleted) | added
    new_soa = next(iter(soa))
    parts = new_soa[4].split()
    parts[2] = str(serial_to)
    return body | {new_soa[:4] + (" ".join(parts),)}


class RewriteTest(unittest.TestCase):
    def test_rewrite_through_changes_reload_and_restart(self):
        zone = ProxyZone(ZONE, zone_text(1), proxied=dict(POLICY))
        proxy = XfrProxy([zone])
        proxy.extra = f"state-dir: {proxy.path('state')}\n"
        with proxy:
            v1 = axfr(proxy.port)
            self.assertEqual(v1, expected_view(1))

            # The origin moved: nothing changes downstream but the SOA.
            proxy.write_zone(zone, zone_text(2, www="192.0.2.99"))
            proxy.reload()
            proxy.wait_serial(ZONE, 2)
            self.assertEqual(ixfr(proxy.port, 1), (set(), set()))
            self.assertEqual(axfr(proxy.port), expected_view(2))

            # shop becomes proxied: not before the next serial...
            zone.proxied["names"] = POLICY["names"] + ["shop.example.com."]
            start = len(proxy.log())
            proxy.write_config()
            proxy.reload()
            proxy.wait_log("SIGHUP", start=start)
            proxy.wait_log("reloading", start=start)
            self.assertEqual(axfr(proxy.port), expected_view(2))
            # ...and then exactly its own records change.
            proxy.write_zone(zone, zone_text(3, www="192.0.2.99"))
            proxy.reload()
            proxy.wait_serial(ZONE, 3)
            self.assertEqual(ixfr(proxy.port, 2), (
                {("shop.example.com.", 3600, "IN", "A", "192.0.2.30")},
                edges("shop.example.com.")))
            v3 = axfr(proxy.port)
            self.assertEqual(v3, expected_view(3, shop_proxied=True))
            self.assertIn("rewritten from scratch (policy changed)", proxy.log())
            # The condensed diff from serial 1 agrees with the AXFRs.
            self.assertEqual(apply_ixfr(v1, 3, ixfr(proxy.port, 1)), v3)

            self.assertEqual(proxy.stop(), 0)
            self.assertTrue(os.path.exists(proxy.path("state/example.com.rewritten")),
                            os.listdir(proxy.path("state")))
            proxy.start()  # a new log
            proxy.wait_serial(ZONE, 3)
            self.assertEqual(axfr(proxy.port), v3)
            self.assertIn("state-dir holds a rewritten view", proxy.log())
            # www leaves the policy and gets a new TXT at the next serial.
            zone.proxied["names"] = ["*.cdn.example.com.", "shop.example.com."]
            proxy.write_config()
            proxy.write_zone(zone, zone_text(4, www="192.0.2.99", extra=['www IN TXT "v4"']))
            proxy.reload()
            proxy.wait_serial(ZONE, 4)
            self.assertEqual(ixfr(proxy.port, 3), (
                edges("www.example.com."),
                {("www.example.com.", 3600, "IN", "A", "192.0.2.99"),
                 ("www.example.com.", 3600, "IN", "AAAA", "2001:db8::80"),
                 ("www.example.com.", 3600, "IN", "TXT", '"v4"')}))
            v4 = axfr(proxy.port)
            self.assertEqual(apply_ixfr(v1, 4, ixfr(proxy.port, 1)), v4)
            self.assertEqual(apply_ixfr(v3, 4, ixfr(proxy.port, 3)), v4)


if __name__ == "__main__":
    xfrtest.main()
