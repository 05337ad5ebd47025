"""Checks of a responder's shipped files (test_sse_conf.py,
test_poll_conf.py): conf/NAME.conf names every directive of the program's
--help and loads as it is; the systemd unit passes systemd-analyze verify
and its LimitNOFILE is above the directive that bounds descriptors."""
import os
import re
import shutil
import subprocess

from harness import BIN, require_tool
from servers import CONF, render, write


def check_responder(t, env, prog, conf_name, unit_name, bin_token, fd_directive):
    """Returns the text of conf/conf_name."""
    exe = os.path.join(BIN, prog)
    conf = os.path.join(CONF, conf_name)
    help_text = subprocess.run([exe, "--help"], capture_output=True, text=True).stdout
    directives = re.findall(r"^  --([a-z-]+) ", help_text.split("Directives")[1], re.M)
    text = open(conf).read()
    missing = [d for d in directives if not re.search(rf"^#?{d}( |$)", text, re.M)]
    t.ok(directives and not missing, f"conf/{conf_name} has all {len(directives)} directives",
         f"missing: {missing}")
    r = subprocess.run([exe, "-n", "-f", conf], capture_output=True, text=True)
    t.ok(r.returncode == 0, f"{prog} -n accepts conf/{conf_name} as shipped", r.stderr)
    r = subprocess.run([exe, "-n", "-f", conf, "--socket-mode", "0680"], capture_output=True,
                       text=True)
    t.ok(r.returncode != 0 and "octal" in r.stderr, "a mode that is not octal is refused", r.stderr)
    missing_acl = env.path("no-such.acl")
    r = subprocess.run([exe, "-n", "-f", conf, "--auth", "on", "--acl", missing_acl],
                       capture_output=True, text=True)
    t.ok(r.returncode != 0 and missing_acl in r.stderr and "configuration OK" not in r.stdout,
         "-n loads the files the directives name: a missing ACL file is refused", r.stderr)

    unit = render(unit_name, {bin_token: exe})
    verify = shutil.which("systemd-analyze")
    if require_tool(t, "systemd-analyze", verify, f"systemd-analyze verify: {unit_name}"):
        path = write(env.path(unit_name), unit)
        r = subprocess.run([verify, "verify", "--man=no", path], capture_output=True, text=True)
        out = (r.stdout + r.stderr).strip()
        t.ok(r.returncode == 0 and not out, f"systemd-analyze verify: {unit_name} is clean", out)
    limit = re.search(r"^LimitNOFILE=(\d+)", unit, re.M)
    bound = re.search(rf"^{fd_directive} (\d+)", text, re.M)
    t.ok(limit and bound and int(limit.group(1)) > int(bound.group(1)),
         f"the unit's LimitNOFILE is above {fd_directive}")
    return text
