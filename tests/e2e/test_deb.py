"""The Debian package (debian/, `make deb`): built with dpkg-buildpackage
(or taken from build/deb/ when it is newer than every file of the tree
but tests/ and bench/),
its contents, conffiles and maintainer scripts read with dpkg-deb, lintian
(errors and warnings fail, informational tags are shown), then unpacked
with dpkg-deb -x into a temp directory, not installed: the programs there
answer --help and --version and accept their packaged /etc/fastpush
configurations with -n; each unit's ExecStart programs and -f files are in
the package and the units pass systemd-analyze verify (with their /usr/bin
paths pointed into the unpacked tree); the man pages render (man -l); the
logrotate entry rotates a file (pointed at a temp directory).  Last, the
unpacked broker and fastpush-poll run from the packaged configurations
with only endpoints, the socket and the store moved to a temp directory:
a publish with the unpacked CLI comes back in a poll and in a long-poll,
and from the store after the broker restarts.

dpkg-buildpackage, debhelper and help2man are required: without them this
fails (FP_ALLOW_SKIP does not change that).  FP_DEB_REBUILD=1 builds even
when build/deb/ is fresh."""
import glob
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time

from fcgiclient import FcgiConn, request
from harness import Env, Tap, free_port, require_tool

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
DEB_DIR = os.path.join(ROOT, "build", "deb")
PROGS = ["fastpush-broker", "fastpush", "fastpush-sse", "fastpush-poll", "fastpush-ws"]
# program -> its configuration in /etc/fastpush (the name its unit reads)
CONFS = {"fastpush-broker": "broker.conf", "fastpush-sse": "sse.conf",
         "fastpush-poll": "poll.conf", "fastpush-ws": "ws.conf"}
UNITS = [f"{p}.service" for p in CONFS]
# lintian warnings accepted (tag: why); none so far
LINTIAN_OK = {}

t = Tap()


def run(argv, **kw):
    return subprocess.run(argv, capture_output=True, text=True, **kw)


def tree_mtime():
    """Newest modification time of the files git tracks or would add,
    but for tests/ and bench/ (not in the package)."""
    r = run(["git", "-C", ROOT, "ls-files", "--cached", "--others", "--exclude-standard"])
    newest = 0.0
    for f in r.stdout.splitlines():
        if f.startswith(("tests/", "bench/")):
            continue
        try:
            newest = max(newest, os.stat(os.path.join(ROOT, f)).st_mtime)
        except FileNotFoundError:
            pass
    return newest


def find_deb():
    debs = [d for d in glob.glob(os.path.join(DEB_DIR, "fastpush_*.deb"))]
    return max(debs, key=os.path.getmtime) if debs else None


def git_status():
    return run(["git", "-C", ROOT, "status", "--porcelain"]).stdout


def build():
    """The .deb to test, or None."""
    deb = find_deb()
    if deb and os.environ.get("FP_DEB_REBUILD", "") in ("", "0") and \
            os.path.getmtime(deb) > tree_mtime():
        t.note(f"using {os.path.relpath(deb, ROOT)}: newer than every file of the tree")
        return deb
    before = git_status()
    env = dict(os.environ, DEB_BUILD_OPTIONS="nocheck parallel=2")
    start = time.monotonic()
    r = subprocess.run(["make", "-C", ROOT, "--no-print-directory", "deb"], env=env,
                       capture_output=True, text=True, timeout=600)
    out = r.stdout + r.stderr
    if not t.ok(r.returncode == 0, f"make deb builds the package "
                f"({time.monotonic() - start:.0f} s)", out[-4000:]):
        return None
    t.eq(git_status(), before, "make deb leaves git status as it was")
    deb = find_deb()
    t.ok(deb is not None, "make deb puts fastpush_*.deb in build/deb/", out[-2000:])
    return deb


def contents(deb):
    """{path without ./: (mode string, size)} of the package's files."""
    r = run(["dpkg-deb", "-c", deb])
    files = {}
    for line in r.stdout.splitlines():
        f = line.split(None, 5)
        name = f[5].split(" -> ")[0]
        files[name[2:] if name.startswith("./") else name] = f[0]
    return files


def check_contents(deb):
    files = contents(deb)
    want = [f"usr/bin/{p}" for p in PROGS]
    missing = [w for w in want if w not in files]
    t.ok(not missing and all(files[w].startswith("-rwxr-xr-x") for w in want),
         "the five programs are in /usr/bin, mode 755", f"missing: {missing}")
    want = [f"lib/systemd/system/{u}" for u in UNITS]
    t.ok(all(w in files for w in want), "the four systemd units are in /lib/systemd/system",
         "\n".join(sorted(files)))
    want = [f"usr/share/man/man1/{p}.1.gz" for p in PROGS]
    t.ok(all(w in files for w in want), "a man page for each program",
         "\n".join(f for f in sorted(files) if "man" in f))
    t.ok("etc/logrotate.d/fastpush" in files, "the logrotate entry is /etc/logrotate.d/fastpush")
    t.ok("usr/lib/tmpfiles.d/fastpush.conf" in files,
         "/run/fastpush comes from usr/lib/tmpfiles.d/fastpush.conf")
    want = [f"etc/fastpush/{c}" for c in CONFS.values()]
    t.ok(all(w in files for w in want), "the configurations are in /etc/fastpush")
    want = ["usr/share/fastpush/conf/lighttpd-sse.conf", "usr/share/fastpush/conf/apache-poll.conf",
            "usr/share/fastpush/conf/nginx-ws.conf", "usr/share/fastpush/js/fastpush.js",
            "usr/share/fastpush/js/fastpush.mjs", "usr/share/doc/fastpush/copyright",
            "usr/share/doc/fastpush/deploy.md.gz"]
    t.ok(all(w in files for w in want),
         "web server snippets, the JS client and the guides are in /usr/share",
         f"missing: {[w for w in want if w not in files]}")
    stray = [f for f in files if f.startswith("usr/local") or f.endswith(".service")
             and not f.startswith("lib/systemd/system/")]
    t.ok(not stray, "nothing in /usr/local, no unit outside /lib/systemd/system", stray)

    info = run(["dpkg-deb", "-I", deb, "conffiles"]).stdout.split()
    want = sorted([f"/etc/fastpush/{c}" for c in CONFS.values()] + ["/etc/logrotate.d/fastpush"])
    t.eq(sorted(info), want, "conffiles: the four configurations and the logrotate entry")
    fields = run(["dpkg-deb", "-f", deb, "Package", "Version", "Depends"]).stdout
    t.ok(re.search(r"^Depends:.*\badduser\b.*\blibczmq4\b", fields, re.M) or
         re.search(r"^Depends:.*\blibczmq4\b.*\badduser\b", fields, re.M),
         "Depends: adduser and the shared libraries (shlibs)", fields)
    version = re.search(r"^Version: (\S+)", fields, re.M).group(1)

    ctl = tempfile.mkdtemp(prefix="fp-deb-ctl-")
    try:
        run(["dpkg-deb", "-e", deb, ctl])
        post = open(os.path.join(ctl, "postinst")).read()
        t.ok("adduser --system" in post and "/var/lib/fastpush" in post,
             "postinst adds the system user fastpush and /var/lib/fastpush")
        t.ok(all(f"deb-systemd-helper" in post and u in post for u in UNITS),
             "postinst enables the four units (dh_installsystemd)")
    finally:
        shutil.rmtree(ctl, ignore_errors=True)
    return version


def check_lintian(deb):
    if not require_tool(t, "lintian", desc="lintian on the package"):
        return
    r = run(["lintian", "--info", "--display-info", deb], timeout=300)
    tags = [line for line in r.stdout.splitlines() if re.match(r"^[EWIPX]: ", line)]
    errors = [x for x in tags if x.startswith("E: ")]
    warnings = [x for x in tags if x.startswith("W: ") and
                x.split()[2].rstrip(":") not in LINTIAN_OK]
    t.ok(not errors, "lintian: no errors", "\n".join(errors) + r.stderr[-1000:])
    t.ok(not warnings, "lintian: no warnings", "\n".join(warnings))
    others = sorted({re.sub(r" \[.*", "", x) for x in tags if x[0] in "IPX"})
    if others:
        t.note("lintian, informational:\n" + "\n".join(others))


def check_paths(x):
    """The packaged configurations, snippets and units name /usr/bin."""
    stale = []
    for top in ("etc", "lib/systemd/system", "usr/share/fastpush/conf"):
        for d, _, names in os.walk(os.path.join(x, top)):
            for n in names:
                path = os.path.join(d, n)
                if "/usr/local/" in open(path, errors="replace").read():
                    stale.append(os.path.relpath(path, x))
    t.ok(not stale, "no packaged configuration, snippet or unit names /usr/local", stale)


def check_programs(x, version):
    bad = []
    for p in PROGS:
        exe = os.path.join(x, "usr", "bin", p)
        v = run([exe, "--version"])
        h = run([exe, "--help"])
        if v.returncode or v.stdout.strip() != f"{p} {version}":
            bad.append(f"{p} --version: {v.returncode} {v.stdout!r} {v.stderr!r}")
        if h.returncode or "usage:" not in h.stdout:
            bad.append(f"{p} --help: {h.returncode} {h.stdout[:200]!r} {h.stderr!r}")
    t.ok(not bad, f"the unpacked programs answer --help and --version ({version})",
         "\n".join(bad))
    for p, c in CONFS.items():
        r = run([os.path.join(x, "usr", "bin", p), "-n", "-f", os.path.join(x, "etc", "fastpush", c)])
        t.ok(r.returncode == 0 and "configuration OK" in r.stdout + r.stderr,
             f"{p} -n accepts the packaged /etc/fastpush/{c}", r.stdout + r.stderr)


def check_units(x, tmp):
    verify = shutil.which("systemd-analyze")
    have_verify = require_tool(t, "systemd-analyze", verify, "systemd-analyze verify")
    for u in UNITS:
        text = open(os.path.join(x, "lib", "systemd", "system", u)).read()
        execs = re.findall(r"^Exec\w+=(.*)$", text, re.M)
        bad = []
        for cmd in execs:
            argv = cmd.split()
            if not argv[0].startswith("/usr/bin/") or \
                    not os.access(os.path.join(x, argv[0][1:]), os.X_OK):
                bad.append(f"{cmd}: {argv[0]} not in the package")
            for i, a in enumerate(argv[:-1]):
                if a == "-f" and not os.path.isfile(os.path.join(x, argv[i + 1][1:])):
                    bad.append(f"{cmd}: {argv[i + 1]} not in the package")
        user = re.search(r"^User=(\S+)", text, re.M)
        t.ok(execs and not bad and user and user.group(1) == "fastpush",
             f"{u}: its programs and -f files are in the package, User=fastpush",
             "\n".join(bad) or text)
        if have_verify:
            path = os.path.join(tmp, u)
            with open(path, "w") as f:
                f.write(text.replace("=/usr/bin/", f"={x}/usr/bin/"))
            r = run([verify, "verify", "--man=no", path])
            out = (r.stdout + r.stderr).strip()
            t.ok(r.returncode == 0 and not out, f"systemd-analyze verify: {u} is clean", out)


def check_man(x):
    if not require_tool(t, "man", desc="man -l on the man pages"):
        return
    bad = []
    for p in PROGS:
        page = os.path.join(x, "usr", "share", "man", "man1", f"{p}.1.gz")
        r = run(["man", "--warnings", "-l", page], env=dict(os.environ, MANWIDTH="80"))
        text = re.sub(".\b", "", r.stdout)     # bold and underline by overstrike
        if r.returncode or not re.search(rf"^NAME\n\s+{p}\s+-\s+\S", text, re.M) or \
                "SEE ALSO" not in text or "--help" not in text or r.stderr.strip():
            bad.append(f"{p}: status {r.returncode}\n{text[:600]}\n{r.stderr}")
    t.ok(not bad, "man -l renders each page: NAME, the options, SEE ALSO, no warnings",
         "\n".join(bad))


def check_logrotate(x, tmp):
    # /usr/sbin: not on every user's PATH
    logrotate = shutil.which("logrotate") or "/usr/sbin/logrotate"
    if not require_tool(t, "logrotate", logrotate, "logrotate on the packaged entry"):
        return
    logs = os.path.join(tmp, "log")
    os.makedirs(logs)
    conf = os.path.join(tmp, "logrotate.conf")
    with open(conf, "w") as f:
        f.write(open(os.path.join(x, "etc", "logrotate.d", "fastpush")).read()
                .replace("/var/log/fastpush/", logs + "/"))
    log = os.path.join(logs, "broker.log")
    with open(log, "w") as f:
        f.write("a line\n")
    r = run([logrotate, "-f", "-s", os.path.join(tmp, "logrotate.state"), conf])
    t.ok(r.returncode == 0 and os.path.getsize(log) == 0 and
         open(os.path.join(logs, "broker.log.1")).read() == "a line\n",
         "logrotate: the entry rotates /var/log/fastpush/*.log in place (copytruncate)",
         r.stdout + r.stderr + str(os.listdir(logs)))


def adjust(text, subs, name):
    """The packaged configuration with these directives' values replaced
    (each must be in it, uncommented)."""
    for k, v in subs.items():
        text, n = re.subn(rf"^{re.escape(k)}\s+\S+", f"{k} {v}", text, flags=re.M)
        t.ok(n == 1, f"{name} has `{k}`, moved to {v}")
    return text


def poll(sock, query, timeout=5.0):
    c = FcgiConn(sock)
    c.send(request("GET", "/push/poll?" + query))
    status, _, body, _ = c.response(timeout)
    c.close()
    return status, json.loads(body) if status == 200 else body


def check_round_trip(x):
    etc = os.path.join(x, "etc", "fastpush")
    with Env(t) as env:
        ports = [free_port() for _ in range(3)]
        eps = {k: f"tcp://127.0.0.1:{p}" for k, p in zip(("ingest", "control", "fanout"), ports)}
        bconf = env.path("broker.conf")
        with open(bconf, "w") as f:
            f.write(adjust(open(os.path.join(etc, "broker.conf")).read(),
                           dict(eps, store=env.path("store")), "broker.conf"))
        sock = env.path("poll.sock")
        pconf = env.path("poll.conf")
        with open(pconf, "w") as f:
            f.write(adjust(open(os.path.join(etc, "poll.conf")).read(),
                           {"listen": sock, "control": eps["control"], "fanout": eps["fanout"]},
                           "poll.conf"))
        bin_ = os.path.join(x, "usr", "bin")
        broker = env.start("broker", [os.path.join(bin_, "fastpush-broker"), "-f", bconf],
                           ready_fd=True)
        env.start("poll", [os.path.join(bin_, "fastpush-poll"), "-f", pconf], ready_fd=True)
        cli = [os.path.join(bin_, "fastpush"), "-f", bconf]

        r = run(cli + ["health"], timeout=10)
        t.ok(r.returncode == 0, "the unpacked CLI: the unpacked broker is ready", r.stdout + r.stderr)
        r = run(cli + ["publish", "deb", '{"n":1}'], timeout=10)
        t.ok(r.returncode == 0 and re.match(r"^\S+-\d+$", r.stdout.strip()),
             "fastpush publish: the broker acknowledges", r.stdout + r.stderr)
        status, ans = poll(sock, "channel=deb&since=earliest")
        got = [e["data"] for e in ans["events"]] if status == 200 else ans
        t.eq(got, [{"n": 1}], "fastpush-poll answers the poll with the published event")

        c = FcgiConn(sock)
        c.send(request("GET", f"/push/poll?channel=deb&since={ans['cursor']}&wait=10"))
        time.sleep(0.3)
        run(cli + ["publish", "deb", '{"n":2}'], timeout=10)
        status, _, body, _ = c.response(8.0)
        c.close()
        got = [e["data"] for e in json.loads(body)["events"]] if status == 200 else body
        t.eq(got, [{"n": 2}], "a waiting long-poll gets the next publish")

        broker.stop(signal.SIGTERM)
        broker.start()
        t.ok(os.path.isdir(env.path("store")), "the broker's store is where broker.conf says")
        deadline = time.monotonic() + 5
        while True:
            status, ans = poll(sock, "channel=deb&since=earliest")
            got = [e["data"] for e in ans["events"]] if status == 200 else ans
            if got == [{"n": 1}, {"n": 2}] or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        t.eq(got, [{"n": 1}, {"n": 2}], "after a broker restart both events come from the store")


def main():
    tools = {"dpkg-buildpackage": "dpkg-dev", "dh": "debhelper", "help2man": "help2man",
             "dpkg-deb": "dpkg"}
    missing = [f"{k} ({v})" for k, v in tools.items() if not shutil.which(k)]
    if not t.ok(not missing, "dpkg-buildpackage, debhelper and help2man are installed",
                f"missing: {', '.join(missing)}; `make deps` installs them"):
        return
    deb = build()
    if not deb:
        return
    version = check_contents(deb)
    check_lintian(deb)
    tmp = tempfile.mkdtemp(prefix="fp-deb-")
    try:
        x = os.path.join(tmp, "root")
        r = run(["dpkg-deb", "-x", deb, x])
        if not t.ok(r.returncode == 0, "dpkg-deb -x unpacks the package", r.stderr):
            return
        check_paths(x)
        check_programs(x, version)
        check_units(x, tmp)
        check_man(x)
        check_logrotate(x, tmp)
        check_round_trip(x)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


main()
t.done()
