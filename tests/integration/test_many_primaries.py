"""A provider's list of 31 primaries of which only the last answers: the
zone must still converge, not wait a query timeout per silent address.

Thirty UDP sockets are bound and never answer (a firewall that drops
packets, the worst case: no ICMP error to fail fast on); the real primary
comes last. With a 10 s query timeout, asking in turn would take five
minutes before reaching it; the test allows one minute."""
import socket
import unittest

import xfrtest
from fake_primary import FakePrimary, UpstreamProxy, make_records, primary_addr

ZONE = "example.com."
SILENT = 30


class ManyPrimariesTest(unittest.TestCase):
    def test_converges_through_thirty_silent_primaries(self):
        silent = []
        for _ in range(SILENT):
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.bind(("127.0.0.1", 0))
            silent.append(s)
        primary = FakePrimary(ZONE)
        primary.publish(make_records(ZONE, 1, 50))
        primary.start()
        addrs = [f"127.0.0.1:{s.getsockname()[1]}" for s in silent] + [primary_addr(primary)]
        proxy = UpstreamProxy([{"name": ZONE, "primaries": addrs}],
                              limits={"upstream-query-timeout": "10s"})
        try:
            proxy.start()
            proxy.wait_serial(ZONE, 1, timeout=60)
            # Every silent primary was asked too: none was skipped blindly.
            for s in silent:
                s.settimeout(5)
                self.assertTrue(s.recvfrom(512)[0], "a silent primary got no SOA query")
            # A change is followed the same way.
            primary.publish(make_records(ZONE, 2, 50))
            primary.notify(proxy.port)
            proxy.wait_serial(ZONE, 2, timeout=60)
        finally:
            proxy.cleanup()
            primary.stop()
            for s in silent:
                s.close()


if __name__ == "__main__":
    xfrtest.main()
