"""The body of primary_side.sh (see there). Stdlib only; servers are started
on 127.0.0.1 free ports and stopped by PID."""
import argparse
import json
import os
import re
import socket
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "tests", "lib"))
import servers  # noqa: E402
import xfrtest  # noqa: E402

TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    """utime + stime of a process (and its reaped children), in seconds."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    # fields[0] is field 3 (state): utime is field 14, stime 15.
    return (int(fields[11]) + int(fields[12])) / TICK


def peak_rss_mib(pid):
    with open(f"/proc/{pid}/status") as f:
        m = re.search(r"VmHWM:\s+(\d+) kB", f.read())
    return int(m.group(1)) / 1024


def loopback_limit(total=8 << 30, chunk=4 << 20):
    """Bytes/s of one TCP stream over loopback: a sender thread and a
    receiver doing large sendall/recv_into calls (the stream xfrload sees is
    one of many, so this is a per-stream limit, not an aggregate)."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)
    port = srv.getsockname()[1]
    buf = bytearray(chunk)

    def send():
        with socket.create_connection(("127.0.0.1", port)) as c:
            left = total
            while left > 0:
                n = min(left, chunk)
                c.sendall(memoryview(buf)[:n])
                left -= n

    t = threading.Thread(target=send)
    start = time.monotonic()
    t.start()
    conn, _ = srv.accept()
    rbuf = bytearray(chunk)
    got = 0
    while got < total:
        n = conn.recv_into(rbuf)
        if n == 0:
            break
        got += n
    elapsed = time.monotonic() - start
    t.join()
    conn.close()
    srv.close()
    return got / elapsed


def dnsperf(port, seconds, qfile):
    out = subprocess.run([xfrtest.tool("dnsperf"), "-s", "127.0.0.1", "-p", str(port),
                          "-d", qfile, "-l", str(seconds), "-c", "8", "-q", "500"],
                         capture_output=True, text=True, timeout=seconds + 60).stdout
    qps = float(re.search(r"Queries per second:\s+([\d.]+)", out).group(1))
    lost = re.search(r"Queries lost:\s+(\d+)", out).group(1)
    return qps, int(lost)


def axfr_load(xfrload, port, transfers):
    argv = [xfrload, "secondaries", "--target", f"127.0.0.1:{port}", "--zone", "example.com",
            "--mode", "axfr", "--count", str(transfers), "--concurrency", str(transfers),
            "--requests", str(transfers), "--fresh-connections", "--timeout", "600",
            # 20 source addresses: 25 connections each, under per-address caps.
            "--source", "127.0.0.2-127.0.0.21", "--json"]
    r = subprocess.run(argv, capture_output=True, text=True, timeout=1200)
    return argv, json.loads(r.stdout), r.returncode


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", required=True)
    args = ap.parse_args()
    records = int(os.environ.get("RECORDS", "100000"))
    transfers = int(os.environ.get("TRANSFERS", "500"))
    dnsperf_seconds = int(os.environ.get("DNSPERF_SECONDS", "10"))
    threads = int(os.environ.get("XFRPROXY_THREADS", "1"))
    xfrproxy = os.path.join(args.build, "proxy", "xfrproxy")
    xfrload = os.path.join(args.build, "bench", "xfrload")

    tmp = xfrtest.TempDir(prefix="xfr-primary-side-")
    text = servers.make_zone("example.com.", records)
    zone_records = servers.zone_record_count(text)
    tmp.file("example.com.zone", text)
    qfile = tmp.file("queries.txt", "example.com SOA\n" * 1000)
    port = xfrtest.free_port()
    config = tmp.file("xfrproxy.yaml", f"""listen: ["127.0.0.1:{port}"]
threads: {threads}
zones:
  - name: example.com.
    file: example.com.zone
    allow-transfer: ["127.0.0.0/8"]
""")
    proxy = xfrtest.Process([xfrproxy, "--config", config], tmp.file("xfrproxy.log"))
    knot = servers.KnotServer([servers.Zone("example.com.", text=text)])
    results = {}
    try:
        xfrtest.wait_tcp(port, proc=proxy)
        servers.wait_soa(port, "example.com.", timeout=60, proc=proxy)
        knot.start(timeout=120)
        limit = loopback_limit()
        for name, p, pid in (("xfrproxy", port, proxy.pid), ("knotd", knot.port, knot.process.pid)):
            qps, lost = dnsperf(p, dnsperf_seconds, qfile)
            cpu0 = cpu_seconds(pid)
            argv, rep, rc = axfr_load(xfrload, p, transfers)
            cpu1 = cpu_seconds(pid)
            results[name] = dict(qps=qps, lost=lost, rep=rep, rc=rc, cpu=cpu1 - cpu0,
                                 rss=peak_rss_mib(pid), argv=argv)
    finally:
        proxy.stop()
        knot.cleanup()
        tmp.cleanup()

    x, k = results["xfrproxy"], results["knotd"]
    def ratio(a, b):
        return f"{a / b:.2f}" if b else "n/a"
    lines = [
        f"Zone: {zone_records} records (make_zone, A and TXT), served from a file by both.",
        f"xfrproxy threads: {threads}; knotd: 1 UDP worker, 2 TCP workers "
        "(tests/lib/servers.py KnotServer).",
        f"Loopback limit (one TCP stream, python sendall/recv_into 4 MiB chunks): "
        f"{limit / 1e9:.2f} GB/s",
        "",
        "| | xfrproxy | knotd | xfrproxy/knotd |",
        "|---|---|---|---|",
        f"| SOA qps (dnsperf -c 8 -q 500, {dnsperf_seconds} s) | {x['qps']:.0f} (lost {x['lost']}) "
        f"| {k['qps']:.0f} (lost {k['lost']}) | {ratio(x['qps'], k['qps'])} |",
    ]
    for label, f in (
        (f"{transfers} concurrent AXFRs: total time (s)", lambda r: r["rep"]["elapsed_s"]),
        ("AXFRs verified / errors", None),
        ("bytes/s (MB/s)", lambda r: r["rep"]["bytes_per_s"] / 1e6),
        ("records/s (M)", lambda r: r["rep"]["records_per_s"] / 1e6),
        ("AXFR latency p50 / max (s)", None),
        ("server CPU during the AXFRs (s)", lambda r: r["cpu"]),
        ("server CPU per transfer (ms)", lambda r: 1000 * r["cpu"] / max(1, r["rep"]["completed"])),
        ("server CPU per MB sent (ms)", lambda r: 1000 * r["cpu"] / max(1, r["rep"]["bytes"] / 1e6)),
        ("server peak RSS, VmHWM (MiB)", lambda r: r["rss"]),
        ("xfrload CPU user+sys (s)", lambda r: r["rep"]["cpu_user_s"] + r["rep"]["cpu_system_s"]),
    ):
        if label.startswith("AXFRs verified"):
            lines.append(f"| {label} | {x['rep']['completed']} / {x['rep']['errors']} | "
                         f"{k['rep']['completed']} / {k['rep']['errors']} | |")
            continue
        if label.startswith("AXFR latency"):
            def lat(r):
                return (f"{r['rep']['latency_ms']['p50'] / 1000:.2f} / "
                        f"{r['rep']['latency_ms']['max'] / 1000:.2f}")
            lines.append(f"| {label} | {lat(x)} | {lat(k)} | |")
            continue
        a, b = f(x), f(k)
        lines.append(f"| {label} | {a:.3f} | {b:.3f} | {ratio(a, b)} |")
    lines += ["", "Aggregate AXFR bytes/s against the one-stream loopback limit: "
              f"xfrproxy {x['rep']['bytes_per_s'] / limit:.2f}x, "
              f"knotd {k['rep']['bytes_per_s'] / limit:.2f}x.",
              "", "xfrload command (the port differs per server):", "",
              "    " + " ".join(x["argv"]), ""]
    for name in ("xfrproxy", "knotd"):
        if results[name]["rep"]["errors"]:
            lines.append(f"{name} first error: {results[name]['rep']['first_error']}")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
