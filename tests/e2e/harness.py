"""The end-to-end test harness: real processes in a temp directory.

    from harness import Tap, Env
    t = Tap()
    with Env(t) as env:
        b = env.broker(history_count=5)     # directives as keyword arguments
        t.ok(b.request("PING")[0] == "OK", "broker answers")
    t.done()

Env starts programs from $FP_BIN with ipc:// endpoints inside its temp
directory, waits until they are ready (the --ready-fd pipe, as s6 does),
and at the end stops them by PID (SIGTERM, then SIGKILL), fails the test if
one exited badly or a sanitizer reported anything, and removes the
directory (kept, and its path printed, when a check failed).

A test that needs an outside program (chromium, lighttpd, node...) asks
require_tool(t, name, path) first: a missing tool is a failure (a `not ok`
line naming it), not a silent pass, unless FP_ALLOW_SKIP=1 is in the
environment, when it is a TAP skip (`ok N - ... # SKIP chromium missing`).
"""
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

import zmq

BIN = os.environ.get("FP_BIN", os.path.join(os.path.dirname(__file__), "../../build/bin"))
# FP_ALLOW_SKIP=1: a missing outside tool is a TAP skip instead of a failure
ALLOW_SKIP = os.environ.get("FP_ALLOW_SKIP", "") not in ("", "0")
SANITIZER_MARKS = ("ERROR: AddressSanitizer", "runtime error:", "ERROR: LeakSanitizer")


class Tap:
    """TAP output: one line per check, the plan at the end."""

    def __init__(self):
        self.n = 0
        self.failed = 0

    def ok(self, cond, desc, detail=None):
        self.n += 1
        if cond:
            print(f"ok {self.n} - {desc}")
        else:
            self.failed += 1
            print(f"not ok {self.n} - {desc}")
            if detail is not None:
                for line in str(detail).splitlines()[:40]:
                    print(f"#   {line}")
        sys.stdout.flush()
        return bool(cond)

    def eq(self, got, want, desc):
        return self.ok(got == want, desc, f"got:  {got!r}\nwant: {want!r}")

    def skip(self, desc, reason):
        """A check not run: `ok N - desc # SKIP reason`."""
        self.n += 1
        print(f"ok {self.n} - {desc} # SKIP {reason}")
        sys.stdout.flush()

    def note(self, msg):
        for line in str(msg).splitlines():
            print(f"# {line}")
        sys.stdout.flush()

    def done(self):
        print(f"1..{self.n}")
        sys.exit(1 if self.failed else 0)


_WHICH = object()


def require_tool(t, name, path=_WHICH, desc=None):
    """True when the outside tool `name` is there: `path` is where it was
    looked up (shutil.which's answer, a file or a directory such as a
    node module; None or "" when the lookup found nothing); by default
    shutil.which(name).  Passes silently when present.  When missing it
    prints `not ok N - <desc>: <name> missing` (the test fails), or with
    FP_ALLOW_SKIP=1 `ok N - <desc> # SKIP <name> missing`, and returns
    False: the caller leaves out the checks that need the tool."""
    if path is _WHICH:
        path = shutil.which(name)
    if path and os.path.exists(path):
        return True
    desc = desc or f"{name} is installed"
    where = f" (looked for {path})" if path else " (not found on PATH)"
    if ALLOW_SKIP:
        t.skip(desc, f"{name} missing")
    else:
        t.ok(False, f"{desc}: {name} missing", f"{name} missing{where}; "
             "install it, or set FP_ALLOW_SKIP=1 to skip the checks that need it")
    return False


def free_port(host="127.0.0.1"):
    s = socket.socket()
    s.bind((host, 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_for(pred, timeout=5.0, interval=0.02):
    end = time.time() + timeout
    while time.time() < end:
        v = pred()
        if v:
            return v
        time.sleep(interval)
    return pred()


class Proc:
    """A started program: its PID, log file and how to stop it."""

    def __init__(self, env, name, argv, ready_fd=False, cwd=None, extra_env=None, **popen):
        """popen: more subprocess.Popen arguments (user=, group=...)."""
        self.env, self.name, self.argv = env, name, argv
        self.log_path = os.path.join(env.dir, f"{name}.log")
        self.log = open(self.log_path, "ab")
        penv = dict(os.environ)
        penv.setdefault("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0")
        penv.setdefault("UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=1")
        if extra_env:
            penv.update(extra_env)
        rfd = wfd = None
        if ready_fd:
            rfd, wfd = os.pipe()
            argv = argv + ["--ready-fd", str(wfd)]
        self.p = subprocess.Popen(argv, stdout=self.log, stderr=subprocess.STDOUT,
                                  stdin=subprocess.DEVNULL, cwd=cwd or env.dir, env=penv,
                                  pass_fds=(wfd,) if wfd is not None else (), **popen)
        self.pid = self.p.pid
        self.stopped = False
        if ready_fd:
            os.close(wfd)
            self._wait_ready(rfd)

    def _wait_ready(self, rfd, timeout=15.0):
        import select
        end = time.time() + timeout
        try:
            while time.time() < end:
                r, _, _ = select.select([rfd], [], [], 0.1)
                if r:
                    if os.read(rfd, 64):
                        return
                    break
                if self.p.poll() is not None:
                    break
            raise RuntimeError(f"{self.name} did not become ready:\n{self.read_log()}")
        finally:
            os.close(rfd)

    def alive(self):
        return self.p.poll() is None

    def read_log(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode(errors="replace")
        except OSError:
            return ""

    def send_signal(self, sig):
        if self.alive():
            os.kill(self.pid, sig)

    def stop(self, sig=signal.SIGTERM, timeout=10.0):
        """Stop and return the exit status (negative: killed by a signal)."""
        if self.alive():
            os.kill(self.pid, sig)
            try:
                self.p.wait(timeout)
            except subprocess.TimeoutExpired:
                os.kill(self.pid, signal.SIGKILL)
                self.p.wait()
                self.env.problems.append(f"{self.name} did not stop within {timeout} s")
        self.stopped = True
        self.log.close()
        return self.p.returncode

    def kill9(self):
        return self.stop(signal.SIGKILL)


class Broker(Proc):
    """fastpush-broker on ipc:// endpoints in the env's directory.
    preexec_fn (optional) runs in the child before exec, at every start."""

    def __init__(self, env, name="broker", preexec_fn=None, **directives):
        d = os.path.join(env.dir, name)
        os.makedirs(d, exist_ok=True)
        self.ingest = f"ipc://{d}/ingest"
        self.control = f"ipc://{d}/control"
        self.fanout = f"ipc://{d}/fanout"
        base = {"ingest": self.ingest, "control": self.control, "fanout": self.fanout}
        base.update({k.replace("_", "-"): str(v) for k, v in directives.items()})
        # endpoints given as directives (e.g. tcp://) are the ones to use
        self.ingest, self.control, self.fanout = base["ingest"], base["control"], base["fanout"]
        self.directives = {}
        self.conf_path = os.path.join(env.dir, f"{name}.conf")
        self.set_directives(**base)
        self._ctx = env.ctx
        self._req = None
        self.preexec_fn = preexec_fn
        super().__init__(env, name, [os.path.join(BIN, "fastpush-broker"), "-f", self.conf_path],
                         ready_fd=True, preexec_fn=preexec_fn)

    def set_directives(self, **directives):
        """Rewrite the config file; the next restart() reads it."""
        self.directives.update({k.replace("_", "-"): str(v) for k, v in directives.items()})
        with open(self.conf_path, "w") as f:
            for k, v in self.directives.items():
                f.write(f"{k} {v}\n")

    def restart(self, sig=signal.SIGTERM):
        """Stop (SIGTERM, or e.g. SIGKILL for a crash) and start again."""
        self.stop(sig)
        self.log = open(self.log_path, "ab")
        if self._req is not None:
            self._req.close()
        Proc.__init__(self, self.env, self.name,
                      [os.path.join(BIN, "fastpush-broker"), "-f", self.conf_path], ready_fd=True,
                      preexec_fn=self.preexec_fn)
        self._req = None

    def request(self, cmd, body=None, timeout=5.0, raw_frames=None):
        """Send COMMAND [body] on a DEALER; return (status, meta, events)."""
        if self._req is None:
            self._req = self._ctx.socket(zmq.DEALER)
            self._req.setsockopt(zmq.LINGER, 0)
            self._req.connect(self.control)
        frames = raw_frames if raw_frames is not None else \
            [cmd.encode()] + ([json.dumps(body).encode()] if body is not None else [])
        self._req.send_multipart(frames)
        if not self._req.poll(int(timeout * 1000)):
            self._req.close()
            self._req = None
            raise TimeoutError(f"no reply to {cmd}")
        r = self._req.recv_multipart()
        return r[0].decode(), json.loads(r[1]), \
            [json.loads(line) for f in r[2:] for line in f.split(b"\n") if line]

    def publish(self, channel, data, **kw):
        body = {"channel": channel, "data": data}
        body.update(kw)
        st, meta, _ = self.request("PUBLISH", body)
        if st != "OK":
            raise RuntimeError(f"publish refused: {meta}")
        return meta

    def subscriber(self, *channels, heartbeat=False):
        s = self._ctx.socket(zmq.SUB)
        s.setsockopt(zmq.LINGER, 0)
        s.setsockopt(zmq.RCVHWM, 0)
        for c in channels:
            s.setsockopt(zmq.SUBSCRIBE, c.encode() + b"\0")
        if heartbeat:
            s.setsockopt(zmq.SUBSCRIBE, b"\0")
        s.connect(self.fanout)
        return s

    def cli(self, *args, input=None, timeout=10):
        """Run the fastpush CLI against this broker."""
        argv = [os.path.join(BIN, "fastpush"), "--control", self.control, "--fanout",
                self.fanout, "--ingest", self.ingest] + list(args)
        return subprocess.run(argv, input=input, capture_output=True, timeout=timeout)


def recv_all(sock, timeout=1.0, until=None):
    """Read [topic, body] messages until quiet for `timeout` s (or `until`
    returns true for the list so far).  Returns [(topic, json)]."""
    out = []
    while sock.poll(int(timeout * 1000)):
        topic, body = sock.recv_multipart()
        out.append((topic, json.loads(body)))
        if until and until(out):
            break
    return out


class Env:
    """A temp directory and the processes started in it."""

    def __init__(self, t, keep=False):
        self.t = t
        self.keep = keep
        self.procs = []
        self.problems = []
        self.ctx = zmq.Context()

    def __enter__(self):
        self.dir = tempfile.mkdtemp(prefix="fp-e2e-")
        return self

    def broker(self, name="broker", **directives):
        b = Broker(self, name, **directives)
        self.procs.append(b)
        return b

    def start(self, name, argv, ready_fd=False, **kw):
        p = Proc(self, name, argv, ready_fd=ready_fd, **kw)
        self.procs.append(p)
        return p

    def path(self, *parts):
        return os.path.join(self.dir, *parts)

    def __exit__(self, et, ev, tb):
        if et is not None:
            import traceback
            self.t.ok(False, f"test raised {et.__name__}: {ev}",
                      "".join(traceback.format_exception(et, ev, tb)))
        for p in reversed(self.procs):
            if not p.stopped:
                rc = p.stop()
                if rc not in (0, None):
                    self.problems.append(f"{p.name} exited with status {rc}")
        for p in self.procs:
            log = p.read_log()
            if any(m in log for m in SANITIZER_MARKS):
                self.problems.append(f"{p.name}: sanitizer report:\n" + log[-3000:])
        for prob in self.problems:
            self.t.ok(False, "clean shutdown and no sanitizer reports", prob)
        self.ctx.destroy(linger=0)
        if self.t.failed or self.keep:
            self.t.note(f"kept {self.dir} for inspection")
            for p in self.procs:
                self.t.note(f"--- {p.name} log (tail) ---\n" + p.read_log()[-2000:])
        else:
            shutil.rmtree(self.dir, ignore_errors=True)
        return True
