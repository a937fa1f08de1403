"""`xfrproxy check` and the command line: a good config passes with one line
per zone; a broken one fails with file:line:column and the field at fault; a
zone file the server would refuse fails with file:line and the rule broken,
every problem listed; a state-dir that cannot be created or written fails
naming the path and the reason."""
import os
import re
import subprocess
import unittest

import xfrtest

EXAMPLE = os.path.join(xfrtest.SOURCE_DIR, "examples", "xfrproxy.yaml")

ZONE = """$ORIGIN example.com.
$TTL 3600
@   IN SOA ns1 hostmaster 1 7200 900 1209600 300
    IN NS  ns1
ns1 IN A   192.0.2.53
www IN A   192.0.2.80
"""

GOOD = """listen: ["127.0.0.1:5300"]
zones:
  - name: example.com
    file: example.com.zone
    allow-transfer: ["127.0.0.0/8"]
  - name: example.org.
    primaries: ["192.0.2.10", "[2001:db8::10]:5353"]
    secondaries:
      - {address: "198.51.100.7"}
"""


class CheckCommandTest(unittest.TestCase):
    def setUp(self):
        self.xfrproxy = xfrtest.binary("proxy", "xfrproxy")
        self.tmp = xfrtest.TempDir()

    def tearDown(self):
        self.tmp.cleanup()

    def run_proxy(self, *args):
        return subprocess.run([self.xfrproxy, *args], capture_output=True,
                              text=True, timeout=60, stdin=subprocess.DEVNULL)

    def check(self, config_text, zone=True):
        if zone:
            self.tmp.file("example.com.zone", ZONE)
        path = self.tmp.file("xfrproxy.yaml", config_text)
        return path, self.run_proxy("check", "--config", path)

    def test_example_config_passes(self):
        # The example names examples/example.com.zone, relative to itself.
        self.assertTrue(os.path.exists(os.path.join(os.path.dirname(EXAMPLE),
                                                    "example.com.zone")),
                        "examples/example.com.zone is missing")
        r = self.run_proxy("check", "--config", EXAMPLE)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("OK: 1 zones", r.stdout)
        self.assertIn("zone example.com.: file ", r.stdout)
        self.assertIn("allow-transfer 127.0.0.0/8 ::1/128", r.stdout)
        self.assertEqual(r.stderr, "")

    def test_packaged_config_passes(self):
        # /etc/xfrproxy/xfrproxy.yaml as the Debian package installs it, but
        # with state-dir in the temp dir: check creates state-dir, and a
        # /var/lib/xfrproxy made here would be root's when the package
        # comes to install it.
        with open(os.path.join(xfrtest.SOURCE_DIR, "packaging", "xfrproxy.yaml")) as f:
            text = f.read()
        shipped = "\nstate-dir: /var/lib/xfrproxy\n"
        self.assertEqual(text.count(shipped), 1)
        state = os.path.join(self.tmp.path, "state")
        path = self.tmp.file("xfrproxy.yaml", text.replace(shipped, f"\nstate-dir: {state}\n"))
        var_lib_before = os.path.exists("/var/lib/xfrproxy")
        r = self.run_proxy("check", "--config", path)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("OK: 0 zones", r.stdout)
        self.assertIn("listen 127.0.0.1:53", r.stdout)
        self.assertEqual(os.path.exists("/var/lib/xfrproxy"), var_lib_before)

    def test_good_config_prints_a_line_per_zone(self):
        path, r = self.check(GOOD)
        self.assertEqual(r.returncode, 0, r.stderr)
        zones = [l for l in r.stdout.splitlines() if l.startswith("zone ")]
        self.assertEqual(len(zones), 2, r.stdout)
        self.assertIn("example.com.: file " + os.path.join(self.tmp.path, "example.com.zone"),
                      zones[0])
        self.assertIn("example.org.: primaries 192.0.2.10:53 [2001:db8::10]:5353", zones[1])
        # No allow-transfer: the secondaries may transfer, nobody else.
        self.assertIn("allow-transfer 198.51.100.7/32 (the secondaries)", zones[1])
        self.assertIn("notify-from 192.0.2.10/32 2001:db8::10/128", zones[1])

    def test_broken_configs_fail_with_location(self):
        cases = {
            "bad address": (GOOD.replace('"192.0.2.10"', '"192.0.2.300"'),
                            ":7:17: zones[1].primaries[0]: bad address '192.0.2.300'"),
            "unknown key": (GOOD + "  - name: x.\n    file: z\n    alow-transfer: []\n",
                            ":12:5: zones[2].alow-transfer: unknown key"),
            "yaml syntax": (GOOD.replace('["127.0.0.1:5300"]', '["127.0.0.1:5300"'),
                            "xfrproxy.yaml:2:"),
            "host bits": (GOOD.replace("127.0.0.0/8", "127.0.0.1/8"),
                          ":5:22: zones[0].allow-transfer[0]: bad CIDR '127.0.0.1/8': host bits set"),
        }
        for name, (text, expected) in cases.items():
            with self.subTest(name):
                path, r = self.check(text)
                self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
                self.assertIn(path + ":", r.stderr)
                self.assertIn(expected, r.stderr)
                self.assertEqual(r.stdout, "")

    def test_missing_zone_file_is_an_error(self):
        path, r = self.check(GOOD, zone=False)
        self.assertEqual(r.returncode, 1)
        self.assertIn(path + ":4:11: zones[0].file: cannot read", r.stderr)
        self.assertIn("No such file", r.stderr)

    def test_zone_file_problems_are_listed_with_file_and_line(self):
        head = ZONE  # lines 1-6; the cases add from line 7
        cases = {
            "syntax": (head + "bad IN A 192.0.2.999\n",
                       [":7: bad IPv4 address '192.0.2.999'"]),
            "out of zone": (head + "www.example.org. IN A 192.0.2.1\n",
                            [":7: out-of-zone data: www.example.org. A is not in zone "
                             "example.com."]),
            "CNAME beside other data": (
                head + "www IN CNAME ns1\n",
                [":6: CNAME and other data at www.example.com.: A beside the CNAME at "]),
            "two SOA": (head + "@ IN SOA ns2 hostmaster 2 7200 900 1209600 300\n",
                        [":7: more than one SOA record for example.com. (the first is at "]),
            "no SOA": ("$ORIGIN example.com.\n$TTL 3600\n@ IN NS ns1\nns1 IN A 192.0.2.53\n",
                       [": zone example.com. has no SOA record at its apex"]),
            "no NS at the apex": (
                "$ORIGIN example.com.\n$TTL 3600\n"
                "@ IN SOA ns1 hostmaster 1 7200 900 1209600 300\nns1 IN A 192.0.2.53\n",
                [":3: zone example.com. has no NS records at its apex"]),
            "name server without an address": (
                head + "@ IN NS ns2\n",
                [":7: NS ns2.example.com. at example.com. has no address records (A or AAAA) "
                 "in the zone"]),
            "every problem at once": (
                head + "x.example.net. IN A 192.0.2.1\nwww IN CNAME ns1\n",
                [":6: CNAME and other data at www.example.com.",
                 ":7: out-of-zone data: x.example.net. A"]),
        }
        zone_path = os.path.join(self.tmp.path, "example.com.zone")
        for name, (text, expected) in cases.items():
            with self.subTest(name):
                self.tmp.file("example.com.zone", text)
                path, r = self.check(GOOD, zone=False)
                self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
                self.assertEqual(r.stdout, "")
                lines = r.stderr.splitlines()
                self.assertEqual(len(lines), len(expected) + 1, r.stderr)
                for line, want in zip(lines, expected):
                    self.assertTrue(line.startswith(zone_path + want), (line, want))
                n = len(expected)
                self.assertEqual(lines[-1],
                                 f"{path}: {n} problem{'' if n == 1 else 's'} found")

    def test_zone_over_max_records_fails(self):
        text = GOOD.replace('allow-transfer: ["127.0.0.0/8"]',
                            'allow-transfer: ["127.0.0.0/8"]\n    max-records: 3')
        path, r = self.check(text)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn(os.path.join(self.tmp.path, "example.com.zone") + ": ", r.stderr)
        self.assertIn("max-records", r.stderr)

    def test_state_dir_can_be_created_and_written(self):
        state = os.path.join(self.tmp.path, "state")
        path, r = self.check(GOOD + "state-dir: state\n")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(f"state-dir {state}", r.stdout)
        # Made to be tried, then removed: check leaves nothing behind (run
        # as root, it would leave a root-owned directory for the service).
        self.assertFalse(os.path.exists(state))
        os.mkdir(state)
        path, r = self.check(GOOD + "state-dir: state\n")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(os.listdir(state), [], "the probe file was left behind")

    def test_state_dir_problems_name_the_path_and_reason(self):
        self.tmp.file("plain-file", "x")
        cases = {
            "parent missing": ("missing/state",
                               "state-dir: cannot create '{}/missing/state': "
                               "No such file or directory"),
            "a file": ("plain-file", "state-dir: '{}/plain-file' is not a directory"),
        }
        for name, (sd, expected) in cases.items():
            with self.subTest(name):
                path, r = self.check(GOOD + f"state-dir: {sd}\n")
                self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
                self.assertEqual(r.stderr.splitlines(),
                                 [expected.format(self.tmp.path), f"{path}: 1 problem found"])

    def test_read_only_state_dir_fails(self):
        # Root writes through permission bits, so the directory is made
        # read-only by a read-only bind mount in a private mount namespace.
        xfrtest.require_tools(["unshare", "mount"])
        state = os.path.join(self.tmp.path, "state")
        os.mkdir(state)
        path, _ = self.check(GOOD + "state-dir: state\n")
        script = (f"mount --make-rprivate / && mount --bind {state} {state} && "
                  f"mount -o remount,ro,bind {state} && exec \"$@\"")
        r = subprocess.run([xfrtest.tool("unshare"), "-m", "sh", "-c", script, "sh",
                            self.xfrproxy, "check", "--config", path],
                           capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertEqual(r.stderr.splitlines(),
                         [f"state-dir: cannot write in '{state}': Read-only file system",
                          f"{path}: 1 problem found"])

    def test_missing_config_file(self):
        r = self.run_proxy("check", "--config", os.path.join(self.tmp.path, "nope.yaml"))
        self.assertEqual(r.returncode, 1)
        self.assertIn("nope.yaml: cannot open", r.stderr)

    def test_command_line(self):
        # The version is the project's, from CMakeLists.txt, in both tools.
        with open(os.path.join(xfrtest.SOURCE_DIR, "CMakeLists.txt")) as f:
            version = re.search(r"project\(xfrproxy .*VERSION ([0-9.]+)\)", f.read()).group(1)
        r = self.run_proxy("--version")
        self.assertEqual((r.returncode, r.stdout.strip()), (0, f"xfrproxy {version}"))
        r = subprocess.run([xfrtest.binary("bench", "xfrload"), "--version"],
                           capture_output=True, text=True, timeout=30)
        self.assertEqual((r.returncode, r.stdout.strip()), (0, f"xfrload {version}"))
        r = self.run_proxy("--help")
        self.assertEqual(r.returncode, 0)
        self.assertIn("check --config FILE", r.stdout)
        for argv in ([], ["check"], ["--config"], ["--bogus"], ["check", "x"],
                     ["demo", "--config", "x.yaml"], ["demo", "--secondaries", "0"],
                     ["demo", "--records", "many"], ["demo", "--interval"]):
            with self.subTest(argv=argv):
                r = self.run_proxy(*argv)
                self.assertEqual(r.returncode, 2, r.stderr)
                self.assertIn("usage:", r.stderr)
        # --config=FILE works like --config FILE.
        _, _ = self.check(GOOD)
        r = self.run_proxy("check", "--config=" + os.path.join(self.tmp.path, "xfrproxy.yaml"))
        self.assertEqual(r.returncode, 0, r.stderr)

    def test_run_reports_config_errors_before_anything_starts(self):
        path, _ = self.check(GOOD.replace("192.0.2.10", "192.0.2.300"))
        r = self.run_proxy("--config", path)
        self.assertEqual(r.returncode, 1)
        self.assertIn(path + ":7:17:", r.stderr)


if __name__ == "__main__":
    xfrtest.main()
