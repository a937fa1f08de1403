"""Runs the xfrproxy binary for integration tests, and speaks enough DNS wire
format to check its answers byte by byte.

    zone = ProxyZone("example.com.", text=make_zone("example.com.", 3000))
    with XfrProxy([zone]) as proxy:
        msgs = tcp_transfer(proxy.port, query("example.com.", AXFR))

XfrProxy writes a config and the zone files into a temp dir, starts
$XFR_BINARY_DIR/proxy/xfrproxy listening on 127.0.0.1 (and ::1 when asked) on
a free port, waits until every file zone answers SOA, and stops it by PID with
SIGTERM, checking that it exited 0 (a non-zero exit fails the test that
stops it: a crash at shutdown is a bug, never noise).

The wire helpers are standard library only: build queries (EDNS options,
IXFR authority SOA, TSIG signing with hmac), parse messages with name
decompression, read multi-message TCP answers. They trust nothing: a
truncated answer raises, so a test fails rather than passing on garbage.
"""
import base64
import hashlib
import hmac
import os
import random
import signal
import socket
import struct
import subprocess
import time
from dataclasses import dataclass, field
from typing import List, Optional, Tuple

import xfrtest

# RR types and classes used by the tests.
A, NS, CNAME, SOA, PTR, MX, TXT, AAAA, SRV, OPT, TSIG, IXFR, AXFR = (
    1, 2, 5, 6, 12, 15, 16, 28, 33, 41, 250, 251, 252)
IN = 1
ANY_CLASS = 255
# Rcodes (extended ones include the OPT high bits or come from TSIG).
NOERROR, FORMERR, SERVFAIL, NXDOMAIN, NOTIMP, REFUSED, NOTAUTH = 0, 1, 2, 3, 4, 5, 9
BADVERS_BADSIG, BADKEY, BADTIME = 16, 17, 18
EDNS_EXPIRE = 9  # RFC 7314 option code


@dataclass
class ProxyZone:
    """A zone the proxy serves from a master file (`file:` in the config)."""
    name: str
    text: str
    # None: the key is left out of the config (only the secondaries may
    # transfer); a list: allow-transfer as given.
    allow_transfer: Optional[List[str]] = field(default_factory=lambda: ["127.0.0.0/8", "::1"])
    # dicts with "address" and optionally "key" / "notify", as in the YAML.
    secondaries: List[dict] = field(default_factory=list)
    max_diffs: Optional[int] = None
    # A rewrite policy as in the YAML: names, edge-v4, edge-v6, ttl.
    proxied: Optional[dict] = None

    @property
    def file_name(self):
        return f"{self.name.rstrip('.') or 'root'}.zone"


@dataclass
class ProxyKey:
    name: str
    algorithm: str
    secret: str  # base64

    @staticmethod
    def random(name, algorithm="hmac-sha256"):
        return ProxyKey(name, algorithm, base64.b64encode(os.urandom(32)).decode())

    def dig_spec(self):
        return f"{self.algorithm}:{self.name.rstrip('.')}:{self.secret}"

    def tsigxfr_spec(self):
        return f"{self.name.rstrip('.')}:{self.algorithm}:{self.secret}"


def _yaml_list(items):
    return "[" + ", ".join(f'"{i}"' for i in items) + "]"


def proxied_yaml(policy, indent="    "):
    """The `proxied:` block of a zone from a dict with keys names, edge-v4,
    edge-v6 and ttl (any may be left out)."""
    out = [f"{indent}proxied:"]
    for key in ("names", "edge-v4", "edge-v6"):
        if key in policy:
            out.append(f"{indent}  {key}: {_yaml_list(policy[key])}")
    if "ttl" in policy:
        out.append(f"{indent}  ttl: {policy['ttl']}")
    return out


class XfrProxy:
    """xfrproxy on loopback from a temp dir; a context manager.

    `ipv6` adds a [::1] listener on the same port. `extra` is appended to
    the config verbatim (e.g. a `limits:` block). `host` is the IPv4
    listen address, `env` the process's environment (None: this one's).
    `wrap` is put before the command (e.g. a namespace set up by a shell);
    `env_for_log(log_path)`, when given, returns the environment once the
    log file (the daemon's stdout and stderr) exists."""

    def __init__(self, zones, keys=(), ipv6=False, threads=1, extra="", port=None,
                 host=xfrtest.LOOPBACK, env=None, wrap=(), env_for_log=None):
        self.zones = list(zones)
        self.host = host
        self.env = env
        self.keys = list(keys)
        self.ipv6 = ipv6
        self.threads = threads
        self.extra = extra
        self.port = port or xfrtest.free_port()
        self.dir = xfrtest.TempDir(prefix="xfrproxy-")
        self.process = None
        self.returncode = None
        self.wrap = list(wrap)
        self.env_for_log = env_for_log
        self.config_path = self.path("xfrproxy.yaml")
        self.log_path = self.path("xfrproxy.log")

    def path(self, name):
        return os.path.join(self.dir.path, name)

    def config_text(self):
        listen = [f"{self.host}:{self.port}"] + ([f"[::1]:{self.port}"] if self.ipv6 else [])
        out = [f"listen: {_yaml_list(listen)}", f"threads: {self.threads}"]
        if self.keys:
            out.append("keys:")
            for k in self.keys:
                out += [f"  - name: {k.name}", f"    algorithm: {k.algorithm}",
                        f'    secret: "{k.secret}"']
        out.append("zones:")
        for z in self.zones:
            out += [f"  - name: {z.name}", f"    file: {z.file_name}"]
            if z.allow_transfer is not None:
                out.append(f"    allow-transfer: {_yaml_list(z.allow_transfer)}")
            if z.secondaries:
                out.append("    secondaries:")
                for s in z.secondaries:
                    fields = ", ".join(f'{k}: "{v}"' if isinstance(v, str) else
                                       f"{k}: {str(v).lower()}" for k, v in s.items())
                    out.append(f"      - {{{fields}}}")
            if z.max_diffs is not None:
                out.append(f"    journal: {{max-diffs: {z.max_diffs}}}")
            if z.proxied is not None:
                out += proxied_yaml(z.proxied)
        return "\n".join(out) + "\n" + self.extra

    def write_zone(self, zone, text):
        """Replaces a zone's file (then reload() to serve it)."""
        zone.text = text
        with open(self.path(zone.file_name), "w") as f:
            f.write(text)

    def write_config(self):
        with open(self.config_path, "w") as f:
            f.write(self.config_text())

    def start(self, timeout=60.0, wait=True):
        """Writes the files and starts the process; with `wait`, returns once
        every zone answers SOA."""
        for z in self.zones:
            self.write_zone(z, z.text)
        self.write_config()
        argv = self.wrap + [xfrtest.binary("proxy", "xfrproxy"), "--config", self.config_path]
        env = self.env
        if self.env_for_log is not None:
            open(self.log_path, "wb").close()  # Process truncates it, same inode
            env = self.env_for_log(self.log_path)
        self.process = xfrtest.Process(argv, self.log_path, cwd=self.dir.path, env=env)
        if not wait:
            return self
        try:
            xfrtest.wait_tcp(self.port, host=self.host, timeout=timeout, proc=self.process)
            for z in self.zones:
                self.wait_serial(z.name, None, timeout=timeout)
        except Exception as e:
            log = self.log()
            self._kill()
            self.dir.cleanup()
            raise RuntimeError(f"xfrproxy did not start: {e}\n{log[-4000:]}") from e
        return self

    def wait_serial(self, zone, serial, timeout=30.0):
        """Waits until an SOA query over UDP gets NOERROR and (if given)
        `serial`; returns the serial."""
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"xfrproxy exited with {self.process.poll()}:\n{self.log()[-4000:]}")
            try:
                m = udp_query(self.port, query(zone, SOA), host=self.host, timeout=1.0)
                last = m
                if m.rcode == NOERROR and m.answer and m.answer[0].type == SOA:
                    s = m.answer[0].soa_serial()
                    if serial is None or s == serial:
                        return s
            except (OSError, WireError):
                pass
            time.sleep(0.05)
        raise TimeoutError(f"{zone} serial {serial} not served on {self.port} after {timeout}s "
                           f"(last answer {last})")

    def alive(self):
        return self.process is not None and self.process.poll() is None

    def ctl(self, *args, timeout=90):
        """`xfrproxy ctl --config <this config> ARGS...`: (exit code, stdout,
        stderr)."""
        argv = [xfrtest.binary("proxy", "xfrproxy"), "ctl", "--config", self.config_path, *args]
        r = subprocess.run(argv, capture_output=True, text=True, timeout=timeout,
                           cwd=self.dir.path)
        return r.returncode, r.stdout, r.stderr

    def reload(self):
        """SIGHUP: re-read the config and the zone files."""
        self.process.signal(signal.SIGHUP)

    def log(self):
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def wait_log(self, text, timeout=20.0, start=0):
        """Waits until the log (from character `start`) contains `text`."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text in self.log()[start:]:
                return
            time.sleep(0.05)
        raise TimeoutError(f"{text!r} not in the log after {timeout}s:\n{self.log()[-4000:]}")

    def _kill(self):
        if self.process is not None:
            if self.process.poll() is None:
                self.process.signal(signal.SIGKILL)
                self.process.proc.wait()
            self.process.stop()  # closes the log; the process is gone already

    def stop(self, timeout=20.0):
        """SIGTERM, wait; returns the exit code (SIGKILL after `timeout`,
        which returns -9)."""
        if self.process is None:
            return self.returncode
        self.returncode = self.process.stop(timeout)
        self.process = None
        return self.returncode

    def cleanup(self):
        self.stop()
        self.dir.cleanup()

    def __enter__(self):
        return self.start()

    def __exit__(self, exc_type, exc, tb):
        code = self.stop()
        log = self.log()
        self.dir.cleanup()
        if exc_type is None and code != 0:
            raise AssertionError(f"xfrproxy exited {code}:\n{log[-4000:]}")


class ServerGroup:
    """Servers a test starts, in order; close() stops all of them by PID,
    last first, whatever failed, and fails if an xfrproxy did not exit 0."""

    def __init__(self):
        self.started = []

    def start(self, s):
        s.start()
        self.started.append(s)
        return s

    def close(self):
        errors = []
        for s in reversed(self.started):
            if isinstance(s, XfrProxy):
                code = s.stop()
                log = s.log()
                s.cleanup()
                if code != 0:
                    errors.append(f"xfrproxy exited {code}:\n{log[-4000:]}")
            else:
                s.cleanup()
        self.started = []
        if errors:
            raise AssertionError("\n".join(errors))


# --- Wire format ---------------------------------------------------------------

class WireError(Exception):
    pass


def encode_name(name):
    out = b""
    for label in name.rstrip(".").split("."):
        if label:
            b = label.encode()
            out += bytes([len(b)]) + b
    return out + b"\0"


def read_name(msg, i):
    """(name text with trailing dot, offset after the name) with
    decompression; raises WireError on loops and overruns."""
    labels = []
    end = None
    jumps = 0
    while True:
        if i >= len(msg):
            raise WireError("name runs past the message")
        n = msg[i]
        if n & 0xC0 == 0xC0:
            if i + 1 >= len(msg):
                raise WireError("truncated pointer")
            if end is None:
                end = i + 2
            i = ((n & 0x3F) << 8) | msg[i + 1]
            jumps += 1
            if jumps > 128:
                raise WireError("pointer loop")
            continue
        if n & 0xC0:
            raise WireError("bad label type")
        if n == 0:
            i += 1
            break
        if i + 1 + n > len(msg):
            raise WireError("label runs past the message")
        labels.append(msg[i + 1:i + 1 + n].decode("latin-1"))
        i += 1 + n
    return ".".join(labels) + ".", (end if end is not None else i)


@dataclass
class RR:
    owner: str
    type: int
    rclass: int
    ttl: int
    rdata: bytes  # names inside decompressed and lowercased-as-sent (see key)
    raw_rdata: bytes

    def soa_serial(self):
        return struct.unpack("!I", self.rdata[-20:-16])[0]

    def key(self):
        """A comparable identity: owner lowercased, type, class, TTL and
        RDATA with embedded names expanded."""
        return (self.owner.lower(), self.type, self.rclass, self.ttl, self.rdata)


def _expand_rdata(msg, start, rdlen, rtype):
    """RDATA with compressed names expanded for the types that may carry
    them (RFC 3597 §4: only the RFC 1035 types)."""
    end = start + rdlen
    def name_at(j):
        n, k = read_name(msg, j)
        return encode_name(n) if n != "." else b"\0", k
    try:
        if rtype in (NS, CNAME, PTR, 39):
            n, k = name_at(start)
            return n
        if rtype == MX:
            n, k = name_at(start + 2)
            return msg[start:start + 2] + n
        if rtype == SOA:
            a, k = name_at(start)
            b, k = name_at(k)
            return a + b + msg[k:end]
    except WireError:
        raise
    return msg[start:end]


@dataclass
class Message:
    id: int
    flags: int
    questions: List[Tuple[str, int, int]]
    answer: List[RR]
    authority: List[RR]
    additional: List[RR]
    raw: bytes

    @property
    def qr(self):
        return bool(self.flags & 0x8000)

    @property
    def opcode(self):
        return (self.flags >> 11) & 15

    @property
    def aa(self):
        return bool(self.flags & 0x0400)

    @property
    def tc(self):
        return bool(self.flags & 0x0200)

    @property
    def opt(self):
        for r in self.additional:
            if r.type == OPT:
                return r
        return None

    @property
    def tsig(self):
        if self.additional and self.additional[-1].type == TSIG:
            return self.additional[-1]
        return None

    @property
    def rcode(self):
        """The full rcode: header bits plus the OPT's extended bits."""
        rc = self.flags & 15
        o = self.opt
        if o is not None:
            rc |= ((o.ttl >> 24) & 0xFF) << 4
        return rc

    def edns_options(self):
        """{code: data} of the OPT's options (empty without OPT)."""
        o = self.opt
        out = {}
        if o is None:
            return out
        d, i = o.raw_rdata, 0
        while i + 4 <= len(d):
            code, ln = struct.unpack("!HH", d[i:i + 4])
            out[code] = d[i + 4:i + 4 + ln]
            i += 4 + ln
        return out

    def tsig_error(self):
        """The TSIG record's error field, or None without TSIG."""
        t = self.tsig
        if t is None:
            return None
        d = t.raw_rdata
        _, k = read_name(d, 0)
        # time(6) fudge(2) mac_size(2) mac orig_id(2) error(2)
        mac_len = struct.unpack("!H", d[k + 8:k + 10])[0]
        j = k + 10 + mac_len + 2
        return struct.unpack("!H", d[j:j + 2])[0]


def parse_message(msg):
    if len(msg) < 12:
        raise WireError(f"message of {len(msg)} bytes")
    qid, flags, qd, an, ns, ar = struct.unpack("!HHHHHH", msg[:12])
    i = 12
    questions = []
    for _ in range(qd):
        n, i = read_name(msg, i)
        if i + 4 > len(msg):
            raise WireError("truncated question")
        t, c = struct.unpack("!HH", msg[i:i + 4])
        questions.append((n, t, c))
        i += 4
    sections = []
    for count in (an, ns, ar):
        rrs = []
        for _ in range(count):
            n, i = read_name(msg, i)
            if i + 10 > len(msg):
                raise WireError("truncated RR header")
            t, c, ttl, rdlen = struct.unpack("!HHIH", msg[i:i + 10])
            i += 10
            if i + rdlen > len(msg):
                raise WireError("RDATA runs past the message")
            rrs.append(RR(n, t, c, ttl, _expand_rdata(msg, i, rdlen, t), msg[i:i + rdlen]))
            i += rdlen
        sections.append(rrs)
    if i != len(msg):
        raise WireError(f"{len(msg) - i} trailing bytes")
    return Message(qid, flags, questions, sections[0], sections[1], sections[2], msg)


def soa_rdata(serial, mname="ns1.example.com.", rname="hostmaster.example.com."):
    return encode_name(mname) + encode_name(rname) + struct.pack("!IIIII", serial, 3600, 600, 86400, 300)


def query(qname, qtype, qid=None, opcode=0, rd=False, edns=None, ixfr_serial=None,
          qclass=IN, edns_version=0, edns_options=(), payload=1232):
    """A query's bytes. edns=True adds an OPT (version, options given);
    ixfr_serial puts the client's SOA in the authority section (RFC 1995)."""
    if qid is None:
        qid = random.randrange(65536)
    flags = (opcode << 11) | (0x0100 if rd else 0)
    body = encode_name(qname) + struct.pack("!HH", qtype, qclass)
    ns = ar = 0
    if ixfr_serial is not None:
        body += encode_name(qname) + struct.pack("!HHIH", SOA, IN, 0, 0)
        rd_ = soa_rdata(ixfr_serial)
        body = body[:-2] + struct.pack("!H", len(rd_)) + rd_
        ns = 1
    if edns or edns_options or edns_version:
        opts = b"".join(struct.pack("!HH", c, len(d)) + d for c, d in edns_options)
        body += b"\0" + struct.pack("!HHIH", OPT, payload, (edns_version & 0xFF) << 16, len(opts)) + opts
        ar = 1
    return struct.pack("!HHHHHH", qid, flags, 1, 0, ns, ar) + body


_TSIG_HASH = {"hmac-sha1": hashlib.sha1, "hmac-sha224": hashlib.sha224,
              "hmac-sha256": hashlib.sha256, "hmac-sha384": hashlib.sha384,
              "hmac-sha512": hashlib.sha512}


def tsig_sign(msg, key, now=None, fudge=300):
    """Appends a TSIG RR (RFC 8945 §4.3.3, request MAC) to a query."""
    now = int(time.time()) if now is None else now
    kname = encode_name(key.name.lower())
    alg = encode_name(key.algorithm)
    tsig_vars = (kname + struct.pack("!HI", ANY_CLASS, 0) + alg +
                 struct.pack("!HIH", now >> 32, now & 0xFFFFFFFF, fudge) +
                 struct.pack("!HH", 0, 0))
    mac = hmac.new(base64.b64decode(key.secret), msg + tsig_vars, _TSIG_HASH[key.algorithm]).digest()
    qid = struct.unpack("!H", msg[:2])[0]
    rdata = (alg + struct.pack("!HIH", now >> 32, now & 0xFFFFFFFF, fudge) +
             struct.pack("!H", len(mac)) + mac + struct.pack("!HHH", qid, 0, 0))
    rr = kname + struct.pack("!HHIH", TSIG, ANY_CLASS, 0, len(rdata)) + rdata
    arcount = struct.unpack("!H", msg[10:12])[0] + 1
    return msg[:10] + struct.pack("!H", arcount) + msg[12:] + rr


def _family(host):
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def udp_query(port, q, host="127.0.0.1", timeout=3.0, source=None):
    """Sends `q` over UDP and returns the parsed answer with the same ID;
    raises socket.timeout when none comes."""
    with socket.socket(_family(host), socket.SOCK_DGRAM) as s:
        if source:
            s.bind((source, 0))
        s.settimeout(timeout)
        s.sendto(q, (host, port))
        deadline = time.monotonic() + timeout
        while True:
            s.settimeout(max(0.01, deadline - time.monotonic()))
            data, _ = s.recvfrom(65535)
            if data[:2] == q[:2]:
                return parse_message(data)


def udp_raw(port, data, host="127.0.0.1", timeout=1.0):
    """Sends raw bytes over UDP; returns the first datagram back, or None."""
    with socket.socket(_family(host), socket.SOCK_DGRAM) as s:
        s.settimeout(timeout)
        s.sendto(data, (host, port))
        try:
            return s.recvfrom(65535)[0]
        except socket.timeout:
            return None


def tcp_connect(port, host="127.0.0.1", timeout=30.0, source=None):
    s = socket.socket(_family(host), socket.SOCK_STREAM)
    s.settimeout(timeout)
    if source:
        s.bind((source, 0))
    s.connect((host, port))
    return s


def frame(q):
    return struct.pack("!H", len(q)) + q


def _recv_exact(s, n):
    buf = b""
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            raise WireError(f"connection closed after {len(buf)} of {n} bytes")
        buf += chunk
    return buf


def tcp_read_message(s):
    """One length-prefixed message, as raw bytes."""
    (n,) = struct.unpack("!H", _recv_exact(s, 2))
    return _recv_exact(s, n)


class TransferReader:
    """Follows one AXFR/IXFR answer (RFC 5936 §2.2, RFC 1995 §4) through
    its messages and says when it is complete."""

    def __init__(self):
        self.messages = []
        self.records = []
        self.done = False
        self._first = None
        self._state = "start"  # start, second, axfr, del, add

    def feed(self, m):
        self.messages.append(m)
        if m.rcode != NOERROR:
            self.done = True
            return
        for r in m.answer:
            if self.done:
                raise WireError("records after the end of the transfer")
            self.records.append(r)
            is_soa = r.type == SOA
            if self._state == "start":
                if not is_soa:
                    raise WireError("transfer does not start with an SOA")
                self._first = r.soa_serial()
                self._state = "second"
            elif self._state == "second":
                if is_soa and r.soa_serial() != self._first:
                    self._state = "del"  # incremental
                elif is_soa:
                    self.done = True  # AXFR of an SOA-only zone
                else:
                    self._state = "axfr"
            elif self._state == "axfr":
                if is_soa:
                    self.done = True
            elif self._state == "del":
                if is_soa:
                    self._state = "add"
            elif self._state == "add":
                if is_soa:
                    if r.soa_serial() == self._first:
                        self.done = True
                    else:
                        self._state = "del"
        if self._state == "second" and len(self.records) == 1:
            # An answer with the SOA alone (IXFR, client current).
            self.done = True


def tcp_transfer(port, q, host="127.0.0.1", timeout=60.0, source=None):
    """Sends one query over a new TCP connection and reads the whole answer;
    returns the list of parsed messages."""
    with tcp_connect(port, host, timeout, source) as s:
        s.sendall(frame(q))
        return read_transfer(s, q[:2])


def read_transfer(s, qid_bytes):
    reader = TransferReader()
    while not reader.done:
        raw = tcp_read_message(s)
        if raw[:2] != qid_bytes:
            raise WireError(f"answer ID {raw[:2].hex()} for query {qid_bytes.hex()}")
        reader.feed(parse_message(raw))
    return reader.messages


def transfer_records(messages):
    return [r for m in messages for r in m.answer]


def tcp_ask(port, q, host="127.0.0.1", timeout=10.0):
    """One query over TCP, one message back (parsed)."""
    with tcp_connect(port, host, timeout) as s:
        s.sendall(frame(q))
        return parse_message(tcp_read_message(s))
