"""Real secondaries follow xfrproxy as their primary: Knot DNS 3.2, NSD 4.6
and BIND 9.18 each transfer a zone of a few thousand records of mixed types
from xfrproxy, then follow it through several changes by IXFR, with and
without TSIG.

xfrproxy serves two file zones: example.com. open to loopback, and
signed.example. that only a peer holding the secondaries' key may transfer.
Each secondary holds both. For every version we:
  - compare each secondary's AXFR with xfrproxy's, record by record;
  - after a change (additions, deletions, a TTL-only change, RDATA case
    changes in a TXT string and in domain names), SIGHUP xfrproxy, trigger
    each secondary's refresh explicitly (xfrproxy sends no NOTIFY yet) and
    check that the secondary took the change as an IXFR, not an AXFR
    fallback: Knot says so in its log; NSD and BIND do not log the kind of
    an incoming transfer, so we ask them for an IXFR from the old serial,
    which they answer incrementally only from a diff they received as one
    (NSD stores received IXFRs with store-ixfr and makes none from an AXFR;
    BIND journals an incoming IXFR and, without ixfr-from-differences,
    drops its journal on an AXFR), and their logged transfer size must be
    that of a diff, not of the zone. The last step makes two changes before
    the refresh, so the secondaries need xfrproxy's condensed diff;
  - ask each secondary for a few names and check the zone file's answers.
A knotd holding the right key name with the wrong secret never gets the
signed zone, and xfrproxy logs BADSIG for it.

A missing server binary fails the test (never a skip).
"""
import re
import time
import unittest

import nsd_server
import servers
import xfrtest
from xfrproxy_run import ProxyKey, ProxyZone, XfrProxy

ZONE = "example.com."
SIGNED = "signed.example."
RECORDS = 2400  # plus ~20 of other types: a multi-message AXFR
SIGNED_RECORDS = 1200
# Each step publishes these versions, then triggers the secondaries: the
# last step makes two changes in a row, so the secondaries need the diff
# from two versions back (condensed by xfrproxy into one).
STEPS = [[1], [2], [3, 4]]
BASE_SERIAL = 1000
TOOLS = ["knotd", "knotc", "nsd", "nsd-control", "nsd-checkconf", "named", "rndc", "dig"]


def zone_version(origin, version, records):
    """The master file of version `version` (0 is the first) of a zone.

    Each version after the first, relative to the one before it: deletes
    two TXT and one A record, adds an A, an AAAA and an MX at new names,
    changes only the TTL of `ttl`, and flips the case of a TXT string and
    of the domain names in a CNAME, an MX and an SRV (RFC 1035 §2.3.3:
    names compare case-insensitively but keep their case, so the new
    spelling is a change a primary must transfer)."""
    serial = BASE_SERIAL + version
    lines = servers.make_zone(origin, records, serial=serial).splitlines()
    gone = set()
    for r in range(1, version + 1):
        gone |= {f"txt{100 * r + 1}", f"txt{100 * r + 3}", f"host{100 * r}"}
    lines = [l for l in lines if l.split(" ", 1)[0] not in gone]
    upper = version % 2 == 1
    target = "TARGET" if upper else "Target"
    lines += [
        "@ IN MX 10 mail",
        "mail IN A 192.0.2.25",
        "mail IN AAAA 2001:db8::25",
        "www IN CNAME host0",
        "_sip._tcp IN SRV 10 60 5060 sip",
        "sip IN A 192.0.2.60",
        '@ IN CAA 0 issue "ca.example.net"',
        "ssh IN SSHFP 1 1 0123456789abcdef0123456789abcdef01234567",
        "sub IN NS ns.sub",
        "ns.sub IN A 192.0.2.53",
        "target IN A 192.0.2.99",
        "target IN AAAA 2001:db8::99",
        f"ttl {300 + 60 * version} IN A 192.0.2.80",
        f'case IN TXT "{"MiXeD CaSe" if upper else "mixed case"}"',
        f"alias IN CNAME {target}",
        f"mxcase IN MX 20 {target}",
        f"_ldap._tcp IN SRV 0 0 389 {target}",
    ]
    for r in range(1, version + 1):
        lines += [f"new{r} IN A 198.51.100.{r}", f"new{r} IN AAAA 2001:db8:1::{r}",
                  f"new{r}mx IN MX 5 new{r}"]
    return "\n".join(lines) + "\n"


# Knot and NSD keep one spelling per domain name: a name in RDATA comes out
# spelt as the owner name "target" that they met first, whatever case the
# transfer carried. For them names inside RDATA compare case-insensitively
# (RFC 4343); BIND keeps the spelling and is compared exactly. TXT strings are
# data and compared exactly everywhere.
FOLDS_RDATA_NAMES = {"knotd", "nsd"}
NAME_RDATA_TYPES = {"NS", "CNAME", "SOA", "PTR", "MX", "SRV", "DNAME"}


def fold_rdata_names(records):
    return sorted(r[:4] + (r[4].lower(),) if r[3] in NAME_RDATA_TYPES else r for r in records)


def axfr(port, zone, key=None):
    return xfrtest.dig_axfr(port, zone, *(["-y", key.dig_spec()] if key else []))


def lookup(port, name, qtype):
    """dig's answer section for one query (no recursion)."""
    text = xfrtest.dig(port, "+norec", "+noall", "+answer", name, qtype)
    return sorted(xfrtest.parse_records(text))


def ixfr_shape(port, zone, serial):
    """Asks a server for IXFR from `serial` over TCP and says what came
    back: 'incremental', 'axfr' (the whole zone), 'current' (the SOA alone)
    or 'error ...'."""
    text = xfrtest.dig(port, zone, f"IXFR={serial}", "+tcp", "+nocmd", "+nostats", "+noall",
                       "+answer")
    recs = xfrtest.parse_records(text)
    if not recs:
        return f"error: {text.strip()[-300:]}"
    if len(recs) == 1:
        return "current"
    if recs[1][3] == "SOA":
        return "incremental"
    return "axfr"


class KnotSecondary(servers.KnotServer):
    def refresh(self, zone):
        """Asks the primary for the SOA and transfers a newer serial
        (IXFR first)."""
        xfrtest.run([xfrtest.tool("knotc"), "-s", self.path("knot.sock"), "zone-refresh",
                     zone.name])


class BindSecondary(servers.BindServer):
    """named with an rndc control channel on loopback, so that a refresh
    can be asked for instead of waited for."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.rndc_port = xfrtest.free_port()
        self.rndc_key = servers.Key.random("rndc-key")

    def _write_config(self):
        argv = super()._write_config()
        conf = self.path("named.conf")
        with open(conf) as f:
            text = f.read()
        if "controls { };" not in text:
            raise AssertionError("servers.BindServer config changed: no 'controls { };' to replace")
        k = self.rndc_key
        key = f'key "{k.bare_name}" {{ algorithm {k.algorithm}; secret "{k.secret}"; }};'
        text = text.replace("controls { };", key + "\ncontrols { inet 127.0.0.1 port "
                            f'{self.rndc_port} allow {{ 127.0.0.1; }} keys {{ "{k.bare_name}"; }}; }};')
        with open(conf, "w") as f:
            f.write(text)
        with open(self.path("rndc.conf"), "w") as f:
            f.write(key + "\noptions { default-server 127.0.0.1; "
                    f'default-port {self.rndc_port}; default-key "{k.bare_name}"; }};\n')
        return argv

    def refresh(self, zone):
        xfrtest.run([xfrtest.tool("rndc"), "-c", self.path("rndc.conf"), "refresh",
                     zone.bare_name])


class NsdSecondary(nsd_server.NsdServer):
    def refresh(self, zone):
        self.transfer(zone)


class RealSecondariesTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        xfrtest.require_tools(TOOLS)
        cls.key = servers.Key.random("xfr-secondaries-key")
        cls.wrong_key = servers.Key(cls.key.name, cls.key.algorithm,
                                    servers.Key.random("x").secret)
        # Servers get their ports now and start once xfrproxy (whose config
        # names them) is up.
        cls.proxy_port = xfrtest.free_port()
        primary = [(xfrtest.LOOPBACK, cls.proxy_port)]

        def zones(key):
            return [servers.Zone(ZONE, primaries=primary),
                    servers.Zone(SIGNED, primaries=primary, primary_key=key)]

        cls.secondaries = {
            "knotd": KnotSecondary(zones(cls.key)),
            "nsd": NsdSecondary(zones(cls.key)),
            "named": BindSecondary(zones(cls.key)),
        }
        cls.intruder = KnotSecondary([servers.Zone(SIGNED, primaries=primary,
                                                   primary_key=cls.wrong_key)])
        cls.started = []
        pkey = ProxyKey(cls.key.name, cls.key.algorithm, cls.key.secret)
        cls.proxy_zone = ProxyZone(ZONE, text=zone_version(ZONE, 0, RECORDS),
                                   allow_transfer=["127.0.0.0/8"])
        # Only the key opens the signed zone: allow-transfer defaults to the
        # secondaries' address, 127.0.0.1, and every request from there must
        # sign with the key.
        cls.proxy_signed = ProxyZone(
            SIGNED, text=zone_version(SIGNED, 0, SIGNED_RECORDS),
            secondaries=[{"address": f"127.0.0.1:{s.port}", "key": cls.key.bare_name,
                          "notify": False} for s in cls.secondaries.values()])
        cls.proxy = None
        try:
            proxy = XfrProxy([cls.proxy_zone, cls.proxy_signed], keys=[pkey],
                             port=cls.proxy_port)
            proxy.start()  # removes its own temp dir when it fails
            cls.proxy = proxy
            for s in list(cls.secondaries.values()) + [cls.intruder]:
                s.start()
                cls.started.append(s)
            for name, s in cls.secondaries.items():
                for z in (ZONE, SIGNED):
                    try:
                        servers.wait_soa(s.port, z, serial=BASE_SERIAL, timeout=30,
                                         proc=s.process)
                    except Exception as e:
                        raise AssertionError(f"{name} did not get {z}: {e}\n{s.log()[-3000:]}")
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        for s in cls.started:
            s.cleanup()
        cls.started = []
        for s in list(cls.secondaries.values()) + [cls.intruder]:
            s.dir.cleanup()
        if cls.proxy is not None:
            code = cls.proxy.stop()
            log = cls.proxy.log()
            cls.proxy.cleanup()
            cls.proxy = None
            # A crash at shutdown is a bug, never noise.
            if code != 0:
                raise AssertionError(f"xfrproxy exited {code}:\n{log[-4000:]}")

    # --- helpers -------------------------------------------------------------

    def proxy_axfr(self, zone):
        return axfr(self.proxy.port, zone, self.key if zone == SIGNED else None)

    def assert_same_content(self, name, server, zone):
        want = self.proxy_axfr(zone)
        got = axfr(server.port, zone)
        if name in FOLDS_RDATA_NAMES:
            want, got = fold_rdata_names(want), fold_rdata_names(got)
        if got != want:
            missing = sorted(set(want) - set(got))[:10]
            extra = sorted(set(got) - set(want))[:10]
            self.fail(f"{name} {zone}: {len(got)} records, xfrproxy {len(want)}; "
                      f"missing {missing}, extra {extra}")

    def assert_answers(self, name, server, zone, version):
        """A few names on the secondary answer what the zone file says."""
        origin = zone
        upper = version % 2 == 1
        target = f"{'TARGET' if upper else 'Target'}.{origin}"
        cases = [
            (f"host2.{origin}", "A", [(f"host2.{origin}", 3600, "IN", "A", "10.0.0.2")]),
            (f"mail.{origin}", "AAAA", [(f"mail.{origin}", 3600, "IN", "AAAA", "2001:db8::25")]),
            (f"ttl.{origin}", "A", [(f"ttl.{origin}", 300 + 60 * version, "IN", "A", "192.0.2.80")]),
            (f"case.{origin}", "TXT", [(f"case.{origin}", 3600, "IN", "TXT",
                                        '"MiXeD CaSe"' if upper else '"mixed case"')]),
            (f"mxcase.{origin}", "MX", [(f"mxcase.{origin}", 3600, "IN", "MX", f"20 {target}")]),
            (f"new{version}.{origin}", "A",
             [(f"new{version}.{origin}", 3600, "IN", "A", f"198.51.100.{version}")] if version else []),
        ]
        if version:
            # Deleted in this version.
            cases.append((f"txt{100 * version + 1}.{origin}", "TXT", []))
        for qname, qtype, want in cases:
            got = lookup(server.port, qname, qtype)
            # Domain names in RDATA compare case-insensitively (RFC 4343);
            # the transfer comparison above checks the exact spelling.
            self.assertEqual([r[:4] + (r[4].lower(),) for r in got],
                             [r[:4] + (r[4].lower(),) for r in want],
                             f"{name}: {qname} {qtype}")

    def assert_took_ixfr(self, name, server, zone, old, new, log_start):
        """The secondary went from `old` to `new` by IXFR. Knot logs the
        kind of transfer; NSD and BIND log only its size, so they are asked
        for an IXFR from `old` too (see the module comment)."""
        log = server.log()[log_start:]
        bare = re.escape(zone.rstrip("."))
        if name == "knotd":
            self.assertRegex(log, rf"\[{bare}\.\] IXFR, incoming, remote [^\n]*, finished",
                             f"knotd did not log an IXFR of {zone}:\n{log[-3000:]}")
            self.assertNotRegex(log, rf"\[{bare}\.\] AXFR, incoming",
                                f"knotd fell back to AXFR for {zone}:\n{log[-3000:]}")
            self.assertNotIn("AXFR-style", log, log[-3000:])
        else:
            shape = ixfr_shape(server.port, zone, old)
            self.assertEqual(shape, "incremental",
                             f"{name} holds no diff from {old} for {zone}: it did not "
                             f"take the change as an IXFR\n{log[-3000:]}")
            # The size of the transfer: a diff is some twenty records and
            # under a kilobyte or two; the zone is thousands and ~50-100 KB.
            if name == "named":
                m = re.search(rf"transfer of '{bare}/IN' from [^\n]*Transfer completed: \d+ "
                              rf"messages, (\d+) records, [^\n]*\(serial {new}\)", log)
                self.assertIsNotNone(m, f"named logged no transfer of {zone}:\n{log[-3000:]}")
                self.assertLess(int(m.group(1)), 100, m.group(0))
            else:
                m = re.search(rf"zone {bare}\. received update to serial {new} [^\n]* of "
                              rf"(\d+) bytes", log)
                self.assertIsNotNone(m, f"nsd logged no transfer of {zone}:\n{log[-3000:]}")
                self.assertLess(int(m.group(1)), 5000, m.group(0))
        for bad in ("Failed to apply IXFR", "bad ixfr", "FORMERR", "failed while receiving",
                    "malformed", "bad tsig"):
            self.assertNotIn(bad, log, f"{name}: {zone}")

    # --- tests ---------------------------------------------------------------

    def test_1_initial_transfer_matches(self):
        for zone in (ZONE, SIGNED):
            want = self.proxy_axfr(zone)
            self.assertGreater(len(want), 1000, zone)
            self.assertEqual({r[3] for r in want} >= {"SOA", "NS", "A", "AAAA", "TXT", "MX",
                                                      "CNAME", "SRV", "CAA", "SSHFP"}, True)
        for name, s in self.secondaries.items():
            for zone in (ZONE, SIGNED):
                with self.subTest(secondary=name, zone=zone):
                    self.assert_same_content(name, s, zone)
                    self.assert_answers(name, s, zone, 0)

    def test_2_changes_arrive_by_ixfr(self):
        for step in STEPS:
            v = step[-1]
            old, new = BASE_SERIAL + step[0] - 1, BASE_SERIAL + v
            log_starts = {n: len(s.log()) for n, s in self.secondaries.items()}
            for version in step:
                self.proxy.write_zone(self.proxy_zone, zone_version(ZONE, version, RECORDS))
                self.proxy.write_zone(self.proxy_signed,
                                      zone_version(SIGNED, version, SIGNED_RECORDS))
                self.proxy.reload()
                for zone in (ZONE, SIGNED):
                    self.proxy.wait_serial(zone, BASE_SERIAL + version, timeout=30)
            for name, s in self.secondaries.items():
                for zone in (ZONE, SIGNED):
                    s.refresh(servers.Zone(zone))
            for name, s in self.secondaries.items():
                for zone in (ZONE, SIGNED):
                    with self.subTest(serials=f"{old}->{new}", secondary=name, zone=zone):
                        try:
                            servers.wait_soa(s.port, zone, serial=new, timeout=30, proc=s.process)
                        except TimeoutError as e:
                            self.fail(f"{name}: {e}\n{s.log()[log_starts[name]:][-3000:]}")
                        self.assert_took_ixfr(name, s, zone, old, new, log_starts[name])
                        self.assert_same_content(name, s, zone)
                        self.assert_answers(name, s, zone, v)

    def test_3_wrong_key_never_gets_the_zone(self):
        # knotd tried at start; make it try once more now.
        self.intruder.refresh(servers.Zone(SIGNED))
        self.proxy.wait_log("TSIG BADSIG from 127.0.0.1", timeout=20)
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline:
            answer = servers.query_soa(self.intruder.port, SIGNED)
            self.assertFalse(answer and answer[0] == 0 and answer[1] is not None,
                             f"knotd with a wrong key serves {SIGNED}: {answer}\n"
                             f"{self.intruder.log()[-3000:]}")
            time.sleep(0.2)
        log = self.intruder.log()
        self.assertNotRegex(log, r"[AI]XFR, incoming[^\n]*finished", log[-3000:])
        # Knot itself says why: the answer's TSIG (BADSIG) did not verify.
        self.assertRegex(log, r"\[signed\.example\.\] refresh, [^\n]*failed[^\n]*TSIG", log[-3000:])
        # Unsigned, from an address whose secondary has a key: refused.
        text = xfrtest.dig(self.proxy.port, SIGNED, "AXFR", "+nocmd", "+nostats", "+noall",
                           "+answer")
        self.assertEqual(xfrtest.parse_records(text), [], text)


if __name__ == "__main__":
    xfrtest.main()
