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
               + bridge + one web server)

    import fpstack
    run = fpstack.Run(tmpdir)
    st = fpstack.Stack(run, "lighttpd", poll={})
    ... st.port ...
    run.stop_all()

Callers put tools/ on sys.path (tools/demo.py has it already).
"""
# the launcher's names, re-exported
from .conf import (CONF, POLL_BIN, POLL_CONF, POLL_SOCK, SOCK, SSE_BIN, SSE_CONF,  # noqa: F401
                   directives, render, responder_conf, write)
from .proc import (BIN, ROOT, Proc, Run, alive, cmdline, free_port, listening, read_text,  # noqa: F401
                   proc_tree, wait_for, wait_port)
from .stack import SERVERS, Broker, Stack, start_ws  # noqa: F401
from .web import (JS_DIR, LIGHTTPD, MIME, WEB_DIR, WEB_GROUP, Apache, Lighttpd,  # noqa: F401
                  Nginx, Origin, WebServer, origin_lighttpd_conf, web_ids)
