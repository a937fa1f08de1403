"""Tiers of transfer servers: xfrproxy following xfrproxy works as well as
xfrproxy following BIND.

    named (primary, TSIG key k, NOTIFY to the first tier)
      -> xfrproxy A (primary-key k; its secondary is B)
        -> xfrproxy B (follows A unsigned; its secondaries are knotd and NSD)
          -> knotd, NSD

Every SOA says REFRESH a day, so only NOTIFY can move a change. After one
change on named the test asserts that it went down by IXFR at every hop:
A's log says IXFR from named, B's log says IXFR from A, knotd logs an
incoming IXFR and NSD answers an IXFR from the old serial incrementally
(it keeps only diffs it received as IXFR: store-ixfr, no create-ixfr).
Every tier then holds exactly named's content; A's /peers lists B in sync;
and B answers the RFC 7314 EXPIRE option with no more time than A has left
(the expiry is carried down, so a bottom tier never outlives its source).

A missing server binary fails the test (never a skip).
"""
import os
import re
import time
import unittest

import servers
import xfrtest
from fake_primary import UpstreamProxy
from test_real_secondaries import ixfr_shape
from test_upstream_real_primaries import KnotSecondary, NsdSecondary, PrimaryBind
from xfrproxy_run import ProxyKey, ServerGroup

ZONE = "example.com."
RECORDS = 400
KEY = servers.Key.random("tier-k")
TOOLS = ["named", "rndc", "knotd", "knotc", "nsd", "nsd-control", "nsd-checkconf", "dig"]
EXPIRE = 604800


def zone_text(serial):
    """Version `serial`, with a small diff from the one before."""
    lines = servers.make_zone(ZONE, RECORDS, serial=serial).splitlines()
    lines = [f"@ IN SOA ns1.{ZONE} hostmaster.{ZONE} {serial} 86400 3600 {EXPIRE} 300"
             if l.startswith("@ IN SOA") else l for l in lines]
    gone = {f"host{2 * serial}", f"txt{2 * serial + 1}"}
    lines = [l for l in lines if l.split(" ", 1)[0] not in gone]
    lines += [f"v{serial} IN A 192.0.2.{serial % 250}", f'version IN TXT "serial {serial}"']
    return "\n".join(lines) + "\n"


def axfr(port, key=None):
    return xfrtest.dig_axfr(port, ZONE, *(["-y", key.dig_spec()] if key else []))


def expire_option(port):
    """The EXPIRE option (RFC 7314) a server answers to an SOA query."""
    text = xfrtest.dig(port, ZONE, "SOA", "+expire", "+tcp", "+norec")
    m = re.search(r"EXPIRE: (\d+)", text)
    if not m:
        raise AssertionError(f"no EXPIRE option from port {port}:\n{text}")
    return int(m.group(1))


class TiersTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        xfrtest.require_tools(TOOLS)

    def setUp(self):
        self.servers = ServerGroup()
        self.addCleanup(self.servers.close)

    def test_a_change_goes_down_by_ixfr_at_every_hop(self):
        port_a, port_b = xfrtest.free_port(), xfrtest.free_port()
        bind_zone = servers.Zone(ZONE, text=zone_text(1), transfer_keys=[KEY],
                                 notify=[("127.0.0.1", port_a)])
        named = self.servers.start(PrimaryBind([bind_zone]))
        bottom = [("127.0.0.1", port_b)]
        knot = KnotSecondary([servers.Zone(ZONE, primaries=bottom)])
        nsd = NsdSecondary([servers.Zone(ZONE, primaries=bottom)])

        tier_a = self.servers.start(UpstreamProxy(
            [{"name": ZONE, "primaries": [f"127.0.0.1:{named.port}"],
              "primary_key": KEY.bare_name, "notify_from": ["127.0.0.1/32"],
              "secondaries": [{"address": f"127.0.0.1:{port_b}"}]}],
            keys=[ProxyKey(KEY.bare_name, KEY.algorithm, KEY.secret)], port=port_a,
            http_port=xfrtest.free_port()))
        tier_a.wait_serial(ZONE, 1, timeout=30)
        tier_b = self.servers.start(UpstreamProxy(
            [{"name": ZONE, "primaries": [f"127.0.0.1:{port_a}"],
              "notify_from": ["127.0.0.1/32"],
              "secondaries": [{"address": f"127.0.0.1:{s.port}"} for s in (knot, nsd)]}],
            port=port_b, http_port=xfrtest.free_port()))
        tier_b.wait_serial(ZONE, 1, timeout=30)
        for s in (knot, nsd):
            self.servers.start(s)
            servers.wait_soa(s.port, ZONE, serial=1, timeout=30, proc=s.process)

        mark_a, mark_b, mark_knot = len(tier_a.log()), len(tier_b.log()), len(knot.log())
        named.write_zone(bind_zone, zone_text(2))
        # named reloads a file only when its mtime moved: make sure it did.
        t = time.time() + 2
        os.utime(named.path(bind_zone.file_name), (t, t))
        named.reload()
        servers.wait_soa(named.port, ZONE, serial=2, timeout=20, proc=named.process)

        # Moved by NOTIFY alone, by IXFR at each hop.
        tier_a.wait_log(f"1 -> 2 by IXFR from 127.0.0.1:{named.port}", start=mark_a, timeout=30)
        tier_b.wait_log(f"1 -> 2 by IXFR from 127.0.0.1:{port_a}", start=mark_b, timeout=30)
        for name, s in (("knotd", knot), ("nsd", nsd)):
            try:
                servers.wait_soa(s.port, ZONE, serial=2, timeout=30, proc=s.process)
            except TimeoutError as e:
                self.fail(f"{name} did not follow the second tier: {e}\n{s.log()[-2000:]}")
        xfrtest.wait_for("knotd logs an incoming IXFR", lambda: re.search(
            r"\[example\.com\.\] IXFR, incoming, remote [^\n]*, finished",
            knot.log()[mark_knot:]), timeout=10)
        self.assertEqual(ixfr_shape(nsd.port, ZONE, 1), "incremental",
                         f"NSD took the change as an AXFR:\n{nsd.log()[-2000:]}")

        want = axfr(named.port, key=KEY)
        for name, port in (("A", port_a), ("B", port_b), ("knotd", knot.port),
                           ("nsd", nsd.port)):
            self.assertEqual(axfr(port), want, f"{name} at serial 2")

        # The upper tier sees the lower tier's proxy as an in-sync peer.
        def b_in_sync():
            z = tier_a.peers(ZONE) or {}
            peers = {p.get("address"): p for p in z.get("peers", [])}
            p = peers.get(f"127.0.0.1:{port_b}")
            return p if p and p.get("state") == "in-sync" and p.get("serial") == 2 else None
        xfrtest.wait_for("tier B in sync in A's /peers", b_in_sync, timeout=20)

        # EXPIRE carried down: B has no more time left than A.
        left_a = expire_option(port_a)
        left_b = expire_option(port_b)
        self.assertLessEqual(left_b, left_a)
        self.assertGreater(left_b, EXPIRE - 600)


if __name__ == "__main__":
    xfrtest.main()
