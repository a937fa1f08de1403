"""state-dir: what xfrproxy served survives kill -9, and IXFR from persisted
serials keeps working after a restart without asking the primary.

A first xfrproxy serves a zone from a file and NOTIFYs a second one, which
follows it and persists to state-dir. The second is killed with SIGKILL
(no chance to flush anything) right after it served a new serial, and
restarted with the primary gone: it must serve that serial at once, answer
IXFR from every older serial with the exact diff, and keep doing so across
further kills."""
import os
import signal
import time
import unittest

import servers
import xfrtest
from xfrproxy_run import (AXFR, IXFR, NOERROR, SOA, ProxyZone, XfrProxy, query,
                          tcp_transfer, transfer_records, udp_query)

ZONE = "example.com."


def zone_text(serial, extra=""):
    return servers.make_zone(ZONE, 300, serial=serial) + extra


class Follower:
    """An xfrproxy that follows `primary_port` and persists to state-dir."""

    def __init__(self, tmp, primary_port, port):
        self.tmp = tmp
        self.port = port
        self.config = tmp.file("follower.yaml", f"""
listen: ["127.0.0.1:{port}"]
threads: 2
state-dir: {tmp.path}/state
zones:
  - name: {ZONE}
    primaries: ["127.0.0.1:{primary_port}"]
    allow-transfer: ["127.0.0.0/8"]
""")
        self.proc = None
        self.runs = 0

    def start(self):
        self.runs += 1
        log = os.path.join(self.tmp.path, f"follower-{self.runs}.log")
        self.proc = xfrtest.Process([xfrtest.binary("proxy", "xfrproxy"), "--config", self.config],
                                    log)
        xfrtest.wait_tcp(self.port, proc=self.proc)

    def kill9(self):
        self.proc.signal(signal.SIGKILL)
        self.proc.proc.wait()
        self.proc.stop()

    def serial(self):
        m = udp_query(self.port, query(ZONE, SOA), timeout=1.0)
        if m.rcode != NOERROR or not m.answer:
            return None
        return m.answer[0].soa_serial()

    def wait_serial(self, serial, timeout=30.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if self.serial() == serial:
                    return
            except OSError:
                pass
            time.sleep(0.05)
        raise AssertionError(f"follower never served serial {serial}:\n{self.proc.log()[-3000:]}")


def axfr_set(port):
    recs = transfer_records(tcp_transfer(port, query(ZONE, AXFR)))
    return sorted(r.key() for r in recs[1:-1])


class PersistenceTest(unittest.TestCase):
    def test_kill9_then_restart_serves_last_version_and_journal(self):
        tmp = xfrtest.TempDir()
        try:
            self.run_scenario(tmp)
        finally:
            tmp.cleanup()

    def run_scenario(self, tmp):
        follower_port = xfrtest.free_port()
        zone = ProxyZone(ZONE, zone_text(1),
                         secondaries=[{"address": f"127.0.0.1:{follower_port}"}])
        primary = XfrProxy([zone]).start()
        follower = Follower(tmp, primary.port, follower_port)
        try:
            follower.start()
            follower.wait_serial(1)
            versions = {1: axfr_set(primary.port)}
            for serial in range(2, 6):
                extra = "".join(f"added{i}-{serial} 300 IN A 192.0.2.{i}\n" for i in range(serial))
                primary.write_zone(zone, zone_text(serial, extra))
                primary.reload()
                primary.wait_serial(ZONE, serial)
                versions[serial] = axfr_set(primary.port)
                follower.wait_serial(serial)  # learnt by NOTIFY, served
                if serial in (3, 5):
                    # Killed right after serving: nothing may be lost.
                    follower.kill9()
                    follower.start()
                    follower.wait_serial(serial, timeout=10)
            primary.stop()
            primary.cleanup()
            primary = None
            # The primary is gone; the follower still has everything.
            follower.kill9()
            follower.start()
            follower.wait_serial(5, timeout=10)
            self.assertEqual(axfr_set(follower.port), versions[5])
            for old in range(1, 5):
                msgs = tcp_transfer(follower.port, query(ZONE, IXFR, ixfr_serial=old))
                recs = transfer_records(msgs)
                # RFC 1995: an incremental answer (second record the old
                # SOA), not the whole zone, and exactly the difference.
                self.assertEqual(recs[1].type, SOA, f"IXFR from {old} not incremental")
                self.assertEqual(recs[1].soa_serial(), old)
                soa_at = [i for i, r in enumerate(recs) if r.type == SOA]
                self.assertEqual(len(soa_at), 4, f"IXFR from {old} not condensed")
                deleted = sorted(r.key() for r in recs[soa_at[1] + 1:soa_at[2]])
                added = sorted(r.key() for r in recs[soa_at[2] + 1:soa_at[3]])
                want_del = sorted(set(versions[old]) - set(versions[5]))
                want_add = sorted(set(versions[5]) - set(versions[old]))
                self.assertEqual(deleted, want_del, f"deletions from {old}")
                self.assertEqual(added, want_add, f"additions from {old}")
        finally:
            if follower.proc is not None:
                follower.proc.stop()
            if primary is not None:
                primary.cleanup()


if __name__ == "__main__":
    xfrtest.main()
