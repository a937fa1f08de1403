"""The body of side_by_side.sh (see there): issue 6's five scenarios against
xfrproxy, pdns ixfrdist and knotd, each as a secondary of one knotd primary,
driven by `xfrload secondaries`. Stdlib only; every process listens on
127.0.0.1 on a free port and is stopped by PID.

Per scenario and server it records the wall-clock rate, the server's CPU
seconds (every thread, from /proc before and after: side_by_side_servers.
CpuMeter) per transfer and per MB sent, xfrload's own CPU time, connections
the kernel dropped at a full accept queue, and the ratios of xfrproxy to
the others; then checks issue 6's targets and reports them (never asserts
them). Tables: side_by_side_report.py; scenario 4: side_by_side_notify.py."""
import argparse
import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import primary_side  # noqa: E402  (loopback_limit)
from side_by_side_servers import (ZONE, CpuMeter, IxfrdistServer, KnotPrimary,  # noqa: E402
                                  KnotSecondary, XfrproxyServer, cpu_seconds, listen_drops,
                                  peak_rss_bytes, uncompressed_wire_size, xfrtest, zone_text)
import side_by_side_report as report  # noqa: E402

SIZES = {
    "full": dict(ixfr_records=10_000, ixfr_changes=50, ixfr_clients=2000, ixfr_concurrency=500,
                 axfr_records=100_000, axfr_clients=500, ingest_records=1_000_000,
                 notify_peers=10_000, upstream_records=10_000, upstream_peers=1000,
                 upstream_changes=3),
    "quick": dict(ixfr_records=2000, ixfr_changes=50, ixfr_clients=200, ixfr_concurrency=100,
                  axfr_records=10_000, axfr_clients=50, ingest_records=100_000,
                  notify_peers=500, upstream_records=2000, upstream_peers=100,
                  upstream_changes=2),
}
SCENARIOS = ("ixfr", "axfr", "ingest", "notify", "upstream")
# Secondary i sends from SOURCES[i % 100]: under xfrproxy's default cap of
# 64 connections per address even with every transfer in flight at once.
SOURCES = "127.0.0.2-127.0.0.101"


class Bench:
    def __init__(self, args):
        self.build = args.build
        self.xfrproxy = os.path.join(args.build, "proxy", "xfrproxy")
        self.xfrload = os.path.join(args.build, "bench", "xfrload")
        self.threads = [int(t) for t in args.threads.split(",")]
        self.knot_reuseport = [False] + ([] if args.no_knotd_reuseport else [True])
        self.xfrload_threads = args.xfrload_threads
        self.size = SIZES["quick" if args.quick else "full"]
        self.size_name = "quick" if args.quick else "full"
        self.results = {}

    # --- helpers -------------------------------------------------------------

    def proxy(self, primary_port, threads, secondaries=()):
        return XfrproxyServer(primary_port, self.xfrproxy, threads=threads,
                              secondaries=secondaries)

    def servers_under_test(self, primary_port, knot_variants=True):
        """xfrproxy per `threads:` value, ixfrdist, knotd (and knotd with
        tcp-reuseport where accepting connections is what is measured)."""
        out = [self.proxy(primary_port, t) for t in self.threads]
        out.append(IxfrdistServer(primary_port))
        out += [KnotSecondary(primary_port, reuseport=r)
                for r in (self.knot_reuseport if knot_variants else [False])]
        return out

    @staticmethod
    def notify_targets(servers):
        # ixfrdist 4.7 does not act on NOTIFY (it polls); the others do.
        return [("127.0.0.1", s.port) for s in servers if not isinstance(s, IxfrdistServer)]

    def load(self, port, pid, *args, timeout=900):
        """One xfrload secondaries run against 127.0.0.1:port, with the
        server's CPU before and after (pid None: not measured)."""
        argv = [self.xfrload, "secondaries", "--target", f"127.0.0.1:{port}", "--zone", ZONE,
                "--json", "--threads", str(self.xfrload_threads), *map(str, args)]
        meter = CpuMeter(pid) if pid else None
        drops0 = listen_drops()
        t0 = time.monotonic()
        r = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
        wall = time.monotonic() - t0
        cpu = meter.stop() if meter else dict(total=0.0, user=0.0, system=0.0)
        drops = listen_drops() - drops0
        try:
            rep = json.loads(r.stdout)
        except json.JSONDecodeError as e:
            raise RuntimeError(f"xfrload exited {r.returncode}: {r.stderr[-2000:]}") from e
        return dict(argv=argv, rc=r.returncode, rep=rep, cpu=cpu["total"], cpu_user=cpu["user"],
                    cpu_system=cpu["system"], wall=wall,
                    listen_drops=drops)

    @staticmethod
    def transfer_figures(run):
        rep = run["rep"]
        done = max(1, rep["completed"])
        mb = max(1e-9, rep["bytes"] / 1e6)
        xfr = rep.get("by_kind", {}).get(rep["mode"], {})
        return dict(
            completed=rep["completed"], errors=rep["errors"], first_error=rep.get("first_error"),
            elapsed_s=rep["elapsed_s"], transfers_per_s=rep["transfers_per_s"],
            bytes=rep["bytes"], bytes_per_s=rep["bytes_per_s"],
            messages=xfr.get("messages"), incremental=xfr.get("incremental"), full=xfr.get("full"),
            latency_ms=rep["latency_ms"],
            server_cpu_s=run["cpu"], server_cpu_user_s=run["cpu_user"],
            server_cpu_system_s=run["cpu_system"],
            server_cpu_ms_per_transfer=1000 * run["cpu"] / done,
            server_cpu_ms_per_mb=1000 * run["cpu"] / mb,
            xfrload_cpu_s=rep["cpu_user_s"] + rep["cpu_system_s"],
            listen_drops=run["listen_drops"],
            argv=" ".join(run["argv"]))

    def log(self, text):
        print(f"[{time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)

    # --- 1. IXFR storm ---------------------------------------------------------

    def scenario_ixfr(self):
        sz = self.size
        v1 = zone_text(sz["ixfr_records"], 1)
        v2 = zone_text(sz["ixfr_records"], 2, changed=sz["ixfr_changes"])
        pport = xfrtest.free_port()
        under = self.servers_under_test(pport)
        primary = KnotPrimary(v1, notify=self.notify_targets(under), port=pport)
        out = {}
        try:
            primary.start()
            for s in under:
                s.start()
            for s in under:
                s.wait_serial(1)
            primary.publish(v2, 2)
            for s in under:
                s.wait_serial(2)  # ixfrdist: at its next SOA poll (REFRESH 2 s)
            n = sz["ixfr_clients"]
            for s in under:
                self.log(f"ixfr: {n} IXFRs from serial 1 against {s.label}")
                run = self.load(s.port, s.pid, "--mode", "ixfr", "--serial", 1, "--count", n,
                                "--requests", n, "--concurrency", sz["ixfr_concurrency"],
                                "--fresh-connections", "--timeout", 300, "--source", SOURCES)
                out[s.label] = self.transfer_figures(run)
        finally:
            for s in under:
                s.stop()
            primary.stop()
        return dict(params=dict(records=sz["ixfr_records"], changes=sz["ixfr_changes"],
                                clients=sz["ixfr_clients"], concurrency=sz["ixfr_concurrency"]),
                    servers=out)

    # --- 2. AXFR fan-out ---------------------------------------------------------

    def scenario_axfr(self):
        sz = self.size
        text = zone_text(sz["axfr_records"], 1)
        pport = xfrtest.free_port()
        under = self.servers_under_test(pport)
        primary = KnotPrimary(text, notify=self.notify_targets(under), port=pport)
        out = {}
        try:
            self.log("axfr: measuring the loopback limit")
            limit = primary_side.loopback_limit()
            primary.start()
            for s in under:
                s.start()
            for s in under:
                s.wait_serial(1)
            n = sz["axfr_clients"]
            for s in under:
                self.log(f"axfr: {n} concurrent AXFRs against {s.label}")
                run = self.load(s.port, s.pid, "--mode", "axfr", "--count", n, "--requests", n,
                                "--concurrency", n, "--fresh-connections", "--timeout", 600,
                                "--source", SOURCES)
                f = self.transfer_figures(run)
                f["loopback_fraction"] = f["bytes_per_s"] / limit
                f["peak_rss_mib"] = peak_rss_bytes(s.pid) / 2**20
                out[s.label] = f
        finally:
            for s in under:
                s.stop()
            primary.stop()
        return dict(params=dict(records=sz["axfr_records"], clients=n,
                                loopback_limit_bytes_per_s=limit), servers=out)

    # --- 3. Ingest ---------------------------------------------------------------

    def scenario_ingest(self):
        sz = self.size
        text = zone_text(sz["ingest_records"], 1)
        pport = xfrtest.free_port()
        primary = KnotPrimary(text, port=pport)
        out = {}
        try:
            self.log(f"ingest: knotd primary loading {sz['ingest_records']} records")
            primary.start(timeout=600)
            # The zone as the primary sends it (compressed by knotd), and
            # uncompressed: what "the zone's wire size" may mean.
            one = self.load(pport, None, "--mode", "axfr", "--count", 1, "--timeout", 300)
            axfr_bytes = one["rep"]["bytes"]
            raw_bytes = uncompressed_wire_size(text)
            under = self.servers_under_test(pport, knot_variants=False)
            for s in under:
                self.log(f"ingest: {s.label} from start to serving serial 1")
                try:
                    s.start()
                    seen = s.wait_serial(1, timeout=600, interval=0.01)
                    cpu = cpu_seconds(s.pid)
                    # Let a writer behind the serving path (state-dir,
                    # zone file, journal) finish before reading the peak.
                    time.sleep(1.0)
                    rss = peak_rss_bytes(s.pid)
                    out[s.label] = dict(servable_s=seen - s.started_at, cpu_s=cpu,
                                        peak_rss_mib=rss / 2**20,
                                        rss_mib=peak_rss_bytes(s.pid, "VmRSS") / 2**20,
                                        rss_per_axfr_byte=rss / axfr_bytes,
                                        rss_per_raw_byte=rss / raw_bytes)
                finally:
                    s.stop()
        finally:
            primary.stop()
        return dict(params=dict(records=sz["ingest_records"], axfr_bytes=axfr_bytes,
                                uncompressed_bytes=raw_bytes,
                                primary_axfr_s=one["rep"]["elapsed_s"]), servers=out)

    # --- 4. NOTIFY fan-out ---------------------------------------------------------

    def xfrload_has(self, option):
        r = subprocess.run([self.xfrload, "secondaries", "--help"], capture_output=True, text=True)
        return option in r.stdout

    def scenario_notify(self):
        sz = self.size
        n = sz["notify_peers"]
        na = {"ixfrdist": "n/a: ixfrdist 4.7 sends no NOTIFY (nor receives one); "
                          "its downstream learns of changes only by polling SOA"}
        if not self.xfrload_has("--listen-notify"):
            return dict(params=dict(peers=n), pending="xfrload secondaries --listen-notify "
                        "is not built yet", servers={}, na=na)
        import side_by_side_notify
        return side_by_side_notify.run(self, n, na)

    # --- 5. Upstream load --------------------------------------------------------

    def scenario_upstream(self):
        sz = self.size
        records, peers, changes = (sz["upstream_records"], sz["upstream_peers"],
                                   sz["upstream_changes"])
        serial = 1
        pport = xfrtest.free_port()
        under = self.servers_under_test(pport, knot_variants=False)
        primary = KnotPrimary(zone_text(records, serial), notify=self.notify_targets(under),
                              port=pport)
        out = {}

        def one_change(target_port, target_pid, wait=None, concurrency=min(peers, 500)):
            nonlocal serial
            a0, i0 = primary.transfers_served()
            serial += 1
            primary.publish(zone_text(records, serial, changed=50, seed=serial), serial)
            if wait:
                wait.wait_serial(serial)
            run = self.load(target_port, target_pid, "--mode", "ixfr", "--serial", serial - 1,
                            "--count", peers, "--requests", peers, "--concurrency",
                            concurrency, "--fresh-connections", "--timeout", 300,
                            "--source", SOURCES)
            a1, i1 = primary.transfers_served()
            return dict(axfr=a1 - a0, ixfr=i1 - i0, completed=run["rep"]["completed"],
                        errors=run["rep"]["errors"], argv=" ".join(run["argv"]))

        try:
            primary.start()
            self.log(f"upstream: {peers} secondaries directly on the primary")
            # Few in flight: the primary (knotd with 2 TCP workers and one
            # accept queue) drops connections under a storm, and what is
            # counted here is transfers, not their speed.
            out["direct"] = [one_change(pport, primary.pid, concurrency=20)
                             for _ in range(changes)]
            for s in under:
                self.log(f"upstream: {peers} secondaries behind {s.label}")
                s.start()
                s.wait_serial(serial)
                out[s.label] = [one_change(s.port, s.pid, wait=s) for _ in range(changes)]
                s.stop()
        finally:
            for s in under:
                s.stop()
            primary.stop()
        return dict(params=dict(records=records, peers=peers, changes=changes), servers=out)


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--build", required=True, help="build dir with proxy/xfrproxy, bench/xfrload")
    ap.add_argument("--only", default=",".join(SCENARIOS),
                    help="comma-separated scenarios: " + ", ".join(SCENARIOS))
    ap.add_argument("--quick", action="store_true", help="small sizes: a smoke run")
    ap.add_argument("--threads", default="2,1",
                    help="xfrproxy `threads:` values to run, the first one used for ratios")
    ap.add_argument("--no-knotd-reuseport", action="store_true",
                    help="run knotd as shipped only, not also with tcp-reuseport: on")
    ap.add_argument("--xfrload-threads", type=int, default=1,
                    help="xfrload's event loops for the transfer scenarios (1, 2, 4, 5)")
    ap.add_argument("--json-out", help="result file (default BUILD/side_by_side.json)")
    args = ap.parse_args()
    bench = Bench(args)
    started = time.monotonic()
    for name in args.only.split(","):
        if name not in SCENARIOS:
            ap.error(f"unknown scenario {name}")
        bench.log(f"scenario {name}")
        t0 = time.monotonic()
        bench.results[name] = getattr(bench, f"scenario_{name}")()
        bench.results[name]["wall_s"] = time.monotonic() - t0
    doc = dict(size=bench.size_name, sizes=bench.size, threads=bench.threads,
               xfrload_threads=bench.xfrload_threads,
               when=time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
               load_average=os.getloadavg(), total_wall_s=time.monotonic() - started,
               scenarios=bench.results)
    doc["targets"] = report.targets(doc)
    path = args.json_out or os.path.join(args.build, "side_by_side.json")
    with open(path, "w") as f:
        json.dump(doc, f, indent=1)
    print(report.markdown(doc))
    print(f"\nJSON: {path}")


if __name__ == "__main__":
    main()
