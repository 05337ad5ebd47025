"""The end-to-end test harness: real processes in a temp directory.

    from harness import Tap, Env
    t = Tap()
    with Env(t) as env:
        b = env.broker(history_count=5)     # directives as keyword arguments
        t.ok(b.request("PING")[0] == "OK", "broker answers")
    t.done()

Env is a run of the launcher, tools/fpstack (Proc, Broker and the web
servers come from there): it starts programs from $FP_BIN with ipc://
endpoints inside its temp directory, waits until they are ready (the
--ready-fd pipe, as s6 does), and at the end stops them by PID (SIGTERM,
then SIGKILL); Env fails the test if one exited badly or a sanitizer
reported anything, and removes the directory (kept, and its path printed, when a check failed).

A test that needs an outside program (chromium, lighttpd, node...) asks
require_tool(t, name, path) first: a missing tool is a failure (a `not ok`
line naming it), not a silent pass, unless FP_ALLOW_SKIP=1 is in the
environment, when it is a TAP skip (`ok N - ... # SKIP chromium missing`).
"""
import json
import os
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tools"))
import fpstack  # noqa: E402
from fpstack import BIN, Proc, free_port, wait_for  # noqa: E402,F401  ($FP_BIN, else build/bin)

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


class Env(fpstack.Run):
    """A temp directory and the processes started in it (fpstack.Run,
    which starts and stops them), checked at the end."""

    def __init__(self, t, keep=False):
        super().__init__()
        self.t = t
        self.keep = keep

    def __enter__(self):
        self.dir = tempfile.mkdtemp(prefix="fp-e2e-")
        return self

    def __exit__(self, et, ev, tb):
        if et is not None:
            import traceback
            self.t.ok(False, f"test raised {et.__name__}: {ev}",
                      "".join(traceback.format_exception(et, ev, tb)))
        self.stop_all()
        for p in self.procs:
            log = p.read_log()
            if any(m in log for m in SANITIZER_MARKS):
                self.problems.append(f"{p.name}: sanitizer report:\n" + log[-3000:])
        for prob in self.problems:
            self.t.ok(False, "clean shutdown and no sanitizer reports", prob)
        self.close_ctx()
        if self.t.failed or self.keep:
            self.t.note(f"kept {self.dir} for inspection")
            for p in self.procs:
                self.t.note(f"--- {p.name} log (tail) ---\n" + p.read_log()[-2000:])
        else:
            shutil.rmtree(self.dir, ignore_errors=True)
        return True
