"""NOTIFY moves a change through xfrproxy to real secondaries (issue 10):

    named (primary; transfers need TSIG key k; also-notify to xfrproxy
           WITHOUT a key, as BIND does by default)
      -> xfrproxy (primary-key: k, notify-from: the primary's address)
        -> knotd, NSD and named as xfrproxy's secondaries (NOTIFY from it)

Every SOA says REFRESH 86400 and RETRY 3600, and nobody is asked to refresh
by hand: once the first version is everywhere, only NOTIFY can move a
change. After a change on named (new zone file with a higher serial, SIGHUP:
named reloads a file whose mtime moved and computes the diff,
ixfr-from-differences) the test asserts:
  - xfrproxy accepted named's unsigned NOTIFY (xfrproxy_notify_received_total
    grew, notify_refused did not) and took the change by IXFR (its log, and
    xfrproxy_upstream_transfers_total{kind="ixfr"});
  - knotd, NSD and named hold the new serial and exactly named's content;
  - /peers lists the three secondaries, each `in-sync` at the new serial
    (fields address, serial, state, seconds_behind).
NOTIFY policy: a NOTIFY signed with a key that is not
the zone's is refused and moves nothing, while one signed with the zone's
key is accepted; with `notify-key: required` named's unsigned NOTIFY is
refused (the zone stays where it was) and a signed one is accepted.

A missing server binary fails the test (never a skip).
"""
import os
import time
import unittest

import fake_primary as fp
import servers
import xfrtest
from fake_primary import UpstreamProxy
from test_upstream_real_primaries import BindSecondary, KnotSecondary, NsdSecondary, PrimaryBind
from xfrproxy_run import NOERROR, NOTAUTH, REFUSED, ProxyKey, ServerGroup

ZONE = "example.com."
RECORDS = 400
DIG_SOURCE = "127.0.0.2"  # the test's own AXFRs from named
TOOLS = ["named", "rndc", "knotd", "knotc", "nsd", "nsd-control", "nsd-checkconf", "dig"]
REFRESH, RETRY = 86400, 3600
PEER_STATES = {"in-sync", "lagging", "notified", "unreachable"}
ZONE_KEY = servers.Key.random("zone-k")
OTHER_KEY = servers.Key.random("other-k")  # xfrproxy knows it; not the zone's
STRANGER_KEY = servers.Key.random("stranger-k")  # xfrproxy does not know it


def zone_text(serial):
    """Version `serial`: a few records depend on the serial (a small diff
    per change); SOA REFRESH a day, RETRY an hour."""
    lines = servers.make_zone(ZONE, RECORDS, serial=serial).splitlines()
    lines = [f"@ IN SOA ns1.{ZONE} hostmaster.{ZONE} {serial} {REFRESH} {RETRY} 604800 300"
             if l.startswith("@ IN SOA") else l for l in lines]
    gone = {f"host{2 * serial}", f"txt{2 * serial + 1}"}
    lines = [l for l in lines if l.split(" ", 1)[0] not in gone]
    lines += [f"v{serial} IN A 192.0.2.{serial % 250}", f'version IN TXT "serial {serial}"']
    return "\n".join(lines) + "\n"


def axfr(port, key=None, source=None):
    args = (["-y", key.dig_spec()] if key else []) + (["-b", source] if source else [])
    return xfrtest.dig_axfr(port, ZONE, *args)


def soa_timers(port):
    """(refresh, retry) of the SOA a server answers for ZONE."""
    text = xfrtest.dig(port, ZONE, "SOA", "+noall", "+answer")
    recs = [r for r in xfrtest.parse_records(text) if r[3] == "SOA"]
    if not recs:
        raise AssertionError(f"no SOA from port {port}: {text}")
    f = recs[0][4].split()
    return int(f[3]), int(f[4])


def proxy_keys(*keys):
    return [ProxyKey(k.bare_name, k.algorithm, k.secret) for k in keys]


wait_for = xfrtest.wait_for


class RefreshRealTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        xfrtest.require_tools(TOOLS)

    def setUp(self):
        self.servers = ServerGroup()
        self.addCleanup(self.servers.close)

    def change(self, named, zone, serial):
        """A new zone file on named; SIGHUP; wait until named serves it."""
        named.write_zone(zone, zone_text(serial))
        # named reloads a file only when its mtime moved: make sure it did.
        t = time.time() + 2
        os.utime(named.path(zone.file_name), (t, t))
        named.reload()
        servers.wait_soa(named.port, ZONE, serial=serial, timeout=20, proc=named.process)

    def start_primary(self, notify_to=None):
        bind_zone = servers.Zone(ZONE, text=zone_text(1), transfer_keys=[ZONE_KEY],
                                 notify=[("127.0.0.1", notify_to)] if notify_to else [])
        named = self.servers.start(PrimaryBind([bind_zone]))
        # named gives the zone with key k only.
        text = xfrtest.dig(named.port, ZONE, "AXFR", "+noall", "+answer")
        self.assertNotIn("\tSOA\t", text, "named gave the zone without the key")
        return named, bind_zone

    def start_proxy(self, named, port=None, secondaries=(), notify_key=None, keys=()):
        zone = {"name": ZONE, "primaries": [f"127.0.0.1:{named.port}"],
                "primary_key": ZONE_KEY.bare_name, "notify_from": ["127.0.0.1/32"],
                "secondaries": [{"address": f"127.0.0.1:{s.port}"} for s in secondaries]}
        if notify_key:
            zone["notify_key"] = notify_key
        proxy = self.servers.start(UpstreamProxy(
            [zone], keys=proxy_keys(ZONE_KEY, *keys), port=port,
            http_port=xfrtest.free_port()))
        proxy.wait_serial(ZONE, 1, timeout=30)
        return proxy

    # --- the whole chain, moved by NOTIFY alone ------------------------------

    def test_unsigned_notify_moves_a_change_to_every_secondary(self):
        proxy_port = xfrtest.free_port()
        named, bind_zone = self.start_primary(notify_to=proxy_port)
        upstream = [("127.0.0.1", proxy_port)]
        secondaries = {
            "knotd": KnotSecondary([servers.Zone(ZONE, primaries=upstream)]),
            "nsd": NsdSecondary([servers.Zone(ZONE, primaries=upstream)]),
            "named": BindSecondary([servers.Zone(ZONE, primaries=upstream)]),
        }
        proxy = self.start_proxy(named, port=proxy_port, secondaries=secondaries.values())
        for s in secondaries.values():
            self.servers.start(s)
        want = axfr(named.port, key=ZONE_KEY, source=DIG_SOURCE)
        self.assertEqual(axfr(proxy.port), want, "xfrproxy at serial 1")
        for name, s in secondaries.items():
            servers.wait_soa(s.port, ZONE, serial=1, timeout=30, proc=s.process)
            self.assertEqual(soa_timers(s.port), (REFRESH, RETRY), name)
        self.assertEqual(soa_timers(proxy.port), (REFRESH, RETRY))

        before = proxy.metrics()
        start = len(proxy.log())
        self.change(named, bind_zone, 2)
        # named's NOTIFY carries no TSIG; xfrproxy must take it (it only
        # triggers a signed SOA check) rather than wait out a day.
        try:
            proxy.wait_serial(ZONE, 2, timeout=30)
        except TimeoutError as e:
            self.fail(f"xfrproxy did not follow named's unsigned NOTIFY: {e}\n"
                      f"{proxy.log()[start:][-3000:]}")
        proxy.wait_log(f"1 -> 2 by IXFR from 127.0.0.1:{named.port}", start=start, timeout=5)
        after = proxy.metrics()
        delta = lambda name: after.get(name, 0) - before.get(name, 0)  # noqa: E731
        self.assertGreaterEqual(delta("xfrproxy_notify_received_total"), 1)
        self.assertEqual(delta("xfrproxy_notify_refused_total"), 0)
        self.assertEqual(delta('xfrproxy_upstream_transfers_total{kind="ixfr"}'), 1)
        self.assertEqual(delta('xfrproxy_upstream_transfers_total{kind="axfr"}'), 0)

        want = axfr(named.port, key=ZONE_KEY, source=DIG_SOURCE)
        self.assertEqual(axfr(proxy.port), want, "xfrproxy at serial 2")
        for name, s in secondaries.items():
            with self.subTest(secondary=name):
                try:
                    servers.wait_soa(s.port, ZONE, serial=2, timeout=30, proc=s.process)
                except TimeoutError as e:
                    self.fail(f"{name} did not follow xfrproxy's NOTIFY: {e}\n{s.log()[-2000:]}")
                self.assertEqual(axfr(s.port), want)

        # /peers: every secondary known to be in sync at serial 2.
        addresses = {f"127.0.0.1:{s.port}" for s in secondaries.values()}

        seen = []

        def in_sync():
            z = proxy.peers(ZONE)
            peers = {p.get("address"): p for p in (z or {}).get("peers", [])}
            seen[:] = [peers]
            if set(peers) == addresses and all(
                    p.get("state") == "in-sync" and p.get("serial") == 2 for p in peers.values()):
                return peers
            return None

        try:
            got = wait_for("/peers", in_sync, timeout=20)
        except AssertionError:
            self.fail(f"/peers: not the three secondaries in-sync at serial 2: {seen}")
        for addr, p in got.items():
            self.assertIn(p["state"], PEER_STATES, addr)
            self.assertIn("seconds_behind", p, f"/peers entry {addr} has no seconds_behind")
            self.assertIn(p["seconds_behind"], (0, None), f"{addr} in sync yet behind")

    # --- NOTIFY policy ------------------------------------------------------

    def test_notify_signed_with_another_key_is_refused(self):
        # named sends no NOTIFY here: the only ones are the test's.
        named, bind_zone = self.start_primary()
        proxy = self.start_proxy(named, keys=[OTHER_KEY])
        self.change(named, bind_zone, 2)
        for key, rcodes in ((OTHER_KEY, {REFUSED}), (STRANGER_KEY, {REFUSED, NOTAUTH})):
            with self.subTest(key=key.bare_name):
                refused = proxy.metric("xfrproxy_notify_refused_total")
                ans = fp.send_notify(proxy.port, ZONE, serial=2, key=key)
                self.assertIsNotNone(ans, "NOTIFY not answered")
                self.assertIn(ans.rcode, rcodes)
                wait_for("notify_refused_total grew",
                         lambda: proxy.metric("xfrproxy_notify_refused_total") > refused, 5)
        # Nothing moved: named is at 2, xfrproxy stays at 1 (REFRESH a day).
        time.sleep(1.5)
        self.assertEqual(proxy.wait_serial(ZONE, None), 1, "a refused NOTIFY caused a refresh")
        self.assertEqual(proxy.metric("xfrproxy_notify_received_total"), 0)
        # The zone's own key is accepted and moves it.
        ans = fp.send_notify(proxy.port, ZONE, serial=2, key=ZONE_KEY)
        self.assertIsNotNone(ans)
        self.assertEqual(ans.rcode, NOERROR)
        proxy.wait_serial(ZONE, 2, timeout=20)
        self.assertEqual(axfr(proxy.port), axfr(named.port, key=ZONE_KEY, source=DIG_SOURCE))

    def test_notify_key_required_refuses_unsigned(self):
        proxy_port = xfrtest.free_port()
        named, bind_zone = self.start_primary(notify_to=proxy_port)
        proxy = self.start_proxy(named, port=proxy_port, notify_key="required")
        refused = proxy.metric("xfrproxy_notify_refused_total")
        # named's own NOTIFY (unsigned) is refused: nothing moves.
        self.change(named, bind_zone, 2)
        wait_for("named's unsigned NOTIFY refused",
                 lambda: proxy.metric("xfrproxy_notify_refused_total") > refused, 20)
        ans = fp.send_notify(proxy.port, ZONE, serial=2)
        self.assertIsNotNone(ans)
        self.assertEqual(ans.rcode, REFUSED)
        time.sleep(1.5)
        self.assertEqual(proxy.wait_serial(ZONE, None), 1, "an unsigned NOTIFY was obeyed")
        self.assertEqual(proxy.metric("xfrproxy_notify_received_total"), 0)
        # Signed with the zone's key: accepted.
        ans = fp.send_notify(proxy.port, ZONE, serial=2, key=ZONE_KEY)
        self.assertIsNotNone(ans)
        self.assertEqual(ans.rcode, NOERROR)
        proxy.wait_serial(ZONE, 2, timeout=20)
        self.assertEqual(proxy.metric("xfrproxy_notify_received_total"), 1)


if __name__ == "__main__":
    xfrtest.main()
