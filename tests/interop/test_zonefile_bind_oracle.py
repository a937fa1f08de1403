"""BIND as the oracle for our master-file reader and writer.

Seeded random zones (every RDATA kind our layout table knows, escapes in
names and strings, $ORIGIN/$TTL/$INCLUDE, blank owners, parentheses...) are
read by our zonecat and by named-compilezone; both outputs, reduced to
canonical record tuples, must be the same set. Then our writer's output is
fed back to named-compilezone, which must load it to the same set again.
"""
import base64
import calendar
import os
import random
import subprocess
import unittest

import xfrtest

ORIGIN = "example.com."

# named-compilezone prints the whole zone in full form; every check that is
# about zone semantics rather than syntax is off, since the zones are random.
COMPILEZONE_FLAGS = ["-f", "text", "-F", "text", "-s", "full", "-i", "none",
                     "-k", "ignore", "-n", "ignore", "-m", "ignore", "-M", "ignore",
                     "-S", "ignore", "-T", "ignore", "-W", "ignore", "-r", "ignore"]

# Fields after which the rest of the RDATA is one blob (base64 or hex) that
# BIND splits into chunks of its own choosing: whitespace there is not data.
BLOB_TAIL = {"DS": 3, "CDS": 3, "DNSKEY": 3, "CDNSKEY": 3, "RRSIG": 8,
             "TLSA": 3, "SSHFP": 2}


def rrsig_time(text):
    """A YYYYMMDDHHmmSS time as its 32-bit value (RFC 4034 §3.2). BIND prints
    the date nearest to now, we print 1970-2106: the same bits either way."""
    if len(text) != 14:
        return text
    t = calendar.timegm((int(text[0:4]), int(text[4:6]), int(text[6:8]), int(text[8:10]),
                         int(text[10:12]), int(text[12:14])))
    return str(t % 2**32)


def normalise(text):
    """Canonical tuples (owner lowercased, ttl, class, type, rdata) as a sorted
    list. Owners are lowercased because BIND prints one spelling per node;
    RDATA keeps its case, as both sides must."""
    out = []
    for owner, ttl, cls, typ, rdata in xfrtest.parse_records(text):
        fields = rdata.split()
        if fields and fields[0] == "\\#":
            rdata = " ".join(fields[:2] + ["".join(fields[2:])])
        elif typ in BLOB_TAIL:
            n = BLOB_TAIL[typ]
            if typ == "RRSIG":
                fields[4:6] = [rrsig_time(fields[4]), rrsig_time(fields[5])]
            rdata = " ".join(fields[:n] + ["".join(fields[n:])])
        out.append((owner, ttl, cls, typ, rdata))
    return sorted(out)


class ZoneGenerator:
    """A random zone, one TTL per RRset (BIND forces that), split across a
    main file and an included file, with the syntax variety the reader must
    handle."""

    TYPES = ["A", "AAAA", "CNAME", "MX", "TXT", "SRV", "PTR", "CAA", "DS",
             "DNSKEY", "RRSIG", "NSEC", "NSEC3", "TLSA", "SSHFP", "HINFO",
             "NAPTR", "TYPE65280"]

    def __init__(self, seed, n):
        self.rnd = random.Random(seed)
        self.n = n
        self.used = set()      # (lowercased owner, type)
        self.cnames = set()    # owners holding a CNAME
        self.owners = set()    # owners holding anything else
        self.ttl = {}          # (owner, type) -> ttl

    def label(self):
        r = self.rnd
        alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_"
        s = "".join(r.choice(alphabet) for _ in range(r.randint(1, 12)))
        roll = r.random()
        if roll < 0.05:
            s += "\\." + "x"
        elif roll < 0.08:
            s += "\\" + r.choice('@$"();')
        elif roll < 0.11:
            s += "\\%03d" % r.choice([0, 7, 32, 200, 255])
        elif roll < 0.13:
            s = "*"
        return s

    def hexstr(self, n):
        return "".join(self.rnd.choice("0123456789abcdefABCDEF") for _ in range(2 * n))

    def b64(self, n):
        return base64.b64encode(bytes(self.rnd.getrandbits(8) for _ in range(n))).decode()

    def b32hex(self, n):
        alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUV"
        data = bytes(self.rnd.getrandbits(8) for _ in range(n))
        bits = "".join(f"{b:08b}" for b in data)
        bits += "0" * (-len(bits) % 5)
        return "".join(alphabet[int(bits[i:i + 5], 2)] for i in range(0, len(bits), 5))

    def charstr(self):
        r = self.rnd
        parts = []
        for _ in range(r.randint(0, 20)):
            roll = r.random()
            if roll < 0.7:
                parts.append(r.choice("abc xyz;()@$-_.,=+"))
            elif roll < 0.8:
                parts.append('\\"')
            elif roll < 0.85:
                parts.append("\\\\")
            else:
                parts.append("\\%03d" % r.randint(0, 255))
        return '"' + "".join(parts) + '"'

    def target(self):
        r = self.rnd
        if r.random() < 0.5:
            return self.label()          # relative
        if r.random() < 0.5:
            return "@"
        return self.label() + ".Example.NET."

    def typelist(self):
        types = ["A", "NS", "SOA", "MX", "TXT", "AAAA", "RRSIG", "NSEC",
                 "DNSKEY", "CAA", "TYPE65280", "TYPE1234", "SRV", "NAPTR"]
        return " ".join(self.rnd.sample(types, self.rnd.randint(1, 6)))

    def time(self):
        y = self.rnd.randint(2001, 2099)
        return "%04d%02d%02d%02d%02d%02d" % (y, self.rnd.randint(1, 12), self.rnd.randint(1, 28),
                                            self.rnd.randint(0, 23), self.rnd.randint(0, 59),
                                            self.rnd.randint(0, 59))

    def rdata(self, typ):
        r = self.rnd
        if typ == "A":
            return ".".join(str(r.randint(0, 255)) for _ in range(4))
        if typ == "AAAA":
            groups = [r.choice([0, 0, r.randint(0, 0xFFFF)]) for _ in range(8)]
            return ":".join("%x" % g for g in groups)
        if typ in ("CNAME", "PTR"):
            return self.target()
        if typ == "MX":
            return f"{r.randint(0, 65535)} {self.target()}"
        if typ == "TXT":
            return " ".join(self.charstr() for _ in range(r.randint(1, 4)))
        if typ == "SRV":
            return f"{r.randint(0, 65535)} {r.randint(0, 65535)} {r.randint(0, 65535)} {self.target()}"
        if typ == "CAA":
            tag = r.choice(["issue", "issuewild", "iodef", "tbs"])
            return f"{r.choice([0, 128])} {tag} {self.charstr()}"
        if typ == "DS":
            digest = self.hexstr(32)
            return f"{r.randint(0, 65535)} 13 2 ( {digest[:20]}\n {digest[20:]} )"
        if typ == "DNSKEY":
            key = self.b64(r.randint(32, 260))
            cut = r.randint(0, len(key) // 4) * 4
            return f"{r.choice([256, 257])} 3 {r.choice([8, 13, 15])} {key[:cut]} {key[cut:]}"
        if typ == "RRSIG":
            covered = r.choice(["A", "NS", "TXT", "TYPE65280", "NSEC3PARAM"])
            # BIND wants the labels field to cover at least the signer.
            return (f"{covered} 13 {r.randint(2, 5)} {r.randint(0, 86400)} {self.time()} "
                    f"{self.time()} {r.randint(0, 65535)} {ORIGIN} {self.b64(64)}")
        if typ == "NSEC":
            return f"{self.target()} {self.typelist()}"
        if typ == "NSEC3":
            salt = "-" if r.random() < 0.3 else self.hexstr(r.randint(1, 8))
            return f"1 {r.randint(0, 1)} {r.randint(0, 100)} {salt} {self.b32hex(20).lower() if r.random() < 0.5 else self.b32hex(20)} {self.typelist()}"
        if typ == "TLSA":
            return f"{r.randint(0, 3)} {r.randint(0, 1)} 1 {self.hexstr(32)}"
        if typ == "SSHFP":
            return f"{r.randint(1, 4)} 2 {self.hexstr(32)}"
        if typ == "HINFO":
            return f"{self.charstr()} {self.charstr()}"
        if typ == "NAPTR":
            # BIND checks NAPTR flags and regexp syntax (RFC 3403 §4.1).
            flags = r.choice(['""', '"U"', '"s"', '"AP"', 'U'])
            service = r.choice(['""', '"E2U+sip"', '"SIP+D2U"', 'http+N2L'])
            regexp = r.choice(['""', '"!^.*$!sip:info@example.com!"',
                               '"!^(.*)$!\\\\1!"', '"/a/b/i"'])
            return f"{r.randint(0, 65535)} {r.randint(0, 65535)} {flags} {service} {regexp} {self.target()}"
        if typ == "TYPE65280":
            n = r.randint(0, 40)
            data = self.hexstr(n)
            return f"\\# {n} {data[:10]} {data[10:]}" if n else "\\# 0"
        raise ValueError(typ)

    def record_lines(self, count, origin_suffix):
        """Lines for `count` records, with blank owners, TTL/class in either
        order, and relative owners under the current $ORIGIN."""
        r = self.rnd
        lines = []
        prev_owner = None
        written = 0
        while written < count:
            typ = r.choice(self.TYPES)
            if typ == "NSEC3":
                # BIND wants a hash-like owner (no wildcard) for NSEC3.
                owner = owner_text = self.b32hex(20).lower()
            elif prev_owner is not None and r.random() < 0.4:
                owner = prev_owner
                owner_text = ""
            else:
                owner = self.label() + "." + self.label()
                owner_text = owner
            key = (owner.lower() + origin_suffix, typ)
            if typ == "CNAME":
                if key[0] in self.owners or key[0] in self.cnames:
                    continue
            elif key[0] in self.cnames:
                continue
            if key not in self.ttl:
                self.ttl[key] = r.choice([0, 60, 300, 3600, 86400, 2147483647])
            ttl = self.ttl[key]
            ttl_text = str(ttl)
            if ttl == 3600 and r.random() < 0.5:
                ttl_text = r.choice(["1h", "1H", "60m", "3600S"])
            elif ttl == 86400 and r.random() < 0.5:
                ttl_text = r.choice(["1d", "1D", "24h"])
            parts = [owner_text if owner_text else " "]
            roll = r.random()
            if roll < 0.3:
                parts += [ttl_text, "IN"]
            elif roll < 0.6:
                parts += ["IN", ttl_text]
            else:
                parts += [ttl_text]
            parts.append(typ)
            parts.append(self.rdata(typ))
            line = " ".join(parts) if owner_text else "\t" + " ".join(parts[1:])
            if r.random() < 0.1:
                line += " ; comment ( \" not parsed"
            lines.append(line)
            (self.cnames if typ == "CNAME" else self.owners).add(key[0])
            prev_owner = owner
            written += 1
            if typ == "CNAME":
                prev_owner = None   # nothing else may join a CNAME
        return lines

    def files(self):
        main = [
            "; generated",
            f"$ORIGIN {ORIGIN}",
            "$TTL 3600",
            "@ IN SOA ns1 hostmaster.Example.COM. (",
            "    2024010101 ; serial",
            "    7200 1h 2w",
            "    300 )",
            "@ NS ns1",
            "  NS ns2.example.net.",
            "ns1 A 192.0.2.1",
            "@ NSEC3PARAM 1 0 10 AABBCCDD",
        ]
        self.owners.update({ORIGIN.lower(), "ns1." + ORIGIN})
        main += self.record_lines(self.n // 2, "." + ORIGIN.lower())
        main.append("$INCLUDE part.zone inc")
        main.append("$ORIGIN Sub.example.com.")
        main += self.record_lines(self.n // 4, ".sub." + ORIGIN.lower())
        main.append(f"$ORIGIN {ORIGIN}")
        part = self.record_lines(self.n - self.n // 2 - self.n // 4, ".inc." + ORIGIN.lower())
        return "\n".join(main) + "\n", "\n".join(part) + "\n"


class ZoneFileBindOracle(unittest.TestCase):
    def setUp(self):
        self.compilezone = xfrtest.tool("named-compilezone")
        self.zonecat = xfrtest.binary("tests", "tools", "zonecat")
        self.tmp = xfrtest.TempDir("xfr-zonefile-")
        self.addCleanup(self.tmp.cleanup)

    def bind(self, path):
        out = os.path.join(self.tmp.path, os.path.basename(path) + ".bind")
        # -w: BIND resolves $INCLUDE against its working directory, ours
        # against the including file; the zones keep both in one place.
        r = subprocess.run([self.compilezone, *COMPILEZONE_FLAGS, "-w", self.tmp.path,
                            "-o", out, ORIGIN, path],
                           capture_output=True, text=True, timeout=300)
        self.assertEqual(r.returncode, 0, f"named-compilezone rejected {path}:\n{r.stdout}{r.stderr}")
        with open(out) as f:
            return f.read()

    def ours(self, path):
        r = subprocess.run([self.zonecat, ORIGIN, path], capture_output=True, text=True,
                           timeout=300)
        self.assertEqual(r.returncode, 0, f"zonecat rejected {path}:\n{r.stderr}")
        return r.stdout

    def assertSameRecords(self, ours, theirs, what):
        if ours == theirs:
            return
        only_ours = sorted(set(ours) - set(theirs))[:10]
        only_theirs = sorted(set(theirs) - set(ours))[:10]
        self.fail(f"{what}: {len(ours)} records vs {len(theirs)}\n"
                  f"only ours: {only_ours}\nonly BIND's: {only_theirs}")

    def check_zone(self, seed, n):
        main, part = ZoneGenerator(seed, n).files()
        path = self.tmp.file(f"zone{seed}.zone", main)
        self.tmp.file("part.zone", part)
        ours_text = self.ours(path)
        ours = normalise(ours_text)
        theirs = normalise(self.bind(path))
        self.assertGreaterEqual(len(ours), n)
        self.assertSameRecords(ours, theirs, f"seed {seed}: reading the generated zone")
        # Our writer's output is a zone BIND loads to the same records.
        written = self.tmp.file(f"written{seed}.zone", ours_text)
        self.assertSameRecords(ours, normalise(self.bind(written)),
                               f"seed {seed}: BIND reading our writer's output")
        # And our reader reads its own output to the same text.
        self.assertEqual(self.ours(written), ours_text)

    def test_random_zones(self):
        for seed in (1, 2, 3, 4):
            with self.subTest(seed=seed):
                self.check_zone(seed, 3000)

    def test_example_zone(self):
        path = os.path.join(xfrtest.SOURCE_DIR, "examples", "example.com.zone")
        self.assertSameRecords(normalise(self.ours(path)), normalise(self.bind(path)),
                               "examples/example.com.zone")

    def test_reader_rejects_what_bind_rejects(self):
        # A few malformed lines: BIND and we must both refuse them.
        for body in ("www A 1.2.3", "www AAAA 1::2::3", "www MX 70000 mx",
                     "www TXT \"" + "x" * 256 + "\"", "www TYPE65280 \\# 2 01",
                     "www BOGUS 1", "www DNSKEY 257 3 8 AwE*"):
            with self.subTest(body=body):
                path = self.tmp.file("bad.zone",
                                     f"$TTL 60\n@ SOA ns hm 1 2 3 4 5\n@ NS ns\nns A 192.0.2.1\n{body}\n")
                r = subprocess.run([self.zonecat, ORIGIN, path], capture_output=True, text=True)
                self.assertEqual(r.returncode, 1)
                self.assertIn("bad.zone:5: ", r.stderr)
                b = subprocess.run([self.compilezone, *COMPILEZONE_FLAGS, "-o", os.devnull,
                                    ORIGIN, path], capture_output=True, text=True)
                self.assertNotEqual(b.returncode, 0, b.stdout + b.stderr)


if __name__ == "__main__":
    xfrtest.main()
