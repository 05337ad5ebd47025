"""The shipped configuration of fastpush-poll: conf/fastpush-poll.conf names
every directive and loads as it is; the systemd unit passes
systemd-analyze verify; max-wait stays below the timeout every shipped
web server file gives a silent request.  (The web server files are run by
the other test_poll_* files, rendered by servers.py.)"""
import re

from confcheck import check_responder
from harness import Env, Tap
from servers import CONF, POLL_BIN

t = Tap()


def seconds(v):
    m = re.fullmatch(r"(\d+)(ms|s|m|h)?", v)
    n = int(m.group(1))
    return n * {"ms": 0.001, "s": 1, "m": 60, "h": 3600, None: 1}[m.group(2)]


def conf(name):
    with open(f"{CONF}/{name}") as f:
        return f.read()


with Env(t) as env:
    text = check_responder(t, env, "fastpush-poll", "fastpush-poll.conf", "fastpush-poll.service",
                           POLL_BIN, "max-parked")
    max_wait = seconds(re.search(r"^max-wait (\S+)", text, re.M).group(1))
    limits = {
        "nginx-poll.conf fastcgi_read_timeout":
            seconds(re.search(r"^\s*fastcgi_read_timeout (\S+);", conf("nginx-poll.conf"), re.M)[1]),
        "apache-poll.conf ProxyPass timeout=":
            seconds(re.search(r'^ProxyPass .* timeout=(\d+)', conf("apache-poll.conf"), re.M)[1]),
        # not set there: mod_fcgid's default FcgidIOTimeout
        "apache-poll-fcgid.conf FcgidIOTimeout (default)":
            seconds((re.search(r"^\s*FcgidIOTimeout (\d+)", conf("apache-poll-fcgid.conf"), re.M)
                     or [None, "40"])[1]),
    }
    for what, limit in limits.items():
        t.ok(max_wait < limit, f"max-wait ({max_wait:g} s) is below {what} ({limit:g} s)")
    t.ok(not re.search(r"^\s*(read-timeout|\"read-timeout\")", conf("lighttpd-poll.conf"), re.M),
         "lighttpd-poll.conf sets no read-timeout (lighttpd waits as long as it takes)")
t.done()
