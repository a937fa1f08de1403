"""Single flight: secondaries notified directly by the
primary ask xfrproxy for a serial it has not fetched yet. Their requests
wait on ONE upstream transfer and are then answered from the new data; the
primary sees one transfer however many secondaries ask."""
import concurrent.futures
import unittest

import xfrtest
from fake_primary import FakePrimary, UpstreamProxy, make_records, primary_addr
from xfrproxy_run import IXFR, SOA, query, tcp_transfer, transfer_records

ZONE = "example.com."
CLIENTS = 40


class SingleFlightTest(unittest.TestCase):
    def test_requests_ahead_of_the_cache_wait_on_one_transfer(self):
        primary = FakePrimary(ZONE)
        primary.publish(make_records(ZONE, 1, 100))
        primary.start()
        proxy = UpstreamProxy([{"name": ZONE, "primaries": [primary_addr(primary)]}], threads=2)
        try:
            proxy.start()
            proxy.wait_serial(ZONE, 1, timeout=30)
            before = primary.count("IXFR") + primary.count("AXFR")
            # The primary moves on and tells only the secondaries (no NOTIFY
            # to the proxy): they come asking for serial 2 at once.
            primary.publish(make_records(ZONE, 2, 100))

            def ask(_):
                msgs = tcp_transfer(proxy.port, query(ZONE, IXFR, ixfr_serial=2), timeout=30)
                recs = transfer_records(msgs)
                return [r.soa_serial() for r in recs if r.type == SOA]

            with concurrent.futures.ThreadPoolExecutor(max_workers=CLIENTS) as pool:
                answers = list(pool.map(ask, range(CLIENTS)))
            # Each got the SOA of serial 2 alone (they are current now), not
            # the stale serial 1 the proxy had when they asked.
            self.assertEqual(answers, [[2]] * CLIENTS)
            self.assertEqual(primary.count("IXFR") + primary.count("AXFR") - before, 1,
                             "the primary must see one transfer for all the waiting clients")
        finally:
            proxy.cleanup()
            primary.stop()


if __name__ == "__main__":
    xfrtest.main()
