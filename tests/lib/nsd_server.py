"""NSD (4.6) started on loopback for interop tests, like servers.KnotServer
and servers.BindServer.

The server gets its own temporary directory holding its configuration, zone
files, zone list, xfrd state and transfer spool, PID file and a control
socket (a unix socket in that directory: no TLS keys to generate, access is
by file permission). It runs in the foreground (`nsd -d`) as a child of the
test, listens on 127.0.0.1 on a free port, and is stopped by its PID.

    zone = Zone("example.com.", primaries=[("127.0.0.1", 5300)])
    with NsdServer([zone]) as nsd:
        nsd.transfer(zone)          # nsd-control transfer: IXFR if it can
        wait_soa(nsd.port, zone.name, serial=2)

A zone with `primaries` is a secondary (`request-xfr` with the zone's
`primary_key` or NOKEY, and `allow-notify` from loopback); a zone with `text`
is served as primary (`provide-xfr` to loopback, with `transfer_keys` if
set).
"""
import os

import servers
import xfrtest


class NsdServer(servers._Server):
    name = "nsd"

    @property
    def control_socket(self):
        return self.path("nsd.sock")

    def _write_config(self):
        d = self.dir.path
        out = [
            "server:",
            f"    ip-address: {xfrtest.LOOPBACK}@{self.port}",
            f"    port: {self.port}",
            "    do-ip4: yes",
            "    do-ip6: no",
            # Run as the test's user, no chroot: everything is in `d`.
            '    username: ""',
            '    chroot: ""',
            f'    zonesdir: "{d}"',
            # No nsd.db: zones live in memory and in their files only.
            '    database: ""',
            f'    zonelistfile: "{d}/zone.list"',
            f'    pidfile: "{d}/nsd.pid"',
            f'    xfrdfile: "{d}/xfrd.state"',
            f'    xfrdir: "{d}"',
            # One server process, no reload throttling: the tests wait for
            # each change and should not wait a second more than needed.
            "    server-count: 1",
            "    xfrd-reload-timeout: 0",
            # Verbosity 2 logs every transfer, its serial and its size.
            "    verbosity: 2",
            "    hide-version: yes",
            "    identity: \"\"",
            "    zonefiles-check: yes",
            "remote-control:",
            "    control-enable: yes",
            f'    control-interface: "{self.control_socket}"',
        ]
        for k in self.keys:
            out += ["key:", f"    name: {k.bare_name}", f"    algorithm: {k.algorithm}",
                    f'    secret: "{k.secret}"']
        for z in self.zones:
            out += ["zone:", f"    name: {z.name}", f'    zonefile: "{d}/{z.file_name}"']
            if z.primaries:
                key = z.primary_key.bare_name if z.primary_key else "NOKEY"
                for host, port in z.primaries:
                    out.append(f"    request-xfr: {host}@{port} {key}")
                out += [f"    allow-notify: 127.0.0.0/8 {key}", f"    allow-notify: ::1 {key}",
                        # Keep the diffs received by IXFR and serve them on
                        # (but never make diffs up from an AXFR): an IXFR
                        # query to NSD then shows whether NSD itself got the
                        # change as an IXFR, which its log does not say.
                        "    store-ixfr: yes", "    create-ixfr: no", "    ixfr-number: 10"]
            if z.transfer_keys:
                for k in z.transfer_keys:
                    out += [f"    provide-xfr: 127.0.0.0/8 {k.bare_name}",
                            f"    provide-xfr: ::1 {k.bare_name}"]
            else:
                out += ["    provide-xfr: 127.0.0.0/8 NOKEY", "    provide-xfr: ::1 NOKEY"]
            for host, port in z.notify:
                out.append(f"    notify: {host}@{port} NOKEY")
        conf = self.path("nsd.conf")
        with open(conf, "w") as f:
            f.write("\n".join(out) + "\n")
        # Fail here, with nsd's own message, rather than as a timeout later.
        xfrtest.run([xfrtest.tool("nsd-checkconf"), conf])
        # -d: foreground, logging to stderr (captured in nsd.log).
        return [xfrtest.tool("nsd"), "-d", "-c", conf]

    def control(self, *args):
        """Runs nsd-control against this server's socket; returns stdout."""
        return xfrtest.run([xfrtest.tool("nsd-control"), "-c", self.path("nsd.conf"), *args])

    def transfer(self, zone):
        """Asks the primaries for the zone's SOA and transfers a newer serial
        (IXFR first, as a NOTIFY would)."""
        return self.control("transfer", zone.name)

    def force_transfer(self, zone):
        """A full AXFR whatever the serials say."""
        return self.control("force_transfer", zone.name)

    def reload(self):
        """Re-reads primary zone files after write_zone()."""
        return self.control("reload")
