"""The committed browser client is current: clients/js/build.mjs, run into
a temp file, gives clients/js/fastpush.js byte for byte (else: `make js`
and commit), and every module in clients/js/src passes `node --check`."""
import difflib
import os
import subprocess
import tempfile

from harness import Tap

NODE = "/usr/bin/node"
JS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../clients/js")

t = Tap()


def run(*argv):
    p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60)
    return p.returncode, p.stdout.decode(errors="replace")


with tempfile.TemporaryDirectory() as tmp:
    out = os.path.join(tmp, "fastpush.js")
    rc, log = run(NODE, os.path.join(JS, "build.mjs"), out)
    if t.ok(rc == 0 and os.path.exists(out), "build.mjs runs", log):
        with open(out, encoding="utf-8") as f:
            built = f.read()
        with open(os.path.join(JS, "fastpush.js"), encoding="utf-8") as f:
            committed = f.read()
        diff = "".join(difflib.unified_diff(committed.splitlines(True), built.splitlines(True),
                                            "fastpush.js (committed)", "fastpush.js (built)"))
        t.ok(built == committed, "clients/js/fastpush.js is what src/ builds (else: make js)",
             diff)
for name in sorted(os.listdir(os.path.join(JS, "src"))):
    if name.endswith(".js"):
        rc, log = run(NODE, "--check", os.path.join(JS, "src", name))
        t.ok(rc == 0, f"node --check src/{name}", log)
t.done()
