"""The body of serving_pause.sh (see there): the worst pause in xfrproxy's
SOA answers while it builds a new version of a 1M-record zone.

    xfrload primary (1M records, a change of --changes-per-version records on
    each SIGUSR1 from this script, NOTIFY) -> xfrproxy -> one UDP prober

The prober is a separate process (so nothing in this one delays it): one
SOA query over UDP at a time, from eight source ports in turn (so that
SO_REUSEPORT spreads them over every serving thread), as fast as answers come, each with its send
time (CLOCK_MONOTONIC, shared by both processes), its latency and the
serial answered. A change is made every --period seconds by SIGUSR1 to
xfrload; the "build" window of a change runs from that signal to the
prober's first answer with the new serial (NOTIFY, SOA check, IXFR, new
version built and published); "idle" is every other sample, at least
--margin seconds away from any window. Reported per class: samples, p50,
p99, p99.9, max latency, and unanswered queries (--timeout each).
Stdlib only; every process listens on 127.0.0.1 and is stopped by PID."""
import argparse
import json
import os
import signal
import socket
import struct
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "tests", "lib"))

ZONE = "example.com."


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", help="build dir with proxy/xfrproxy and bench/xfrload")
    ap.add_argument("--records", type=int, default=1_000_000)
    ap.add_argument("--changes", type=int, default=5, help="versions built (default 5)")
    ap.add_argument("--period", type=float, default=4.0, help="seconds between changes")
    ap.add_argument("--changes-per-version", type=int, default=10)
    ap.add_argument("--threads", type=int, default=2, help="xfrproxy threads (default 2)")
    ap.add_argument("--margin", type=float, default=0.25,
                    help="seconds around a build window that count as neither")
    ap.add_argument("--timeout", type=float, default=2.0, help="per query, s")
    ap.add_argument("--json-out")
    # Internal: the prober process.
    ap.add_argument("--probe", nargs=3, metavar=("PORT", "SECONDS", "OUT"),
                    help=argparse.SUPPRESS)
    return ap.parse_args()


def probe(port, seconds, out, timeout):
    """Sequential SOA queries for `seconds`; writes [send, latency or -1,
    serial] triples as JSON to `out`."""
    qname = b"".join(bytes([len(l)]) + l.encode() for l in ZONE.rstrip(".").split(".")) + b"\0"
    samples = []
    # Eight source ports in turn: SO_REUSEPORT spreads them over xfrproxy's
    # serving threads, so a pause on any one of them shows.
    socks = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range(8)]
    for s in socks:
        s.connect(("127.0.0.1", port))
        s.settimeout(timeout)
    try:
        end = time.monotonic() + seconds
        qid = 0
        while True:
            s = socks[qid % len(socks)]
            t = time.monotonic()
            if t >= end:
                break
            qid = (qid + 1) & 0xFFFF
            s.send(struct.pack("!HHHHHH", qid, 0, 1, 0, 0, 0) + qname + b"\0\x06\0\x01")
            serial = None
            try:
                while True:
                    data = s.recv(4096)
                    if data[:2] == struct.pack("!H", qid):
                        break
                lat = time.monotonic() - t
                if len(data) >= 20 and data[3] & 15 == 0:
                    serial = struct.unpack("!I", data[-20:-16])[0]
            except socket.timeout:
                lat = -1.0
            samples.append((t, lat, serial))
    finally:
        for s in socks:
            s.close()
    with open(out, "w") as f:
        json.dump(samples, f)


def percentile(xs, p):
    if not xs:
        return float("nan")
    xs = sorted(xs)
    k = min(len(xs) - 1, max(0, int(round(p / 100 * len(xs) + 0.5)) - 1))
    return xs[k]


def summary(lat):
    answered = [x for x in lat if x >= 0]
    return {"samples": len(lat), "unanswered": len(lat) - len(answered),
            "p50_ms": percentile(answered, 50) * 1000, "p99_ms": percentile(answered, 99) * 1000,
            "p99.9_ms": percentile(answered, 99.9) * 1000,
            "max_ms": (max(answered) * 1000) if answered else float("nan"),
            "over_10ms": sum(1 for x in answered if x > 0.010)}


def main():
    args = parse_args()
    if args.probe:
        probe(int(args.probe[0]), float(args.probe[1]), args.probe[2], args.timeout)
        return
    os.environ["XFR_BINARY_DIR"] = os.path.abspath(args.build)
    import xfrtest
    from fake_primary import UpstreamProxy

    xfrload = os.path.join(args.build, "bench", "xfrload")
    primary_port = xfrtest.free_port()
    proxy_port = xfrtest.free_port()
    tmp = xfrtest.TempDir(prefix="serving-pause-")
    primary = xfrtest.Process(
        [xfrload, "primary", "--listen", f"127.0.0.1:{primary_port}", "--zone", ZONE,
         "--records", str(args.records), "--changes-per-second", "0",
         "--changes-per-version", str(args.changes_per_version),
         "--notify", f"127.0.0.1:{proxy_port}", "--refresh", "86400", "--retry", "3600",
         "--quiet"], tmp.file("xfrload.log"))
    proxy = None
    prober = None
    try:
        xfrtest.wait_tcp(primary_port, timeout=300, proc=primary)
        proxy = UpstreamProxy([{"name": ZONE, "primaries": [f"127.0.0.1:{primary_port}"]}],
                              port=proxy_port, threads=args.threads,
                              limits={"upstream-query-timeout": "5s",
                                      "upstream-idle-timeout": "30s"})
        proxy.start()
        t = time.monotonic()
        first = proxy.wait_serial(ZONE, None, timeout=600)
        print(f"xfrproxy serves serial {first} of {args.records} records "
              f"after {time.monotonic() - t:.1f} s", file=sys.stderr)
        time.sleep(2.0)

        seconds = args.period * (args.changes + 1) + 2
        out = tmp.file("probe.json")
        prober = subprocess.Popen([sys.executable, os.path.abspath(__file__), "--probe",
                                   str(proxy_port), str(seconds), out,
                                   "--timeout", str(args.timeout)])
        time.sleep(args.period)
        changes = []
        for _ in range(args.changes):
            changes.append(time.monotonic())
            primary.signal(signal.SIGUSR1)
            time.sleep(args.period)
        prober.wait(timeout=seconds + 60)
        with open(out) as f:
            samples = json.load(f)
    finally:
        if prober is not None and prober.poll() is None:
            prober.kill()
        if proxy is not None:
            code = proxy.stop()
            if code != 0:
                print(f"xfrproxy exited {code}:\n{proxy.log()[-3000:]}", file=sys.stderr)
            proxy.cleanup()
        primary.stop()
        tmp.cleanup()

    # Build windows: from each SIGUSR1 to the first answer with a new serial.
    windows = []
    serial_before = None
    for c in changes:
        before = [s for s in samples if s[0] < c and s[2] is not None]
        serial_before = before[-1][2] if before else serial_before
        new = [s for s in samples if s[0] >= c and s[2] is not None and s[2] != serial_before]
        if not new:
            raise RuntimeError(f"the change at {c:.1f} never reached the prober")
        windows.append((c, new[0][0] + max(new[0][1], 0)))
    build, idle = [], []
    for t, lat, _ in samples:
        if any(a <= t <= b for a, b in windows):
            build.append(lat)
        elif all(t < a - args.margin or t > b + args.margin for a, b in windows):
            idle.append(lat)
    res = {"records": args.records, "threads": args.threads, "changes": args.changes,
           "changes_per_version": args.changes_per_version,
           "build_window_ms": [round((b - a) * 1000, 1) for a, b in windows],
           "build": summary(build), "idle": summary(idle)}
    print(f"serving_pause: {args.records} records, {args.changes} versions of "
          f"{args.changes_per_version} changed records, xfrproxy threads {args.threads}; "
          "SOA over UDP, one query at a time\n")
    print("| SOA latency | samples | unanswered | p50 ms | p99 ms | p99.9 ms | max ms | > 10 ms |")
    print("|---|---|---|---|---|---|---|---|")
    for k in ("idle", "build"):
        r = res[k]
        print(f"| {k} | {r['samples']} | {r['unanswered']} | {r['p50_ms']:.3f} | "
              f"{r['p99_ms']:.3f} | {r['p99.9_ms']:.3f} | {r['max_ms']:.3f} | {r['over_10ms']} |")
    print("\nbuild windows (SIGUSR1 to the new serial answered), ms: "
          + ", ".join(f"{w:.0f}" for w in res["build_window_ms"]))
    if args.json_out:
        with open(args.json_out, "w") as f:
            json.dump(res, f, indent=1)


if __name__ == "__main__":
    main()
