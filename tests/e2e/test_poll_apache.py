"""fastpush-poll behind apache (conf/apache-poll.conf, mod_proxy_fcgi): delta-sync,
304, paging, long-poll wake-up and timeout, resets, keyed snapshots, HTTP
publish to SSE and poll, /stats, epoch reset after a broker restart
(poll_checks.py)."""
from harness import Env, Tap
from poll_checks import run_all

t = Tap()
run_all(t, Env, "apache")
t.done()
