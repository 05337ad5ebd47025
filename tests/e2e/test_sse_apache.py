"""fastpush-sse behind apache (conf/apache-sse.conf): streaming without
buffering, resume, resets, snapshots, heartbeats, disconnects, broker
restart, SIGTERM, gap backfill, catch-up and slow clients (sse_checks.py)."""
from harness import Env, Tap
from sse_checks import run_all

t = Tap()
run_all(t, Env, "apache")
t.done()
