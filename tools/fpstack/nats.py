"""NATS JetStream servers of a run, for the broker's `engine jetstream`.

    n = NatsServer(run, "nats")             # one node, JetStream on
    c = NatsCluster(run, n=3)               # three routed nodes, meta leader elected
    c.urls                                  # "nats://127.0.0.1:P1,..." for nats-url
    c.nodes[1].kill9(); c.nodes[1].start()  # a crash, then back on its store dir
    c.wait_ready()                          # healthz 200 everywhere, a meta leader

Each node listens on ephemeral loopback ports (client, `http` monitoring,
cluster routes), has its own config file and store directory in the run's
directory (RUN/NAME.conf, RUN/NAME/), and is ready when its monitoring
endpoint answers /healthz?js-enabled-only=true with 200.  It is stopped by
PID like every Proc.  NATS_SERVER is the program (None when missing: the
tests ask harness.require_tool first).
"""
import json
import os
import shutil
import signal
import time
import urllib.error
import urllib.request

from .conf import write
from .proc import Proc, free_port, wait_for

NATS_SERVER = shutil.which("nats-server") or next(
    (p for p in ("/usr/sbin/nats-server",) if os.access(p, os.X_OK)), None)


def http_get(port, path, timeout=1.0):
    """(status, parsed JSON or None) of GET http://127.0.0.1:port/path;
    (None, None) when nothing answers."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=timeout) as r:
            status, body = r.status, r.read()
    except urllib.error.HTTPError as e:
        status, body = e.code, e.read()
    except OSError:
        return None, None
    try:
        return status, json.loads(body)
    except ValueError:
        return status, None


def node_conf(name, port, http_port, store, cluster=None):
    """nats-server config text; cluster: (name, route port, [peer route
    ports]) for a clustered node."""
    text = (f"server_name: {name}\nlisten: 127.0.0.1:{port}\nhttp: 127.0.0.1:{http_port}\n"
            f'jetstream {{ store_dir: "{store}", max_file_store: 8G, max_memory_store: 256M }}\n')
    if cluster:
        cname, cport, peers = cluster
        routes = ", ".join(f"nats-route://127.0.0.1:{p}" for p in peers)
        text += (f"cluster {{ name: {cname}, listen: 127.0.0.1:{cport}, "
                 f"routes: [{routes}] }}\n")
    return text


class NatsServer(Proc):
    """One nats-server with JetStream; .port (clients), .http_port
    (monitoring), .url, .store (kept across stop/start)."""

    def __init__(self, run, name="nats", port=None, http_port=None, cluster=None,
                 timeout=15.0):
        """cluster: (cluster name, route port, [peer route ports])."""
        self.port, self.http_port = port or free_port(), http_port or free_port()
        self.url = f"nats://127.0.0.1:{self.port}"
        self.store = run.path(name)
        os.makedirs(self.store, exist_ok=True)
        self.conf_path = write(run.path(f"{name}.conf"),
                               node_conf(name, self.port, self.http_port, self.store, cluster))
        super().__init__(run, name, [NATS_SERVER or "nats-server", "-c", self.conf_path],
                         port=self.port, timeout=timeout)

    def start(self):
        """Start (again, on the same ports and store) and wait for healthz."""
        super().start()
        try:
            self._wait(lambda: self.healthz(js_only=True) == 200,
                       "never answered healthz?js-enabled-only=true with 200")
        except RuntimeError:
            self.kill9()        # not ready: in no run's list yet (see Proc.start)
            raise
        return self

    def stop(self, sig=signal.SIGTERM, timeout=10.0):
        """As Proc.stop; nats-server 2.9 exits 1 after a clean SIGTERM
        shutdown ("Server Exiting.." its last line): that counts as 0."""
        rc = super().stop(sig, timeout)
        if rc == 1 and sig == signal.SIGTERM and \
                self.read_log().rstrip().endswith("Server Exiting.."):
            return 0
        return rc

    def healthz(self, js_only=False):
        """The status of /healthz (None: no answer)."""
        return http_get(self.http_port, "/healthz" + ("?js-enabled-only=true" if js_only else ""))[0]

    def jsz(self):
        """/jsz as a dict ({} when it does not answer)."""
        return http_get(self.http_port, "/jsz")[1] or {}

    def meta_leader(self):
        """The JetStream meta leader's server name as this node sees it."""
        return (self.jsz().get("meta_cluster") or {}).get("leader")


class NatsCluster:
    """n NatsServer nodes routed into one cluster (n=1: a single node);
    each node is in the run's list, so Run.stop_all stops them."""

    def __init__(self, run, n=3, name="nats", timeout=30.0):
        self.run, self.name = run, name
        routes = [free_port() for _ in range(n)]
        self.nodes = []
        for i in range(n):
            cl = (name, routes[i], [p for j, p in enumerate(routes) if j != i]) if n > 1 else None
            self.nodes.append(run.add(NatsServer(run, f"{name}{i + 1}", cluster=cl)))
        self.urls = ",".join(nd.url for nd in self.nodes)
        if not self.wait_ready(timeout):
            raise RuntimeError(f"{name}: no JetStream meta leader within {timeout} s:\n" +
                               "\n".join(f"{nd.name}: {nd.jsz().get('meta_cluster')}"
                                         for nd in self.nodes))

    def live(self):
        return [nd for nd in self.nodes if nd.alive()]

    def leader(self):
        """The meta leader's name if every live node agrees on one, else None."""
        seen = {nd.meta_leader() for nd in self.live()}
        return seen.pop() if len(seen) == 1 and None not in seen else None

    def ready(self):
        """Every live node healthy and agreeing on a meta leader."""
        live = self.live()
        return bool(live) and all(nd.healthz() == 200 for nd in live) and \
            (len(self.nodes) == 1 or self.leader() is not None)

    def wait_ready(self, timeout=30.0):
        return bool(wait_for(self.ready, timeout, 0.2))

    def stop(self):
        """Stop every node (SIGTERM), newest first."""
        self.run.stop_each(list(reversed(self.nodes)))

    def start(self, timeout=90.0):
        """Start the stopped nodes again (same ports and stores) and wait
        until the cluster is ready.  After all of them restarted, their
        meta group's election has been seen to take over 30 s on two busy
        cores (the ASan stage of make test), so the wait is long; a
        healthy restart is ready in about a second."""
        for nd in self.nodes:
            if not nd.alive():
                nd.start()
        t0 = time.time()
        if not self.wait_ready(timeout):
            raise RuntimeError(f"{self.name}: not ready {time.time() - t0:.0f} s after restart")
