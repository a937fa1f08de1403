"""The Debian package as an operator gets it: built by scripts/package.sh
(or taken from $XFR_DEB), its contents and control data checked with
dpkg-deb, lintian without errors; then installed with dpkg -i, the unit
accepted by systemd-analyze verify, the unit's ExecStart run as the
xfrproxy user with only the unit's capability (setpriv) serving a zone on
port 53 of a loopback address to dig's AXFR, and purged, leaving no file,
account or state behind. The machine is left as it was found, whatever
fails: the package is purged in a finally block."""
import grp
import os
import pwd
import re
import shutil
import signal
import subprocess
import unittest

import xfrtest

VERSION = "0.11.0"
UNIT = "/lib/systemd/system/xfrproxy.service"
CONFIG = "/etc/xfrproxy/xfrproxy.yaml"
HOST = "127.0.53.1"
ZONE = "pkg.test."
ZONE_TEXT = f"""$ORIGIN {ZONE}
$TTL 3600
@ IN SOA ns1 hostmaster 2026120601 7200 900 1209600 300
@ IN NS ns1
ns1 IN A 192.0.2.53
www IN A 192.0.2.80
www IN AAAA 2001:db8::80
"""
# What the package must hold, as dpkg-deb -c lists it.
EXPECTED_FILES = [
    "./usr/sbin/xfrproxy", "./usr/bin/xfrload", "./etc/xfrproxy/xfrproxy.yaml",
    "./lib/systemd/system/xfrproxy.service", "./usr/share/man/man8/xfrproxy.8.gz",
    "./usr/share/man/man5/xfrproxy.yaml.5.gz", "./usr/share/man/man1/xfrload.1.gz",
    "./usr/share/doc/xfrproxy/copyright", "./usr/share/doc/xfrproxy/changelog.gz",
]
CAP_NET_BIND_SERVICE = 10
# systemd-analyze verify runs man for the unit's Documentation=, and man-db
# caches the formatted pages here; the test removes what it made.
MAN_CACHE = ["/var/cache/man/cat8/xfrproxy.8.gz", "/var/cache/man/cat5/xfrproxy.yaml.5.gz",
             "/var/cache/man/cat1/xfrload.1.gz"]


def build_deb():
    given = os.environ.get("XFR_DEB")
    if given:
        if not os.path.isfile(given):
            raise AssertionError(f"XFR_DEB={given}: no such file")
        return given
    script = os.path.join(xfrtest.SOURCE_DIR, "scripts", "package.sh")
    out = xfrtest.run(["bash", script], timeout=3000)
    return out.strip().splitlines()[-1]


def installed():
    r = subprocess.run(["dpkg-query", "-W", "-f=${Status}", "xfrproxy"], capture_output=True,
                       text=True)
    return r.returncode == 0 and "installed" in r.stdout.split()


def exists(name, db):
    try:
        db(name)
        return True
    except KeyError:
        return False


def unit_values(text, key):
    return [line.split("=", 1)[1] for line in text.splitlines() if line.startswith(key + "=")]


class PackageTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        xfrtest.require_tools(["dpkg-deb", "lintian", "systemd-analyze", "setpriv", "dig"])
        cls.deb = build_deb()

    def test_file_name_contents_and_control(self):
        self.assertEqual(os.path.basename(self.deb), f"xfrproxy_{VERSION}_amd64.deb")
        listing = xfrtest.run(["dpkg-deb", "-c", self.deb])
        entries = {}
        for line in listing.splitlines():
            parts = line.split(None, 5)
            entries[parts[5].split(" -> ")[0]] = (parts[0], parts[1])
        for path in EXPECTED_FILES:
            self.assertIn(path, entries, listing)
        self.assertEqual(entries["./usr/sbin/xfrproxy"], ("-rwxr-xr-x", "root/root"))
        self.assertEqual(entries["./etc/xfrproxy/xfrproxy.yaml"], ("-rw-r--r--", "root/root"))

        info = xfrtest.run(["dpkg-deb", "-I", self.deb])
        for field in ("Package: xfrproxy", f"Version: {VERSION}", "Architecture: amd64",
                      "Section: net"):
            self.assertIn(field, info)
        depends = re.search(r"^ Depends: (.*)$", info, re.M)
        self.assertIsNotNone(depends, info)
        for lib in ("adduser", "libc6", "liburing", "libsystemd0", "libyaml-cpp"):
            self.assertIn(lib, depends.group(1))
        control = xfrtest.TempDir(prefix="xfr-pkg-control-")
        try:
            xfrtest.run(["dpkg-deb", "-e", self.deb, control.path])
            with open(os.path.join(control.path, "conffiles")) as f:
                self.assertEqual(f.read().split(), [CONFIG])
            for script in ("postinst", "prerm", "postrm"):
                mode = os.stat(os.path.join(control.path, script)).st_mode & 0o777
                self.assertEqual(mode, 0o755, script)
        finally:
            control.cleanup()

    def test_lintian_has_no_errors(self):
        r = subprocess.run(["lintian", "--no-cfg", self.deb], capture_output=True, text=True,
                           timeout=600)
        errors = [l for l in r.stdout.splitlines() if l.startswith("E:")]
        self.assertEqual(errors, [], r.stdout + r.stderr)

    @unittest.skipUnless(os.geteuid() == 0, "dpkg -i needs root: run the package test as root")
    def test_install_serve_as_xfrproxy_and_purge(self):
        self.assertFalse(installed(), "xfrproxy is installed already; this test installs and "
                         "purges it, so it runs only on a machine without it")
        self.assertFalse(exists("xfrproxy", pwd.getpwnam), "a user xfrproxy exists already")
        self.assertFalse(os.path.exists("/var/lib/xfrproxy"), "/var/lib/xfrproxy exists already")
        work = xfrtest.TempDir(prefix="xfr-pkg-run-")
        self.proc = None
        cached_before = [p for p in MAN_CACHE if os.path.exists(p)]
        try:
            # As `xfrproxy check` of the shipped config leaves it when run
            # as root before the install: postinst must give it over.
            os.mkdir("/var/lib/xfrproxy", 0o750)
            xfrtest.run(["dpkg", "-i", self.deb], timeout=300)
            self.check_installed()
            # Installed, the unit's commands and man pages are there to be
            # checked as well.
            r = subprocess.run(["systemd-analyze", "verify", UNIT], capture_output=True,
                               text=True, timeout=120)
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            self.assertEqual(r.stdout + r.stderr, "")
            self.serve_as_the_unit_does(work)
            proc, self.proc = self.proc, None
            self.assertEqual(proc.stop(20.0), 0, proc.log()[-3000:])
            # Purge removes state too: leave some.
            with open("/var/lib/xfrproxy/leftover", "w") as f:
                f.write("state")
            # An upgrade (here the same package again, as dpkg -i of a new
            # version runs the same scripts) keeps the operator's edits to
            # the conffile, the state and the account.
            with open(CONFIG, "a") as f:
                f.write("# edited by the operator\n")
            uid = pwd.getpwnam("xfrproxy").pw_uid
            xfrtest.run(["dpkg", "-i", self.deb], timeout=300)
            with open(CONFIG) as f:
                self.assertTrue(f.read().endswith("# edited by the operator\n"))
            self.assertTrue(os.path.exists("/var/lib/xfrproxy/leftover"))
            self.assertEqual(pwd.getpwnam("xfrproxy").pw_uid, uid)
            xfrtest.run(["dpkg", "--purge", "xfrproxy"], timeout=300)
            self.check_purged()
        finally:
            # A process of the account would keep deluser from removing it.
            if self.proc is not None:
                if self.proc.poll() is None:
                    os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.stop()
            if installed() or os.path.exists(CONFIG):
                subprocess.run(["dpkg", "--purge", "xfrproxy"], capture_output=True, timeout=300)
            shutil.rmtree("/var/lib/xfrproxy", ignore_errors=True)
            for p in MAN_CACHE:
                if p not in cached_before and os.path.exists(p):
                    os.unlink(p)
            work.cleanup()

    def check_installed(self):
        user = pwd.getpwnam("xfrproxy")
        group = grp.getgrnam("xfrproxy")
        self.assertLess(user.pw_uid, 1000, "not a system account")
        self.assertEqual(user.pw_gid, group.gr_gid)
        self.assertEqual(user.pw_dir, "/var/lib/xfrproxy")
        st = os.stat("/var/lib/xfrproxy")
        self.assertEqual((st.st_uid, st.st_gid, st.st_mode & 0o777),
                         (user.pw_uid, group.gr_gid, 0o750))
        self.assertEqual(xfrtest.run(["/usr/sbin/xfrproxy", "--version"]).strip(),
                         f"xfrproxy {VERSION}")
        self.assertEqual(xfrtest.run(["/usr/bin/xfrload", "--version"]).strip(),
                         f"xfrload {VERSION}")
        # The shipped configuration passes check as it is.
        out = xfrtest.run(["/usr/sbin/xfrproxy", "check", "--config", CONFIG])
        self.assertIn("OK: 0 zones", out)
        self.assertIn("state-dir /var/lib/xfrproxy", out)

    def derived_config(self, work):
        """The shipped configuration with a zone, on HOST:53, and state in
        `work`: each replaced line must be there exactly once."""
        with open(CONFIG) as f:
            text = f.read()
        zone_file = work.file("pkg.test.zone", ZONE_TEXT)
        state = os.path.join(work.path, "state")
        replacements = {
            'listen: ["127.0.0.1:53"]': f'listen: ["{HOST}:53"]',
            "state-dir: /var/lib/xfrproxy": f"state-dir: {state}",
            "zones: []": (f"zones:\n  - name: {ZONE}\n    file: {zone_file}\n"
                          "    allow-transfer: [\"127.0.0.0/8\"]"),
        }
        for old, new in replacements.items():
            self.assertEqual(len(re.findall(rf"^{re.escape(old)}$", text, re.M)), 1, old)
            text = re.sub(rf"^{re.escape(old)}$", lambda _: new, text, flags=re.M)
        path = work.file("xfrproxy.yaml", text)
        user = pwd.getpwnam("xfrproxy")
        os.mkdir(state, 0o750)
        os.chown(state, user.pw_uid, user.pw_gid)
        os.chmod(work.path, 0o755)
        return path

    def serve_as_the_unit_does(self, work):
        with open(UNIT) as f:
            unit = f.read()
        (exec_start,) = unit_values(unit, "ExecStart")
        (user,) = unit_values(unit, "User")
        (group,) = unit_values(unit, "Group")
        (caps,) = unit_values(unit, "AmbientCapabilities")
        self.assertEqual(unit_values(unit, "CapabilityBoundingSet"), [caps])
        self.assertEqual(caps, "CAP_NET_BIND_SERVICE")
        argv = exec_start.split()
        self.assertEqual(argv[argv.index("--config") + 1], CONFIG)
        argv[argv.index("--config") + 1] = self.derived_config(work)
        cap = caps.lower().removeprefix("cap_")
        setpriv = [xfrtest.tool("setpriv"), f"--reuid={user}", f"--regid={group}",
                   "--init-groups", f"--inh-caps=+{cap}", f"--ambient-caps=+{cap}",
                   f"--bounding-set=-all,+{cap}", "--no-new-privs", "--"]
        self.proc = proc = xfrtest.Process(setpriv + argv, os.path.join(work.path,
                                                                        "xfrproxy.log"), cwd="/")
        xfrtest.wait_tcp(53, host=HOST, timeout=60, proc=proc)

        status = {}
        with open(f"/proc/{proc.pid}/status") as f:
            for line in f:
                key, _, value = line.partition(":")
                status[key] = value.split()
        uid = pwd.getpwnam(user).pw_uid
        self.assertEqual(status["Uid"], [str(uid)] * 4)
        self.assertEqual(int(status["CapEff"][0], 16), 1 << CAP_NET_BIND_SERVICE)
        self.assertEqual(int(status["CapBnd"][0], 16), 1 << CAP_NET_BIND_SERVICE)

        text = xfrtest.dig(53, "+nocmd", "+nostats", "+noall", "+answer", "+onesoa", ZONE,
                           "AXFR", server=HOST)
        records = xfrtest.parse_records(text)
        self.assertEqual([r[3] for r in records].count("SOA"), 1, text)
        self.assertEqual(len(records), 5, text)
        self.assertIn(("www.pkg.test.", 3600, "IN", "AAAA", "2001:db8::80"), records)

    def check_purged(self):
        self.assertFalse(installed())
        for path in ["/usr/sbin/xfrproxy", "/usr/bin/xfrload", "/etc/xfrproxy", UNIT,
                     "/usr/share/man/man8/xfrproxy.8.gz", "/usr/share/doc/xfrproxy",
                     "/var/lib/xfrproxy",
                     "/etc/systemd/system/multi-user.target.wants/xfrproxy.service",
                     "/var/lib/systemd/deb-systemd-helper-enabled/xfrproxy.service",
                     "/var/lib/systemd/deb-systemd-helper-masked/xfrproxy.service"]:
            self.assertFalse(os.path.lexists(path), f"{path} is left after purge")
        self.assertFalse(exists("xfrproxy", pwd.getpwnam), "user xfrproxy is left")
        self.assertFalse(exists("xfrproxy", grp.getgrnam), "group xfrproxy is left")


if __name__ == "__main__":
    xfrtest.main()
