"""Drive headless Chromium over the DevTools protocol (python3-websockets).

    from chromium import Chromium
    with Chromium(tmpdir) as br:
        value = br.evaluate("(async () => { ...; return result; })()",
                            url="http://127.0.0.1:8000/")   # page to run in
    # value: the JSON value the script's promise resolved to

Chromium is started with its own profile in tmpdir and
--remote-debugging-port=0; the DevTools URL it prints on stderr tells
where to connect.  Each evaluate() opens a new tab (about:blank unless a
URL is given), waits for it to load, runs the expression with
awaitPromise and returns the value (returnByValue), then closes the tab.
A script that throws raises ChromiumError with the exception text.
Chromium is stopped by PID when the context ends.

Chromium.available() is False when there is no chromium binary, so a
test can skip.
"""
import asyncio
import itertools
import json
import os
import re
import shutil
import signal
import subprocess
import threading
import time

import websockets

BINARIES = ("chromium", "chromium-browser", "google-chrome")
FLAGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run",
         "--disable-default-apps", "--disable-extensions", "--mute-audio",
         "--remote-debugging-port=0"]


class ChromiumError(Exception):
    pass


def _binary():
    for b in BINARIES:
        p = shutil.which(b)
        if p:
            return p
    return None


class Chromium:
    def __init__(self, tmpdir, timeout=30.0):
        self.dir = os.path.join(tmpdir, "chromium-profile")
        os.makedirs(self.dir, exist_ok=True)
        self.stderr_path = os.path.join(tmpdir, "chromium.log")
        self.timeout = timeout
        self.proc = None
        self.ws_url = None
        self._ids = itertools.count(1)

    @staticmethod
    def available():
        return _binary() is not None

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()
        return False

    def start(self):
        exe = _binary()
        if not exe:
            raise ChromiumError("no chromium binary")
        self._err = open(self.stderr_path, "wb")
        self.proc = subprocess.Popen([exe] + FLAGS + [f"--user-data-dir={self.dir}", "about:blank"],
                                     stdout=subprocess.DEVNULL, stderr=self._err,
                                     stdin=subprocess.DEVNULL, start_new_session=True)
        end = time.time() + self.timeout
        while time.time() < end:
            with open(self.stderr_path, "rb") as f:
                m = re.search(rb"DevTools listening on (ws://\S+)", f.read())
            if m:
                self.ws_url = m.group(1).decode()
                return
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        self.stop()
        raise ChromiumError("chromium did not print its DevTools URL:\n" + self.log()[-2000:])

    def log(self):
        try:
            with open(self.stderr_path, "rb") as f:
                return f.read().decode(errors="replace")
        except OSError:
            return ""

    def stop(self):
        if self.proc and self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        if getattr(self, "_err", None):
            self._err.close()
            self._err = None

    # ------------------------------------------------------------ CDP

    async def _call(self, ws, method, params=None, session=None):
        mid = next(self._ids)
        msg = {"id": mid, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        await ws.send(json.dumps(msg))
        while True:
            reply = json.loads(await ws.recv())
            if reply.get("id") == mid:
                if "error" in reply:
                    raise ChromiumError(f"{method}: {reply['error']}")
                return reply.get("result", {})

    async def _evaluate(self, expression, url, timeout):
        async with websockets.connect(self.ws_url, max_size=None, ping_interval=None) as ws:
            target = (await self._call(ws, "Target.createTarget", {"url": url or "about:blank"}))["targetId"]
            try:
                session = (await self._call(ws, "Target.attachToTarget",
                                            {"targetId": target, "flatten": True}))["sessionId"]
                end = time.time() + timeout
                want = f"complete {url or 'about:blank'}"
                while time.time() < end:
                    try:
                        r = await self._call(ws, "Runtime.evaluate", {
                            "expression": "document.readyState + ' ' + location.href",
                            "returnByValue": True}, session)
                    except ChromiumError:
                        r = {}          # the context went away: navigating
                    if r.get("result", {}).get("value") == want:
                        break
                    await asyncio.sleep(0.05)
                r = await asyncio.wait_for(self._call(ws, "Runtime.evaluate", {
                    "expression": expression, "awaitPromise": True, "returnByValue": True,
                    "timeout": int(timeout * 1000)}, session), timeout + 5)
                if "exceptionDetails" in r:
                    d = r["exceptionDetails"]
                    raise ChromiumError(d.get("exception", {}).get("description") or d.get("text"))
                return r.get("result", {}).get("value")
            finally:
                await self._call(ws, "Target.closeTarget", {"targetId": target})

    def evaluate(self, expression, url=None, timeout=20.0):
        """Run a JS expression (usually an async IIFE) in a new tab and
        return the JSON value its promise resolves to."""
        return asyncio.run(self._evaluate(expression, url, timeout))


class PageServer:
    """A tiny HTTP server in a thread that serves an empty page, so a tab
    has a real origin (http://127.0.0.1:PORT)."""

    def __init__(self):
        import http.server

        class H(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                body = b"<!doctype html><title>fastpush test</title>"
                self.send_response(200)
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *a):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.port = self.httpd.server_address[1]
        self.origin = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()
