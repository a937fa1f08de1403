"""Per-zone series on /metrics follow `metrics:` (docs/configuration.md):
left out above `max-zone-series` with one warning at load, back when a
reload raises the bound, gone again with `per-zone: false`; the zone totals
stay in every mode."""
import time
import unittest
import urllib.request

import servers
import xfrtest
from xfrproxy_run import ProxyZone, XfrProxy

ZONES = ["a.example.", "b.example.", "c.example."]


def scrape(port):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as r:
        return r.read().decode()


def has_zone_series(text):
    return any("{zone=" in line for line in text.splitlines())


class MetricsSeriesTest(unittest.TestCase):
    def wait_metrics(self, port, want_per_zone, timeout=20.0):
        """The page once its per-zone series are as wanted (a reload is
        applied asynchronously)."""
        deadline = time.monotonic() + timeout
        text = scrape(port)
        while has_zone_series(text) != want_per_zone and time.monotonic() < deadline:
            time.sleep(0.05)
            text = scrape(port)
        self.assertEqual(has_zone_series(text), want_per_zone, text)
        return text

    def test_bound_reload_and_switch(self):
        http_port = xfrtest.free_port()
        zones = [ProxyZone(z, servers.make_zone(z, 5, serial=3)) for z in ZONES]
        http = f'http: "127.0.0.1:{http_port}"\n'
        with XfrProxy(zones, extra=http + "metrics: {max-zone-series: 2}\n") as proxy:
            xfrtest.wait_tcp(http_port)
            proxy.wait_log("over max-zone-series (2)")
            self.assertEqual(proxy.log().count("over max-zone-series"), 1, proxy.log())
            text = self.wait_metrics(http_port, False)
            lines = text.splitlines()
            for line in ("xfrproxy_zones 3", "xfrproxy_zones_loaded 3",
                         "xfrproxy_zones_expired_now 0", "xfrproxy_zones_degraded 0"):
                self.assertIn(line, lines)

            proxy.extra = http + "metrics: {max-zone-series: 3}\n"
            proxy.write_config()
            proxy.reload()
            text = self.wait_metrics(http_port, True)
            self.assertIn('xfrproxy_zone_serial{zone="b.example."} 3', text.splitlines())
            self.assertIn("xfrproxy_zones_loaded 3", text.splitlines())

            proxy.extra = http + "metrics:\n  per-zone: false\n  max-zone-series: 0\n"
            proxy.write_config()
            proxy.reload()
            text = self.wait_metrics(http_port, False)
            self.assertIn("xfrproxy_zones_loaded 3", text.splitlines())


if __name__ == "__main__":
    unittest.main()
