"""A proxied zone survives kill -9 and keeps following its primary (issue 10,
the first bug: after a restart every refresh failed with "IXFR of … needs the
version it starts from").

    knotd (primary, IXFR from its journal, NOTIFY) -> xfrproxy with a
    `proxied` policy and a state-dir

  1. xfrproxy takes version 1 and serves it rewritten;
  2. SIGKILL; knotd is stopped too, so nothing but the state-dir can
     supply data; xfrproxy restarted with the same config serves the
     rewritten version 1 at once;
  3. knotd is back and makes a change: xfrproxy takes it by AXFR (a
     restored rewritten view is no base for the primary's IXFR: README
     "Proxied names");
  4. the next change comes by IXFR;
and at each step xfrproxy's AXFR equals knotd's AXFR rewritten by the
oracle of test_rewrite_real_secondaries (written apart from the C++).

Awaits the refresh machine (issue 10) for steps 3 and 4.
A missing server binary fails the test (never a skip).
"""
import unittest

import servers
import xfrtest
from fake_primary import UpstreamProxy
from test_rewrite_real_secondaries import POLICY, ZONE, axfr, rewrite, zone_text
from xfrproxy_run import ServerGroup

TOOLS = ["knotd", "knotc", "dig"]


class RestartProxiedTest(unittest.TestCase):
    def setUp(self):
        xfrtest.require_tools(TOOLS)
        self.servers = ServerGroup()
        self.addCleanup(self.servers.close)

    def test_kill9_restart_then_axfr_then_ixfr(self):
        proxy_port = xfrtest.free_port()
        kzone = servers.Zone(ZONE, text=zone_text(1), notify=[("127.0.0.1", proxy_port)])
        knot = self.servers.start(servers.KnotServer([kzone]))
        proxy = self.servers.start(UpstreamProxy(
            [{"name": ZONE, "primaries": [f"127.0.0.1:{knot.port}"], "proxied": POLICY}],
            port=proxy_port, state_dir=True))
        proxy.wait_serial(ZONE, 101, timeout=30)
        want = rewrite(axfr(knot.port))
        self.assertEqual(axfr(proxy.port), want, "before the kill")

        proxy.kill9()
        knot.stop()
        proxy.start()
        try:
            proxy.wait_serial(ZONE, 101, timeout=10)
        except TimeoutError as e:
            self.fail(f"not served from the state-dir after kill -9: {e}")
        self.assertEqual(axfr(proxy.port), want, "restored from the state-dir")

        knot.start()
        for version, kind in ((2, "AXFR"), (3, "IXFR")):
            serial = 100 + version
            start = len(proxy.log())
            knot.write_zone(kzone, zone_text(version))
            knot.reload()
            servers.wait_soa(knot.port, ZONE, serial=serial, timeout=20, proc=knot.process)
            # knotd's NOTIFY brings it (SOA REFRESH an hour).
            try:
                proxy.wait_serial(ZONE, serial, timeout=30)
            except TimeoutError as e:
                self.fail(f"version {version} after the restart: {e}\n"
                          f"{proxy.log()[start:][-3000:]}")
            proxy.wait_log(f"{serial - 1} -> {serial} by {kind} from 127.0.0.1:{knot.port}",
                           start=start, timeout=5)
            self.assertEqual(axfr(proxy.port), rewrite(axfr(knot.port)), f"version {version}")


if __name__ == "__main__":
    xfrtest.main()
