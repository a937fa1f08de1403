"""The servers of side_by_side.py: a knotd primary, and the three servers
under test as its secondaries (xfrproxy, pdns ixfrdist, knotd), each on
127.0.0.1 on a free port, in its own temp dir, stopped by PID.

Each server under test is configured the way its documentation suggests for
production, not tuned for the benchmark: xfrproxy with a state-dir and its
default limits; ixfrdist with its defaults (10 TCP threads, no compression);
knotd with its own worker defaults (so, on two cores, 2 UDP and 10 TCP
workers) and zone file and journal kept as shipped."""
import os
import re
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "tests", "lib"))
import servers  # noqa: E402
import xfrtest  # noqa: E402

ZONE = "example.com."
TICK = os.sysconf("SC_CLK_TCK")


def _stat_cpu(pid):
    """(utime, stime) of a process, every thread, in seconds."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    # fields[0] is field 3 (state): utime is field 14, stime 15.
    return int(fields[11]) / TICK, int(fields[12]) / TICK


def _schedstat_cpu(pid):
    total = 0
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                total += int(f.read().split()[0])
        except OSError:
            pass  # the thread just ended
    return total / 1e9


class CpuMeter:
    """CPU seconds a process spends between its creation and stop(),
    every thread. /proc/PID/stat counts in clock ticks (10 ms), too coarse
    for a run that costs the server 0.1 s; the per-thread schedstat counts
    nanoseconds but forgets threads that end, so when the two disagree by
    more than a few ticks the tick count is taken. User and system time
    come from the ticks: on loopback, system time includes TCP work of the
    receiving side that the kernel does in the sender's context."""

    def __init__(self, pid):
        self.pid = pid
        self.stat0 = _stat_cpu(pid)
        self.sched0 = _schedstat_cpu(pid)

    def stop(self):
        u1, s1 = _stat_cpu(self.pid)
        user, system = u1 - self.stat0[0], s1 - self.stat0[1]
        sched = _schedstat_cpu(self.pid) - self.sched0
        total = sched if abs(user + system - sched) <= 3 / TICK else user + system
        return dict(total=total, user=user, system=system)


def cpu_seconds(pid):
    """utime + stime of a process, all its threads, in seconds."""
    return sum(_stat_cpu(pid))


def peak_rss_bytes(pid, field="VmHWM"):
    """VmHWM (peak resident set) or VmRSS (now) of a process, in bytes."""
    with open(f"/proc/{pid}/status") as f:
        m = re.search(field + r":\s+(\d+) kB", f.read())
    return int(m.group(1)) * 1024


def listen_drops():
    """TcpExt ListenDrops from /proc/net/netstat: SYNs or completed
    handshakes the kernel dropped because a listener's queue was full
    (system-wide; the client retransmits its SYN after 1, 3, 7, 15... s)."""
    with open("/proc/net/netstat") as f:
        lines = [line.split() for line in f if line.startswith("TcpExt:")]
    return int(dict(zip(lines[0][1:], lines[1][1:]))["ListenDrops"])


# --- Zones -------------------------------------------------------------------

def zone_lines(records, serial, refresh=2, retry=1, changed=0, seed=0):
    """The lines of a zone of `records` A and TXT records (like
    servers.make_zone, but fast for a million records and with a short SOA
    REFRESH, since ixfrdist 4.7 learns of changes only by polling).
    `changed` records (spread over the zone) get new RDATA: a version
    `changed` records away from the one with changed=0."""
    lines = [
        f"$ORIGIN {ZONE}",
        "$TTL 3600",
        f"@ IN SOA ns1.{ZONE} hostmaster.{ZONE} {serial} {refresh} {retry} 1209600 300",
        f"@ IN NS ns1.{ZONE}",
        f"@ IN NS ns2.{ZONE}",
        "ns1 IN A 192.0.2.1",
        "ns2 IN A 192.0.2.2",
    ]
    step = max(1, records // changed) if changed else 0
    for i in range(records):
        bump = seed + 1 if step and i % step == 0 and i // step < changed else seed
        if i % 2 == 0:
            n = i + bump * 7919
            lines.append(f"host{i} IN A 10.{(n >> 16) & 255}.{(n >> 8) & 255}.{n & 255}")
        else:
            word = f"{(i * 2654435761 + bump * 40503) & 0xFFFFFFFF:08x}"
            lines.append(f'txt{i} IN TXT "record {i} {word}{word[::-1]}"')
    return lines


def zone_text(records, serial, **kw):
    return "\n".join(zone_lines(records, serial, **kw)) + "\n"


def uncompressed_wire_size(text):
    """Bytes of every record of a zone_text() in wire form with no name
    compression (RFC 1035 §3.2.1: owner, type, class, TTL, RDLENGTH,
    RDATA); the SOA counted once."""
    origin_len = len(ZONE) + 1  # "example.com." -> 13 wire bytes
    total = 0
    for line in text.splitlines():
        if not line or line.startswith("$"):
            continue
        owner, _, rtype, rdata = line.split(None, 3)
        owner_len = origin_len if owner == "@" else len(owner) + 1 + origin_len
        if rtype == "A":
            rdlen = 4
        elif rtype == "TXT":
            rdlen = len(rdata.strip('"')) + 1
        elif rtype == "NS":
            rdlen = len(rdata.split(".")[0]) + 1 + origin_len
        else:  # SOA: two names and five 32-bit fields
            m, r = rdata.split()[:2]
            rdlen = (len(m.split(".")[0]) + 1 + origin_len) + (len(r.split(".")[0]) + 1 + origin_len) + 20
        total += owner_len + 10 + rdlen
    return total


# --- The primary ---------------------------------------------------------------

class KnotPrimary:
    """knotd serving ZONE from a file (tests/lib/servers.py KnotServer),
    NOTIFYing `notify` (host, port) pairs on every change. Counts the
    transfers it serves from its log."""

    def __init__(self, text, notify=(), port=None):
        self.zone = servers.Zone(ZONE, text=text, notify=list(notify))
        self.knot = servers.KnotServer([self.zone], port=port)

    @property
    def port(self):
        return self.knot.port

    @property
    def pid(self):
        return self.knot.process.pid

    def start(self, timeout=300):
        self.knot.start(timeout=timeout)
        return self

    def publish(self, text, serial, timeout=300):
        """A new version from the file (knotc zone-reload); knotd computes
        the diff (zonefile-load: difference-no-serial) and NOTIFYs."""
        self.knot.write_zone(self.zone, text)
        self.knot.reload()
        servers.wait_soa(self.port, ZONE, serial=serial, timeout=timeout, proc=self.knot.process)

    def transfers_served(self):
        """(AXFR, IXFR) outgoing transfers started, per knotd's log."""
        log = self.knot.log()
        return (len(re.findall(r"AXFR, outgoing, remote [^,]+, started", log)),
                len(re.findall(r"IXFR, outgoing, remote [^,]+, started", log)))

    def stop(self):
        self.knot.cleanup()


# --- Servers under test ------------------------------------------------------

class UnderTest:
    """A secondary of the primary that serves ZONE downstream."""
    name = "server"

    def __init__(self, primary_port):
        self.primary_port = primary_port
        self.port = xfrtest.free_port()
        self.dir = xfrtest.TempDir(prefix=f"xfr-sbs-{self.name}-")
        self.process = None
        self.started_at = None

    @property
    def pid(self):
        return self.process.pid

    def path(self, name):
        return os.path.join(self.dir.path, name)

    def argv(self):
        raise NotImplementedError

    def start(self):
        argv = self.argv()
        self.started_at = time.monotonic()
        self.process = xfrtest.Process(argv, self.path("server.log"), cwd=self.dir.path)
        return self

    def wait_serial(self, serial, timeout=120.0, interval=0.01):
        """Polls SOA over UDP until `serial` is served; returns the
        monotonic time it was first seen."""
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.process.poll()}:\n"
                                   f"{self.log()[-3000:]}")
            # A short timeout: a server that is up but not yet serving
            # may drop the query, and the time seen must not jump by it.
            last = servers.query_soa(self.port, ZONE, timeout=0.05)
            if last and last[0] == 0 and last[1] == serial:
                return time.monotonic()
            time.sleep(interval)
        raise TimeoutError(f"{self.name} not serving serial {serial} after {timeout}s "
                           f"(last answer {last}):\n{self.log()[-3000:]}")

    def log(self):
        try:
            with open(self.path("server.log"), errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def stop(self):
        if self.process is not None:
            self.process.stop(timeout=30)
            self.process = None
        self.dir.cleanup()


class XfrproxyServer(UnderTest):
    name = "xfrproxy"

    def __init__(self, primary_port, binary, threads=2, secondaries=(), state_dir=True,
                 label=None):
        super().__init__(primary_port)
        self.binary = binary
        self.threads = threads
        self.secondaries = list(secondaries)
        self.state_dir = state_dir
        self.label = label or f"xfrproxy t{threads}"

    def argv(self):
        out = [f'listen: ["127.0.0.1:{self.port}"]', f"threads: {self.threads}"]
        if self.state_dir:
            out.append("state-dir: state")
        out += ["zones:", f"  - name: {ZONE}",
                f'    primaries: ["127.0.0.1:{self.primary_port}"]',
                '    notify-from: ["127.0.0.0/8"]',
                '    allow-transfer: ["127.0.0.0/8"]']
        if self.secondaries:
            out.append("    secondaries:")
            out += [f'      - {{address: "{h}:{p}"}}' for h, p in self.secondaries]
        with open(self.path("xfrproxy.yaml"), "w") as f:
            f.write("\n".join(out) + "\n")
        return [self.binary, "--config", self.path("xfrproxy.yaml")]


class IxfrdistServer(UnderTest):
    """pdns ixfrdist 4.7: polls the primary's SOA every REFRESH seconds
    (it neither receives nor sends NOTIFY in this version), keeps `keep`
    versions on disk and serves AXFR and condensed IXFR."""
    name = "ixfrdist"
    label = "ixfrdist"

    def argv(self):
        os.makedirs(self.path("work"), exist_ok=True)
        conf = "\n".join([
            f"listen: ['127.0.0.1:{self.port}']",
            "acl: ['127.0.0.0/8']",
            f"work-dir: {self.path('work')}",
            "axfr-timeout: 300",
            "domains:",
            f"  - domain: {ZONE}",
            f"    master: 127.0.0.1:{self.primary_port}",
        ]) + "\n"
        with open(self.path("ixfrdist.yml"), "w") as f:
            f.write(conf)
        return [xfrtest.tool("ixfrdist"), "--config", self.path("ixfrdist.yml")]


class KnotSecondary(UnderTest):
    """knotd as a plain secondary: AXFR/IXFR from the primary on NOTIFY
    or REFRESH, changes journalled and served as IXFR, NOTIFY sent to
    `secondaries`."""
    name = "knotd"

    def __init__(self, primary_port, secondaries=(), reuseport=False):
        super().__init__(primary_port)
        self.secondaries = list(secondaries)
        # tcp-reuseport: one listening socket (and accept queue) per TCP
        # worker instead of one shared; off by default in Knot 3.2.
        self.reuseport = reuseport
        self.label = "knotd reuseport" if reuseport else "knotd"

    def argv(self):
        d = self.dir.path
        out = [
            "server:",
            f'    rundir: "{d}"',
            f'    pidfile: "{d}/knot.pid"',
            f"    listen: 127.0.0.1@{self.port}",
        ] + (["    tcp-reuseport: on"] if self.reuseport else []) + [
            "database:",
            f'    storage: "{d}/db"',
            "control:",
            f'    listen: "{d}/knot.sock"',
            "log:",
            "  - target: stderr",
            "    any: info",
            "remote:",
            "  - id: primary",
            f"    address: 127.0.0.1@{self.primary_port}",
        ]
        out += [f"  - id: s{i}\n    address: {h}@{p}" for i, (h, p) in enumerate(self.secondaries)]
        if self.secondaries:
            out.append("remotes:")
            for g in range(0, len(self.secondaries), 1000):
                ids = ", ".join(f"s{i}" for i in range(g, min(g + 1000, len(self.secondaries))))
                out += [f"  - id: g{g // 1000}", f"    remote: [{ids}]"]
        out += [
            "acl:",
            "  - id: from_primary",
            "    address: 127.0.0.1",
            "    action: notify",
            "  - id: downstream",
            "    address: 127.0.0.0/8",
            "    action: transfer",
            "template:",
            "  - id: default",
            f'    storage: "{d}"',
            "zone:",
            f"  - domain: {ZONE}",
            "    master: primary",
            "    acl: [from_primary, downstream]",
        ]
        # knotd caps the size of one multi-valued item (a list of about
        # 8,300 references fails with "not enough space provided"), so
        # the secondaries go into `remotes` groups of 1,000.
        groups = (len(self.secondaries) + 999) // 1000
        out += [f"    notify: g{g}" for g in range(groups)]
        os.makedirs(self.path("db"), exist_ok=True)
        with open(self.path("knot.conf"), "w") as f:
            f.write("\n".join(out) + "\n")
        return [xfrtest.tool("knotd"), "-c", self.path("knot.conf")]
