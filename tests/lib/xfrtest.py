"""Helpers shared by the integration and interop tests.

Every server a test starts listens on 127.0.0.1 or ::1 only, on a port picked
free at run time, and is stopped by its PID when the test ends.
"""
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import unittest

BINARY_DIR = os.environ.get("XFR_BINARY_DIR", os.path.join(os.path.dirname(__file__), "..", "..", "build"))
SOURCE_DIR = os.environ.get("XFR_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", ".."))
LOOPBACK = "127.0.0.1"


def binary(*parts):
    """Path of a binary built by this project, e.g. binary('proxy', 'xfrproxy')."""
    path = os.path.join(BINARY_DIR, *parts)
    if not os.path.exists(path):
        raise FileNotFoundError(f"{path} not built")
    return path


def tool(name):
    """Absolute path of a system tool; a missing one is an error, never a skip."""
    for d in ("/usr/sbin", "/usr/bin", "/sbin", "/bin"):
        p = os.path.join(d, name)
        if os.access(p, os.X_OK):
            return p
    p = shutil.which(name)
    if p:
        return p
    raise FileNotFoundError(f"{name} not installed (run scripts/install-deps.sh)")


def free_port():
    """A port free for both TCP and UDP on 127.0.0.1 (and ::1 where possible)."""
    for _ in range(200):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as t:
            t.bind((LOOPBACK, 0))
            port = t.getsockname()[1]
            try:
                with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
                    u.bind((LOOPBACK, port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port")


def wait_tcp(port, host=LOOPBACK, timeout=20.0, proc=None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.poll()} before listening on {port}")
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listening on {host}:{port} after {timeout}s")


class Process:
    """A child process with its output in a log file, stopped by PID."""

    def __init__(self, argv, log_path, env=None, cwd=None):
        self.argv = argv
        self.log_path = log_path
        self._log = open(log_path, "wb")
        self.proc = subprocess.Popen(argv, stdout=self._log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, env=env, cwd=cwd,
                                     start_new_session=True)
        self.pid = self.proc.pid

    def poll(self):
        return self.proc.poll()

    def signal(self, sig):
        if self.proc.poll() is None:
            os.kill(self.pid, sig)

    def stop(self, timeout=10.0):
        if self.proc.poll() is None:
            os.kill(self.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                os.kill(self.pid, signal.SIGKILL)
                self.proc.wait()
        self._log.close()
        return self.proc.returncode

    def log(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode(errors="replace")


class TempDir:
    def __init__(self, prefix="xfrtest-"):
        self.path = tempfile.mkdtemp(prefix=prefix)

    def file(self, name, content=None):
        p = os.path.join(self.path, name)
        if content is not None:
            with open(p, "w") as f:
                f.write(content)
        return p

    def cleanup(self):
        shutil.rmtree(self.path, ignore_errors=True)


def wait_for(what, fn, timeout=20.0, interval=0.05):
    """Polls fn() until it returns a true value and returns it; fails with
    `what` and the last value after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = fn()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"{what}: not after {timeout}s (last {last!r})")


def run(argv, timeout=120, check=True, input=None):
    """Runs a command and returns its stdout as text."""
    r = subprocess.run(argv, capture_output=True, timeout=timeout, input=input,
                       text=True)
    if check and r.returncode != 0:
        raise AssertionError(f"{argv} exited {r.returncode}:\n{r.stdout}\n{r.stderr}")
    return r.stdout


def dig(server_port, *args, server=LOOPBACK, timeout=60):
    """Runs dig against a loopback server; returns stdout."""
    return run([tool("dig"), f"@{server}", "-p", str(server_port), "+tries=1",
                "+time=5", *args], timeout=timeout, check=False)


def require_tools(names):
    """Fails (never skips) naming every tool in `names` not installed."""
    missing = []
    for t in names:
        try:
            tool(t)
        except FileNotFoundError:
            missing.append(t)
    if missing:
        raise AssertionError(f"not installed: {', '.join(missing)} (scripts/install-deps.sh)")


def dig_axfr(port, zone, *args):
    """A zone's AXFR through dig, as sorted normalised records (see
    parse_records), the SOA once; fails on a refused or broken transfer.
    `args` go to dig first (e.g. "-y", key, "-b", source)."""
    text = dig(port, *args, zone, "AXFR", "+nocmd", "+nostats", "+noall", "+answer", "+onesoa")
    recs = parse_records(text)
    if not recs or recs[0][3] != "SOA":
        raise AssertionError(f"AXFR of {zone} from port {port} failed:\n{text[-2000:]}")
    return sorted(recs)


def parse_records(text):
    """Records from dig/kdig/master-file style text: list of normalized tuples
    (owner lowercased, ttl, class, type, rdata) ignoring comments and blanks."""
    out = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith(";"):
            continue
        parts = line.split(None, 4)
        if len(parts) < 5:
            continue
        owner, ttl, cls, typ, rdata = parts
        out.append((owner.lower(), int(ttl), cls.upper(), typ.upper(), " ".join(rdata.split())))
    return out


def main():
    unittest.main(verbosity=2)
