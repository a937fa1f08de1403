"""Debian's chromium, headless, driven over the DevTools protocol with the
standard library only: a minimal WebSocket client (RFC 6455) and the few
protocol commands a page test needs.

    with Chromium() as browser:
        page = browser.page()
        page.navigate("http://127.0.0.1:9153/")
        text = page.evaluate("document.body.innerText")

Chromium runs with its own --user-data-dir in a temp dir, on a DevTools
port it picks itself (read from its "DevTools listening on ws://..." line),
and is stopped by its PID; the temp dir goes with it.
"""
import base64
import hashlib
import json
import os
import re
import socket
import struct
import time
import urllib.request

import xfrtest

CHROMIUM = "/usr/bin/chromium"


class WebSocketError(Exception):
    pass


class WebSocket:
    """A client WebSocket over plain TCP: text frames out (masked, as a
    client must send them: RFC 6455 §5.3), text frames in, reassembling
    fragments and answering pings."""

    def __init__(self, url, timeout=30.0):
        m = re.fullmatch(r"ws://([^/:]+):(\d+)(/.*)", url)
        if not m:
            raise WebSocketError(f"not a ws:// URL: {url}")
        host, port, path = m.group(1), int(m.group(2)), m.group(3)
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.buf = b""
        key = base64.b64encode(os.urandom(16)).decode()
        # No Origin header: DevTools refuses WebSockets from other origins,
        # and a client that is not a page has none.
        request = (f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
                   f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                   "Sec-WebSocket-Version: 13\r\n\r\n")
        self.sock.sendall(request.encode())
        head = self._read_until(b"\r\n\r\n").decode(errors="replace")
        if not head.startswith("HTTP/1.1 101"):
            raise WebSocketError(f"handshake refused: {head.splitlines()[0] if head else ''}")
        want = base64.b64encode(hashlib.sha1(
            (key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode()).digest()).decode()
        if f"sec-websocket-accept: {want.lower()}" not in head.lower():
            raise WebSocketError("handshake: wrong Sec-WebSocket-Accept")

    def _read_until(self, marker):
        while marker not in self.buf:
            self._fill()
        i = self.buf.index(marker) + len(marker)
        out, self.buf = self.buf[:i], self.buf[i:]
        return out

    def _fill(self):
        data = self.sock.recv(65536)
        if not data:
            raise WebSocketError("connection closed")
        self.buf += data

    def _read_exact(self, n):
        while len(self.buf) < n:
            self._fill()
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def _send_frame(self, opcode, payload):
        head = bytes([0x80 | opcode])
        n = len(payload)
        if n < 126:
            head += bytes([0x80 | n])
        elif n < 1 << 16:
            head += bytes([0x80 | 126]) + struct.pack("!H", n)
        else:
            head += bytes([0x80 | 127]) + struct.pack("!Q", n)
        mask = os.urandom(4)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        self.sock.sendall(head + mask + masked)

    def send_text(self, text):
        self._send_frame(0x1, text.encode())

    def recv_text(self):
        """The next whole text message."""
        parts = []
        while True:
            b0, b1 = self._read_exact(2)
            fin, opcode = b0 & 0x80, b0 & 0x0F
            n = b1 & 0x7F
            if n == 126:
                n = struct.unpack("!H", self._read_exact(2))[0]
            elif n == 127:
                n = struct.unpack("!Q", self._read_exact(8))[0]
            if b1 & 0x80:  # a server must not mask (§5.1), but unmask if it does
                mask = self._read_exact(4)
                payload = bytes(b ^ mask[i % 4] for i, b in enumerate(self._read_exact(n)))
            else:
                payload = self._read_exact(n)
            if opcode == 0x8:
                raise WebSocketError("closed by the browser")
            if opcode == 0x9:
                self._send_frame(0xA, payload)
                continue
            if opcode == 0xA:
                continue
            parts.append(payload)
            if fin:
                return b"".join(parts).decode()

    def close(self):
        try:
            self._send_frame(0x8, b"")
        except OSError:
            pass
        self.sock.close()


class Page:
    """One tab, over its own DevTools WebSocket."""

    def __init__(self, ws_url):
        self.ws = WebSocket(ws_url)
        self.next_id = 0
        self.events = []

    def call(self, method, timeout=30.0, **params):
        self.next_id += 1
        mid = self.next_id
        self.ws.send_text(json.dumps({"id": mid, "method": method, "params": params}))
        self.ws.sock.settimeout(timeout)
        while True:
            msg = json.loads(self.ws.recv_text())
            if msg.get("id") == mid:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return msg.get("result", {})
            if "method" in msg:
                self.events.append(msg)

    def navigate(self, url):
        # Console and log entries (a Content-Security-Policy violation is
        # one) arrive as events, kept in self.events.
        for domain in ("Page", "Runtime", "Log"):
            self.call(f"{domain}.enable")
        self.events.clear()
        result = self.call("Page.navigate", url=url)
        if result.get("errorText"):
            raise RuntimeError(f"navigate to {url}: {result['errorText']}")
        return result

    def evaluate(self, expression):
        """The value of a JavaScript expression in the page (JSON-able)."""
        r = self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        if "exceptionDetails" in r:
            raise RuntimeError(f"{expression}: {r['exceptionDetails']}")
        return r["result"].get("value")

    def close(self):
        self.ws.close()


class Chromium:
    """Headless chromium on loopback; a context manager."""

    def __init__(self):
        self.dir = xfrtest.TempDir(prefix="chromium-")
        self.process = None
        self.port = None
        self.pages = []

    def start(self, timeout=60.0):
        if not os.access(CHROMIUM, os.X_OK):
            raise FileNotFoundError(f"{CHROMIUM} not installed (run scripts/install-deps.sh)")
        argv = [CHROMIUM, "--headless=new", "--no-sandbox", "--disable-gpu",
                "--remote-debugging-address=127.0.0.1", "--remote-debugging-port=0",
                f"--user-data-dir={self.dir.path}", "--no-first-run",
                "--no-default-browser-check", "--disable-extensions",
                "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--metrics-recording-only", "about:blank"]
        self.process = xfrtest.Process(argv, self.dir.file("chromium.log"))
        pattern = re.compile(r"DevTools listening on ws://127\.0\.0\.1:(\d+)/")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            m = pattern.search(self.process.log())
            if m:
                self.port = int(m.group(1))
                return self
            if self.process.poll() is not None:
                break
            time.sleep(0.1)
        log = self.process.log()
        self.stop()
        raise RuntimeError(f"chromium did not start its DevTools endpoint:\n{log[-3000:]}")

    def targets(self):
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/json/list", timeout=10) as r:
            return json.loads(r.read().decode())

    def page(self):
        """The tab chromium opened at start."""
        pages = xfrtest.wait_for("a page target", lambda: [
            t for t in self.targets() if t.get("type") == "page"], timeout=30)
        p = Page(pages[0]["webSocketDebuggerUrl"])
        self.pages.append(p)
        return p

    def log(self):
        return self.process.log() if self.process else ""

    def stop(self):
        for p in self.pages:
            p.close()
        self.pages = []
        if self.process is not None:
            self.process.stop()
            self.process = None
        self.dir.cleanup()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
