"""Real secondaries hold the rewritten zone (README "Proxied
names"):

    knotd (primary, NOTIFY) -> xfrproxy with a `proxied` policy
        -> knotd, NSD and named as secondaries (xfrproxy NOTIFYs them)

For the first version and after each change on the primary (an origin
address moving at a proxied name, a new name below the wildcard, a CNAME
turning into an A, a name leaving the reach of the policy):
  - xfrproxy's AXFR equals the primary's AXFR rewritten by this test's own
    reading of the rules (an oracle written independently of the C++);
  - xfrproxy took the change from knotd by IXFR, policy or not;
  - every secondary follows through xfrproxy's NOTIFY alone and holds exactly
    xfrproxy's AXFR;
  - `dig` at proxied names on every secondary returns the edge addresses.

A missing server binary fails the test (never a skip).
"""
import unittest

import nsd_server
import servers
import xfrtest
from fake_primary import UpstreamProxy
from xfrproxy_run import ServerGroup

ZONE = "example.com."
EDGE4 = ["203.0.113.1", "203.0.113.2"]
EDGE6 = ["2001:db8:ed9e::1"]
POLICY = {"names": ["www.example.com.", "*.cdn.example.com."],
          "edge-v4": EDGE4, "edge-v6": EDGE6, "ttl": 300}
TOOLS = ["knotd", "knotc", "nsd", "nsd-control", "nsd-checkconf", "named", "dig"]
REPLACED = {"A", "AAAA", "CNAME"}


def zone_text(version):
    """Version 1..4 of the primary's zone."""
    lines = servers.make_zone(ZONE, 300, serial=100 + version).splitlines()
    www = "192.0.2.80" if version < 2 else "192.0.2.99"
    lines += [f"www IN A {www}", "www IN AAAA 2001:db8::80", 'www IN TXT "web"',
              "cdn IN A 192.0.2.40", "a.cdn IN A 192.0.2.41",
              'a.cdn IN TXT "kept"', "deep.x.cdn IN AAAA 2001:db8::42"]
    lines.append("b.cdn IN CNAME origin.example.net." if version < 3 else "b.cdn IN A 192.0.2.43")
    if version >= 2:
        lines.append("new.cdn IN A 192.0.2.77")
    if version < 4:
        lines.append("gone.cdn IN A 192.0.2.44")
    return "\n".join(lines) + "\n"


def proxied(owner):
    owner = owner.lower()
    return owner == "www.example.com." or (owner.endswith(".cdn.example.com."))


def rewrite(records):
    """The oracle: the README's rules applied to dig-parsed records."""
    out, touched = set(), set()
    for r in records:
        owner, ttl, cls, typ, rdata = r
        if proxied(owner) and (typ in REPLACED or
                               (typ == "RRSIG" and rdata.split()[0] in REPLACED)):
            if typ in REPLACED:
                touched.add(owner)
            continue
        out.add(r)
    for owner in touched:
        out |= {(owner, 300, "IN", "A", a) for a in EDGE4}
        out |= {(owner, 300, "IN", "AAAA", a) for a in EDGE6}
    return out


def axfr(port):
    return set(xfrtest.dig_axfr(port, ZONE))


def lookup(port, name, qtype):
    text = xfrtest.dig(port, name, qtype, "+norec", "+noall", "+answer")
    return sorted(r[4] for r in xfrtest.parse_records(text) if r[3] == qtype)


class RewriteRealSecondariesTest(unittest.TestCase):
    def setUp(self):
        xfrtest.require_tools(TOOLS)
        self.servers = ServerGroup()
        self.addCleanup(self.servers.close)

    def start(self, s):
        return self.servers.start(s)

    def test_secondaries_hold_the_rewritten_zone(self):
        proxy_port = xfrtest.free_port()
        upstream = [("127.0.0.1", proxy_port)]
        secondaries = {
            "knotd": servers.KnotServer([servers.Zone(ZONE, primaries=upstream)]),
            "nsd": nsd_server.NsdServer([servers.Zone(ZONE, primaries=upstream)]),
            "named": servers.BindServer([servers.Zone(ZONE, primaries=upstream)]),
        }
        kzone = servers.Zone(ZONE, text=zone_text(1), notify=upstream)
        knot = self.start(servers.KnotServer([kzone]))
        proxy = self.start(UpstreamProxy(
            [{"name": ZONE, "primaries": [f"127.0.0.1:{knot.port}"], "proxied": POLICY,
              "secondaries": [{"address": f"127.0.0.1:{s.port}"} for s in secondaries.values()]}],
            port=proxy_port))
        serial = proxy.wait_serial(ZONE, 101, timeout=30)
        for s in secondaries.values():
            self.start(s)

        for version in (1, 2, 3, 4):
            if version > 1:
                start = len(proxy.log())
                knot.write_zone(kzone, zone_text(version))
                knot.reload()
                serial = 100 + version
                servers.wait_soa(knot.port, ZONE, serial=serial, timeout=20, proc=knot.process)
                # knotd's NOTIFY brings the change; nothing else asks.
                proxy.wait_serial(ZONE, serial, timeout=20)
                proxy.wait_log(f"{serial - 1} -> {serial} by IXFR from 127.0.0.1:{knot.port}",
                               start=start, timeout=5)
            want = rewrite(axfr(knot.port))
            self.assertEqual(axfr(proxy.port), want, f"xfrproxy at version {version}")
            for name, s in secondaries.items():
                with self.subTest(secondary=name, version=version):
                    try:
                        servers.wait_soa(s.port, ZONE, serial=serial, timeout=30, proc=s.process)
                    except TimeoutError as e:
                        self.fail(f"{name} did not follow xfrproxy's NOTIFY to {serial}: {e}\n"
                                  f"{s.log()[-2000:]}")
                    self.assertEqual(axfr(s.port), want)
                    for owner in ("www", "a.cdn", "b.cdn", "deep.x.cdn") + (
                            ("new.cdn",) if version >= 2 else ()):
                        self.assertEqual(lookup(s.port, f"{owner}.{ZONE}", "A"), EDGE4, owner)
                        self.assertEqual(lookup(s.port, f"{owner}.{ZONE}", "AAAA"), EDGE6, owner)
                    self.assertEqual(lookup(s.port, f"cdn.{ZONE}", "A"), ["192.0.2.40"])
                    self.assertEqual(lookup(s.port, f"a.cdn.{ZONE}", "TXT"), ['"kept"'])
                    self.assertEqual(lookup(s.port, f"gone.cdn.{ZONE}", "A"),
                                     EDGE4 if version < 4 else [])


if __name__ == "__main__":
    xfrtest.main()
