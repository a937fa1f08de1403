"""A scriptable fake primary for testing xfrproxy's upstream (secondary) side.

FakePrimary listens on 127.0.0.1 on a free port, UDP and TCP, and serves one
zone: SOA over UDP and TCP, AXFR and IXFR (RFC 1995, real diffs from its
version history) over TCP. Tests move it from version to version and make it
misbehave on purpose, per request type, to prove that a broken transfer
never replaces the version a secondary serves:

    fp = FakePrimary("example.com.")
    fp.publish(make_records("example.com.", 1, 50))
    fp.start()
    fp.set_fault("truncate", after=1)      # AXFR/IXFR cut after 1 message
    fp.publish(make_records("example.com.", 2, 50))
    fp.notify(proxy.port)
    ...
    fp.clear_fault()
    fp.count("AXFR")                       # requests received, by type

Records are (owner, type, ttl, rdata-wire-bytes) tuples with owner names in
lower case and names in RDATA uncompressed, which is exactly what
xfrproxy_run.parse_message gives back as RR.key() fields: a transfer read
from xfrproxy compares with a version here record by record.

Answers are signed with TSIG (RFC 8945 §4.3, §5.3.1: every message of a
multi-message answer, each MAC chained to the one before) when a key is set;
queries are verified and the outcome recorded per request.

Faults (set_fault(kind, types=..., **params)), each applied to the request
types given (default AXFR and IXFR):
  truncate(after=N)   send N complete messages, then close
  die(after=N)        send N messages and half of the next one, then close
  stall(after=N)      send N messages, then nothing (connection held open)
  wrong_question      the question names another zone
  wrong_id            the answer's ID differs from the query's
  soa_mismatch        the closing SOA has another serial than the opening one
  ixfr_bad_start      IXFR diffs start from a serial that is not the client's
  ixfr_gap            IXFR diff chain whose serials do not join
  ixfr_bogus_delete   an IXFR diff deletes a record the client does not hold
  rcode(rcode=R)      answer with RCODE R only (NOTIMP, REFUSED, FORMERR...)
  unsigned            no TSIG on the answer (when a key is set)
  bad_mac             a TSIG whose MAC is wrong
  silent              no answer at all (for UDP: a dead primary)
"""
import base64
import collections
import json
import os
import random
import hashlib
import hmac
import signal
import socket
import struct
import threading
import time
import urllib.error
import urllib.request

import xfrtest
from xfrproxy_run import XfrProxy, proxied_yaml
from xfrproxy_run import (A, AAAA, ANY_CLASS, AXFR, IN, IXFR, NS, OPT, SOA, TSIG, TXT,
                          EDNS_EXPIRE, WireError, encode_name, parse_message, read_name)

TYPE_NAMES = {SOA: "SOA", AXFR: "AXFR", IXFR: "IXFR", A: "A", NS: "NS", TXT: "TXT",
              AAAA: "AAAA"}
NOTIFY_OPCODE = 4
_HASH = {"hmac-sha1": hashlib.sha1, "hmac-sha224": hashlib.sha224,
         "hmac-sha256": hashlib.sha256, "hmac-sha384": hashlib.sha384,
         "hmac-sha512": hashlib.sha512}


# --- Zone content ----------------------------------------------------------------

def soa_record(zone, serial, refresh=3600, retry=600, expire=86400, minimum=300, ttl=3600):
    rdata = (encode_name(f"ns1.{zone}") + encode_name(f"hostmaster.{zone}") +
             struct.pack("!IIIII", serial, refresh, retry, expire, minimum))
    return (zone.lower(), SOA, ttl, rdata)


def make_records(zone, serial, count, refresh=3600, retry=600, expire=86400, variant=None):
    """A version: SOA, two NS, `count` A records host0..; `variant` (default
    the serial) changes a few records so that consecutive versions differ
    by a small diff: hostV is removed and extraV added, and TXT 'v' says V."""
    zone = zone.lower()
    v = serial if variant is None else variant
    recs = [soa_record(zone, serial, refresh, retry, expire),
            (zone, NS, 3600, encode_name(f"ns1.{zone}")),
            (zone, NS, 3600, encode_name(f"ns2.{zone}"))]
    for i in range(count):
        if i == v % max(count, 1):
            continue
        recs.append((f"host{i}.{zone}", A, 3600, bytes([10, (i >> 16) & 255, (i >> 8) & 255, i & 255])))
    recs.append((f"extra{v}.{zone}", A, 300, bytes([192, 0, 2, v & 255])))
    txt = f"version {v}".encode()
    recs.append((f"v.{zone}", TXT, 60, bytes([len(txt)]) + txt))
    return recs


def soa_serial_of(rec):
    return struct.unpack("!I", rec[3][-20:-16])[0]


def with_serial(soa, serial):
    return soa[:3] + (soa[3][:-20] + struct.pack("!I", serial) + soa[3][-16:],)


def record_keys(records, rclass=IN):
    """The comparable form of records: as RR.key() of parsed messages."""
    return sorted((o.lower(), t, rclass, ttl, rd) for o, t, ttl, rd in records)


def transfer_keys(rrs):
    """RR.key() of a parsed AXFR's records, the closing SOA dropped."""
    body = list(rrs)
    if len(body) >= 2 and body[-1].type == SOA:
        body = body[:-1]
    return sorted(r.key() for r in body)


# --- Wire ----------------------------------------------------------------------------

def encode_rr(owner, rtype, ttl, rdata, rclass=IN):
    return encode_name(owner) + struct.pack("!HHIH", rtype, rclass, ttl, len(rdata)) + rdata


class Key:
    """A TSIG key (name, algorithm, base64 secret): same fields as
    xfrproxy_run.ProxyKey and servers.Key, so either may be passed."""

    def __init__(self, name, algorithm, secret):
        self.name, self.algorithm, self.secret = name, algorithm, secret


def _tsig_rdata(alg, now, fudge, mac, orig_id, error=0, other=b""):
    return (encode_name(alg) + struct.pack("!HIH", now >> 32, now & 0xFFFFFFFF, fudge) +
            struct.pack("!H", len(mac)) + mac + struct.pack("!HHH", orig_id, error, len(other)) +
            other)


def _skip_name(msg, i):
    while True:
        n = msg[i]
        if n == 0:
            return i + 1
        if n & 0xC0 == 0xC0:
            return i + 2
        i += n + 1


def _last_rr_offset(raw):
    """Offset of the last RR of a message (the TSIG, when signed)."""
    qd, an, ns, ar = struct.unpack("!HHHH", raw[4:12])
    i = 12
    for _ in range(qd):
        i = _skip_name(raw, i) + 4
    last = i
    for _ in range(an + ns + ar):
        last = i
        i = _skip_name(raw, i)
        i += 10 + struct.unpack("!H", raw[i + 8:i + 10])[0]
    return last


def _split_tsig(raw):
    """(message without its TSIG and with ARCOUNT one less, TSIG owner,
    algorithm, time, fudge, mac, orig_id, error, other) or None."""
    m = parse_message(raw)
    t = m.tsig
    if t is None:
        return None
    body = raw[:_last_rr_offset(raw)]
    ar = struct.unpack("!H", body[10:12])[0] - 1
    body = body[:10] + struct.pack("!H", ar) + body[12:]
    d = t.raw_rdata
    alg, k = read_name(d, 0)
    hi, lo, fudge, mlen = struct.unpack("!HIHH", d[k:k + 10])
    mac = d[k + 10:k + 10 + mlen]
    j = k + 10 + mlen
    orig_id, error, olen = struct.unpack("!HHH", d[j:j + 6])
    body = struct.pack("!H", orig_id) + body[2:]
    return body, t.owner, alg, (hi << 32) | lo, fudge, mac, orig_id, error, d[j + 6:j + 6 + olen]


def tsig_vars(key, now, fudge, error=0, other=b""):
    return (encode_name(key.name.lower()) + struct.pack("!HI", ANY_CLASS, 0) +
            encode_name(key.algorithm.lower()) +
            struct.pack("!HIH", now >> 32, now & 0xFFFFFFFF, fudge) +
            struct.pack("!HH", error, len(other)) + other)


def verify_query(raw, key):
    """'none', 'ok', or a reason the query's TSIG does not verify; and the
    request MAC (b'' when there is none)."""
    try:
        parts = _split_tsig(raw)
    except (WireError, struct.error):
        return "malformed", b""
    if parts is None:
        return "none", b""
    body, owner, alg, now, fudge, mac, _, _, other = parts
    if owner.rstrip(".").lower() != key.name.rstrip(".").lower():
        return f"key {owner}", mac
    want = hmac.new(base64.b64decode(key.secret), body + tsig_vars(key, now, fudge, 0, other),
                    _HASH[key.algorithm]).digest()
    if not hmac.compare_digest(want, mac):
        return "bad mac", mac
    if abs(time.time() - now) > fudge:
        return "bad time", mac
    return "ok", mac


class _Signer:
    """Signs the messages of one answer (RFC 8945 §5.3: the first with the
    request MAC and all variables, the next ones with the previous MAC and
    the timers only)."""

    def __init__(self, key, request_mac, corrupt=False):
        self.key, self.prior, self.first, self.corrupt = key, request_mac, True, corrupt

    def sign(self, msg):
        now = int(time.time())
        fudge = 300
        h = hmac.new(base64.b64decode(self.key.secret), digestmod=_HASH[self.key.algorithm])
        if self.prior:
            h.update(struct.pack("!H", len(self.prior)) + self.prior)
        h.update(msg)
        if self.first:
            h.update(tsig_vars(self.key, now, fudge))
        else:
            h.update(struct.pack("!HIH", now >> 32, now & 0xFFFFFFFF, fudge))
        mac = h.digest()
        self.prior, self.first = mac, False
        if self.corrupt:
            mac = bytes([mac[0] ^ 0xFF]) + mac[1:]
        qid = struct.unpack("!H", msg[:2])[0]
        rr = encode_rr(self.key.name.lower(), TSIG, 0,
                       _tsig_rdata(self.key.algorithm.lower(), now, fudge, mac, qid), ANY_CLASS)
        ar = struct.unpack("!H", msg[10:12])[0] + 1
        return msg[:10] + struct.pack("!H", ar) + msg[12:] + rr


def build_message(qid, flags, question, answer=(), opt=None):
    """question: (name, type, class) or None; answer: record tuples; opt:
    bytes of the OPT RR or None."""
    qd = 0
    body = b""
    if question is not None:
        body += encode_name(question[0]) + struct.pack("!HH", question[1], question[2])
        qd = 1
    for r in answer:
        body += encode_rr(*r)
    ar = 0
    if opt is not None:
        body += opt
        ar = 1
    return struct.pack("!HHHHHH", qid, flags, qd, len(answer), 0, ar) + body


def opt_rr(options=()):
    data = b"".join(struct.pack("!HH", c, len(d)) + d for c, d in options)
    return b"\0" + struct.pack("!HHIH", OPT, 1232, 0, len(data)) + data


def _recv_exact(s, n):
    buf = b""
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            return None
        buf += chunk
    return buf


# --- The server ----------------------------------------------------------------------

class Fault:
    def __init__(self, kind, types, params):
        self.kind, self.types, self.params = kind, set(types), params


class FakePrimary:
    """The fake primary; a context manager (start/stop)."""

    def __init__(self, zone, key=None, records_per_message=40, host=xfrtest.LOOPBACK):
        self.zone = zone.lower() if zone.endswith(".") else zone.lower() + "."
        self.key = key
        self.records_per_message = records_per_message
        self.host = host
        self.port = None
        self.versions = collections.OrderedDict()  # serial -> records
        self.serial = None
        self.expire_option = None  # EDNS EXPIRE value to send (RFC 7314)
        self.fault = None
        self.requests = []  # dicts: transport, type, opcode, peer, ixfr_serial, tsig
        self.lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = []
        self._udp = self._tcp = None
        self._conns = set()

    # -- content ---------------------------------------------------------

    def publish(self, records):
        """Adds a version and makes it current (its serial from its SOA)."""
        soa = [r for r in records if r[1] == SOA]
        if len(soa) != 1 or records[0][1] != SOA:
            raise ValueError("a version starts with exactly one SOA")
        serial = soa_serial_of(soa[0])
        with self.lock:
            self.versions[serial] = list(records)
            self.serial = serial
        return serial

    def forget(self, serial):
        """Drops a version from the history (as a primary trimming its
        journal does): IXFR chains then skip it."""
        with self.lock:
            if serial == self.serial:
                raise ValueError("cannot forget the current version")
            del self.versions[serial]

    def current(self):
        with self.lock:
            return self.versions[self.serial]

    def set_fault(self, kind, types=("AXFR", "IXFR"), **params):
        with self.lock:
            self.fault = Fault(kind, types, params)

    def clear_fault(self):
        with self.lock:
            self.fault = None

    def count(self, qtype, transport=None, opcode=0):
        """Requests received of a type ('SOA', 'AXFR', 'IXFR'), optionally
        on one transport ('udp', 'tcp')."""
        with self.lock:
            return sum(1 for r in self.requests if r["type"] == qtype and r["opcode"] == opcode
                       and (transport is None or r["transport"] == transport))

    def requests_of(self, qtype):
        with self.lock:
            return [r for r in self.requests if r["type"] == qtype]

    def wait_count(self, qtype, n, timeout=20.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.count(qtype) >= n:
                return
            time.sleep(0.05)
        raise TimeoutError(f"fake primary got {self.count(qtype)} {qtype} requests, "
                           f"not {n}, in {timeout}s: {self.requests[-10:]}")

    # -- lifecycle -------------------------------------------------------

    def start(self):
        self.port = self.port or xfrtest.free_port()
        self._udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._udp.bind((self.host, self.port))
        self._udp.settimeout(0.2)
        self._tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._tcp.bind((self.host, self.port))
        self._tcp.listen(64)
        self._tcp.settimeout(0.2)
        self._stop.clear()
        for fn in (self._udp_loop, self._tcp_loop):
            t = threading.Thread(target=fn, daemon=True)
            t.start()
            self._threads.append(t)
        return self

    def stop(self):
        """Closes both sockets and every open connection: the primary is
        dead until start() again (same port)."""
        self._stop.set()
        for t in self._threads:
            t.join(5)
        self._threads = []
        with self.lock:
            conns = list(self._conns)
        for c in conns:
            try:
                c.close()
            except OSError:
                pass
        for s in (self._udp, self._tcp):
            if s is not None:
                s.close()
        self._udp = self._tcp = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # -- NOTIFY ----------------------------------------------------------

    def notify_message(self, qid=None):
        qid = qid if qid is not None else random.randrange(65536)
        msg = build_message(qid, (NOTIFY_OPCODE << 11) | 0x0400, (self.zone, SOA, IN),
                            [self.current()[0]])
        if self.key is not None:
            msg = _Signer(self.key, b"").sign(msg)
        return msg

    def notify(self, port, host=xfrtest.LOOPBACK, source=None, timeout=3.0):
        """Sends one NOTIFY (RFC 1996) with the current SOA; returns the
        parsed answer, or None when none came."""
        return self.notify_burst(port, 1, host, source, timeout)[0]

    def notify_burst(self, port, n, host=xfrtest.LOOPBACK, source=None, timeout=3.0):
        """Sends n NOTIFYs with distinct IDs at once, then collects the
        answers; returns them in order (None for each unanswered one)."""
        msgs = [self.notify_message(qid=i + 1) for i in range(n)]
        got = {}
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.bind((source or self.host, 0))
            for m in msgs:
                s.sendto(m, (host, port))
            deadline = time.monotonic() + timeout
            while len(got) < n and time.monotonic() < deadline:
                s.settimeout(max(0.01, deadline - time.monotonic()))
                try:
                    data, _ = s.recvfrom(65535)
                except socket.timeout:
                    break
                try:
                    m = parse_message(data)
                except WireError:
                    continue
                got[m.id] = m
        return [got.get(i + 1) for i in range(n)]

    # -- serving ---------------------------------------------------------

    def _fault_for(self, qtype, transport):
        with self.lock:
            f = self.fault
        if f is None:
            return None
        name = TYPE_NAMES.get(qtype, str(qtype))
        if name in f.types or (transport == "udp" and "UDP" in f.types):
            return f
        return None

    def _record(self, transport, raw, peer):
        try:
            m = parse_message(raw)
        except WireError:
            return None, None, None
        if m.qr or len(m.questions) != 1:
            return None, None, None
        q = m.questions[0]
        ixfr_serial = None
        if q[1] == IXFR and m.authority and m.authority[0].type == SOA:
            ixfr_serial = m.authority[0].soa_serial()
        tsig, mac = ("none", b"")
        if self.key is not None:
            tsig, mac = verify_query(raw, self.key)
        entry = {"transport": transport, "type": TYPE_NAMES.get(q[1], str(q[1])),
                 "opcode": m.opcode, "peer": peer, "ixfr_serial": ixfr_serial, "tsig": tsig,
                 "edns": m.opt is not None, "time": time.monotonic()}
        with self.lock:
            self.requests.append(entry)
        return m, entry, mac

    def _udp_loop(self):
        while not self._stop.is_set():
            try:
                raw, peer = self._udp.recvfrom(65535)
            except socket.timeout:
                continue
            except OSError:
                return
            m, entry, mac = self._record("udp", raw, peer)
            if m is None:
                continue
            fault = self._fault_for(m.questions[0][1], "udp")
            if fault is not None and fault.kind == "silent":
                continue
            out = self._answer_single(m, entry, mac, fault)
            if out is not None:
                try:
                    self._udp.sendto(out, peer)
                except OSError:
                    pass

    def _tcp_loop(self):
        while not self._stop.is_set():
            try:
                conn, peer = self._tcp.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            with self.lock:
                self._conns.add(conn)
            t = threading.Thread(target=self._serve_conn, args=(conn, peer), daemon=True)
            t.start()

    def _serve_conn(self, conn, peer):
        try:
            conn.settimeout(30)
            while not self._stop.is_set():
                hdr = _recv_exact(conn, 2)
                if hdr is None:
                    return
                raw = _recv_exact(conn, struct.unpack("!H", hdr)[0])
                if raw is None:
                    return
                m, entry, mac = self._record("tcp", raw, peer)
                if m is None:
                    return
                qtype = m.questions[0][1]
                fault = self._fault_for(qtype, "tcp")
                if fault is not None and fault.kind == "silent":
                    self._stop.wait(60)
                    return
                if qtype in (AXFR, IXFR):
                    if not self._transfer(conn, m, entry, mac, fault):
                        return
                else:
                    out = self._answer_single(m, entry, mac, fault)
                    if out is None:
                        return
                    conn.sendall(struct.pack("!H", len(out)) + out)
        except OSError:
            pass
        finally:
            with self.lock:
                self._conns.discard(conn)
            try:
                conn.close()
            except OSError:
                pass

    def _header(self, m, rcode=0, fault=None):
        qid = m.id ^ 0x5A5A if fault is not None and fault.kind == "wrong_id" else m.id
        return qid, 0x8000 | 0x0400 | (m.opcode << 11) | rcode

    def _question(self, m, fault):
        q = m.questions[0]
        if fault is not None and fault.kind == "wrong_question":
            return ("other." + q[0], q[1], q[2])
        return q

    def _opt(self, m, first=True):
        if m.opt is None:
            return None
        opts = []
        if first and self.expire_option is not None and EDNS_EXPIRE in m.edns_options():
            opts.append((EDNS_EXPIRE, struct.pack("!I", self.expire_option)))
        return opt_rr(opts)

    def _sign(self, signer, msg, fault):
        if signer is None or (fault is not None and fault.kind == "unsigned"):
            return msg
        return signer.sign(msg)

    def _signer(self, mac, fault):
        if self.key is None:
            return None
        return _Signer(self.key, mac, corrupt=fault is not None and fault.kind == "bad_mac")

    def _answer_single(self, m, entry, mac, fault):
        qid, flags = self._header(m, fault=fault)
        q = self._question(m, fault)
        signer = self._signer(mac, fault)
        if fault is not None and fault.kind == "rcode":
            return self._sign(signer, build_message(qid, flags | fault.params["rcode"], q,
                                                    opt=self._opt(m, False)), fault)
        if m.opcode != 0 or q[2] != IN:
            return build_message(qid, flags | 4, q)
        if m.questions[0][0].lower() != self.zone:
            return build_message(qid, (flags & ~0x0400) | 5, q)
        answer = [self.current()[0]] if q[1] == SOA else []
        return self._sign(signer, build_message(qid, flags, q, answer, self._opt(m)), fault)

    def _transfer_records(self, m, entry, fault):
        """The answer's records (opening SOA to closing SOA)."""
        with self.lock:
            serial = self.serial
            cur = self.versions[serial]
            versions = dict(self.versions)
            order = list(self.versions)
        soa = cur[0]
        kind = fault.kind if fault is not None else None
        client = entry["ixfr_serial"]
        if m.questions[0][1] == IXFR and client is not None and (
                client in versions or kind in ("ixfr_bad_start", "ixfr_gap")):
            if client == serial and kind is None:
                return [soa]
            start = order.index(client) if client in order else max(0, len(order) - 2)
            chain = order[start:order.index(serial) + 1]
            if len(chain) < 2:
                chain = order[-2:]
            out = [soa]
            for i, (a, b) in enumerate(zip(chain, chain[1:])):
                old, new = versions[a], versions[b]
                old_soa, new_soa = old[0], new[0]
                if kind == "ixfr_bad_start" and i == 0:
                    old_soa = with_serial(old_soa, (client + 1000) & 0xFFFFFFFF)
                if kind == "ixfr_gap" and i == len(chain) - 2:
                    # The last diff claims to start from a serial the one
                    # before did not end at.
                    old_soa = with_serial(old_soa, (soa_serial_of(old_soa) + 500) & 0xFFFFFFFF)
                os_, ns_ = set(old[1:]), set(new[1:])
                out += [old_soa] + [r for r in old[1:] if r not in ns_]
                if kind == "ixfr_bogus_delete" and i == 0:
                    # Deletes a record the client does not have.
                    out.append((f"nowhere.{self.zone}", A, 3600, bytes([192, 0, 2, 254])))
                out += [new_soa] + [r for r in new[1:] if r not in os_]
            if kind == "ixfr_gap" and len(chain) == 2:
                # One diff only: add a second one from a serial nobody had.
                out += [with_serial(soa, soa_serial_of(soa) + 7), with_serial(soa, soa_serial_of(soa) + 8)]
            out.append(soa)
        else:
            out = [soa] + cur[1:] + [soa]
        if kind == "soa_mismatch":
            out[-1] = with_serial(out[-1], (soa_serial_of(soa) + 1) & 0xFFFFFFFF)
        return out

    def _transfer(self, conn, m, entry, mac, fault):
        """Answers an AXFR/IXFR; False when the connection is to be closed."""
        qid, flags = self._header(m, fault=fault)
        q = self._question(m, fault)
        signer = self._signer(mac, fault)

        def send(msg, partial=False):
            msg = self._sign(signer, msg, fault)
            data = struct.pack("!H", len(msg)) + msg
            conn.sendall(data[:len(data) // 2] if partial else data)

        if fault is not None and fault.kind == "rcode":
            send(build_message(qid, flags | fault.params["rcode"], q, opt=self._opt(m, False)))
            return True
        if m.questions[0][0].lower() != self.zone:
            send(build_message(qid, (flags & ~0x0400) | 5, q))
            return True
        recs = self._transfer_records(m, entry, fault)
        n = self.records_per_message
        chunks = [recs[i:i + n] for i in range(0, len(recs), n)]
        after = fault.params.get("after", 1) if fault is not None else None
        for i, chunk in enumerate(chunks):
            msg = build_message(qid, flags, q, chunk, self._opt(m, i == 0))
            if fault is not None and i == after:
                if fault.kind == "truncate":
                    return False
                if fault.kind == "die":
                    send(msg, partial=True)
                    return False
                if fault.kind == "stall":
                    self._stop.wait(120)
                    return False
            send(msg)
        return True


# --- xfrproxy following primaries ------------------------------------------------

def primary_addr(p):
    """"host:port" of a FakePrimary (or anything with host and port)."""
    return f"{p.host}:{p.port}"


class UpstreamProxy(XfrProxy):
    """XfrProxy with zones that follow primaries. Each zone is a dict:
    name, primaries (list of "host:port"), and optionally primary_key,
    notify_from (list), notify_key ("required", or as the YAML wants it),
    max_records, allow_transfer (list, default loopback), secondaries
    (dicts as in ProxyZone), proxied (a policy dict as in ProxyZone).
    `http_port` adds the http endpoint (/metrics, /peers) on 127.0.0.1;
    `state_dir` (True: "state" in the temp dir) keeps the data across
    restarts (kill9() then start() again). start() waits only for the
    listener: the tests wait for serials themselves."""

    def __init__(self, upstream, keys=(), limits=None, http_port=None, state_dir=None, **kw):
        super().__init__([], keys=keys, **kw)
        self.upstream = upstream
        self.limits = limits or {}
        self.http_port = http_port
        self.state_dir = self.path("state") if state_dir is True else state_dir
        self.runs = 0

    def config_text(self):
        text = super().config_text()
        # Top-level keys go before "zones:", which the base writes last
        # before its `extra`.
        top = []
        if self.http_port is not None:
            top.append(f'http: "127.0.0.1:{self.http_port}"')
        if self.state_dir is not None:
            top.append(f"state-dir: {self.state_dir}")
        if top:
            head, sep, tail = text.partition("zones:\n")
            if not sep:
                raise AssertionError("XfrProxy.config_text changed: no 'zones:' line")
            text = head + "\n".join(top) + "\n" + sep + tail
        out = []
        for z in self.upstream:
            out += [f"  - name: {z['name']}",
                    "    primaries: [" + ", ".join(f'"{p}"' for p in z["primaries"]) + "]",
                    "    allow-transfer: [" + ", ".join(
                        f'"{c}"' for c in z.get("allow_transfer", ["127.0.0.0/8"])) + "]"]
            if z.get("secondaries"):
                out.append("    secondaries:")
                for s in z["secondaries"]:
                    fields = ", ".join(f'{k}: "{v}"' if isinstance(v, str) else
                                       f"{k}: {str(v).lower()}" for k, v in s.items())
                    out.append(f"      - {{{fields}}}")
            if z.get("primary_key"):
                out.append(f"    primary-key: {z['primary_key']}")
            if z.get("notify_from"):
                out.append("    notify-from: [" + ", ".join(f'"{c}"' for c in z["notify_from"]) + "]")
            if z.get("notify_key"):
                out.append(f"    notify-key: {z['notify_key']}")
            if z.get("max_records"):
                out.append(f"    max-records: {z['max_records']}")
            if z.get("proxied"):
                out += proxied_yaml(z["proxied"])
        limits = {"upstream-query-timeout": "1s", "upstream-connect-timeout": "2s",
                  "upstream-idle-timeout": "2s", **self.limits}
        out.append("limits:")
        out += [f"  {k}: {v}" for k, v in limits.items()]
        # The base writes "zones:" with no zone under it: ours follow it.
        return text + "\n".join(out) + "\n"

    def start(self, timeout=30.0):
        self.write_config()
        if self.runs and os.path.exists(self.log_path):
            # A restart: the last run's log stays beside the new one.
            os.replace(self.log_path, f"{self.log_path}.{self.runs}")
        self.runs += 1
        argv = [xfrtest.binary("proxy", "xfrproxy"), "--config", self.config_path]
        self.process = xfrtest.Process(argv, self.log_path, cwd=self.dir.path)
        try:
            xfrtest.wait_tcp(self.port, timeout=timeout, proc=self.process)
        except Exception as e:
            log = self.log()
            self._kill()
            self.dir.cleanup()
            raise RuntimeError(f"xfrproxy did not start: {e}\n{log[-4000:]}") from e
        if self.http_port is not None:
            xfrtest.wait_tcp(self.http_port, timeout=timeout, proc=self.process)
        return self

    def kill9(self):
        """SIGKILL, as a crash: no shutdown work at all. The temp dir (config,
        state-dir, logs) stays for start() again."""
        self.process.signal(signal.SIGKILL)
        self.process.proc.wait()
        self.process.stop()  # closes the log; the process is already gone
        self.process = None

    def metrics(self):
        """{sample name with labels: value} from /metrics."""
        return parse_metrics(http_get(self.http_port, "/metrics")[1])

    def metric(self, name):
        """One sample of /metrics (0 when absent: counters start unset)."""
        return self.metrics().get(name, 0.0)

    def peers(self, zone):
        """The zone's entry of /peers (JSON), or None."""
        doc = json.loads(http_get(self.http_port, "/peers")[1])
        for z in doc.get("zones", []):
            if z.get("name") == zone:
                return z
        return None


def http_get(port, path, timeout=10):
    """(status, body) of a GET on 127.0.0.1:port."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=timeout) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def parse_metrics(text):
    """Prometheus text format to {name or name{labels}: float}."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        name, _, value = line.rpartition(" ")
        try:
            out[name] = float(value)
        except ValueError:
            pass
    return out


def send_notify(port, zone, serial=None, key=None, host=xfrtest.LOOPBACK, source=None,
                timeout=3.0):
    """One NOTIFY (RFC 1996 §3.7) for `zone` over UDP, as a primary sends
    it: AA set, the SOA question, the new SOA in the answer when `serial`
    is given (a hint), TSIG-signed with `key` (anything with name,
    algorithm and secret) when given. Returns the parsed answer, or None
    when none came. (`dig` has no NOTIFY; this needs no kdig either.)"""
    zone = zone if zone.endswith(".") else zone + "."
    qid = random.randrange(65536)
    answer = [soa_record(zone.lower(), serial)] if serial is not None else []
    msg = build_message(qid, (NOTIFY_OPCODE << 11) | 0x0400, (zone, SOA, IN), answer)
    if key is not None:
        msg = _Signer(key, b"").sign(msg)
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET,
                       socket.SOCK_DGRAM) as s:
        s.bind((source or ("::1" if ":" in host else xfrtest.LOOPBACK), 0))
        s.sendto(msg, (host, port))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            s.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                data, _ = s.recvfrom(65535)
            except socket.timeout:
                return None
            if data[:2] == msg[:2]:
                try:
                    return parse_message(data)
                except WireError:
                    return None
    return None
