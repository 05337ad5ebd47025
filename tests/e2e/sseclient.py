"""A small Server-Sent Events client over a raw socket, for the tests.

    c = SseClient(port, "/events/news", headers={"Last-Event-ID": cursor})
    c.status, c.headers                  # once the response head arrived
    ev = c.next_event(timeout=2)         # {"id", "event", "data", "t", ...}
    c.events_until(lambda evs: ..., 5)   # collect events until a condition
    c.close()

HTTP/1.1 like a browser: chunked or Content-Length bodies, or until the
server closes.  Every item (event, comment, retry) carries the monotonic
time at which the bytes that completed it arrived, so a test can measure
publish-to-receipt delays.  `ended` says the response finished properly
(last chunk, or the whole Content-Length); `eof` that the connection
closed, with or without that.

request() is the one-shot variant for plain (error) responses.
"""
import codecs
import json
import select
import socket
import time


class SseClient:
    def __init__(self, port, path, headers=None, method="GET", host="127.0.0.1",
                 rcvbuf=None, connect_timeout=5.0, head_timeout=10.0, body=None):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.settimeout(connect_timeout)
        self.sock.connect((host, port))
        self.sock.setblocking(False)
        h = {"Host": f"{host}:{port}", "Accept": "text/event-stream", "Cache-Control": "no-cache"}
        h.update(headers or {})
        if body is not None:
            h["Content-Length"] = str(len(body))
        req = f"{method} {path} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in h.items()) + "\r\n"
        self.sock.sendall(req.encode() + (body or b""))
        self.raw = b""                # undecoded bytes
        self.text = ""                # decoded body not yet parsed as SSE
        self.body = b""               # every decoded body byte
        self.status = None
        self.headers = {}
        self.items = []               # parsed items, in order
        self.pos = 0                  # items handed out by next()
        self.eof = False
        self.ended = False
        self.chunked = False
        self.length = None
        self._chunk_left = 0
        self._cstate = "size"
        self._utf8 = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._field = {}
        self._data = []
        if head_timeout:
            self._wait(lambda: self.status is not None, head_timeout)

    # ------------------------------------------------------------ reading
    def _recv(self, timeout):
        """Read what is there (waiting up to timeout); False on timeout/EOF."""
        if self.eof:
            return False
        r, _, _ = select.select([self.sock], [], [], max(0.0, timeout))
        if not r:
            return False
        try:
            data = self.sock.recv(65536)
        except (BlockingIOError, InterruptedError):
            return True
        except (ConnectionResetError, OSError):
            data = b""
        now = time.monotonic()
        if not data:
            self.eof = True
            return False
        self.raw += data
        self._decode(now)
        return True

    def _wait(self, cond, timeout):
        end = time.monotonic() + timeout
        while not cond():
            left = end - time.monotonic()
            if left <= 0 or (not self._recv(left) and self.eof):
                return cond()
        return True

    def _decode(self, now):
        if self.status is None:
            i = self.raw.find(b"\r\n\r\n")
            if i < 0:
                return
            head, self.raw = self.raw[:i].decode("latin-1"), self.raw[i + 4:]
            lines = head.split("\r\n")
            self.status = int(lines[0].split()[1])
            for line in lines[1:]:
                k, _, v = line.partition(":")
                self.headers[k.strip().lower()] = v.strip()
            self.chunked = "chunked" in self.headers.get("transfer-encoding", "").lower()
            if "content-length" in self.headers:
                self.length = int(self.headers["content-length"])
            if self.status in (204, 304):      # no body, whatever the headers say
                self.length, self.chunked = 0, False
        body = b""
        if self.chunked:
            body = self._dechunk()
        else:
            body, self.raw = self.raw, b""
            if self.length is not None and len(self.body) + len(body) >= self.length:
                self.ended = True
        self.body += body
        self._parse_sse(self._utf8.decode(body), now)

    def _dechunk(self):
        """Decode what is complete of a chunked body."""
        out = b""
        while not self.ended:
            if self._cstate == "data":
                if not self.raw:
                    break
                take = self.raw[:self._chunk_left]
                self.raw = self.raw[len(take):]
                self._chunk_left -= len(take)
                out += take
                if self._chunk_left == 0:
                    self._cstate = "crlf"
                continue
            if self._cstate == "crlf":
                if len(self.raw) < 2:
                    break
                self.raw = self.raw[2:]
                self._cstate = "size"
                continue
            i = self.raw.find(b"\r\n")
            if i < 0:
                break
            line, self.raw = self.raw[:i], self.raw[i + 2:]
            if self._cstate == "trailer":
                self.ended = line == b""
            else:
                self._chunk_left = int(line.split(b";")[0], 16)
                self._cstate = "data" if self._chunk_left else "trailer"
        return out

    def _parse_sse(self, text, now):
        self.text += text
        while True:
            i = self.text.find("\n")
            if i < 0:
                return
            line, self.text = self.text[:i].rstrip("\r"), self.text[i + 1:]
            if line == "":
                if self._data or self._field:
                    item = dict(self._field)
                    if self._data:
                        item["data"] = "\n".join(self._data)
                        item.setdefault("event", "message")     # the spec's default
                    item["t"] = now
                    self.items.append(item)
                self._field, self._data = {}, []
            elif line.startswith(":"):
                self.items.append({"comment": line[1:].strip(), "t": now})
            else:
                k, _, v = line.partition(":")
                v = v[1:] if v.startswith(" ") else v
                if k == "data":
                    self._data.append(v)
                elif k in ("id", "event", "retry"):
                    self._field[k] = v

    # ------------------------------------------------------------ items
    def next(self, timeout=2.0):
        """The next item (event, comment or retry), or None."""
        self._wait(lambda: self.pos < len(self.items) or self.ended, timeout)
        if self.pos < len(self.items):
            self.pos += 1
            return self.items[self.pos - 1]
        return None

    def next_event(self, timeout=2.0):
        """The next item with data (an event), skipping comments/retry."""
        end = time.monotonic() + timeout
        while True:
            it = self.next(max(0.0, end - time.monotonic()))
            if it is None or "data" in it:
                return it

    def events_until(self, cond, timeout=5.0):
        """Events (items with data) from here on until cond(list) holds."""
        got = []
        end = time.monotonic() + timeout
        while not cond(got):
            ev = self.next_event(max(0.0, end - time.monotonic()))
            if ev is None:
                break
            got.append(ev)
        return got

    def read_to_end(self, timeout=5.0):
        """Read until the response ends or the connection closes."""
        self._wait(lambda: self.ended or self.eof, timeout)
        return self.ended or self.eof

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def payload(ev):
    """The JSON of an event's data line."""
    return json.loads(ev["data"])


def request(port, path, method="GET", headers=None, body=None, timeout=5.0):
    """One plain request: (status, headers, body bytes)."""
    c = SseClient(port, path, headers=headers, method=method, body=body, head_timeout=timeout)
    c.read_to_end(timeout)
    c.close()
    return c.status, c.headers, c.body
