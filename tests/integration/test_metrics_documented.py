"""Every metric family the daemon exports is described in docs/operations.md.

An operator reads the docs to write alerts; a metric added without a line
there is one they cannot find. The families are read from a running
xfrproxy's /metrics (its TYPE lines), not from the source."""
import os
import re
import socket
import unittest
import urllib.request

import servers
import xfrtest
from xfrproxy_run import ProxyZone, XfrProxy

ZONE = "example.com."


class MetricsDocumentedTest(unittest.TestCase):
    def test_every_family_is_in_operations_md(self):
        with open(os.path.join(xfrtest.SOURCE_DIR, "docs", "operations.md")) as f:
            docs = f.read()
        documented = set(re.findall(r"`(xfrproxy_[a-z_]+)", docs))

        http_port = xfrtest.free_port()
        peer = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        peer.bind(("127.0.0.1", 0))
        zone = ProxyZone(ZONE, servers.make_zone(ZONE, 20, serial=3),
                         secondaries=[{"address": f"127.0.0.1:{peer.getsockname()[1]}"}])
        try:
            with XfrProxy([zone], extra=f'http: "127.0.0.1:{http_port}"\n'):
                xfrtest.wait_tcp(http_port)
                url = f"http://127.0.0.1:{http_port}/metrics"
                with urllib.request.urlopen(url, timeout=10) as r:
                    text = r.read().decode()
        finally:
            peer.close()
        families = set(re.findall(r"^# TYPE (\S+) ", text, re.M))
        # A zone with secondaries exports the per-zone and per-peer families
        # too; without them this test would check only the global ones.
        self.assertIn("xfrproxy_zone_serial", families)
        self.assertIn("xfrproxy_peers_in_sync", families)
        missing = sorted(families - documented)
        self.assertEqual(missing, [], "exported but not in docs/operations.md")


if __name__ == "__main__":
    xfrtest.main()
