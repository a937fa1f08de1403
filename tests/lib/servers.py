"""Real DNS servers (Knot, BIND) started on loopback for interop tests.

Each server gets its own temporary directory holding its configuration, zone
files, databases, control socket and PID file; it runs in the foreground as
a child of the test, listens on 127.0.0.1 on a free port, and is stopped by
its PID. Nothing touches the system's own knotd or named.

    keys = [Key("xfr-key", "hmac-sha256", "c2VjcmV0...")]
    zone = Zone("example.com.", text=make_zone("example.com.", 3000),
                transfer_keys=keys)
    with KnotServer([zone], keys) as knot:
        print(knot.port)

A zone with `text` is served as primary; a zone with `primaries` instead is
a secondary of those (host, port) pairs, using `primary_key` if set. Transfers
are allowed to loopback clients holding one of `transfer_keys`, or to any
loopback client when the list is empty. `notify` lists (host, port) pairs to
send NOTIFY to.
"""
import base64
import os
import random
import signal
import socket
import struct
import time
from dataclasses import dataclass, field
from typing import List, Optional, Tuple

import xfrtest

Address = Tuple[str, int]


@dataclass
class Key:
    name: str  # with or without the trailing dot
    algorithm: str  # hmac-sha1 ... hmac-sha512
    secret: str  # base64

    @property
    def bare_name(self):
        return self.name.rstrip(".")

    def spec(self):
        """name:algorithm:secret, as tsigxfr --key wants it."""
        return f"{self.bare_name}:{self.algorithm}:{self.secret}"

    def dig_spec(self):
        """algorithm:name:secret, as dig -y and kdig -y want it."""
        return f"{self.algorithm}:{self.bare_name}:{self.secret}"

    @staticmethod
    def random(name, algorithm="hmac-sha256", size=32):
        return Key(name, algorithm, base64.b64encode(os.urandom(size)).decode())


@dataclass
class Zone:
    name: str
    text: Optional[str] = None  # master-file content: we are its primary
    primaries: List[Address] = field(default_factory=list)  # else: secondary
    primary_key: Optional[Key] = None
    transfer_keys: List[Key] = field(default_factory=list)
    notify: List[Address] = field(default_factory=list)

    @property
    def bare_name(self):
        return self.name.rstrip(".")

    @property
    def file_name(self):
        return f"{self.bare_name or 'root'}.zone"


def make_zone(origin, records, serial=1, ttl=3600, seed=1):
    """A zone with an SOA, two NS, and `records` A and TXT records: big
    enough for a multi-message AXFR with a few thousand records."""
    origin = origin if origin.endswith(".") else origin + "."
    rnd = random.Random(seed)
    lines = [
        f"$ORIGIN {origin}",
        f"$TTL {ttl}",
        f"@ IN SOA ns1.{origin} hostmaster.{origin} {serial} 3600 600 86400 300",
        f"@ IN NS ns1.{origin}",
        f"@ IN NS ns2.{origin}",
        "ns1 IN A 192.0.2.1",
        "ns2 IN A 192.0.2.2",
    ]
    for i in range(records):
        if i % 2 == 0:
            lines.append(f"host{i} IN A 10.{(i >> 16) & 255}.{(i >> 8) & 255}.{i & 255}")
        else:
            word = "".join(rnd.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(24))
            lines.append(f'txt{i} IN TXT "record {i} {word}"')
    return "\n".join(lines) + "\n"


def zone_record_count(text):
    """Records in a make_zone() text (for comparing with an AXFR: the SOA
    comes twice in the transfer)."""
    return sum(1 for line in text.splitlines() if line and not line.startswith("$"))


# --- A minimal DNS client, enough to tell that a server is ready ------------

def _encode_name(name):
    out = b""
    for label in name.rstrip(".").split("."):
        if label:
            out += bytes([len(label)]) + label.encode()
    return out + b"\0"


def _skip_name(msg, i):
    while True:
        n = msg[i]
        if n == 0:
            return i + 1
        if n & 0xC0 == 0xC0:
            return i + 2
        i += n + 1


def query_soa(port, zone, host=xfrtest.LOOPBACK, timeout=1.0):
    """(rcode, serial or None) of an SOA query over UDP; None when no answer."""
    qid = random.randrange(65536)
    q = struct.pack("!HHHHHH", qid, 0, 1, 0, 0, 0) + _encode_name(zone) + struct.pack("!HH", 6, 1)
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(fam, socket.SOCK_DGRAM) as s:
        s.settimeout(timeout)
        try:
            s.sendto(q, (host, port))
            msg, _ = s.recvfrom(65535)
        except OSError:
            return None
    rid, flags, qd, an = struct.unpack("!HHHH", msg[:8])
    if rid != qid:
        return None
    rcode = flags & 15
    i = 12
    for _ in range(qd):
        i = _skip_name(msg, i) + 4
    for _ in range(an):
        i = _skip_name(msg, i)
        rtype, _, _, rdlen = struct.unpack("!HHIH", msg[i:i + 10])
        i += 10
        if rtype == 6:
            j = _skip_name(msg, _skip_name(msg, i))
            return rcode, struct.unpack("!I", msg[j:j + 4])[0]
        i += rdlen
    return rcode, None


def wait_soa(port, zone, serial=None, timeout=30.0, proc=None):
    """Waits until the server answers NOERROR with an SOA for `zone` (and
    with `serial`, if given). Returns the serial."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.poll()} before serving {zone}")
        last = query_soa(port, zone)
        if last and last[0] == 0 and last[1] is not None and (serial is None or last[1] == serial):
            return last[1]
        time.sleep(0.1)
    raise TimeoutError(f"{zone} not served on port {port} after {timeout}s (last answer {last})")


# --- Servers -----------------------------------------------------------------

class _Server:
    name = "server"

    def __init__(self, zones, keys=(), port=None):
        self.zones = list(zones)
        self.keys = list(keys)
        for z in self.zones:
            for k in z.transfer_keys + ([z.primary_key] if z.primary_key else []):
                if k not in self.keys:
                    self.keys.append(k)
        self.port = port or xfrtest.free_port()
        self.dir = xfrtest.TempDir(prefix=f"xfr-{self.name}-")
        self.process = None

    @property
    def workdir(self):
        return self.dir.path

    def path(self, name):
        return os.path.join(self.dir.path, name)

    def write_zone(self, zone, text):
        """Writes a primary zone's file (then reload() to serve it)."""
        with open(self.path(zone.file_name), "w") as f:
            f.write(text)

    def start(self, timeout=30.0):
        for z in self.zones:
            if z.text is not None:
                self.write_zone(z, z.text)
        argv = self._write_config()
        self.process = xfrtest.Process(argv, self.path(f"{self.name}.log"), cwd=self.dir.path)
        try:
            xfrtest.wait_tcp(self.port, timeout=timeout, proc=self.process)
            for z in self.zones:
                if z.text is not None:
                    wait_soa(self.port, z.name, timeout=timeout, proc=self.process)
        except Exception as e:
            log = self.log()
            self.cleanup()
            raise RuntimeError(f"{self.name} did not start: {e}\n{log[-4000:]}") from e
        return self

    def stop(self):
        if self.process is not None:
            self.process.stop()
            self.process = None

    def cleanup(self):
        self.stop()
        self.dir.cleanup()

    def log(self):
        try:
            with open(self.path(f"{self.name}.log"), errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.cleanup()


class KnotServer(_Server):
    """knotd (Knot DNS 3.2) in the foreground with its own rundir, storage,
    databases and control socket."""
    name = "knotd"

    def server_lines(self):
        """The server, database, control and log sections of knot.conf:
        everything but keys, remotes, ACLs, templates and zones."""
        d = self.dir.path
        return [
            "server:",
            f'    rundir: "{d}"',
            f'    pidfile: "{d}/knot.pid"',
            f"    listen: {xfrtest.LOOPBACK}@{self.port}",
            "    background-workers: 1",
            "    udp-workers: 1",
            "    tcp-workers: 2",
            "database:",
            f'    storage: "{d}/db"',
            "control:",
            f'    listen: "{d}/knot.sock"',
            "log:",
            "  - target: stderr",
            "    any: info",
        ]

    def _write_config(self):
        d = self.dir.path
        out = self.server_lines()
        if self.keys:
            out.append("key:")
            for k in self.keys:
                out += [f"  - id: {k.bare_name}", f"    algorithm: {k.algorithm}",
                        f"    secret: {k.secret}"]
        remotes, acls = [], []
        for i, z in enumerate(self.zones):
            for j, (host, port) in enumerate(z.primaries):
                remotes += [f"  - id: primary{i}_{j}", f"    address: {host}@{port}"]
                if z.primary_key:
                    remotes.append(f"    key: {z.primary_key.bare_name}")
            for j, (host, port) in enumerate(z.notify):
                remotes += [f"  - id: notify{i}_{j}", f"    address: {host}@{port}"]
            acls += [f"  - id: transfer{i}", "    address: [127.0.0.0/8, ::1]",
                     "    action: transfer"]
            if z.transfer_keys:
                acls.append("    key: [" + ", ".join(k.bare_name for k in z.transfer_keys) + "]")
            if z.primaries:
                acls += [f"  - id: notify_in{i}", "    address: [127.0.0.0/8, ::1]",
                         "    action: notify"]
        if remotes:
            out += ["remote:"] + remotes
        out += ["acl:"] + acls
        out.append("template:")
        out += ["  - id: default", f'    storage: "{d}"', "    zonefile-sync: -1",
                "    zonefile-load: difference-no-serial", "    journal-content: all",
                "    semantic-checks: off"]
        out.append("zone:")
        for i, z in enumerate(self.zones):
            out += [f"  - domain: {z.name}", f"    file: \"{d}/{z.file_name}\""]
            zacl = [f"transfer{i}"] + ([f"notify_in{i}"] if z.primaries else [])
            out.append("    acl: [" + ", ".join(zacl) + "]")
            if z.primaries:
                out.append("    master: [" + ", ".join(
                    f"primary{i}_{j}" for j in range(len(z.primaries))) + "]")
            if z.notify:
                out.append("    notify: [" + ", ".join(
                    f"notify{i}_{j}" for j in range(len(z.notify))) + "]")
        conf = self.path("knot.conf")
        with open(conf, "w") as f:
            f.write("\n".join(out) + "\n")
        os.makedirs(self.path("db"), exist_ok=True)
        return [xfrtest.tool("knotd"), "-c", conf]

    def reload(self):
        """Re-reads zone files (knotc zone-reload), e.g. after write_zone()."""
        xfrtest.run([xfrtest.tool("knotc"), "-s", self.path("knot.sock"), "zone-reload"])


class BindServer(_Server):
    """named (BIND 9.18) in the foreground (-g) with its own directory, PID
    file, session key and no rndc control channel."""
    name = "named"

    def _write_config(self):
        d = self.dir.path
        out = [
            "options {",
            f'    directory "{d}";',
            f'    pid-file "{d}/named.pid";',
            f'    session-keyfile "{d}/session.key";',
            f'    managed-keys-directory "{d}";',
            f"    listen-on port {self.port} {{ {xfrtest.LOOPBACK}; }};",
            "    listen-on-v6 { none; };",
            "    recursion no;",
            "    dnssec-validation no;",
            "    allow-query { any; };",
            "    notify explicit;",
            "};",
            "controls { };",
        ]
        for k in self.keys:
            out += [f'key "{k.bare_name}" {{', f"    algorithm {k.algorithm};",
                    f'    secret "{k.secret}";', "};"]
        for z in self.zones:
            if z.transfer_keys:
                allow = " ".join(f'key "{k.bare_name}";' for k in z.transfer_keys)
            else:
                allow = "127.0.0.0/8; ::1;"
            out.append(f'zone "{z.name}" {{')
            if z.primaries:
                prim = " ".join(
                    f"{h} port {p}" + (f' key "{z.primary_key.bare_name}"' if z.primary_key else "") + ";"
                    for h, p in z.primaries)
                out += ["    type secondary;", f"    primaries {{ {prim} }};",
                        "    allow-notify { 127.0.0.0/8; ::1; };"]
            else:
                out.append("    type primary;")
            out += [f'    file "{d}/{z.file_name}";', f"    allow-transfer {{ {allow} }};"]
            if z.notify:
                out.append("    also-notify { " + " ".join(f"{h} port {p};" for h, p in z.notify) + " };")
            out.append("};")
        conf = self.path("named.conf")
        with open(conf, "w") as f:
            f.write("\n".join(out) + "\n")
        # -g: foreground, log to stderr; -n 1: one worker (2 shared cores).
        return [xfrtest.tool("named"), "-g", "-4", "-n", "1", "-c", conf]

    def reload(self):
        """named has no control channel here; SIGHUP reloads (named reloads
        a zone file whose modification time changed)."""
        self.process.signal(signal.SIGHUP)
