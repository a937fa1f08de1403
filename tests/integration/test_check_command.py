"""`xfrproxy check` and the command line: a good config passes with one line
per zone; a broken one fails with file:line:column and the field at fault."""
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
        # /etc/xfrproxy/xfrproxy.yaml as the Debian package installs it.
        r = self.run_proxy("check", "--config",
                           os.path.join(xfrtest.SOURCE_DIR, "packaging", "xfrproxy.yaml"))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("OK: 0 zones", r.stdout)
        self.assertIn("listen 127.0.0.1:53", r.stdout)
        self.assertIn("state-dir /var/lib/xfrproxy", r.stdout)

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
