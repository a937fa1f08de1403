"""RFC 7766 §6.2 resource limits on the TCP side: a cap on connections per
client address, idle connections closed, and a reader that stops reading an
AXFR dropped after the write timeout while everyone else keeps being served.
Nothing here measures time: each test only waits, with a generous bound, for
the server to do what the configured limit says."""
import socket
import time
import unittest

import servers
import xfrtest
from xfrproxy_run import (AXFR, NOERROR, SOA, ProxyZone, WireError, XfrProxy, frame,
                          query, read_transfer, tcp_connect, tcp_read_message,
                          tcp_transfer, transfer_records, parse_message)

ZONE = "example.com."


def soa_on(sock):
    """One SOA query on an open connection; the parsed answer."""
    q = query(ZONE, SOA)
    sock.sendall(frame(q))
    m = parse_message(tcp_read_message(sock))
    return m


def closed_by_peer(sock, timeout):
    """True once the server has closed `sock` (EOF or reset) within timeout."""
    sock.settimeout(timeout)
    try:
        while True:
            if not sock.recv(65536):
                return True
    except ConnectionResetError:
        return True
    except socket.timeout:
        return False


class PerAddressCapTest(unittest.TestCase):
    def test_third_connection_from_one_address_is_closed_others_served(self):
        zone = ProxyZone(ZONE, servers.make_zone(ZONE, 50))
        extra = "limits:\n  tcp-connections-per-ip: 2\n  tcp-connections: 100\n"
        with XfrProxy([zone], extra=extra) as proxy:
            a = tcp_connect(proxy.port)
            b = tcp_connect(proxy.port)
            self.assertEqual(soa_on(a).rcode, NOERROR)
            self.assertEqual(soa_on(b).rcode, NOERROR)
            c = tcp_connect(proxy.port)
            # Over the cap: the server closes it without reading a query.
            self.assertTrue(closed_by_peer(c, 10.0))
            c.close()
            # Another address is not affected by 127.0.0.1's count.
            d = tcp_connect(proxy.port, source="127.0.0.3")
            self.assertEqual(soa_on(d).rcode, NOERROR)
            # Closing one frees a slot for 127.0.0.1 again.
            a.close()
            deadline = time.monotonic() + 10
            served = False
            while not served and time.monotonic() < deadline:
                e = tcp_connect(proxy.port)
                try:
                    served = soa_on(e).rcode == NOERROR
                except (WireError, OSError):
                    time.sleep(0.1)
                e.close()
            self.assertTrue(served, "a freed slot was never reused")
            b.close()
            d.close()


class IdleTimeoutTest(unittest.TestCase):
    def test_idle_connection_is_closed_busy_one_answered(self):
        zone = ProxyZone(ZONE, servers.make_zone(ZONE, 50))
        extra = 'limits:\n  tcp-idle-timeout: "1s"\n'
        with XfrProxy([zone], extra=extra) as proxy:
            s = tcp_connect(proxy.port)
            self.assertEqual(soa_on(s).rcode, NOERROR)
            self.assertTrue(closed_by_peer(s, 15.0), "idle connection never closed")
            s.close()
            # The server still takes new connections afterwards.
            t = tcp_connect(proxy.port)
            self.assertEqual(soa_on(t).rcode, NOERROR)
            t.close()


class StalledReaderTest(unittest.TestCase):
    def test_reader_that_stops_is_dropped_and_holds_only_its_connection(self):
        records = 250000  # ~10 MB of AXFR: more than the socket buffers hold
        zone = ProxyZone(ZONE, servers.make_zone(ZONE, records))
        extra = 'limits:\n  tcp-write-timeout: "2s"\n'
        with XfrProxy([zone], extra=extra) as proxy:
            stalled = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            stalled.connect(("127.0.0.1", proxy.port))
            q = query(ZONE, AXFR)
            stalled.sendall(frame(q))
            # While it does not read, others get whole transfers.
            msgs = tcp_transfer(proxy.port, query(ZONE, AXFR), timeout=60)
            self.assertEqual(len(transfer_records(msgs)), len(
                [l for l in zone.text.splitlines() if l and not l.startswith((";", "$"))]) + 1)
            # Wait past the write timeout (plus the once-a-second sweep),
            # then read: the answer must end early, cut by the server.
            time.sleep(5)
            stalled.settimeout(30)
            with self.assertRaises((WireError, ConnectionResetError)):
                read_transfer(stalled, q[:2])
            stalled.close()
            self.assertTrue(proxy.alive())
            t = tcp_connect(proxy.port)
            self.assertEqual(soa_on(t).rcode, NOERROR)
            t.close()


if __name__ == "__main__":
    xfrtest.main()
