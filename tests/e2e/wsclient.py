"""A raw-socket WebSocket client for the fastpush-ws tests (stdlib only).

It can send anything, including what a well-behaved library refuses to
(unmasked frames, reserved bits and opcodes, bad lengths, bytes one at a
time), and reads frames back without judging them.

    from wsclient import start_ws, WS
    ws_proc = start_ws(env, echo="on")          # fastpush-ws in env
    c = WS.connect(ws_proc.port)                # handshake done
    c.send(OP_TEXT, b"hi"); op, data = c.recv()
"""
import base64
import hashlib
import json
import os
import socket
import struct
import time

import harness  # noqa: F401  (puts tools/ on sys.path)
import fpstack  # noqa: E402

OP_CONT, OP_TEXT, OP_BIN, OP_CLOSE, OP_PING, OP_PONG = 0, 1, 2, 8, 9, 10
GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def start_ws(env, name="ws", broker=None, ready=True, **directives):
    """Start fastpush-ws (fpstack.start_ws) with directives as keyword
    arguments (a list value repeats the directive), heartbeat 0 and
    log-level info unless given; returns the Proc with .port and .url."""
    d = {"heartbeat": "0", "log_level": "info"}
    d.update(directives)
    return fpstack.start_ws(env, name, broker, ready=ready, **d)


def accept_key(key):
    return base64.b64encode(hashlib.sha1(key.encode() + GUID).digest()).decode()


def frame(op, payload=b"", fin=True, rsv=0, mask=True, length=None, key=None):
    """Encode one client frame; `length` overrides the declared length."""
    n = len(payload) if length is None else length
    b0 = (0x80 if fin else 0) | (rsv << 4) | op
    mbit = 0x80 if mask else 0
    if n < 126:
        head = struct.pack("!BB", b0, mbit | n)
    elif n < 65536:
        head = struct.pack("!BBH", b0, mbit | 126, n)
    else:
        head = struct.pack("!BBQ", b0, mbit | 127, n)
    if not mask:
        return head + payload
    key = key if key is not None else os.urandom(4)
    masked = bytes(c ^ key[i % 4] for i, c in enumerate(payload))
    return head + key + masked


def close_payload(code, reason=b""):
    return struct.pack("!H", code) + reason


class Closed(Exception):
    pass


class WS:
    """One raw connection."""

    def __init__(self, sock):
        self.sock = sock
        self.buf = b""
        self.response = b""
        self.status = None
        self.headers = {}

    @classmethod
    def open(cls, port, host="127.0.0.1", rcvbuf=None):
        s = socket.socket()
        if rcvbuf:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        s.settimeout(5)
        s.connect((host, port))
        return cls(s)

    @classmethod
    def connect(cls, port, path="/ws", headers=None, protocols=None, rcvbuf=None,
                expect=101):
        c = cls.open(port, rcvbuf=rcvbuf)
        st = c.handshake(path, headers, protocols)
        if expect is not None and st != expect:
            raise AssertionError(f"handshake status {st}: {c.response!r}")
        return c

    def request_bytes(self, path="/ws", headers=None, protocols=None, key=None):
        self.key = key or base64.b64encode(os.urandom(16)).decode()
        h = {"Host": "127.0.0.1", "Upgrade": "websocket", "Connection": "Upgrade",
             "Sec-WebSocket-Key": self.key, "Sec-WebSocket-Version": "13"}
        if protocols:
            h["Sec-WebSocket-Protocol"] = ", ".join(protocols)
        for k, v in (headers or {}).items():
            if v is None:
                h.pop(k, None)
            else:
                h[k] = v
        lines = [f"GET {path} HTTP/1.1"] + [f"{k}: {v}" for k, v in h.items()]
        return ("\r\n".join(lines) + "\r\n\r\n").encode()

    def handshake(self, path="/ws", headers=None, protocols=None, raw=None):
        self.sock.sendall(raw if raw is not None else self.request_bytes(path, headers, protocols))
        return self.read_response()

    def read_response(self):
        while b"\r\n\r\n" not in self.buf:
            d = self.sock.recv(65536)
            if not d:
                break
            self.buf += d
        head, _, self.buf = self.buf.partition(b"\r\n\r\n")
        self.response = head
        lines = head.decode(errors="replace").split("\r\n")
        try:
            self.status = int(lines[0].split()[1])
        except (IndexError, ValueError):
            self.status = None
        self.headers = {}
        for line in lines[1:]:
            k, _, v = line.partition(":")
            self.headers.setdefault(k.strip().lower(), []).append(v.strip())
        if self.status != 101:
            clen = int(self.headers.get("content-length", ["0"])[0])
            while len(self.buf) < clen:
                d = self.sock.recv(65536)
                if not d:
                    break
                self.buf += d
            self.body = self.buf[:clen]
            self.buf = self.buf[clen:]
        return self.status

    def header(self, name):
        v = self.headers.get(name.lower())
        return v[0] if v else None

    def raw(self, data, chop=None, pause=0.0):
        """Send bytes, optionally in chunks of `chop` bytes."""
        if not chop:
            self.sock.sendall(data)
            return
        for i in range(0, len(data), chop):
            self.sock.sendall(data[i:i + chop])
            if pause:
                time.sleep(pause)

    def send(self, op, payload=b"", **kw):
        chop = kw.pop("chop", None)
        if isinstance(payload, str):
            payload = payload.encode()
        self.raw(frame(op, payload, **kw), chop=chop)

    def _need(self, n, timeout):
        end = time.time() + timeout
        while len(self.buf) < n:
            left = end - time.time()
            if left <= 0:
                raise TimeoutError("no frame")
            self.sock.settimeout(left)
            try:
                d = self.sock.recv(65536)
            except ConnectionResetError:
                d = b""
            if not d:
                raise Closed("connection closed")
            self.buf += d

    def recv_frame(self, timeout=5.0):
        """One frame: (fin, op, payload).  Raises Closed at EOF."""
        self._need(2, timeout)
        b0, b1 = self.buf[0], self.buf[1]
        n, off = b1 & 0x7f, 2
        if n == 126:
            self._need(4, timeout)
            n, off = struct.unpack("!H", self.buf[2:4])[0], 4
        elif n == 127:
            self._need(10, timeout)
            n, off = struct.unpack("!Q", self.buf[2:10])[0], 10
        if b1 & 0x80:
            raise AssertionError("server frame is masked")
        self._need(off + n, timeout)
        payload = self.buf[off:off + n]
        self.buf = self.buf[off + n:]
        return bool(b0 & 0x80), b0 & 0x0f, payload

    def recv(self, timeout=5.0):
        """One whole message or control frame: (op, payload)."""
        fin, op, data = self.recv_frame(timeout)
        while not fin and op not in (OP_CLOSE, OP_PING, OP_PONG):
            fin, _, more = self.recv_frame(timeout)
            data += more
        return op, data

    def recv_close(self, timeout=5.0, skip_data=True):
        """Read until a close frame; returns (code or None, reason bytes)."""
        while True:
            op, data = self.recv(timeout)
            if op == OP_CLOSE:
                code = struct.unpack("!H", data[:2])[0] if len(data) >= 2 else None
                return code, data[2:]
            if not skip_data:
                raise AssertionError(f"expected close, got op {op}: {data[:60]!r}")

    def wait_eof(self, timeout=5.0):
        """True if the server closes TCP (EOF) within timeout; data ignored."""
        end = time.time() + timeout
        while time.time() < end:
            self.sock.settimeout(max(0.01, end - time.time()))
            try:
                d = self.sock.recv(65536)
            except socket.timeout:
                return False
            except ConnectionResetError:
                return True
            if not d:
                return True
        return False

    def send_json(self, obj):
        self.send(OP_TEXT, json.dumps(obj).encode())

    def recv_json(self, timeout=5.0):
        """The next JSON message (pings answered); {"_close": code} for a
        close frame, None on timeout or EOF."""
        end = time.time() + timeout
        while True:
            try:
                op, data = self.recv(timeout=max(0.01, end - time.time()))
            except (TimeoutError, Closed, socket.timeout):
                return None
            if op == OP_PING:
                self.send(OP_PONG, data)
                continue
            if op == OP_CLOSE:
                return {"_close": struct.unpack("!H", data[:2])[0] if len(data) >= 2 else None,
                        "_reason": data[2:].decode(errors="replace")}
            return json.loads(data)

    def collect_json(self, until, timeout=5.0):
        """Messages until until(msg) holds for one (inclusive) or timeout."""
        out = []
        end = time.time() + timeout
        while time.time() < end:
            m = self.recv_json(end - time.time())
            if m is None:
                break
            out.append(m)
            if until(m):
                break
        return out

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass
