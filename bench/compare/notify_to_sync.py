"""The body of notify_to_sync.sh (see there): time from a change on a real
primary to every real secondary holding it, through xfrproxy and direct.

    proxy:  knotd (primary) --NOTIFY--> xfrproxy --NOTIFY--> knotd, NSD, named
    direct: knotd (primary) --NOTIFY--> knotd, NSD, named

Every SOA says REFRESH 86400: only NOTIFY moves a change. Per change the
clock starts just before `knotc zone-reload` (the new zone file is already
written) and stops when the last secondary answers an SOA query with the new
serial; every server is polled over UDP every --interval seconds (20 ms) by
this script (a plain SOA query, as `dig +short SOA` would send, without a
process per query). Also recorded: when knotd itself serves the change, and,
through xfrproxy, when xfrproxy does. Stdlib only; every process listens on
127.0.0.1 on a free port and is stopped by PID."""
import argparse
import json
import os
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "tests", "lib"))

ZONE = "example.com."


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", required=True, help="build dir with proxy/xfrproxy")
    ap.add_argument("--runs", type=int, default=5, help="changes per mode (default 5)")
    ap.add_argument("--records", type=int, default=2000, help="zone size (default 2000)")
    ap.add_argument("--interval", type=float, default=0.02, help="poll interval, s")
    ap.add_argument("--threads", type=int, default=2, help="xfrproxy threads (default 2)")
    ap.add_argument("--modes", default="direct,proxy")
    ap.add_argument("--json-out", help="also write the figures as JSON here")
    return ap.parse_args()


ARGS = parse_args()
os.environ["XFR_BINARY_DIR"] = os.path.abspath(ARGS.build)
import nsd_server  # noqa: E402
import servers  # noqa: E402
import xfrtest  # noqa: E402
from fake_primary import UpstreamProxy  # noqa: E402


def zone_text(version, records):
    """Version `version`: the SOA REFRESH a day (no polling), a few records
    that change per version (a small IXFR)."""
    lines = servers.make_zone(ZONE, records, serial=version).splitlines()
    lines = [f"@ IN SOA ns1.{ZONE} hostmaster.{ZONE} {version} 86400 3600 604800 300"
             if l.startswith("@ IN SOA") else l for l in lines]
    gone = {f"host{2 * version}", f"txt{2 * version + 1}"}
    lines = [l for l in lines if l.split(" ", 1)[0] not in gone]
    lines += [f"v{version} IN A 192.0.2.{version % 250}", f'version IN TXT "v {version}"']
    return "\n".join(lines) + "\n"


def serial(port):
    r = servers.query_soa(port, ZONE, timeout=0.5)
    return r[1] if r and r[0] == 0 else None


def run_mode(mode, started):
    """Starts the servers of `mode`; returns {"all": [s...], name: [s...]}."""
    knot_port = xfrtest.free_port()
    proxy_port = xfrtest.free_port()
    upstream = [("127.0.0.1", proxy_port if mode == "proxy" else knot_port)]
    secs = {
        "knotd": servers.KnotServer([servers.Zone(ZONE, primaries=upstream)]),
        "nsd": nsd_server.NsdServer([servers.Zone(ZONE, primaries=upstream)]),
        "named": servers.BindServer([servers.Zone(ZONE, primaries=upstream)]),
    }
    notify = ([("127.0.0.1", proxy_port)] if mode == "proxy"
              else [("127.0.0.1", s.port) for s in secs.values()])
    kzone = servers.Zone(ZONE, text=zone_text(1, ARGS.records), notify=notify)
    knot = servers.KnotServer([kzone], port=knot_port)
    knot.start()
    started.append(knot)
    watch = {"primary": knot.port}
    if mode == "proxy":
        proxy = UpstreamProxy(
            [{"name": ZONE, "primaries": [f"127.0.0.1:{knot.port}"],
              "secondaries": [{"address": f"127.0.0.1:{s.port}"} for s in secs.values()]}],
            port=proxy_port, threads=ARGS.threads)
        proxy.start()
        started.append(proxy)
        proxy.wait_serial(ZONE, serial(knot.port), timeout=60)
        watch["xfrproxy"] = proxy.port
    for s in secs.values():
        s.start()
        started.append(s)
    first = serial(knot.port)
    for s in secs.values():
        servers.wait_soa(s.port, ZONE, serial=first, timeout=60, proc=s.process)
    watch.update({n: s.port for n, s in secs.items()})

    out = {k: [] for k in ["all"] + list(watch)}
    version = 1
    for run in range(ARGS.runs):
        time.sleep(1.0)  # let the last round's transfers and NOTIFY retries end
        old = serial(knot.port)
        version += 1
        knot.write_zone(kzone, zone_text(version, ARGS.records))
        t0 = time.monotonic()
        knot.reload()
        pending = dict(watch)
        got = {}
        deadline = t0 + 60
        while pending and time.monotonic() < deadline:
            for name, port in list(pending.items()):
                s = serial(port)
                if s is not None and s != old:
                    got[name] = time.monotonic() - t0
                    del pending[name]
            time.sleep(ARGS.interval)
        if pending:
            raise RuntimeError(f"{mode} run {run}: {sorted(pending)} did not get the change")
        for name, t in got.items():
            out[name].append(t)
        out["all"].append(max(got[n] for n in secs))
        print(f"  {mode} change {run + 1}: all three in {out['all'][-1] * 1000:.0f} ms ("
              + ", ".join(f"{n} {t * 1000:.0f}" for n, t in sorted(got.items(), key=lambda x: x[1]))
              + ")", file=sys.stderr)
    return out


def fmt(xs):
    return (f"{min(xs) * 1000:.0f} / {statistics.median(xs) * 1000:.0f} / "
            f"{max(xs) * 1000:.0f}")


def main():
    results = {}
    for mode in ARGS.modes.split(","):
        started = []
        try:
            results[mode] = run_mode(mode, started)
        finally:
            for s in reversed(started):
                s.cleanup()
    names = ["all", "primary", "xfrproxy", "knotd", "nsd", "named"]
    print(f"notify_to_sync: {ARGS.runs} changes of a {ARGS.records}-record zone on knotd; "
          f"poll every {ARGS.interval * 1000:.0f} ms; ms from `knotc zone-reload` "
          "(min / median / max)\n")
    print("| holds the new serial | " + " | ".join(results) + " |")
    print("|---|" + "---|" * len(results))
    for n in names:
        row = [fmt(results[m][n]) if results[m].get(n) else "–" for m in results]
        label = "all three secondaries" if n == "all" else n
        print(f"| {label} | " + " | ".join(row) + " |")
    if "proxy" in results and "direct" in results:
        ratio = statistics.median(results["proxy"]["all"]) / statistics.median(
            results["direct"]["all"])
        print(f"\nmedian through xfrproxy / median direct (all three): {ratio:.2f}")
    if ARGS.json_out:
        with open(ARGS.json_out, "w") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
