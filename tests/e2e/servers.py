"""Web servers in front of fastpush-sse and fastpush-poll, configured from
the files that ship in conf/, for the end-to-end tests.

    from servers import Stack
    with Env(t) as env:
        st = Stack(env, "nginx", broker={"history_count": 10}, sse={"heartbeat": "1s"})
        c = st.stream("/events/news")          # an sseclient.SseClient
        st.broker.publish("news", {"n": 1})
        st.stop()

        st = Stack(env, "lighttpd", sse=False, poll={"max_wait": "5s"})
        status, headers, body = st.request("/push/poll?channel=news")

The stack itself (broker, responders, the web servers lighttpd,
lighttpd-spawn, apache, apache-fcgid, nginx, their configs rendered from
conf/, readiness, stop by PID, children checked) is the launcher's,
tools/fpstack (stack.py, web.py, conf.py); this module adds the test
clients and keeps the names the tests import.
"""
import harness  # noqa: F401  (puts tools/ on sys.path)
import fpstack
from fpstack import CONF, POLL_BIN, SSE_BIN, WEB_GROUP, Apache, alive, render, write  # noqa: F401
from sseclient import SseClient, request


class Stack(fpstack.Stack):
    """fpstack.Stack with the test clients."""

    def stream(self, path, **kw):
        return SseClient(self.port, path, **kw)

    def request(self, path, **kw):
        return request(self.port, path, **kw)
