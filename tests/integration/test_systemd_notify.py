"""What a Type=notify systemd unit hears from xfrproxy, through a
NOTIFY_SOCKET the test binds itself: READY=1 only once the listeners answer
and the zones from the zone files and from state-dir are served,
RELOADING=1 (with MONOTONIC_USEC) then READY=1 around a SIGHUP and a `ctl
reload`, STOPPING=1 on SIGTERM; every message from the main PID (systemd's
default NotifyAccess=main drops the others)."""
import os
import signal
import socket
import struct
import unittest

import xfrtest
from xfrproxy_run import (AXFR, NOERROR, SOA, ProxyZone, XfrProxy, query, tcp_transfer,
                          transfer_records, udp_query)

FILE_ZONE = "file.test."
DISK_ZONE = "disk.test."


def zone_text(origin, serial):
    return (f"$ORIGIN {origin}\n$TTL 3600\n"
            f"@ IN SOA ns1 hostmaster {serial} 7200 900 1209600 300\n"
            "@ IN NS ns1\nns1 IN A 192.0.2.1\nwww IN A 192.0.2.80\n")


class NotifySocket:
    """A datagram socket standing in for systemd's; gives each message as a
    dict of its fields with the sender's PID."""

    def __init__(self, directory):
        self.path = os.path.join(directory, "notify")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)

    def receive(self, timeout=60.0):
        self.sock.settimeout(timeout)
        data, ancdata, _, _ = self.sock.recvmsg(4096, socket.CMSG_SPACE(12))
        pid = None
        for level, kind, payload in ancdata:
            if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
                pid = struct.unpack("iII", payload[:12])[0]
        fields = dict(line.split("=", 1) for line in data.decode().splitlines() if line)
        return pid, fields

    def pending(self):
        """Whether a message waits, without waiting for one."""
        self.sock.settimeout(0)
        try:
            self.sock.recv(4096, socket.MSG_PEEK)
            return True
        except BlockingIOError:
            return False

    def close(self):
        self.sock.close()


class SystemdNotifyTest(unittest.TestCase):
    def setUp(self):
        self.dir = xfrtest.TempDir(prefix="xfr-notify-")
        self.state = os.path.join(self.dir.path, "state")
        self.notify = NotifySocket(self.dir.path)
        self.proxy = None

    def tearDown(self):
        if self.proxy is not None:
            self.proxy.cleanup()
        self.notify.close()
        self.dir.cleanup()

    def start(self, zones, extra):
        env = dict(os.environ, NOTIFY_SOCKET=self.notify.path)
        self.proxy = XfrProxy(zones, extra=extra, env=env).start(wait=False)
        return self.proxy

    def expect(self, field, pid):
        got_pid, fields = self.notify.receive()
        self.assertIn(field, fields, f"{fields}\n{self.proxy.log()[-3000:]}")
        self.assertEqual(fields[field], "1")
        self.assertEqual(got_pid, pid, "not sent from the main PID")
        return fields

    def serial_now(self, zone):
        """One SOA query, no retry: the answer must already be there."""
        m = udp_query(self.proxy.port, query(zone, SOA), timeout=5.0)
        self.assertEqual(m.rcode, NOERROR, zone)
        return m.answer[0].soa_serial()

    def test_ready_reload_stop(self):
        # A first run leaves DISK_ZONE's snapshot in state-dir; the second
        # follows a primary that never answers, so what it serves can only
        # come from disk.
        first = XfrProxy([ProxyZone(DISK_ZONE, zone_text(DISK_ZONE, 41))],
                         extra=f"state-dir: {self.state}\n").start()
        self.assertEqual(first.stop(), 0, first.log()[-3000:])
        first.dir.cleanup()

        dead = xfrtest.free_port()
        extra = (f"  - name: {DISK_ZONE}\n    primaries: [\"127.0.0.1:{dead}\"]\n"
                 f"state-dir: {self.state}\n")
        proxy = self.start([ProxyZone(FILE_ZONE, zone_text(FILE_ZONE, 7))], extra)
        pid = proxy.process.pid

        ready = self.expect("READY", pid)
        self.assertIn("serving 2 zones", ready.get("STATUS", ""))
        # At READY both zones answer at once, and a transfer works.
        self.assertEqual(self.serial_now(FILE_ZONE), 7)
        self.assertEqual(self.serial_now(DISK_ZONE), 41)
        recs = transfer_records(tcp_transfer(proxy.port, query(FILE_ZONE, AXFR)))
        self.assertEqual(recs[0].type, SOA)
        self.assertFalse(self.notify.pending(), "READY=1 was sent more than once")

        # SIGHUP: RELOADING with the time of the reload, then READY again
        # once the new zone file is served.
        proxy.write_zone(proxy.zones[0], zone_text(FILE_ZONE, 8))
        proxy.reload()
        reloading = self.expect("RELOADING", pid)
        self.assertTrue(reloading.get("MONOTONIC_USEC", "").isdigit(), reloading)
        self.assertGreater(int(reloading["MONOTONIC_USEC"]), 0)
        self.expect("READY", pid)
        self.assertEqual(self.serial_now(FILE_ZONE), 8)

        # `ctl reload` is the same reload.
        code, out, err = proxy.ctl("reload")
        self.assertEqual(code, 0, out + err)
        self.expect("RELOADING", pid)
        self.expect("READY", pid)

        # A broken config keeps serving: READY, with the failure in STATUS.
        with open(proxy.config_path, "a") as f:
            f.write("no-such-key: 1\n")
        proxy.reload()
        self.expect("RELOADING", pid)
        after = self.expect("READY", pid)
        self.assertIn("reload failed", after.get("STATUS", ""))
        self.assertIn("no-such-key", after.get("STATUS", ""))

        proxy.process.signal(signal.SIGTERM)
        self.expect("STOPPING", pid)
        self.assertEqual(proxy.stop(), 0, proxy.log()[-3000:])

    def test_no_notify_socket_runs_as_before(self):
        # Outside systemd nothing is sent and nothing fails.
        env = {k: v for k, v in os.environ.items() if k != "NOTIFY_SOCKET"}
        with XfrProxy([ProxyZone(FILE_ZONE, zone_text(FILE_ZONE, 3))], env=env) as proxy:
            self.assertEqual(self.serial_now_of(proxy, FILE_ZONE), 3)
            self.assertNotIn("sd_notify", proxy.log())
        self.assertFalse(self.notify.pending())

    @staticmethod
    def serial_now_of(proxy, zone):
        return udp_query(proxy.port, query(zone, SOA)).answer[0].soa_serial()


if __name__ == "__main__":
    xfrtest.main()
