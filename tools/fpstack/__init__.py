"""fpstack: the one launcher of the fastpush stack, for the end-to-end
tests (tests/e2e/harness.py, servers.py), `make demo` (tools/demo.py) and
the benchmarks (bench/systems.py).

    proc.py    Run (a directory and its processes), Proc (start, wait
               until ready: --ready-fd, port, path or log line; stop by
               PID: SIGTERM, then SIGKILL), free_port, wait_for, /proc
    conf.py    conf/ files rendered for a run (render), responder configs
    web.py     Lighttpd, Apache, Nginx (main file around a snippet, an
               ephemeral port, readiness by port, children checked at
               stop), the one-origin lighttpd of the demo
    stack.py   Broker, start_ws (fastpush-ws), Stack (broker + responders
               + bridge + one web server), Peers (responders on several brokers)
    nats.py    NatsServer, NatsCluster (nats-server nodes with JetStream
               for the broker's `engine jetstream`; ready by healthz)

    import fpstack
    run = fpstack.Run(tmpdir)
    st = fpstack.Stack(run, "lighttpd", poll={})
    ... st.port ...
    run.stop_all()

Callers put tools/ on sys.path (tools/demo.py has it already).
"""
# the names the callers use (tests/e2e, tools/demo.py, bench/)
from .conf import CONF, POLL_BIN, SSE_BIN, render, write  # noqa: F401
from .proc import (BIN, ROOT, SLOW, Proc, Run, alive, cpu_seconds, free_port,  # noqa: F401
                   nfds, proc_tree, read_text, rss_kb, wait_for, wait_port)
from .stack import Peers, Stack, start_ws  # noqa: F401
from .web import LIGHTTPD, WEB_DIR, WEB_GROUP, Apache, Lighttpd, Nginx, Origin  # noqa: F401
from .nats import NATS_SERVER, NatsCluster, NatsServer  # noqa: F401
