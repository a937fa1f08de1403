"""Tables and target checks for side_by_side.py's result document. Targets
are issue 6's, reported as met / short / n/a / pending, never asserted."""


def _main_proxy(doc):
    return f"xfrproxy t{doc['threads'][0]}"


def _ratio(a, b):
    return f"{a / b:.2f}" if a is not None and b else "n/a"


def _fmt(v, spec):
    return "n/a" if v is None else format(v, spec)


# (label, function of a server's figures, format, whether a ratio means anything)
TRANSFER_ROWS = [
    ("transfers verified / errors", lambda f: f"{f['completed']} / {f['errors']}", None, False),
    ("incremental / full answers", lambda f: f"{f['incremental']} / {f['full']}", None, False),
    ("wall-clock time (s)", lambda f: f["elapsed_s"], ".3f", True),
    ("transfers/s", lambda f: f["transfers_per_s"], ".1f", True),
    ("MB/s received", lambda f: f["bytes_per_s"] / 1e6, ".1f", True),
    ("bytes per transfer", lambda f: f["bytes"] / max(1, f["completed"]), ".0f", True),
    ("messages per transfer", lambda f: (f["messages"] or 0) / max(1, f["completed"]), ".1f", True),
    ("latency p50 / p99 / max (ms)", lambda f: "{:.1f} / {:.1f} / {:.1f}".format(
        f["latency_ms"]["p50"], f["latency_ms"]["p99"], f["latency_ms"]["max"]), None, False),
    ("server CPU (s)", lambda f: f["server_cpu_s"], ".3f", True),
    ("of which user / system (s)", lambda f: "{:.2f} / {:.2f}".format(
        f["server_cpu_user_s"], f["server_cpu_system_s"]), None, False),
    ("server CPU per transfer (ms)", lambda f: f["server_cpu_ms_per_transfer"], ".3f", True),
    ("server CPU per MB sent (ms)", lambda f: f["server_cpu_ms_per_mb"], ".2f", True),
    ("xfrload CPU user+sys (s)", lambda f: f["xfrload_cpu_s"], ".3f", True),
    ("connections dropped at a full listen queue", lambda f: f["listen_drops"], "d", False),
]


def _transfer_table(doc, name, extra_rows=()):
    sc = doc["scenarios"][name]
    srv = sc["servers"]
    labels = list(srv)
    x = _main_proxy(doc)
    others = [o for o in ("ixfrdist", "knotd", "knotd reuseport") if o in srv]
    head = "| | " + " | ".join(labels) + " | " + " | ".join(f"{x} / {o}" for o in others) + " |"
    lines = [head, "|---" * (1 + len(labels) + len(others)) + "|"]
    for label, fn, spec, ratio in list(TRANSFER_ROWS) + list(extra_rows):
        vals = {k: fn(v) for k, v in srv.items()}
        cells = [v if spec is None else _fmt(v, spec) for v in vals.values()]
        rats = [_ratio(vals.get(x), vals.get(o)) if ratio and x in vals else "" for o in others]
        lines.append(f"| {label} | " + " | ".join(cells) + " | " + " | ".join(rats) + " |")
    return lines


def markdown(doc):
    out = [f"Size: {doc['size']}; xfrload threads: {doc.get('xfrload_threads', 1)}; "
           f"xfrproxy threads run: {doc['threads']} "
           f"(ratios use {_main_proxy(doc)}); load average at the end "
           f"{' '.join(f'{v:.2f}' for v in doc['load_average'])}; whole run "
           f"{doc['total_wall_s']:.0f} s.", ""]
    sc = doc["scenarios"]
    if "ixfr" in sc:
        p = sc["ixfr"]["params"]
        out += [f"### 1. IXFR storm: {p['clients']} secondaries, IXFR from serial 1 "
                f"({p['changes']} changed records) of a {p['records']}-record zone, "
                f"{p['concurrency']} in flight, fresh connections", ""]
        out += _transfer_table(doc, "ixfr") + [""]
    if "axfr" in sc:
        p = sc["axfr"]["params"]
        lim = p["loopback_limit_bytes_per_s"]
        out += [f"### 2. AXFR fan-out: {p['clients']} concurrent AXFRs of a {p['records']}-record "
                f"zone (loopback limit, one TCP stream: {lim / 1e9:.2f} GB/s)", ""]
        out += _transfer_table(doc, "axfr", [
            ("fraction of the loopback limit", lambda f: f["loopback_fraction"], ".3f", True),
            ("server peak RSS, VmHWM (MiB)", lambda f: f["peak_rss_mib"], ".1f", True),
        ]) + [""]
    if "ingest" in sc:
        p = sc["ingest"]["params"]
        srv = sc["ingest"]["servers"]
        out += [f"### 3. Ingest: AXFR of a {p['records']}-record zone from the knotd primary",
                "", f"Zone wire size: {p['axfr_bytes'] / 1e6:.1f} MB as knotd sends it (compressed, "
                f"AXFR took {p['primary_axfr_s']:.2f} s to xfrload), "
                f"{p['uncompressed_bytes'] / 1e6:.1f} MB uncompressed.", "",
                "| | " + " | ".join(srv) + " |", "|---" * (1 + len(srv)) + "|"]
        for label, key, spec in (("start to serving the serial (s)", "servable_s", ".2f"),
                                 ("server CPU until then (s)", "cpu_s", ".2f"),
                                 ("peak RSS, VmHWM (MiB)", "peak_rss_mib", ".1f"),
                                 ("RSS 1 s later, VmRSS (MiB)", "rss_mib", ".1f"),
                                 ("peak RSS / AXFR bytes", "rss_per_axfr_byte", ".2f"),
                                 ("peak RSS / uncompressed bytes", "rss_per_raw_byte", ".2f")):
            out.append(f"| {label} | " + " | ".join(_fmt(v[key], spec) for v in srv.values()) + " |")
        out.append("")
    if "notify" in sc:
        n = sc["notify"]
        out += [f"### 4. NOTIFY fan-out to {n['params']['peers']} simulated secondaries", ""]
        if n.get("pending"):
            out.append(f"Pending: {n['pending']}.")
        out += n.get("table", [])
        for k, why in n.get("na", {}).items():
            out.append(f"- {k}: {why}")
        out.append("")
    if "upstream" in sc:
        p = sc["upstream"]["params"]
        srv = sc["upstream"]["servers"]
        out += [f"### 5. Upstream load: transfers the primary serves per change, {p['peers']} "
                f"secondaries each IXFR-ing every change ({p['changes']} changes of 50 records, "
                f"{p['records']}-record zone); counted from knotd's log", "",
                "| secondaries fetch from | primary transfers per change (AXFR+IXFR) | "
                "secondaries' transfers verified / errors |", "|---|---|---|"]
        for k, runs in srv.items():
            per = ", ".join(f"{r['axfr'] + r['ixfr']} ({r['axfr']}+{r['ixfr']})" for r in runs)
            ok = ", ".join(f"{r['completed']}/{r['errors']}" for r in runs)
            out.append(f"| {k} | {per} | {ok} |")
        out.append("")
    out += ["### Targets (issue 6)", "", "| target | measured | status |", "|---|---|---|"]
    for t in doc["targets"]:
        out.append(f"| {t['target']} | {t['measured']} | {t['status']} |")
    return "\n".join(out)


def targets(doc):
    """One row per target and xfrproxy `threads:` setting run."""
    sc = doc["scenarios"]
    out = []

    def add(x, target, measured, ok):
        status = ok if isinstance(ok, str) else ("met" if ok else "short")
        out.append(dict(target=f"{target} [{x}]", measured=measured, status=status))

    for x in (f"xfrproxy t{t}" for t in doc["threads"]):
        for name, what in (("ixfr", "(1) IXFR storm"), ("axfr", "(2) AXFR fan-out")):
            if name not in sc:
                continue
            srv = sc[name]["servers"]
            xr = srv[x]["transfers_per_s"] if srv[x]["errors"] == 0 else 0.0
            for other, need in (("ixfrdist", 5.0), ("knotd", 1.0), ("knotd reuseport", 1.0)):
                o = srv.get(other)
                if o is None:
                    continue
                r = xr / o["transfers_per_s"] if o["transfers_per_s"] else float("inf")
                ok = r >= need if need > 1 else r > need
                add(x, f"{what}: transfers/s {'>=' if need > 1 else '>'} {need:g}x {other}",
                    f"{r:.2f}x ({xr:.1f} vs {o['transfers_per_s']:.1f}/s)", ok)
        f = sc.get("ingest", {}).get("servers", {}).get(x)
        if f:
            add(x, "(3) ingest: servable in < 2 s", f"{f['servable_s']:.2f} s",
                f["servable_s"] < 2.0)
            add(x, "(3) ingest: peak RSS < 2x zone wire size (AXFR bytes)",
                f"{f['rss_per_axfr_byte']:.2f}x ({f['rss_per_raw_byte']:.2f}x uncompressed)",
                f["rss_per_axfr_byte"] < 2.0)
        if "notify" in sc:
            n = sc["notify"]
            f = n["servers"].get(x)
            if n.get("pending") or not f:
                add(x, "(4) NOTIFY fan-out to all in < 200 ms", "not run", "pending")
            else:
                add(x, "(4) NOTIFY fan-out to all in < 200 ms",
                    f"{f['all_answered_ms']:.0f} ms to {f['notified']}",
                    f["all_answered_ms"] < 200 and f["notified"] == n["params"]["peers"])
        if "upstream" in sc:
            runs = sc["upstream"]["servers"].get(x, [])
            per = [r["axfr"] + r["ixfr"] for r in runs]
            add(x, "(5) upstream: exactly 1 transfer per change",
                ", ".join(map(str, per)) or "not run", bool(per) and all(p == 1 for p in per))
    return out
