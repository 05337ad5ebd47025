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

Chromium.open(url) keeps a tab open instead: tab.eval(expression) runs
scripts in it over time (the page keeps its state between them),
tab.screenshot(path) saves a PNG, tab.close() closes it.

The binary is $FP_CHROMIUM when set, else the first of chromium,
chromium-browser, google-chrome on PATH; binary() tells which (None when
none is found).  A test passes it to harness.require_tool("chromium",
...) first, so a missing Chromium fails the test (or, with FP_ALLOW_SKIP=1,
is a TAP skip); Chromium.available() is False when there is none.
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

import harness  # noqa: F401  (puts tools/ on sys.path)
import fpstack  # noqa: E402

BINARIES = ("chromium", "chromium-browser", "google-chrome")
FLAGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run",
         "--disable-default-apps", "--disable-extensions", "--mute-audio",
         "--remote-debugging-port=0"]


class ChromiumError(Exception):
    pass


def binary():
    """The chromium to run: $FP_CHROMIUM when set (even if it does not
    exist, so that a test reports it), else the first of BINARIES on PATH."""
    if os.environ.get("FP_CHROMIUM"):
        return os.environ["FP_CHROMIUM"]
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
        exe = binary()
        return exe is not None and os.access(exe, os.X_OK)

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()
        return False

    def start(self):
        exe = binary()
        if not exe or not os.access(exe, os.X_OK):
            raise ChromiumError(f"no chromium binary ({exe or 'none on PATH'})")
        self._err = open(self.stderr_path, "wb")
        self.proc = subprocess.Popen([exe] + FLAGS + [f"--user-data-dir={self.dir}", "about:blank"],
                                     stdout=subprocess.DEVNULL, stderr=self._err,
                                     stdin=subprocess.DEVNULL, start_new_session=True)
        end = time.time() + self.timeout
        while time.time() < end:
            m = re.search(r"DevTools listening on (ws://\S+)", self.log())
            if m:
                self.ws_url = m.group(1)
                return
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        self.stop()
        raise ChromiumError("chromium did not print its DevTools URL:\n" + self.log()[-2000:])

    def log(self):
        return fpstack.read_text(self.stderr_path)

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

    async def _attach(self, ws, target):
        return (await self._call(ws, "Target.attachToTarget",
                                 {"targetId": target, "flatten": True}))["sessionId"]

    async def _wait_loaded(self, ws, session, url, timeout):
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
                return
            await asyncio.sleep(0.05)

    async def _run(self, ws, session, expression, timeout):
        r = await asyncio.wait_for(self._call(ws, "Runtime.evaluate", {
            "expression": expression, "awaitPromise": True, "returnByValue": True,
            "timeout": int(timeout * 1000)}, session), timeout + 5)
        if "exceptionDetails" in r:
            d = r["exceptionDetails"]
            raise ChromiumError(d.get("exception", {}).get("description") or d.get("text"))
        return r.get("result", {}).get("value")

    async def _evaluate(self, expression, url, timeout):
        async with websockets.connect(self.ws_url, max_size=None, ping_interval=None) as ws:
            target = (await self._call(ws, "Target.createTarget", {"url": url or "about:blank"}))["targetId"]
            try:
                session = await self._attach(ws, target)
                await self._wait_loaded(ws, session, url, timeout)
                return await self._run(ws, session, expression, timeout)
            finally:
                await self._call(ws, "Target.closeTarget", {"targetId": target})

    def evaluate(self, expression, url=None, timeout=20.0):
        """Run a JS expression (usually an async IIFE) in a new tab and
        return the JSON value its promise resolves to."""
        return asyncio.run(self._evaluate(expression, url, timeout))

    # ------------------------------------------------------------ tabs

    async def _session(self, target, fn):
        async with websockets.connect(self.ws_url, max_size=None, ping_interval=None) as ws:
            session = await self._attach(ws, target)
            try:
                return await fn(ws, session)
            finally:
                await self._call(ws, "Target.detachFromTarget", {"sessionId": session})

    def open(self, url, timeout=20.0):
        """Open a tab that stays open (until Tab.close or the end), wait
        until it has loaded, and return it."""
        async def go():
            async with websockets.connect(self.ws_url, max_size=None, ping_interval=None) as ws:
                return (await self._call(ws, "Target.createTarget", {"url": url}))["targetId"]
        tab = Tab(self, asyncio.run(go()), url)
        asyncio.run(self._session(tab.target, lambda ws, s: self._wait_loaded(ws, s, url, timeout)))
        return tab


class Tab:
    """A tab opened by Chromium.open: run scripts in it, take screenshots."""

    def __init__(self, br, target, url):
        self.br, self.target, self.url = br, target, url

    def eval(self, expression, timeout=20.0):
        """The JSON value of a JS expression (a promise is awaited)."""
        return asyncio.run(self.br._session(
            self.target, lambda ws, s: self.br._run(ws, s, expression, timeout)))

    def screenshot(self, path, width=1280, height=None, clip=None):
        """Save a PNG of the whole page at this width (the page's full
        height unless given); clip=(x, y, w, h) saves that part only."""
        import base64

        async def shot(ws, s):
            call = self.br._call

            async def size(h):
                await call(ws, "Emulation.setDeviceMetricsOverride", {
                    "width": width, "height": h, "deviceScaleFactor": 1, "mobile": False}, s)
                await asyncio.sleep(0.3)    # let the page lay out and draw at that size
            await size(height or 900)
            if height is None:              # the page's height at this width
                h = await self.br._run(ws, s, "Math.max(document.documentElement."
                                       "scrollHeight, document.body.scrollHeight)", 5)
                await size(int(h or 900))
            params = {"format": "png"}
            if clip:
                params["clip"] = dict(zip(("x", "y", "width", "height"), clip), scale=1)
            r = await call(ws, "Page.captureScreenshot", params, s)
            return base64.b64decode(r["data"])
        data = asyncio.run(self.br._session(self.target, shot))
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        with open(path, "wb") as f:
            f.write(data)
        return path

    def close(self):
        async def go():
            async with websockets.connect(self.br.ws_url, max_size=None, ping_interval=None) as ws:
                await self.br._call(ws, "Target.closeTarget", {"targetId": self.target})
        asyncio.run(go())


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
