"""A FastCGI client (the web server's side of the protocol), for tests that
talk to a responder directly: to send half a request, or nothing at all,
which no real web server does on purpose.

    c = FcgiConn(path)                  # unix socket
    c.send(begin() + params({"REQUEST_METHOD": "GET", ...}) + params({}) + stdin(b""))
    status, headers, body, ended = c.response(timeout=5)
"""
import socket
import struct
import time

VERSION = 1
BEGIN_REQUEST, END_REQUEST, PARAMS, STDIN, STDOUT, STDERR = 1, 3, 4, 5, 6, 7
RESPONDER = 1
REQUEST_ID = 1


def record(rtype, content=b"", rid=REQUEST_ID):
    return struct.pack(">BBHHBx", VERSION, rtype, rid, len(content), 0) + content


def begin(keep_conn=False):
    return record(BEGIN_REQUEST, struct.pack(">HB5x", RESPONDER, 1 if keep_conn else 0))


def _length(n):
    return struct.pack(">B", n) if n < 128 else struct.pack(">I", n | 0x80000000)


def params(env):
    """One FCGI_PARAMS record with env's pairs; params({}) ends them."""
    body = b"".join(_length(len(k)) + _length(len(v)) + k + v
                    for k, v in ((k.encode(), str(v).encode()) for k, v in env.items()))
    return record(PARAMS, body)


def stdin(data=b""):
    return record(STDIN, data)


def cgi_env(method, uri, **extra):
    """The parameters a web server sends for METHOD URI."""
    path, _, query = uri.partition("?")
    env = {"REQUEST_METHOD": method, "REQUEST_URI": uri, "SCRIPT_NAME": path,
           "PATH_INFO": "", "QUERY_STRING": query, "SERVER_PROTOCOL": "HTTP/1.1",
           "REMOTE_ADDR": "127.0.0.1", "SERVER_NAME": "localhost", "SERVER_PORT": "80"}
    env.update(extra)
    return env


def request(method, uri, **extra):
    """A whole request without a body."""
    return begin() + params(cgi_env(method, uri, **extra)) + params({}) + stdin()


class FcgiConn:
    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX)
        self.sock.connect(path)
        self.buf = b""

    def send(self, data):
        self.sock.sendall(data)

    def close(self):
        self.sock.close()

    def _record(self, deadline):
        while True:
            if len(self.buf) >= 8:
                _, rtype, _, clen, plen = struct.unpack(">BBHHB", self.buf[:7])
                if len(self.buf) >= 8 + clen + plen:
                    content = self.buf[8:8 + clen]
                    self.buf = self.buf[8 + clen + plen:]
                    return rtype, content
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            self.sock.settimeout(left)
            try:
                chunk = self.sock.recv(65536)
            except (socket.timeout, ConnectionError):
                return None
            if not chunk:
                return None
            self.buf += chunk

    def response(self, timeout=5.0):
        """(status, headers, body, ended): ended is True when an
        FCGI_END_REQUEST came; status None when nothing came at all."""
        deadline = time.monotonic() + timeout
        out, ended = b"", False
        while True:
            rec = self._record(deadline)
            if rec is None:
                break
            if rec[0] == STDOUT:
                out += rec[1]
            elif rec[0] == END_REQUEST:
                ended = True
                break
        if not out:
            return None, {}, b"", ended
        head, _, body = out.partition(b"\r\n\r\n")
        headers = {}
        for line in head.decode(errors="replace").split("\r\n"):
            k, _, v = line.partition(":")
            headers[k.strip().lower()] = v.strip()
        status = int(headers.get("status", "200").split()[0])
        return status, headers, body, ended
