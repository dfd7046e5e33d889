"""lxws: WebSocket clients for the integration tests.

Two of them:
  - `connect()`, Python's `websockets` library (Debian python3-websockets),
    for the paths a real client takes, driven synchronously through one
    asyncio loop per client (`Client`);
  - `Raw`, a few lines over a socket, for what no library will send:
    unmasked frames, bad UTF-8, fragments with pings between them, a peer
    that never answers pings.
Under CI=true a missing `websockets` module is a failure, not a skip.
"""

import asyncio
import base64
import hashlib
import os
import socket
import struct

try:
    import websockets
    import websockets.exceptions
except ImportError:  # pragma: no cover - reported by require_websockets()
    websockets = None

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

OP_CONT, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0, 1, 2, 8, 9, 10


def require_websockets(testcase):
    """Skips (or, under CI=true, fails) when python3-websockets is missing."""
    if websockets is not None:
        return
    msg = "python3-websockets is not installed (scripts/deps.sh --test)"
    if os.environ.get("CI") == "true":
        testcase.fail(msg)
    testcase.skipTest(msg)


def accept_for(key):
    return base64.b64encode(hashlib.sha1(key.encode() + GUID).digest()).decode()


# ---------------------------------------------------------------- websockets

_loop = None


def _the_loop():
    """One asyncio loop for every client of the process (websockets binds
    a connection to the loop current when it is made)."""
    global _loop
    if _loop is None:
        _loop = asyncio.new_event_loop()
        asyncio.set_event_loop(_loop)
    return _loop


class Client:
    """A `websockets` client with synchronous methods. Each call runs the
    shared loop until it is done, within `timeout` seconds (other clients'
    frames are buffered meanwhile)."""

    def __init__(self, url, timeout=10.0, **kw):
        self.loop = _the_loop()
        self.timeout = timeout
        kw.setdefault("open_timeout", timeout)
        kw.setdefault("close_timeout", timeout)
        kw.setdefault("max_size", 8 << 20)
        self.ws = self._run(websockets.connect(url, **kw))

    def _run(self, coro, timeout=None):
        return self.loop.run_until_complete(asyncio.wait_for(coro, timeout or self.timeout))

    def send(self, data):
        self._run(self.ws.send(data))

    def recv(self, timeout=None):
        return self._run(self.ws.recv(), timeout)

    def ping(self):
        waiter = self._run(self.ws.ping())
        self._run(waiter)

    def close(self, code=1000, reason=""):
        self._run(self.ws.close(code, reason))

    def wait_closed(self, timeout=None):
        """Reads until the server closes; returns (code, reason, messages
        read before the close)."""
        msgs = []
        while True:
            try:
                msgs.append(self.recv(timeout))
            except websockets.exceptions.ConnectionClosed as e:
                return e.code, e.reason, msgs

    @property
    def close_code(self):
        return self.ws.close_code

    @property
    def response_headers(self):
        return self.ws.response_headers

    def done(self):
        try:
            if self.ws is not None and not self.ws.closed:
                self._run(self.ws.close(), 5)
        except Exception:  # noqa: BLE001
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.done()


def connect(srv, path="/ws", **kw):
    return Client("ws://%s:%d%s" % (srv.host, srv.port, path), **kw)


# ---------------------------------------------------------------- raw frames

def frame(opcode, payload=b"", fin=True, mask=True, rsv=0, length=None):
    """One frame; `length` overrides the payload length field."""
    if isinstance(payload, str):
        payload = payload.encode()
    n = len(payload) if length is None else length
    head = bytes([(0x80 if fin else 0) | (rsv << 4) | opcode])
    mbit = 0x80 if mask else 0
    if n < 126:
        head += bytes([mbit | n])
    elif n < 65536:
        head += bytes([mbit | 126]) + struct.pack("!H", n)
    else:
        head += bytes([mbit | 127]) + struct.pack("!Q", n)
    if not mask:
        return head + payload
    key = os.urandom(4)
    return head + key + bytes(b ^ key[i % 4] for i, b in enumerate(payload))


def close_payload(code, reason=b""):
    return struct.pack("!H", code) + reason


class Raw:
    """A WebSocket client over a bare socket."""

    def __init__(self, srv, path="/ws", headers=None, extra=b"", timeout=10.0, key=None,
                 wait=True):
        self.key = key or base64.b64encode(os.urandom(16)).decode()
        self.sock = socket.create_connection((srv.host, srv.port), timeout=timeout)
        hdrs = {"Host": "%s:%d" % (srv.host, srv.port), "Upgrade": "websocket",
                "Connection": "Upgrade", "Sec-WebSocket-Key": self.key,
                "Sec-WebSocket-Version": "13"}
        hdrs.update(headers or {})
        req = "GET %s HTTP/1.1\r\n" % path
        req += "".join("%s: %s\r\n" % (k, v) for k, v in hdrs.items() if v is not None)
        self.sock.sendall(req.encode() + b"\r\n" + extra)
        self.buf = b""
        self.status = None
        self.headers = {}
        if wait:
            self.read_head()

    def read_head(self):
        """Reads the response head (the constructor does, unless wait=False)."""
        head = self._read_until(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        self.status = int(lines[0].split()[1])
        self.headers = {}
        for line in lines[1:]:
            if ":" in line:
                k, v = line.split(":", 1)
                self.headers[k.strip().lower()] = v.strip()

    def _fill(self):
        b = self.sock.recv(65536)
        if not b:
            raise EOFError("the server closed the connection")
        self.buf += b

    def _read_until(self, sep):
        while sep not in self.buf:
            self._fill()
        i = self.buf.index(sep) + len(sep)
        out, self.buf = self.buf[:i], self.buf[i:]
        return out

    def _read_n(self, n):
        while len(self.buf) < n:
            self._fill()
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def body(self):
        """The rest of a refused handshake's response (Content-Length)."""
        n = int(self.headers.get("content-length", "0"))
        return self._read_n(n)

    def send(self, data):
        self.sock.sendall(data)

    def send_frame(self, opcode, payload=b"", **kw):
        self.sock.sendall(frame(opcode, payload, **kw))

    def recv_frame(self):
        """(fin, opcode, payload) of the next frame from the server."""
        b0, b1 = self._read_n(2)
        n = b1 & 0x7F
        if n == 126:
            n = struct.unpack("!H", self._read_n(2))[0]
        elif n == 127:
            n = struct.unpack("!Q", self._read_n(8))[0]
        if b1 & 0x80:
            raise AssertionError("the server masked a frame")
        return bool(b0 & 0x80), b0 & 0x0F, self._read_n(n)

    def recv_until_close(self, answer_pings=True):
        """Reads frames until a close frame: (code, reason, [(opcode,
        payload) before it]). Answers pings unless told not to."""
        seen = []
        while True:
            fin, op, payload = self.recv_frame()
            if op == OP_CLOSE:
                code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else None
                return code, payload[2:].decode("utf-8", "replace"), seen
            if op == OP_PING and answer_pings:
                self.send_frame(OP_PONG, payload)
                continue
            seen.append((op, payload))

    def is_closed_by_server(self, timeout=10.0):
        """True when the server ends the TCP connection (EOF or reset)
        within timeout, discarding whatever it sends first."""
        self.sock.settimeout(timeout)
        try:
            while True:
                if not self.sock.recv(65536):
                    return True
        except (ConnectionResetError, BrokenPipeError):
            return True
        except socket.timeout:
            return False

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
