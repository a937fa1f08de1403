"""Every configuration key the parser accepts is described in
docs/configuration.md and in xfrproxy.yaml(5).

The keys are read from the running binary: a config with an unknown key in
each section is refused with "expected one of: ..." naming every key that
section takes. A key added to the parser without a line in the docs is one
an operator cannot find."""
import os
import re
import subprocess
import unittest

import xfrtest

LISTEN = 'listen: ["127.0.0.1:5300"]\n'
ZONE = 'zones: [{name: a., primaries: ["127.0.0.1"], %s}]\n'
# One config per section, each with an unknown key in that section.
SECTIONS = {
    "top level": "bogus: 1\n" + LISTEN + "zones: []\n",
    "limits": LISTEN + "limits: {bogus: 1}\nzones: []\n",
    "log": LISTEN + "log: {bogus: 1}\nzones: []\n",
    "keys": LISTEN + "keys: [{bogus: 1}]\nzones: []\n",
    "zones": LISTEN + ZONE % "bogus: 1",
    "secondaries": LISTEN + ZONE % "secondaries: [{address: 127.0.0.2, bogus: 1}]",
    "journal": LISTEN + ZONE % "journal: {bogus: 1}",
    "proxied": LISTEN + ZONE % "proxied: {bogus: 1}",
    "templates": LISTEN + "templates: [{id: t, bogus: 1}]\nzones: []\n",
}


def read(*parts):
    with open(os.path.join(xfrtest.SOURCE_DIR, *parts)) as f:
        return f.read()


class ConfigDocumentedTest(unittest.TestCase):
    def setUp(self):
        self.tmp = xfrtest.TempDir()
        self.addCleanup(self.tmp.cleanup)

    def keys_of(self, section, text):
        path = self.tmp.file("x.yaml", text)
        r = subprocess.run([xfrtest.binary("proxy", "xfrproxy"), "check", "--config", path],
                           capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
        self.assertEqual(r.returncode, 1, f"{section}: {r.stdout}{r.stderr}")
        m = re.search(r"unknown key 'bogus' \(expected one of: ([^)]*)\)", r.stderr)
        self.assertIsNotNone(m, f"{section}: {r.stderr}")
        return [k.strip() for k in m.group(1).split(",")]

    def test_every_key_is_documented(self):
        docs = read("docs", "configuration.md")
        # The man page writes a hyphen as \- and switches fonts with \fB..\fR.
        man = re.sub(r"\\f[BIRP]", "", read("man", "xfrproxy.yaml.5").replace("\\-", "-"))
        missing = []
        total = 0
        for section, text in SECTIONS.items():
            keys = self.keys_of(section, text)
            self.assertGreater(len(keys), 0, section)
            total += len(keys)
            for key in keys:
                # `key`, `section.key` or `key.sub` in a table of the docs.
                pattern = r"`(?:[a-z-]+\.)?" + re.escape(key) + r"(?:\.[a-z-]+)?`"
                if not re.search(pattern, docs):
                    missing.append(f"docs/configuration.md: {section}: {key}")
                if not re.search(r"(?<![a-z-])" + re.escape(key) + r"(?![a-z-])", man):
                    missing.append(f"man/xfrproxy.yaml.5: {section}: {key}")
        self.assertGreater(total, 40)
        self.assertEqual(missing, [])


if __name__ == "__main__":
    xfrtest.main()
