"""Processes of a run: start one, wait until it is ready, stop it by PID.

    run = Run("/tmp/x", bin="build/bin")     # a directory and its processes
    p = run.start("broker", argv, ready_fd=True)   # or port=N, path=..., log_line=...
    p.stop()                                 # SIGTERM, then SIGKILL; the status
    run.stop_all()                           # every process, newest first

Readiness, whichever the program offers: a newline on the --ready-fd pipe
(s6; the fastpush programs), a TCP port on 127.0.0.1 that accepts
(web servers, peers), a path that appears, or a line in the program's log.
Each wait also watches the process, so one that exits is an error at once,
with its log.  Logs are RUN_DIR/NAME.log (stdout and stderr).

FP_SLOW=N in the environment (make check-valgrind, whose programs run
under valgrind) multiplies the waits here by N: readiness, stop, wait_for,
wait_port, and stack.py's broker requests and CLI runs (SLOW).  Only
waits for something to happen are scaled, never a sleep or a deadline a
program must meet; the test clients' own timeouts are not.
"""
import os
import select
import signal
import socket
import subprocess
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.environ.get("FP_BIN", os.path.join(ROOT, "build", "bin"))
SLOW = max(1.0, float(os.environ.get("FP_SLOW") or 1))


def free_port(host="127.0.0.1", prefer=None):
    """`prefer` if it can be bound on host, else a port the kernel picks."""
    for p in ([prefer] if prefer else []) + [0]:
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, p))
            return s.getsockname()[1]
        except OSError:
            continue
        finally:
            s.close()
    raise OSError("no free port")


def wait_for(pred, timeout=5.0, interval=0.02):
    """pred()'s first true value within timeout s (times SLOW), else its
    last value."""
    end = time.time() + timeout * SLOW
    while time.time() < end:
        v = pred()
        if v:
            return v
        time.sleep(interval)
    return pred()


def listening(port, host="127.0.0.1"):
    try:
        socket.create_connection((host, port), 0.2).close()
        return True
    except OSError:
        return False


def wait_port(port, alive=lambda: True, timeout=10.0, host="127.0.0.1"):
    """True once something accepts on host:port (False if `alive()` turns
    false or the time runs out)."""
    ok = wait_for(lambda: listening(port, host) or not alive(), timeout, 0.05)
    return bool(ok) and alive()


# ------------------------------------------------------------ /proc

def proc_tree(root):
    """PIDs of the live descendants of root (from /proc)."""
    kids = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                st = f.read()
        except OSError:
            continue
        fields = st[st.rindex(")") + 2:].split()
        if fields[0] != "Z":
            kids.setdefault(int(fields[1]), []).append(int(d))
    out, todo = [], [root]
    while todo:
        for k in kids.get(todo.pop(), []):
            out.append(k)
            todo.append(k)
    return out


def alive(pid):
    """True while pid runs (a zombie does not count)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            st = f.read()
        return st[st.rindex(")") + 2] != "Z"
    except OSError:
        return False


def rss_kb(pid, field="VmRSS"):
    """A memory figure of /proc/PID/status in kB (VmRSS, RssAnon...), 0
    when the process is gone."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def nfds(pid):
    """Descriptors the process holds (/proc/PID/fd)."""
    return len(os.listdir(f"/proc/{pid}/fd"))


def cpu_seconds(pid):
    """utime + stime of a process, in seconds."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def read_text(path):
    """The text of a file (bytes that are not UTF-8 replaced); "" when
    it cannot be read."""
    try:
        with open(path, "rb") as f:
            return f.read().decode(errors="replace")
    except OSError:
        return ""


def cmdline(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


# ------------------------------------------------------------ processes

class Proc:
    """A started program: its PID, log file and how to stop it.  start()
    runs it again after a stop (same argv, same log, appended); one that
    does not become ready is killed and start() raises RuntimeError."""

    def __init__(self, run, name, argv, ready_fd=False, port=None, path=None, log_line=None,
                 cwd=None, extra_env=None, timeout=15.0, **popen):
        """Ready when: ready_fd (a newline on --ready-fd N, appended to
        argv), port (127.0.0.1:port accepts), path (exists), log_line (in
        the log); none of them: as soon as it runs.  popen: more
        subprocess.Popen arguments (user=, group=, preexec_fn=...)."""
        self.run, self.name, self.argv = run, name, list(argv)
        self.ready_fd, self.port, self.ready_path, self.log_line = ready_fd, port, path, log_line
        self.cwd, self.extra_env, self.timeout = cwd, extra_env, timeout
        self.popen = dict(getattr(run, "popen", {}), **popen)
        self.log_path = os.path.join(run.dir, f"{name}.log")
        self.p = None
        self.start()

    def start(self):
        penv = dict(os.environ)
        penv.setdefault("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0")
        penv.setdefault("UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=1")
        penv.update(self.extra_env or {})
        argv, rfd, wfd = list(self.argv), None, None
        if self.ready_fd:
            rfd, wfd = os.pipe()
            argv += ["--ready-fd", str(wfd)]
        with open(self.log_path, "ab") as log:
            self.p = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT,
                                      stdin=subprocess.DEVNULL, cwd=self.cwd or self.run.dir,
                                      env=penv, pass_fds=(wfd,) if wfd is not None else (),
                                      **self.popen)
        self.pid = self.p.pid
        self.stopped = False
        try:
            if wfd is not None:
                os.close(wfd)
                self._wait_fd(rfd)
            if self.port is not None:
                self._wait(lambda: listening(self.port), f"does not listen on {self.port}")
            if self.ready_path is not None:
                self._wait(lambda: os.path.exists(self.ready_path), f"made no {self.ready_path}")
            if self.log_line is not None:
                self._wait(lambda: self.log_line in self.read_log(),
                           f"never logged {self.log_line!r}")
        except RuntimeError:
            # not ready: a Proc that raises is in no run's list, so nothing
            # else would stop it
            self.stop(signal.SIGKILL)
            raise
        return self

    def _wait_fd(self, rfd):
        end = time.time() + self.timeout * SLOW
        try:
            while time.time() < end:
                if select.select([rfd], [], [], 0.1)[0]:
                    if os.read(rfd, 64):
                        return
                    break
                if not self.alive():
                    break
            raise RuntimeError(f"{self.name} did not become ready:\n{self.read_log()}")
        finally:
            os.close(rfd)

    def _wait(self, pred, what):
        if not wait_for(lambda: pred() or not self.alive(), self.timeout, 0.05) or \
                not self.alive():
            raise RuntimeError(f"{self.name} {'exited' if not self.alive() else what}:\n"
                               f"{self.read_log()}")

    def alive(self):
        return self.p is not None and self.p.poll() is None

    def read_log(self):
        return read_text(self.log_path)

    def send_signal(self, sig):
        if self.alive():
            os.kill(self.pid, sig)

    def stop(self, sig=signal.SIGTERM, timeout=10.0):
        """Send sig (None: it was sent already), wait up to timeout s,
        then SIGKILL (a problem of the run).  Returns the exit status
        (negative: killed by a signal)."""
        if self.alive():
            if sig is not None:
                os.kill(self.pid, sig)
            try:
                self.p.wait(timeout * SLOW)
            except subprocess.TimeoutExpired:
                os.kill(self.pid, signal.SIGKILL)
                self.p.wait()
                self.run.problems.append(f"{self.name} did not stop within {timeout * SLOW:g} s")
        self.stopped = True
        return self.p.returncode

    def kill9(self):
        return self.stop(signal.SIGKILL)


class Run:
    """A directory and the processes started in it (newest last)."""

    def __init__(self, dir=None, bin=None, popen=None):
        """dir: where configs, sockets and logs go (created); bin: the
        fastpush programs ($FP_BIN, else build/bin); popen: Popen
        arguments for every process (start_new_session=True...)."""
        self.dir = os.path.abspath(dir) if dir else None
        if self.dir:
            os.makedirs(self.dir, exist_ok=True)
        self.bin = os.path.abspath(bin or BIN)
        self.popen = dict(popen or {})
        self.procs = []
        self.problems = []      # what went wrong while stopping
        self._ctx = None

    @property
    def ctx(self):
        """A ZeroMQ context for clients of the broker (made on first use)."""
        if self._ctx is None:
            import zmq
            self._ctx = zmq.Context()
        return self._ctx

    def path(self, *parts):
        return os.path.join(self.dir, *parts)

    def prog(self, name):
        """Path of a fastpush program."""
        return os.path.join(self.bin, name)

    def start(self, name, argv, **kw):
        """Start and keep a Proc (see Proc for kw)."""
        p = Proc(self, name, argv, **kw)
        self.procs.append(p)
        return p

    def add(self, p):
        """Keep a Proc made elsewhere (a WebServer, a Broker)."""
        self.procs.append(p)
        return p

    def broker(self, name="broker", **directives):
        from .stack import Broker
        return self.add(Broker(self, name, **directives))

    def stop_all(self, together=False):
        """Stop every running process, newest first (together: SIGTERM to
        all, then wait for each).  A status other than 0 is a problem."""
        live = [p for p in reversed(self.procs) if not p.stopped]
        if together:
            for p in live:
                p.send_signal(signal.SIGTERM)
        self.stop_each(live, None if together else signal.SIGTERM)

    def stop_each(self, procs, sig=signal.SIGTERM):
        """Stop these, in this order (None and stopped ones skipped; sig
        None: it was sent already).  A status other than 0 is a problem."""
        for p in procs:
            if p is not None and not p.stopped:
                rc = p.stop(sig)
                if rc not in (0, None):
                    self.problems.append(f"{p.name} exited with status {rc}")

    def close_ctx(self):
        if self._ctx is not None:
            self._ctx.destroy(linger=0)
            self._ctx = None
