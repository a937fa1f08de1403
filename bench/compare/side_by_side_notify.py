"""Scenario 4 of side_by_side.py: NOTIFY fan-out to N simulated secondaries.

For each server that can send NOTIFY (xfrproxy, knotd; ixfrdist 4.7
cannot), with a knotd primary of its own: N secondaries from `xfrload
secondaries --listen-notify` (secondary i on 127.1.0.1+i, one port), all
named in the server's config; the server takes serial 1 and announces it
(the secondaries find themselves current); once the server is idle again
the primary publishes serial 2 and NOTIFYs the server, which transfers it
and NOTIFYs the N secondaries; each answers, checks the SOA and fetches
the change by IXFR. xfrload reports the fan-out spread (first to last
secondary notified, each answering at once) and the convergence (first
NOTIFY until all hold serial 2).

knotd 3.2 sends NOTIFY over TCP, to one secondary after another, and
xfrload's secondaries listen on UDP only; so for knotd the N secondaries
are N TCP listeners in this process (TcpNotifyListeners) that answer each
NOTIFY and note when it came: the spread is measured, not convergence."""
import ipaddress
import json
import resource
import selectors
import socket
import struct
import subprocess
import threading
import time

from side_by_side_servers import (ZONE, CpuMeter, KnotPrimary, KnotSecondary, cpu_seconds,
                                  xfrtest, zone_text)
from xfrproxy_run import SOA, parse_message  # tests/lib, on the path from the import above

BASE = ipaddress.IPv4Address("127.1.0.1")
RECORDS = 10_000


def wait_idle(pid, quiet_s=1.0, limit_s=90.0):
    """Waits until a process has used at most one clock tick of CPU over
    `quiet_s` (its NOTIFY round is over); returns the seconds waited."""
    t0 = time.monotonic()
    last = cpu_seconds(pid)
    while time.monotonic() - t0 < limit_s:
        time.sleep(quiet_s)
        now = cpu_seconds(pid)
        if now - last <= 0.011:
            break
        last = now
    return time.monotonic() - t0


class TcpNotifyListeners:
    """N TCP listeners on (address, port) pairs that answer every NOTIFY
    (RFC 1996 §4.7: same ID and question, QR set) and record, per serial
    in the NOTIFY's answer SOA, how many listeners got one and when the
    first and the last arrived."""

    def __init__(self, peers):
        self.sel = selectors.DefaultSelector()
        self.socks = []
        for host, port in peers:
            s = socket.socket()
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind((host, port))
            s.listen(64)
            s.setblocking(False)
            self.sel.register(s, selectors.EVENT_READ, ("listen", host))
            self.socks.append(s)
        self.rounds = {}  # serial -> [set of hosts, first time, last time]
        self.stopping = False
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()

    def _answer(self, conn, host, buf):
        while len(buf) >= 2:
            (n,) = struct.unpack("!H", buf[:2])
            if len(buf) < 2 + n:
                return buf
            msg, buf = buf[2:2 + n], buf[2 + n:]
            i = 12
            while msg[i]:
                i += msg[i] + 1
            qend = i + 5
            reply = msg[:2] + struct.pack("!H", struct.unpack("!H", msg[2:4])[0] | 0x8000) + \
                struct.pack("!HHHH", 1, 0, 0, 0) + msg[12:qend]
            conn.sendall(struct.pack("!H", len(reply)) + reply)
            # The answer section's SOA (RFC 1996 §3.7), a hint of the serial.
            soa = [r for r in parse_message(msg).answer if r.type == SOA]
            serial = soa[0].soa_serial() if soa else None
            r = self.rounds.setdefault(serial, [set(), None, None])
            now = time.monotonic()
            if host not in r[0]:
                r[0].add(host)
                r[1] = r[1] or now
                r[2] = now
        return buf

    def _loop(self):
        while not self.stopping:
            for key, _ in self.sel.select(timeout=0.2):
                kind, host = key.data[0], key.data[1]
                if kind == "listen":
                    try:
                        conn, _ = key.fileobj.accept()
                    except BlockingIOError:
                        continue
                    conn.setblocking(False)
                    self.sel.register(conn, selectors.EVENT_READ, ("conn", host, [b""]))
                    continue
                conn, pending = key.fileobj, key.data[2]
                try:
                    data = conn.recv(65536)
                except (BlockingIOError, ConnectionError):
                    data = b""
                if not data:
                    self.sel.unregister(conn)
                    conn.close()
                    continue
                pending[0] = self._answer(conn, host, pending[0] + data)

    def round(self, serial):
        hosts, first, last = self.rounds.get(serial, [set(), None, None])
        return len(hosts), first, last

    def close(self):
        self.stopping = True
        self.thread.join()
        for key in list(self.sel.get_map().values()):
            key.fileobj.close()
        self.sel.close()


def run_knotd_tcp(bench, peers, v1, v2):
    """knotd's fan-out to N TCP listeners (see the module comment)."""
    pport = xfrtest.free_port()
    s = KnotSecondary(pport, peers)
    primary = KnotPrimary(v1, notify=[("127.0.0.1", s.port)], port=pport)
    listeners = TcpNotifyListeners(peers)
    try:
        bench.log(f"notify: {len(peers)} TCP NOTIFY listeners behind knotd")
        primary.start()
        s.start()
        s.wait_serial(1)
        settle = wait_idle(s.pid)
        meter = CpuMeter(s.pid)
        t_publish = time.monotonic()
        primary.publish(v2, 2)
        deadline = time.monotonic() + 300
        while listeners.round(2)[0] < len(peers) and time.monotonic() < deadline:
            time.sleep(0.1)
        cpu = meter.stop()
        got, first, last = listeners.round(2)
        return dict(notified=got, round_serial=2,
                    all_answered_ms=(last - first) * 1000 if first else None,
                    converged_ms=None, received=got, duplicates=None, incremental=None,
                    full=None, holders=None, errors=len(peers) - got, first_error=None,
                    publish_to_end_s=(last or time.monotonic()) - t_publish,
                    serial1_round_settled_s=settle, server_cpu_s=cpu["total"],
                    xfrload_cpu_s=None, argv="(TCP listeners in side_by_side_notify.py)")
    finally:
        listeners.close()
        s.stop()
        primary.stop()


def run(bench, n, na):
    notify_port = xfrtest.free_port()
    peers = [(str(BASE + i), notify_port) for i in range(n)]
    v1 = zone_text(RECORDS, 1)
    v2 = zone_text(RECORDS, 2, changed=50)
    # Every secondary holds a NOTIFY socket, and a check in flight a TCP
    # connection: the checks at once are capped under the descriptor limit.
    soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    concurrency = max(1, min(n, soft - n - 500))
    out = {}
    for t in bench.threads:
        pport = xfrtest.free_port()
        s = bench.proxy(pport, t, peers)
        primary = KnotPrimary(v1, notify=[("127.0.0.1", s.port)], port=pport)
        loader = None
        try:
            primary.start()
            argv = [bench.xfrload, "secondaries", "--target", f"127.0.0.1:{s.port}", "--zone", ZONE,
                    "--count", str(n), "--listen-notify", f"{BASE}:{notify_port}", "--serial", "1",
                    "--expect-serial", "2", "--duration", "150", "--timeout", "60",
                    "--concurrency", str(concurrency), "--json"]
            bench.log(f"notify: {n} NOTIFY-driven secondaries behind {s.label}")
            loader = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                      text=True)
            time.sleep(1.0)  # its N sockets bound before the first NOTIFY
            s.start()
            s.wait_serial(1)
            settle = wait_idle(s.pid)
            meter = CpuMeter(s.pid)
            t_publish = time.monotonic()
            primary.publish(v2, 2)
            stdout, stderr = loader.communicate(timeout=200)
            wall = time.monotonic() - t_publish
            cpu = meter.stop()
            try:
                rep = json.loads(stdout)
            except json.JSONDecodeError as e:
                raise RuntimeError(f"xfrload exited {loader.returncode}: {stderr[-2000:]}") from e
            nt = rep.get("notify") or {}
            out[s.label] = dict(
                notified=nt.get("notified"), round_serial=nt.get("round_serial"),
                all_answered_ms=nt.get("spread_ms"), converged_ms=nt.get("converged_ms"),
                received=nt.get("received"), duplicates=nt.get("duplicates"),
                incremental=nt.get("incremental"), full=nt.get("full"),
                holders=nt.get("expect_holders"), errors=rep.get("errors"),
                first_error=rep.get("first_error"), publish_to_end_s=wall,
                serial1_round_settled_s=settle, server_cpu_s=cpu["total"],
                xfrload_cpu_s=rep["cpu_user_s"] + rep["cpu_system_s"], argv=" ".join(argv))
        finally:
            if loader is not None and loader.poll() is None:
                loader.kill()
                loader.wait()
            s.stop()
            primary.stop()
    out["knotd (NOTIFY over TCP)"] = run_knotd_tcp(bench, peers, v1, v2)
    return dict(params=dict(peers=n, records=RECORDS, concurrency=concurrency), servers=out, na=na,
                table=table(out))


def table(out):
    labels = list(out)
    rows = [
        ("secondaries notified for serial 2", "notified", "d"),
        ("first to last NOTIFY, each answered at once (ms)", "all_answered_ms", ".1f"),
        ("first NOTIFY to all holding serial 2 (ms)", "converged_ms", ".1f"),
        ("transfers: incremental / full", None, None),
        ("NOTIFYs received (duplicates)", None, None),
        ("errors", "errors", "d"),
        ("primary's change to xfrload done (s)", "publish_to_end_s", ".2f"),
        ("server CPU from the change on (s)", "server_cpu_s", ".3f"),
        ("xfrload CPU user+sys, whole run (s)", "xfrload_cpu_s", ".3f"),
    ]
    lines = ["| | " + " | ".join(labels) + " |", "|---" * (1 + len(labels)) + "|"]
    for label, key, spec in rows:
        cells = []
        for f in out.values():
            if label.startswith("transfers"):
                cells.append("n/a" if f["incremental"] is None else
                             f"{f['incremental']} / {f['full']}")
            elif label.startswith("NOTIFYs"):
                cells.append(f"{f['received']} ({f['duplicates']})" if f["duplicates"] is not None
                             else f"{f['received']}")
            else:
                v = f.get(key)
                cells.append("n/a" if v is None else format(v, spec))
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return lines
