"""The status page at / in a real browser: Debian's chromium, headless,
driven over the DevTools protocol. xfrproxy follows two fake primaries; the
rendered page shows each zone's serial, and after one primary publishes a
new serial (and NOTIFYs) the page shows it without being reloaded. The
page's JSON feed, /status.json, is checked against the same state."""
import json
import re
import socket
import unittest

import chromium
import xfrtest
from fake_primary import FakePrimary, UpstreamProxy, http_get, make_records, primary_addr

ZONES = ("example.com.", "example.net.")

# The serial cell of a zone's row, as the page's script draws it.
SERIAL_JS = ("(() => {{ const r = [...document.querySelectorAll('tr.zone')]"
             ".find(t => t.dataset.zone === {zone}); "
             "return r ? r.querySelector('.serial').textContent : null; }})()")

CLICK_JS = ("[...document.querySelectorAll('tr.zone')]"
            ".find(t => t.dataset.zone === {zone}).click()")


class StatusPageTest(unittest.TestCase):
    def setUp(self):
        self.primaries = {}
        for i, zone in enumerate(ZONES):
            fp = FakePrimary(zone)
            fp.publish(make_records(zone, 100 + i, 30))
            fp.start()
            self.addCleanup(fp.stop)
            self.primaries[zone] = fp
        # A secondary of example.com. that never answers: the page lists it
        # under the zone with its state and lag.
        self.peer = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.peer.bind(("127.0.0.1", 0))
        self.addCleanup(self.peer.close)
        self.peer_addr = f"127.0.0.1:{self.peer.getsockname()[1]}"
        self.http_port = xfrtest.free_port()
        zones = [{"name": z, "primaries": [primary_addr(fp)], "notify_from": ["127.0.0.1/32"]}
                 for z, fp in self.primaries.items()]
        zones[0]["secondaries"] = [{"address": self.peer_addr}]
        self.proxy = UpstreamProxy(zones, http_port=self.http_port)
        self.proxy.start()
        self.addCleanup(self.proxy.stop)
        for i, zone in enumerate(ZONES):
            self.proxy.wait_serial(zone, 100 + i)

    def serial_shown(self, page, zone):
        return page.evaluate(SERIAL_JS.format(zone=json.dumps(zone)))

    def test_page_shows_serials_and_follows_a_change_without_reload(self):
        with chromium.Chromium() as browser:
            page = browser.page()
            page.navigate(f"http://127.0.0.1:{self.http_port}/")
            for i, zone in enumerate(ZONES):
                xfrtest.wait_for(f"{zone} serial {100 + i} on the page",
                                 lambda z=zone, s=str(100 + i): self.serial_shown(page, z) == s,
                                 timeout=30)
            text = page.evaluate("document.body.innerText")
            for zone in ZONES:
                self.assertIn(zone, text)
            self.assertIn("ok", text)
            # A mark in this document: a reload would start a new one.
            page.evaluate("window.xfrMark = 'first load'")
            # The page ran under its Content-Security-Policy with nothing
            # blocked: the script drew the rows above, and the inline style
            # applies.
            self.assertEqual(page.evaluate(
                "getComputedStyle(document.querySelector('th')).backgroundColor"),
                "rgb(244, 244, 244)")
            violations = [e for e in page.events
                          if "Content Security Policy" in json.dumps(e)]
            self.assertEqual(violations, [])

            # A click on a zone's row lists its peers under it, with their
            # state; the other zone has none.
            page.evaluate(CLICK_JS.format(zone=json.dumps("example.com.")))
            # It never answers the NOTIFY: told, then unreachable.
            peers = xfrtest.wait_for("the peer of example.com. listed as notified", lambda: [
                row for row in page.evaluate(
                    "[...document.querySelectorAll('tr.peer')].map(r => r.innerText)")
                if re.search(r"\b(notified|unreachable)\b", row)], timeout=30)
            self.assertEqual(len(peers), 1, peers)
            self.assertIn(self.peer_addr, peers[0])
            page.evaluate(CLICK_JS.format(zone=json.dumps("example.net.")))
            xfrtest.wait_for("example.net. shown without secondaries", lambda: "no secondaries"
                             in page.evaluate("document.body.innerText"))

            fp = self.primaries["example.net."]
            fp.publish(make_records("example.net.", 205, 30))
            fp.notify(self.proxy.port)
            self.proxy.wait_serial("example.net.", 205)
            xfrtest.wait_for("new serial 205 on the page",
                             lambda: self.serial_shown(page, "example.net.") == "205",
                             timeout=30)
            self.assertEqual(page.evaluate("window.xfrMark"), "first load",
                             "the page was reloaded instead of updated")
            self.assertEqual(self.serial_shown(page, "example.com."), "100")
            # The page counts the served transfers: none were asked of us.
            self.assertIn("0 in the last hour", page.evaluate("document.body.innerText"))

        status, body = http_get(self.http_port, "/status.json")
        self.assertEqual(status, 200)
        doc = json.loads(body)
        self.assertEqual(len(doc["transfers_per_minute"]), 60)
        zones = {z["name"]: z for z in doc["zones"]}
        self.assertEqual(zones["example.net."]["serial"], 205)
        self.assertEqual(zones["example.net."]["health"], "ok")
        self.assertEqual(zones["example.net."]["last_transfer"]["from"],
                         primary_addr(self.primaries["example.net."]))
        self.assertEqual(zones["example.com."]["serial"], 100)


if __name__ == "__main__":
    xfrtest.main()
