"""The body of many_zones.sh (see there). Stdlib only; everything runs on
127.0.0.1 free ports and is stopped by PID."""
import argparse
import json
import os
import re
import select
import socket
import struct
import sys
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "tests", "lib"))
import xfrtest  # noqa: E402
from primary_side import cpu_seconds, peak_rss_mib  # noqa: E402
from xfrproxy_run import encode_name  # noqa: E402

PARENT = "example."
SERIAL = 1


def soa_serial(msg):
    """(rcode, serial of the first answer SOA or None) of a response to a
    question with one name; the answer's owner is a compression pointer or
    a name, skipped either way."""
    flags, qd, an = struct.unpack("!HHH", msg[2:8])
    i = 12
    for _ in range(qd):
        while msg[i] != 0:
            i += msg[i] + 1
        i += 5
    if an == 0:
        return flags & 15, None

    def skip(j):
        while True:
            if msg[j] >= 0xC0:
                return j + 2
            if msg[j] == 0:
                return j + 1
            j += msg[j] + 1

    i = skip(i)
    rtype, _, _, _ = struct.unpack("!HHIH", msg[i:i + 10])
    if rtype != 6:
        return flags & 15, None
    j = skip(skip(i + 10))
    return flags & 15, struct.unpack("!I", msg[j:j + 4])[0]


class SoaPoller:
    """Asks every zone's SOA over UDP from one socket, in rounds, until each
    has answered NOERROR with the serial wanted; a zone that did is not
    asked again. The query ID is the zone's index (tried again with the
    same ID: a late answer counts as well)."""

    def __init__(self, port, zones, serial, batch=256):
        if len(zones) > 65536:
            raise ValueError("at most 65536 zones: the query ID names the zone")
        self.port = port
        self.queries = [struct.pack("!HHHHHH", i, 0, 1, 0, 0, 0) + encode_name(z)
                        + struct.pack("!HH", 6, 1) for i, z in enumerate(zones)]
        self.serial = serial
        self.batch = batch
        self.pending = set(range(len(zones)))
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        self.sock.setblocking(False)

    def drain(self, wait):
        """Reads answers until none has come for `wait` seconds."""
        while True:
            r, _, _ = select.select([self.sock], [], [], wait)
            if not r:
                return
            while True:
                try:
                    msg = self.sock.recv(4096)
                except BlockingIOError:
                    break
                if len(msg) < 12:
                    continue
                qid = struct.unpack("!H", msg[:2])[0]
                rcode, serial = soa_serial(msg)
                if rcode == 0 and serial == self.serial:
                    self.pending.discard(qid)

    def round(self):
        """One query to each pending zone, a batch at a time, each batch's
        answers read before the next is sent (so no queue overflows)."""
        todo = sorted(self.pending)
        for k in range(0, len(todo), self.batch):
            for i in todo[k:k + self.batch]:
                try:
                    self.sock.sendto(self.queries[i], ("127.0.0.1", self.port))
                except BlockingIOError:
                    break
            self.drain(0.02)

    def wait_all(self, proc, timeout):
        """The time every zone was served, or None after `timeout` seconds
        (self.pending then holds the zones that were not)."""
        deadline = time.monotonic() + timeout
        while self.pending:
            if proc.poll() is not None:
                raise RuntimeError(f"the server exited with {proc.poll()}")
            if time.monotonic() > deadline:
                return None
            self.round()
            if self.pending:
                time.sleep(0.05)
        return time.monotonic()

    def close(self):
        self.sock.close()


def primary_stats(http_port):
    with urllib.request.urlopen(f"http://127.0.0.1:{http_port}/stats", timeout=10) as r:
        return json.loads(r.read())


def xfrproxy_config(tmp, port, snippet, state_dir=True):
    # Defaults everywhere but what a secondary must have: the listener, a
    # state-dir (as deployed, so its writes are in the figures) and the zones.
    with open(snippet) as f:
        zones = f.read()
    state = f"state-dir: {tmp.path}/state\n" if state_dir else ""
    return tmp.file("xfrproxy.yaml", f'listen: ["127.0.0.1:{port}"]\n' + state + zones)


def knot_config(tmp, port, primary_port, zones):
    d = tmp.path
    os.makedirs(f"{d}/db", exist_ok=True)
    # Knot 3.2 defaults but for where it keeps its files; one template
    # makes every zone a secondary of the primary.
    lines = [
        "server:", f'    rundir: "{d}"', f'    pidfile: "{d}/knot.pid"',
        f"    listen: 127.0.0.1@{port}",
        "database:", f'    storage: "{d}/db"',
        "control:", f'    listen: "{d}/knot.sock"',
        "log:", "  - target: stderr", "    any: notice",
        "remote:", "  - id: primary", f"    address: 127.0.0.1@{primary_port}",
        "acl:", "  - id: from_primary", "    address: 127.0.0.1", "    action: notify",
        "template:", "  - id: default", f'    storage: "{d}"', "    master: primary",
        "    acl: [from_primary]",
        "zone:",
    ] + [f"  - domain: {z}" for z in zones]
    return tmp.file("knot.conf", "\n".join(lines) + "\n")


def run_one(name, args, primary_port, http_port, snippet, zones):
    tmp = xfrtest.TempDir(prefix=f"xfr-many-zones-{name}-")
    port = xfrtest.free_port()
    if name == "xfrproxy":
        argv = [os.path.join(args.build, "proxy", "xfrproxy"), "--config",
                xfrproxy_config(tmp, port, snippet, not args.no_state_dir)]
    else:
        argv = [xfrtest.tool("knotd"), "-c", knot_config(tmp, port, primary_port, zones)]
    poller = SoaPoller(port, zones, SERIAL)
    before = primary_stats(http_port)
    t0 = time.monotonic()
    proc = xfrtest.Process(argv, tmp.file("server.log"), cwd=tmp.path)
    try:
        t1 = poller.wait_all(proc, args.timeout)
        unserved = len(poller.pending)
        if t1 is None:
            # Reported, not raised: the other server's figures still count.
            t1 = float("nan")
        startup_cpu = cpu_seconds(proc.pid)
        synced = primary_stats(http_port)
        # Idle: nothing changes; whatever reaches the primary now is the
        # refresh timers' SOA checks (and any transfer they set off).
        time.sleep(args.idle)
        after = primary_stats(http_port)
        out = dict(
            startup_s=t1 - t0, unserved=unserved, startup_cpu_s=startup_cpu,
            idle_cpu_s=cpu_seconds(proc.pid) - startup_cpu, rss_mib=peak_rss_mib(proc.pid),
            startup_soa=synced["soa_queries"] - before["soa_queries"],
            startup_transfers=synced["transfers"] - before["transfers"],
            idle_soa_per_s=(after["soa_queries"] - synced["soa_queries"])
            / (after["uptime_s"] - synced["uptime_s"]),
            idle_transfers=after["transfers"] - synced["transfers"], argv=argv)
    except Exception:
        sys.stderr.write(proc.log()[-3000:])
        raise
    finally:
        poller.close()
        proc.stop(timeout=60)
        tmp.cleanup()
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", required=True)
    ap.add_argument("--zones", type=int, default=10000)
    ap.add_argument("--records", type=int, default=10)
    ap.add_argument("--refresh", type=int, default=20,
                    help="SOA REFRESH of every zone, seconds (RETRY is a third of it)")
    ap.add_argument("--idle", type=float, default=30,
                    help="seconds of the idle window after every zone is served")
    ap.add_argument("--timeout", type=float, default=900)
    ap.add_argument("--servers", default="xfrproxy,knotd")
    ap.add_argument("--no-state-dir", action="store_true",
                    help="xfrproxy without state-dir: what its disk writes cost")
    ap.add_argument("--json-out")
    args = ap.parse_args()
    xfrload = os.path.join(args.build, "bench", "xfrload")

    tmp = xfrtest.TempDir(prefix="xfr-many-zones-")
    port, http_port = xfrtest.free_port(), xfrtest.free_port()
    snippet = tmp.file("zones.yaml")
    primary_argv = [xfrload, "primary", "--listen", f"127.0.0.1:{port}", "--zone", PARENT,
                    "--zones", str(args.zones), "--records", str(args.records),
                    "--serial", str(SERIAL), "--changes-per-second", "0",
                    "--refresh", str(args.refresh), "--retry", str(max(1, args.refresh // 3)),
                    "--http", f"127.0.0.1:{http_port}", "--zones-config", snippet,
                    "--quiet", "--json"]
    primary = xfrtest.Process(primary_argv, tmp.file("primary.log"))
    results = {}
    try:
        xfrtest.wait_tcp(http_port, timeout=120, proc=primary.proc)
        with open(snippet) as f:
            zones = re.findall(r"name: (\S+),", f.read())
        assert len(zones) == args.zones, (len(zones), args.zones)
        for name in args.servers.split(","):
            results[name] = run_one(name, args, port, http_port, snippet, zones)
            print(f"{name}: {json.dumps({k: v for k, v in results[name].items() if k != 'argv'})}",
                  file=sys.stderr)
    finally:
        primary.stop()
        tmp.cleanup()

    names = list(results)
    rows = [
        ("time until every zone is served (s)", "startup_s", "{:.2f}"),
        (f"zones not served after --timeout {args.timeout:g} s", "unserved", "{:.0f}"),
        ("CPU until then, user+sys (s)", "startup_cpu_s", "{:.2f}"),
        ("SOA queries to the primary until then", "startup_soa", "{:.0f}"),
        ("transfers from the primary until then", "startup_transfers", "{:.0f}"),
        ("peak RSS, VmHWM (MiB)", "rss_mib", "{:.1f}"),
        (f"idle ({args.idle:g} s): SOA queries/s to the primary", "idle_soa_per_s", "{:.1f}"),
        ("idle: transfers from the primary", "idle_transfers", "{:.0f}"),
        ("idle: CPU user+sys (s)", "idle_cpu_s", "{:.2f}"),
    ]
    both = "xfrproxy" in results and "knotd" in results
    lines = [f"{args.zones} zones of {args.records} records, REFRESH {args.refresh} s; "
             "each server started alone with empty state.", "",
             "| | " + " | ".join(names) + (" | xfrproxy/knotd |" if both else " |"),
             "|---" * (len(names) + 1 + both) + "|"]
    for label, key, fmt in rows:
        cells = [fmt.format(results[n][key]) for n in names]
        if both:
            k = results["knotd"][key]
            cells.append(f"{results['xfrproxy'][key] / k:.2f}" if k else "n/a")
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    lines += ["", "primary: " + " ".join(primary_argv)]
    print("\n".join(lines))
    if args.json_out:
        with open(args.json_out, "w") as f:
            json.dump(dict(args=vars(args), primary=primary_argv, results=results), f, indent=1)


if __name__ == "__main__":
    main()
