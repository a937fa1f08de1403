"""The running binary's HTTP endpoint: /metrics in Prometheus text format
with the zone's serial and the counters moving with real traffic, /healthz,
/peers as JSON listing the configured secondaries, /status.json counting
the transfer served, and the status page at /."""
import json
import socket
import time
import unittest
import urllib.error
import urllib.request

import servers
import xfrtest
from xfrproxy_run import AXFR, ProxyZone, XfrProxy, query, tcp_transfer

ZONE = "example.com."


def get(port, path):
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as r:
            return r.status, r.headers.get("Content-Type"), r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("Content-Type"), e.read().decode()


def metric(text, name):
    for line in text.splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{"):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"{name} not in /metrics")


class HttpEndpointTest(unittest.TestCase):
    def test_metrics_health_peers(self):
        http_port = xfrtest.free_port()
        peer = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        peer.bind(("127.0.0.1", 0))
        peer_port = peer.getsockname()[1]
        zone = ProxyZone(ZONE, servers.make_zone(ZONE, 200, serial=7),
                         secondaries=[{"address": f"127.0.0.1:{peer_port}"}])
        with XfrProxy([zone], extra=f'http: "127.0.0.1:{http_port}"\n') as proxy:
            xfrtest.wait_tcp(http_port)
            status, ctype, body = get(http_port, "/metrics")
            self.assertEqual(status, 200)
            self.assertIn("text/plain; version=0.0.4", ctype)
            self.assertEqual(metric(body, 'xfrproxy_zone_serial{zone="example.com."}'), 7)
            before = metric(body, "xfrproxy_transfers_completed_total")
            tcp_transfer(proxy.port, query(ZONE, AXFR))
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                after = metric(get(http_port, "/metrics")[2], "xfrproxy_transfers_completed_total")
                if after == before + 1:
                    break
                time.sleep(0.05)
            self.assertEqual(after, before + 1)

            status, _, body = get(http_port, "/healthz")
            self.assertEqual(status, 200, body)

            status, ctype, body = get(http_port, "/peers")
            self.assertEqual(status, 200)
            doc = json.loads(body)
            z = [z for z in doc["zones"] if z["name"] == ZONE][0]
            self.assertEqual(z["serial"], 7)
            self.assertEqual([p["address"] for p in z["peers"]], [f"127.0.0.1:{peer_port}"])

            # /status.json: the zone as `ctl status` sees it, its peer, and
            # the transfer just served counted in this minute's slot.
            status, ctype, body = get(http_port, "/status.json")
            self.assertEqual(status, 200)
            self.assertEqual(ctype, "application/json")
            doc = json.loads(body)
            self.assertEqual(len(doc["transfers_per_minute"]), 60)
            self.assertEqual(sum(doc["transfers_per_minute"]), after)
            z = [z for z in doc["zones"] if z["name"] == ZONE][0]
            self.assertEqual((z["serial"], z["health"], z["file"]), (7, "ok", True))
            self.assertEqual([p["address"] for p in z["peers"]], [f"127.0.0.1:{peer_port}"])

            status, ctype, body = get(http_port, "/")
            self.assertEqual(status, 200)
            self.assertEqual(ctype, "text/html; charset=utf-8")
            self.assertIn("status.json", body)

            self.assertEqual(get(http_port, "/nope")[0], 404)
        peer.close()

    def test_address_change_waits_for_restart(self):
        """A reload that moves the endpoint says it needs a restart and keeps
        serving where it was, instead of silently doing nothing."""
        old_port, new_port = xfrtest.free_port(), xfrtest.free_port()
        zone = ProxyZone(ZONE, servers.make_zone(ZONE, 5, serial=3))
        with XfrProxy([zone], extra=f'http: "127.0.0.1:{old_port}"\n') as proxy:
            xfrtest.wait_tcp(old_port)
            mark = len(proxy.log())
            proxy.extra = f'http: "127.0.0.1:{new_port}"\n'
            proxy.write_config()
            proxy.reload()
            proxy.wait_log("the http endpoint", start=mark)
            self.assertIn("change only on restart", proxy.log()[mark:])
            self.assertEqual(get(old_port, "/healthz")[0], 200)
            with self.assertRaises(OSError):
                socket.create_connection(("127.0.0.1", new_port), timeout=2).close()


if __name__ == "__main__":
    xfrtest.main()
