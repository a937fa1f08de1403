"""xfrproxy as a secondary of a misbehaving primary (tests/lib/fake_primary.py).

Every broken transfer must leave the served version untouched: xfrproxy
follows the fake primary and serves serial N; the primary moves to N+1 but
breaks the transfer (cut short, stalled, dead mid-message, wrong ID or
question, closing SOA mismatch, an error rcode, too many records, TSIG
unsigned or wrong); after a NOTIFY xfrproxy's log names the problem, an AXFR
from xfrproxy still equals version N record for record, and once the primary
behaves again xfrproxy converges to N+1 (SOA refresh 2 s, retry 1 s).

IXFR troubles that RFC 1995 §4 answers with an AXFR (NOTIMP, REFUSED,
FORMERR, diffs starting from another serial or not joining) must converge by
one IXFR attempt then one AXFR on the same refresh, and so must SERVFAIL and
NOTAUTH (issue 10: any rcode other than NOERROR), the failed IXFR counted in
xfrproxy_upstream_transfer_failures_total and _axfr_fallbacks_total. Also: ten dead primaries before the live
one; a burst of 50 NOTIFYs costs the primary at most two SOA queries and one
transfer; a NOTIFY from outside notify-from is REFUSED and checks nothing;
EXPIRE (RFC 1035 §3.3.13) turns answers into SERVFAIL after the primary dies
and back when it returns; EDNS EXPIRE (RFC 7314) from the primary caps
xfrproxy's own; TSIG both ways with the primary checking every query.
"""
import time
import unittest

import fake_primary as fp
from fake_primary import UpstreamProxy, primary_addr
import xfrtest
from xfrproxy_run import (AXFR, EDNS_EXPIRE, NOERROR, REFUSED, SERVFAIL, SOA,
                          ProxyKey, query, tcp_transfer, transfer_records, tsig_sign,
                          udp_query)

ZONE = "example.com."
SIGNED = "signed.example."
RECORDS = 120  # with 4 records per message: a 32-message AXFR
NOTIMP, FORMERR, NOTAUTH = 4, 1, 9


def soa_rcode(port, zone):
    try:
        return udp_query(port, query(zone, SOA), timeout=1.0).rcode
    except OSError:
        return None


def wait_rcode(port, zone, rcode, timeout, proc=None):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = soa_rcode(port, zone)
        if last == rcode:
            return
        time.sleep(0.1)
    raise AssertionError(f"{zone}: rcode {rcode} not seen in {timeout}s (last {last})"
                         + (f"\n{proc.log()[-3000:]}" if proc else ""))


class ProxyCase(unittest.TestCase):
    """Helpers shared by the test classes."""

    def assert_serves(self, proxy, primary, serial, key=None):
        """xfrproxy's AXFR equals the primary's version `serial` exactly."""
        q = query(primary.zone, AXFR)
        if key is not None:
            q = tsig_sign(q, key)
        msgs = tcp_transfer(proxy.port, q)
        self.assertEqual(msgs[0].rcode, NOERROR)
        got = fp.transfer_keys(transfer_records(msgs))
        want = fp.record_keys(primary.versions[serial])
        self.assertEqual(got, want, f"xfrproxy's AXFR of {primary.zone} is not version {serial}")

    def notify(self, proxy, primary):
        ans = primary.notify(proxy.port)
        self.assertIsNotNone(ans, "NOTIFY not answered")
        self.assertEqual(ans.rcode, NOERROR)
        self.assertTrue(ans.qr)


class BrokenTransfersTest(ProxyCase):
    """One xfrproxy following two fake primaries: example.com. (plain, at
    most 300 records) and signed.example. (TSIG)."""

    @classmethod
    def setUpClass(cls):
        cls.key = ProxyKey.random("upstream-key")
        # Four records a message: an IXFR of one change takes three messages.
        cls.primary = fp.FakePrimary(ZONE, records_per_message=4)
        cls.primary.publish(cls.version(ZONE, 1))
        cls.signed = fp.FakePrimary(SIGNED, records_per_message=4, key=fp.Key(cls.key.name, cls.key.algorithm,
                                                         cls.key.secret))
        cls.signed.publish(cls.version(SIGNED, 1))
        cls.primary.start()
        cls.signed.start()
        cls.proxy = UpstreamProxy([
            {"name": ZONE, "primaries": [primary_addr(cls.primary)], "max_records": 300},
            {"name": SIGNED, "primaries": [primary_addr(cls.signed)],
             "primary_key": cls.key.name},
        ], keys=[cls.key], http_port=xfrtest.free_port())
        try:
            cls.proxy.start()
            cls.proxy.wait_serial(ZONE, 1)
            cls.proxy.wait_serial(SIGNED, 1)
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.primary.stop()
        cls.signed.stop()
        if cls.proxy.process is not None:
            code = cls.proxy.stop()
            log = cls.proxy.log()
            cls.proxy.cleanup()
            if code != 0:
                raise AssertionError(f"xfrproxy exited {code}:\n{log[-4000:]}")

    @staticmethod
    def version(zone, serial, count=RECORDS):
        return fp.make_records(zone, serial, count, refresh=2, retry=1, expire=3600)

    def broken_case(self, primary, kind, expect_log, types=("AXFR", "IXFR"), count=RECORDS,
                    **params):
        old = primary.serial
        self.proxy.wait_serial(primary.zone, old)
        start = len(self.proxy.log())
        primary.set_fault(kind, types=types, **params)
        new = primary.publish(self.version(primary.zone, old + 1, count))
        self.notify(self.proxy, primary)
        try:
            self.proxy.wait_log("keeping the served version" if "SOA" not in types
                                else "refresh failed", start=start, timeout=20)
            self.proxy.wait_log(expect_log, start=start, timeout=5)
        except TimeoutError as e:
            self.fail(f"{kind}: {e}")
        log = self.proxy.log()[start:]
        self.assertNotIn(f"-> {new} by", log, f"{kind}: a broken transfer was published")
        self.assertEqual(self.proxy.wait_serial(primary.zone, None), old)
        key = self.key if primary is self.signed else None
        self.assert_serves(self.proxy, primary, old, key)
        # The primary behaves again: the next retry (1 s) takes the change.
        primary.clear_fault()
        self.notify(self.proxy, primary)
        self.proxy.wait_serial(primary.zone, new, timeout=20)
        self.assert_serves(self.proxy, primary, new, key)

    # --- Broken AXFR/IXFR answers: the old version stays --------------------

    def test_truncated_after_one_message(self):
        self.broken_case(self.primary, "truncate", "truncated transfer", after=1)

    def test_truncated_before_any_message(self):
        self.broken_case(self.primary, "truncate", "truncated transfer", after=0)

    def test_dies_mid_message(self):
        self.broken_case(self.primary, "die", "truncated transfer", after=2)

    def test_stalls(self):
        self.broken_case(self.primary, "stall", "primary went silent", after=1)

    def test_wrong_question(self):
        self.broken_case(self.primary, "wrong_question", "not the query's")

    def test_wrong_id(self):
        self.broken_case(self.primary, "wrong_id", "has ID")

    def test_closing_soa_mismatch(self):
        self.broken_case(self.primary, "soa_mismatch", "closing SOA")

    def test_soa_answers_with_another_id_are_ignored(self):
        # A connected UDP socket still hears forged or stray answers: the
        # ID must match, so the check times out (query timeout 1 s).
        self.broken_case(self.primary, "wrong_id", "timed out", types=("SOA",))

    def test_soa_servfail(self):
        self.broken_case(self.primary, "rcode", "answered SERVFAIL", types=("SOA",),
                         rcode=SERVFAIL)

    def test_servfail_to_transfers(self):
        self.broken_case(self.primary, "rcode", "SERVFAIL", rcode=SERVFAIL)

    def test_too_many_records(self):
        # max-records is 300 for this zone; the new version has 400.
        old = self.primary.serial
        self.proxy.wait_serial(ZONE, old)
        start = len(self.proxy.log())
        big = self.primary.publish(self.version(ZONE, old + 1, 400))
        try:
            self.notify(self.proxy, self.primary)
            self.proxy.wait_log("max-records", start=start)
            self.assertIn("keeping the served version", self.proxy.log()[start:])
            self.assertEqual(self.proxy.wait_serial(ZONE, None), old)
            self.assert_serves(self.proxy, self.primary, old)
            # The primary shrinks the zone again. Its IXFR from our serial is
            # the chain old -> big -> fixed (as BIND sends it, uncondensed),
            # whose diffs together carry more than max-records although the
            # result fits: xfrproxy must still converge (by AXFR if need be).
            start = len(self.proxy.log())
            fixed = self.primary.publish(self.version(ZONE, big + 1))
            self.notify(self.proxy, self.primary)
            try:
                self.proxy.wait_serial(ZONE, fixed, timeout=15)
            except TimeoutError:
                self.fail("stuck: a zone back under max-records is never taken while the "
                          "primary's IXFR chain passes through the big version:\n"
                          + self.proxy.log()[-3000:])
            self.assert_serves(self.proxy, self.primary, fixed)
        finally:
            # Whatever happened, leave the next tests a zone that converges:
            # without the big version in its history the IXFR is small.
            if big in self.primary.versions and self.primary.serial != big:
                self.primary.forget(big)
            self.notify(self.proxy, self.primary)
            self.proxy.wait_serial(ZONE, self.primary.serial, timeout=20)

    # --- IXFR refused or broken: one IXFR, then one AXFR ---------------------

    def fallback_case(self, kind, **params):
        """The IXFR fails with `kind`; on the same refresh (no SOA check
        between the IXFR and the AXFR, so no retry timer was involved) the
        same primary is asked for an AXFR, which brings the new serial. The
        failed IXFR is counted as a transfer failure and as a fallback;
        nothing else failed."""
        old = self.primary.serial
        self.proxy.wait_serial(ZONE, old)
        start = len(self.proxy.log())
        before = self.proxy.metrics()
        with self.primary.lock:
            first = len(self.primary.requests)
        self.primary.set_fault(kind, types=("IXFR",), **params)
        try:
            new = self.primary.publish(self.version(ZONE, old + 1))
            self.notify(self.proxy, self.primary)
            self.proxy.wait_serial(ZONE, new, timeout=20)
            self.proxy.wait_log(f"-> {new} by AXFR from", start=start)
            self.assertIn("trying AXFR", self.proxy.log()[start:])
        finally:
            self.primary.clear_fault()
        self.assert_serves(self.proxy, self.primary, new)
        with self.primary.lock:
            asked = [r["type"] for r in self.primary.requests[first:]
                     if r["type"] in ("SOA", "IXFR", "AXFR") and r["opcode"] == 0]
        self.assertEqual(asked.count("IXFR"), 1, f"{kind}: IXFR attempts: {asked}")
        self.assertEqual(asked.count("AXFR"), 1, f"{kind}: AXFR attempts: {asked}")
        i, a = asked.index("IXFR"), asked.index("AXFR")
        self.assertEqual(a, i + 1, f"{kind}: not the same refresh (requests {asked})")
        self.assertEqual(self.primary.requests_of("IXFR")[-1]["ixfr_serial"], old)
        after = self.proxy.metrics()
        delta = lambda name: after.get(name, 0) - before.get(name, 0)  # noqa: E731
        self.assertEqual(delta("xfrproxy_upstream_axfr_fallbacks_total"), 1, kind)
        self.assertEqual(delta("xfrproxy_upstream_transfer_failures_total"), 1,
                         f"{kind}: the failed IXFR, and nothing else, is a failure")
        self.assertEqual(delta('xfrproxy_upstream_transfers_total{kind="axfr"}'), 1, kind)
        self.assertEqual(delta('xfrproxy_upstream_transfers_total{kind="ixfr"}'), 0, kind)

    def test_ixfr_notimp_falls_back_to_axfr(self):
        self.fallback_case("rcode", rcode=NOTIMP)

    def test_ixfr_refused_falls_back_to_axfr(self):
        self.fallback_case("rcode", rcode=REFUSED)

    def test_ixfr_formerr_falls_back_to_axfr(self):
        self.fallback_case("rcode", rcode=FORMERR)

    def test_ixfr_servfail_falls_back_to_axfr(self):
        # Any rcode other than NOERROR; BIND answers SERVFAIL when
        # its journal is unusable, while its AXFR still works.
        self.fallback_case("rcode", rcode=SERVFAIL)

    def test_ixfr_notauth_falls_back_to_axfr(self):
        self.fallback_case("rcode", rcode=NOTAUTH)

    def test_ixfr_from_another_serial_falls_back_to_axfr(self):
        self.fallback_case("ixfr_bad_start")

    def test_ixfr_diffs_that_do_not_join_fall_back_to_axfr(self):
        self.fallback_case("ixfr_gap")

    def test_ixfr_deleting_a_missing_record(self):
        # RFC 1995 leaves this to the client: apply leniently or fall back
        # to AXFR. Either way the result must be exactly the new version.
        old = self.primary.serial
        self.proxy.wait_serial(ZONE, old)
        self.primary.set_fault("ixfr_bogus_delete", types=("IXFR",))
        try:
            new = self.primary.publish(self.version(ZONE, old + 1))
            self.notify(self.proxy, self.primary)
            self.proxy.wait_serial(ZONE, new, timeout=20)
        finally:
            self.primary.clear_fault()
        self.assert_serves(self.proxy, self.primary, new)

    def test_ixfr_works(self):
        old = self.primary.serial
        self.proxy.wait_serial(ZONE, old)
        start = len(self.proxy.log())
        axfr0 = self.primary.count("AXFR")
        new = self.primary.publish(self.version(ZONE, old + 1))
        self.notify(self.proxy, self.primary)
        self.proxy.wait_serial(ZONE, new)
        self.proxy.wait_log(f"{old} -> {new} by IXFR from", start=start)
        self.assertEqual(self.primary.count("AXFR"), axfr0)
        self.assert_serves(self.proxy, self.primary, new)

    # --- TSIG ------------------------------------------------------------

    def test_tsig_every_query_signed(self):
        new = self.signed.publish(self.version(SIGNED, self.signed.serial + 1))
        self.notify(self.proxy, self.signed)
        self.proxy.wait_serial(SIGNED, new)
        self.assert_serves(self.proxy, self.signed, new, self.key)
        bad = [r for r in self.signed.requests if r["tsig"] != "ok"]
        self.assertEqual(bad, [], "queries to the keyed primary that were not signed right")
        self.assertGreater(self.signed.count("IXFR") + self.signed.count("AXFR"), 0)

    def test_tsig_wrong_mac_on_transfer(self):
        self.broken_case(self.signed, "bad_mac", "TSIG")

    def test_tsig_unsigned_transfer(self):
        self.broken_case(self.signed, "unsigned", "TSIG")

    def test_tsig_wrong_mac_on_soa(self):
        self.broken_case(self.signed, "bad_mac", "TSIG", types=("SOA",))

    def test_tsig_unsigned_soa(self):
        self.broken_case(self.signed, "unsigned", "TSIG", types=("SOA",))


class PrimariesAndNotifyTest(ProxyCase):
    def test_ten_dead_primaries_before_the_live_one(self):
        # Eight addresses where nothing listens (ICMP port unreachable) and
        # two that swallow every query (the query timeout, 1 s, runs out).
        dead = [f"127.0.0.{2 + i}:{xfrtest.free_port()}" for i in range(8)]
        silent = [fp.FakePrimary(ZONE) for _ in range(2)]
        live = fp.FakePrimary(ZONE)
        live.publish(fp.make_records(ZONE, 7, 50))
        for s in silent:
            s.publish(fp.make_records(ZONE, 99, 50))
            s.set_fault("silent", types=("SOA", "UDP", "AXFR", "IXFR"))
        with live, silent[0], silent[1]:
            proxy = UpstreamProxy([{"name": ZONE, "primaries":
                                    dead[:4] + [primary_addr(s) for s in silent] + dead[4:] +
                                    [primary_addr(live)]}])
            with proxy:
                proxy.wait_serial(ZONE, 7, timeout=30)
                self.assert_serves(proxy, live, 7)
                self.assertIn(f"by AXFR from {primary_addr(live)}", proxy.log())
            for s in silent:
                self.assertGreaterEqual(s.count("SOA"), 1, "a silent primary was never asked")
                self.assertEqual(s.count("AXFR") + s.count("IXFR"), 0)

    def test_notify_burst_and_notify_from(self):
        primary = fp.FakePrimary(ZONE)
        # REFRESH an hour: every SOA query below comes from a NOTIFY.
        primary.publish(fp.make_records(ZONE, 1, 50))
        with primary:
            proxy = UpstreamProxy([{"name": ZONE, "primaries": [primary_addr(primary)],
                                    "notify_from": ["127.0.0.1/32"]}])
            with proxy:
                proxy.wait_serial(ZONE, 1)
                # Settle: the start-up check is over once the zone is served.
                time.sleep(0.5)
                soa0 = primary.count("SOA")
                xfr0 = primary.count("IXFR") + primary.count("AXFR")
                primary.publish(fp.make_records(ZONE, 2, 50))

                # From 127.0.0.9, outside notify-from: REFUSED, no check.
                ans = primary.notify(proxy.port, source="127.0.0.9")
                self.assertIsNotNone(ans, "NOTIFY from outside notify-from not answered")
                self.assertEqual(ans.rcode, REFUSED)
                time.sleep(1.0)
                self.assertEqual(primary.count("SOA"), soa0, "a refused NOTIFY caused a check")
                self.assertEqual(proxy.wait_serial(ZONE, None), 1)

                answers = primary.notify_burst(proxy.port, 50)
                self.assertEqual(sum(1 for a in answers if a is not None and a.rcode == NOERROR),
                                 50, "every NOTIFY of the burst is answered at once")
                proxy.wait_serial(ZONE, 2)
                time.sleep(1.5)  # let a coalesced re-check happen, if any
                soa = primary.count("SOA") - soa0
                xfr = primary.count("IXFR") + primary.count("AXFR") - xfr0
                self.assertGreaterEqual(soa, 1)
                self.assertLessEqual(soa, 2, "50 NOTIFYs: at most one check plus one re-check")
                self.assertEqual(xfr, 1, "50 NOTIFYs: exactly one transfer")
                self.assert_serves(proxy, primary, 2)


class ExpireTest(ProxyCase):
    def test_expire_then_recover(self):
        primary = fp.FakePrimary(ZONE)
        primary.publish(fp.make_records(ZONE, 1, 20, refresh=1, retry=1, expire=4))
        primary.start()
        try:
            with UpstreamProxy([{"name": ZONE, "primaries": [primary_addr(primary)]}]) as proxy:
                proxy.wait_serial(ZONE, 1)
                primary.stop()
                wait_rcode(proxy.port, ZONE, SERVFAIL, 20, proxy)
                self.assertIn("EXPIRED", proxy.log())
                primary.start()  # same port
                proxy.wait_serial(ZONE, 1, timeout=20)
                self.assertEqual(soa_rcode(proxy.port, ZONE), NOERROR)
                self.assert_serves(proxy, primary, 1)
                proxy.wait_log("no longer expired")
        finally:
            primary.stop()

    def test_degraded_and_recovered_are_logged(self):
        primary = fp.FakePrimary(ZONE)
        primary.publish(fp.make_records(ZONE, 1, 20, refresh=2, retry=1, expire=3600))
        primary.start()
        try:
            with UpstreamProxy([{"name": ZONE, "primaries": [primary_addr(primary)]}]) as proxy:
                proxy.wait_serial(ZONE, 1)
                primary.stop()
                # Failing for longer than REFRESH (2 s): said once, with why.
                proxy.wait_log(f"zone {ZONE}: DEGRADED: refresh has failed for")
                self.assertIn("no usable SOA answer from any primary", proxy.log())
                self.assertEqual(soa_rcode(proxy.port, ZONE), NOERROR, "degraded still serves")
                primary.start()  # same port
                proxy.wait_log(f"zone {ZONE}: no longer degraded; refresh works again after")
                self.assertEqual(proxy.log().count("DEGRADED"), 1, proxy.log()[-3000:])
        finally:
            primary.stop()

    def test_edns_expire_caps_the_soa_expire(self):
        primary = fp.FakePrimary(ZONE)
        # SOA EXPIRE an hour, but the primary says its data lasts 3 s more.
        primary.publish(fp.make_records(ZONE, 1, 20, refresh=1, retry=1, expire=3600))
        primary.expire_option = 3
        primary.start()
        try:
            with UpstreamProxy([{"name": ZONE, "primaries": [primary_addr(primary)]}]) as proxy:
                proxy.wait_serial(ZONE, 1)
                self.assertTrue(all(r["edns"] for r in primary.requests_of("SOA")))
                m = udp_query(proxy.port, query(ZONE, SOA, edns_options=[(EDNS_EXPIRE, b"")]))
                opt = m.edns_options()
                self.assertIn(EDNS_EXPIRE, opt, "xfrproxy sends no EXPIRE option back")
                expire = int.from_bytes(opt[EDNS_EXPIRE], "big")
                self.assertLessEqual(expire, 3)
                primary.stop()
                # With the SOA's hour it would stay up; the option's 3 s rule.
                wait_rcode(proxy.port, ZONE, SERVFAIL, 15, proxy)
                primary.start()
                wait_rcode(proxy.port, ZONE, NOERROR, 15, proxy)
        finally:
            primary.stop()


if __name__ == "__main__":
    xfrtest.main()
