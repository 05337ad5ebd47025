"""systemd notifications (Type=notify, WatchdogSec=) without systemd: the
test plays the service manager.  It binds a datagram socket, starts the
broker, fastpush-sse and fastpush-poll (behind lighttpd) with
NOTIFY_SOCKET and WATCHDOG_USEC set, and reads what each process sends,
told apart by the sender's PID (SO_PASSCRED): READY=1 once serving,
WATCHDOG=1 from the loop at half the watchdog interval, STOPPING=1 on
SIGTERM.  A WATCHDOG_PID naming another process turns the pings off,
as sd_watchdog_enabled says.

The socket is read from a thread from the start, as systemd does: a
manager that stops reading fills its queue (10 datagrams with the
default net.unix.max_dgram_qlen, 1.5 s of pings) and the next sd_notify
blocks the program (a slow start, under valgrind, hung the stack)."""
import os
import socket
import struct
import threading
import time
from collections import defaultdict

from harness import Env, Tap
from servers import Stack

t = Tap()
WATCHDOG_USEC = 300000          # pings every 150 ms


class Manager:
    """The notify socket, read by a thread: messages per sender PID, and
    when each came."""

    def __init__(self, path):
        self.path = path
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.s.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
        self.s.bind(path)
        self.s.settimeout(0.05)
        self.got = defaultdict(list)
        self.at = defaultdict(list)     # pid -> monotonic time of each line
        self.lock = threading.Lock()
        self.since = 0.0
        threading.Thread(target=self._reader, daemon=True).start()

    def _reader(self):
        while True:
            try:
                data, anc, _, _ = self.s.recvmsg(4096, socket.CMSG_SPACE(12))
            except socket.timeout:
                continue
            except OSError:
                return
            pid = None
            for level, kind, cdata in anc:
                if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
                    pid = struct.unpack("iII", cdata[:12])[0]
            with self.lock:
                for line in data.decode(errors="replace").split("\n"):
                    if line:
                        self.got[pid].append(line)
                        self.at[pid].append(time.monotonic())

    def read(self, secs):
        """Wait secs (the window of count(..., window=True)); the messages
        so far."""
        self.since = time.monotonic()
        time.sleep(secs)
        return self.got

    def count(self, pid, msg, window=False):
        """How many times pid sent msg (window: during the last read)."""
        with self.lock:
            return sum(1 for line, at in zip(self.got[pid], self.at[pid])
                       if line == msg and (not window or at >= self.since))


def notify_env(path, **extra):
    os.environ["NOTIFY_SOCKET"] = path
    os.environ["WATCHDOG_USEC"] = str(WATCHDOG_USEC)
    for k, v in extra.items():
        os.environ[k] = v


def clear_env():
    for k in ("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID"):
        os.environ.pop(k, None)


with Env(t) as env:
    m = Manager(env.path("notify"))
    notify_env(m.path)
    try:
        st = Stack(env, "lighttpd", broker={"heartbeat": "250ms"}, sse={}, poll={})
    finally:
        clear_env()
    procs = {"broker": st.broker.pid, "fastpush-sse": st.sse.pid, "fastpush-poll": st.poll.pid}
    m.read(1.5)
    for name, pid in procs.items():
        t.ok(m.count(pid, "READY=1") == 1, f"{name}: READY=1 once it serves", m.got[pid][:5])
        pings = m.count(pid, "WATCHDOG=1", window=True)
        t.ok(5 <= pings <= 20, f"{name}: WATCHDOG=1 from its loop every ~150 ms ({pings} in "
             f"1.5 s)", m.got[pid][:5])
    t.eq(st.request("/push/health")[0], 200, "the programs serve as usual meanwhile")
    st.stop()
    m.read(0.5)
    for name, pid in procs.items():
        t.ok(m.count(pid, "STOPPING=1") == 1, f"{name}: STOPPING=1 on SIGTERM", m.got[pid][-3:])

    # WATCHDOG_PID names another process: no pings, READY=1 still
    notify_env(m.path, WATCHDOG_PID="1")
    try:
        b = env.broker("other-pid")
    finally:
        clear_env()
    m.read(1.0)
    t.ok(m.count(b.pid, "READY=1") == 1 and m.count(b.pid, "WATCHDOG=1") == 0,
         "WATCHDOG_PID of another process: READY=1 and no watchdog pings", m.got[b.pid][:5])
    b.stop()
    m.read(0.3)                         # its STOPPING=1

    # no NOTIFY_SOCKET: nothing sent, and the broker runs as before
    before = sum(len(v) for v in m.got.values())
    b = env.broker("plain")
    m.read(0.5)
    t.ok(sum(len(v) for v in m.got.values()) == before and b.request("PING")[0] == "OK",
         "without NOTIFY_SOCKET nothing is sent and the broker answers")
    b.stop()
t.done()
