"""The shipped configuration of fastpush-sse: conf/fastpush-sse.conf names
every directive and loads as it is; the systemd unit passes
systemd-analyze verify.  (The web server files in conf/ are run by the
other test_sse_* files, rendered by servers.py.)"""
import os
import re
import shutil
import subprocess

from harness import BIN, Env, Tap
from servers import CONF, SSE_BIN, render, write

t = Tap()
sse = os.path.join(BIN, "fastpush-sse")
conf = os.path.join(CONF, "fastpush-sse.conf")

with Env(t) as env:
    help_text = subprocess.run([sse, "--help"], capture_output=True, text=True).stdout
    directives = re.findall(r"^  --([a-z-]+) ", help_text.split("Directives")[1], re.M)
    text = open(conf).read()
    missing = [d for d in directives if not re.search(rf"^#?{d}( |$)", text, re.M)]
    t.ok(directives and not missing, f"conf/fastpush-sse.conf has all {len(directives)} directives",
         f"missing: {missing}")
    r = subprocess.run([sse, "-n", "-f", conf], capture_output=True, text=True)
    t.ok(r.returncode == 0, "fastpush-sse -n accepts conf/fastpush-sse.conf as shipped", r.stderr)
    r = subprocess.run([sse, "-n", "-f", conf, "--socket-mode", "0680"], capture_output=True, text=True)
    t.ok(r.returncode != 0 and "octal" in r.stderr, "a mode that is not octal is refused", r.stderr)

    unit = render("fastpush-sse.service", {SSE_BIN: sse})
    verify = shutil.which("systemd-analyze")
    if verify:
        path = write(env.path("fastpush-sse.service"), unit)
        r = subprocess.run([verify, "verify", "--man=no", path], capture_output=True, text=True)
        out = (r.stdout + r.stderr).strip()
        t.ok(r.returncode == 0 and not out, "systemd-analyze verify: the unit is clean", out)
    else:
        t.ok(True, "# SKIP systemd-analyze not installed")
    limit = re.search(r"^LimitNOFILE=(\d+)", unit, re.M)
    streams = re.search(r"^max-streams (\d+)", text, re.M)
    t.ok(limit and streams and int(limit.group(1)) > int(streams.group(1)),
         "the unit's LimitNOFILE is above max-streams")
t.done()
