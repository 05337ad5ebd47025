"""The shipped configuration of fastpush-sse: conf/fastpush-sse.conf names
every directive and loads as it is; the systemd unit passes
systemd-analyze verify.  (The web server files in conf/ are run by the
other test_sse_* files, rendered by servers.py.)"""
from confcheck import check_responder
from harness import Env, Tap
from servers import SSE_BIN

t = Tap()
with Env(t) as env:
    check_responder(t, env, "fastpush-sse", "fastpush-sse.conf", "fastpush-sse.service", SSE_BIN,
                    "max-streams")
t.done()
