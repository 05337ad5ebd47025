"""A tiny NATS client over a raw socket (stdlib only), enough for the
JetStream API: request/reply through an inbox.

    nc = Nats.connect("nats://127.0.0.1:4222,nats://127.0.0.1:4223")
    info = nc.stream_info("FASTPUSH")   # config, created, state.first_seq/last_seq
    nc.stream_delete("FASTPUSH")        # {"success": true}
    nc.js("STREAM.NAMES")               # any $JS.API.<api> request
    nc.close()

The text protocol: the server's INFO, our CONNECT and PING, then SUB,
PUB and the MSG / HMSG deliveries (headers on, no_responders on, so a
request nobody serves answers at once with status 503).  Server PINGs
are answered while a reply is awaited.
"""
import json
import os
import socket
import time


class NatsError(Exception):
    pass


class Nats:
    """One connection; each request waits for its reply on its own inbox."""

    def __init__(self, sock):
        self.sock = sock
        self.buf = b""
        self.sid = 0
        self.inbox = "_INBOX." + os.urandom(8).hex()
        self.info = json.loads(self._line().partition(b" ")[2])
        opts = {"verbose": False, "pedantic": False, "headers": True, "no_responders": True,
                "protocol": 1, "lang": "python-test", "version": "0"}
        self._send(b"CONNECT " + json.dumps(opts).encode() + b"\r\nPING\r\n")
        self._until_pong()

    @classmethod
    def connect(cls, urls, timeout=2.0):
        """The first of the comma-separated nats:// URLs that accepts."""
        last = None
        for url in urls.split(","):
            host, _, port = url.strip().replace("nats://", "").rpartition(":")
            try:
                s = socket.create_connection((host, int(port)), timeout)
                return cls(s)
            except OSError as e:
                last = e
        raise NatsError(f"no NATS server answers at {urls}: {last}")

    # ------------------------------------------------------------ wire
    def _send(self, data):
        self.sock.sendall(data)

    def _fill(self, end):
        left = end - time.time()
        if left <= 0:
            raise TimeoutError("no answer from NATS")
        self.sock.settimeout(left)
        try:
            d = self.sock.recv(65536)
        except socket.timeout:
            raise TimeoutError("no answer from NATS") from None
        if not d:
            raise NatsError("connection closed by the server")
        self.buf += d

    def _line(self, end=None):
        end = end or time.time() + 5
        while b"\r\n" not in self.buf:
            self._fill(end)
        line, _, self.buf = self.buf.partition(b"\r\n")
        return line

    def _take(self, n, end):
        while len(self.buf) < n + 2:
            self._fill(end)
        data, self.buf = self.buf[:n], self.buf[n + 2:]
        return data

    def _next(self, end):
        """The next server message: ("MSG", subject, headers, payload),
        ("PONG",), ... (PINGs answered, +OK skipped, -ERR raised)."""
        while True:
            line = self._line(end)
            op, _, rest = line.partition(b" ")
            if op == b"PING":
                self._send(b"PONG\r\n")
            elif op == b"-ERR":
                raise NatsError(rest.decode(errors="replace"))
            elif op == b"MSG":
                args = rest.split()
                return "MSG", args[0].decode(), b"", self._take(int(args[-1]), end)
            elif op == b"HMSG":
                args = rest.split()
                hlen, total = int(args[-2]), int(args[-1])
                data = self._take(total, end)
                return "MSG", args[0].decode(), data[:hlen], data[hlen:]
            elif op != b"+OK":
                return (op.decode(),)

    def _until_pong(self, timeout=5.0):
        end = time.time() + timeout
        while self._next(end)[0] != "PONG":
            pass

    # ------------------------------------------------------------ requests
    def publish(self, subject, payload=b"", reply=None):
        head = f"PUB {subject} {reply + ' ' if reply else ''}{len(payload)}\r\n".encode()
        self._send(head + payload + b"\r\n")

    def request(self, subject, payload=b"", timeout=5.0):
        """(headers bytes, payload bytes) of the reply; a reply with a
        status line of 503 (no responders) raises NatsError."""
        self.sid += 1
        reply = f"{self.inbox}.{self.sid}"
        self._send(f"SUB {reply} {self.sid}\r\nUNSUB {self.sid} 1\r\n".encode())
        self.publish(subject, payload, reply)
        end = time.time() + timeout
        while True:
            m = self._next(end)
            if m[0] == "MSG" and m[1] == reply:
                if m[2].startswith(b"NATS/1.0 503"):
                    raise NatsError(f"no responders for {subject}")
                return m[2], m[3]

    def js(self, api, body=None, timeout=5.0):
        """$JS.API.<api> with a JSON body: the reply as a dict (an API
        error is returned as it came: {"error": {"code", "description"}})."""
        payload = json.dumps(body).encode() if body is not None else b""
        return json.loads(self.request(f"$JS.API.{api}", payload, timeout)[1])

    def stream_info(self, name):
        """STREAM.INFO: config, created, state (first_seq, last_seq, messages)."""
        return self.js(f"STREAM.INFO.{name}")

    def stream_delete(self, name):
        return self.js(f"STREAM.DELETE.{name}")

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def stream_info(urls, name, timeout=5.0):
    """STREAM.INFO over a connection of its own (None when no server
    answers or the API is not reachable)."""
    try:
        nc = Nats.connect(urls)
    except NatsError:
        return None
    try:
        return nc.js(f"STREAM.INFO.{name}", timeout=timeout)
    except (NatsError, TimeoutError, OSError):
        return None
    finally:
        nc.close()
