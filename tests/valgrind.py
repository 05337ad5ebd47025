#!/usr/bin/env python3
"""make check-valgrind: the end-to-end tests with every fastpush program
under valgrind memcheck, then every error it found.

    tests/valgrind.py --build build-vg [--out DIR] [--timeout S] [NAME...]

The programs of BUILD/bin are run through wrappers in OUT/bin (FP_BIN
points there): each is a shell script that execs

    valgrind --tool=memcheck --error-exitcode=99 --leak-check=full
             --show-leak-kinds=definite --errors-for-leak-kinds=definite
             --track-fds=yes --num-callers=30 --vgdb=no
             --suppressions=tests/valgrind.supp [--vg-opts]
             --log-file=OUT/logs/TEST/PROG.%p.log BUILD/bin/PROG

(--vgdb=no: no FIFOs in /tmp, which a killed process would leave) with
absolute paths only and nothing taken from the environment, so that
it works where a web server starts it (lighttpd's bin-path, mod_fcgid)
with an environment of its own and as another user.  The test that runs
is named in OUT/current (this script writes it before each test file; the
wrapper reads it), so each log lands in the directory of its test.  The
other files of BUILD/bin (loadgen, fp-unit...) are symlinked as they are:
only our five programs run under valgrind, never a web server, NATS or
Chromium.  FP_SLOW (default 4) multiplies the launcher's waits
(tools/fpstack/proc.py).

At the end every log is read and each error is printed once, with the
programs and tests that hit it: invalid reads and writes, uses of
uninitialised values, bad frees, definite leaks, a crash, and a
descriptor our code opened that is still open when the program exits
(--track-fds: the programs close every one on the way out, so one left is
a leak; inherited ones, such as the log, do not count).  A program killed
with SIGKILL (a crash test, or one that did not stop in time) writes no
summary: the count of such logs is printed.

Test files that fail are run once more without valgrind (the same
programs, FP_SLOW unset).  One that passes then and left no memcheck
error failed only because valgrind is slow: it is listed, and does not
fail this target (the normal `make e2e` judges the tests; this target
judges memory).  Exit status 1 when memcheck found an error or a test
file fails without valgrind too.

Not run here, as they start none of our programs from FP_BIN: test_deb
(the programs of the built package, with -n) and test_js_build.
"""
import argparse
import collections
import os
import re
import shutil
import stat
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
import run  # noqa: E402  (tests/run.py: run_file, test_env)

PROGRAMS = ("fastpush-broker", "fastpush", "fastpush-sse", "fastpush-poll", "fastpush-ws")
SKIP = ("test_deb.py", "test_js_build.py")
# the most important first: a run cut short has covered these
FIRST = ("broker", "store", "sse_lighttpd", "poll_lighttpd", "ws_protocol", "auth_", "health",
         "hub")
VALGRIND = shutil.which("valgrind") or "/usr/bin/valgrind"
EXIT = 99
SUPP = os.path.join(HERE, "valgrind.supp")

WRAPPER = """#!/bin/sh
# {prog} under valgrind memcheck, for make check-valgrind (tests/valgrind.py);
# absolute paths only: lighttpd and mod_fcgid start it with their own
# environment.  The running test is named in {current}.
t=unknown
[ -r {current} ] && read t < {current}
[ -d {logs}/"$t" ] || t=unknown         # run by hand: valgrind needs the directory
exec {valgrind} --tool=memcheck --error-exitcode={exit} --leak-check=full \\
    --show-leak-kinds=definite --errors-for-leak-kinds=definite --track-fds=yes \\
    --num-callers=30 --vgdb=no --suppressions={supp} {extra} \\
    --log-file={logs}/"$t"/{prog}.%p.log {real} "$@"
"""


def make_wrappers(build_bin, out, extra):
    """OUT/bin: a wrapper per program, a symlink for every other file."""
    bindir = os.path.join(out, "bin")
    shutil.rmtree(bindir, ignore_errors=True)
    os.makedirs(bindir)
    current = os.path.join(out, "current")
    for f in sorted(os.listdir(build_bin)):
        real = os.path.join(build_bin, f)
        path = os.path.join(bindir, f)
        if f not in PROGRAMS:
            os.symlink(real, path)
            continue
        with open(path, "w") as w:
            w.write(WRAPPER.format(prog=f, current=current, valgrind=VALGRIND, exit=EXIT,
                                   supp=SUPP, extra=extra, logs=os.path.join(out, "logs"),
                                   real=real))
        os.chmod(path, 0o755)
    return bindir


def order(files):
    first = [f for n in FIRST for f in files if n in f]
    seen = set()
    out = []
    for f in first + files:
        if f not in seen:
            seen.add(f)
            out.append(f)
    return out


# ------------------------------------------------------------ logs

LINE = re.compile(r"^==(\d+)== ?(.*)$")
ERROR_TITLE = re.compile(
    r"^(Invalid |Conditional jump|Use of uninitialised|Syscall param|Mismatched |"
    r"Source and destination overlap|Argument .* fishy|.* definitely lost in loss record|"
    r"Process terminating with default action of signal \d+ \(SIG(SEGV|BUS|ABRT|FPE|ILL)\))")
FD_TITLE = re.compile(r"^Open (file descriptor|AF_\w+ socket) (\d+)")
FRAME = re.compile(r"^\s+(at|by) 0x[0-9A-F]+: (.*)$")


def blocks(text):
    """(pid, [lines]) per blank-separated block of a valgrind log."""
    cur, pid = [], None
    for raw in text.splitlines():
        m = LINE.match(raw)
        if not m:
            continue
        pid, line = m.group(1), m.group(2)
        if line.strip():
            cur.append(line)
        elif cur:
            yield pid, cur
            cur = []
    if cur:
        yield pid, cur


def read_log(path):
    """{"prog", "errors": [(title, frames, other lines)], "summary": bool}"""
    try:
        with open(path, errors="replace") as f:
            text = f.read()
    except OSError:
        text = ""
    m = re.search(r"^==\d+== Command: (\S+)", text, re.M)
    prog = os.path.basename(m.group(1)) if m else os.path.basename(path).split(".")[0]
    errors = []
    for _, lines in blocks(text):
        if lines[0].startswith("FILE DESCRIPTORS:"):
            lines = lines[1:]           # the first descriptor follows at once
            if not lines:
                continue
        title = lines[0]
        # the stack of the error, then maybe "Address ... alloc'd" and its stack
        first = []
        for x in lines[1:]:
            if not FRAME.match(x):
                break
            first.append(FRAME.match(x).group(2))
        if ERROR_TITLE.match(title) and first:
            errors.append((title, tuple(first), tuple(lines[1 + len(first):])))
        elif FD_TITLE.match(title) and ours(first):
            errors.append(("descriptor open at exit: " + title, tuple(first), ()))
    return {"prog": prog, "errors": errors, "summary": "ERROR SUMMARY:" in text}


SOURCES = {f for d in ("broker", "cli", "fcgi-sse", "fcgi-poll", "ws-bridge", "lib", "runtime")
           for f in os.listdir(os.path.join(ROOT, d)) if f.endswith(".c")}


def ours(frames):
    """The frames of a stack in our code (valgrind names the file.c:line)."""
    return [f for f in frames
            if (m := re.search(r"\(([\w-]+\.c):\d+\)$", f)) and m.group(1) in SOURCES]


def collect(logs):
    """Errors grouped by signature over OUT/logs/TEST/*.log, the number of
    logs and of those without a summary."""
    errs = collections.OrderedDict()
    nlogs = unfinished = 0
    for test in sorted(os.listdir(logs)) if os.path.isdir(logs) else []:
        d = os.path.join(logs, test)
        for f in sorted(os.listdir(d)) if os.path.isdir(d) else []:
            if not f.endswith(".log"):
                continue
            nlogs += 1
            r = read_log(os.path.join(d, f))
            unfinished += not r["summary"]
            for title, frames, extra in r["errors"]:
                key = (re.sub(r"\d+ bytes in \d+ blocks", "N bytes", title)
                       .split(" in loss record")[0], frames[:12])
                if title.startswith("descriptor"):
                    key = ("descriptor", frames[:12])
                e = errs.setdefault(key, {"title": title, "frames": frames, "extra": extra,
                                          "where": collections.Counter()})
                e["where"][(r["prog"], test)] += 1
    return errs, nlogs, unfinished


def report(errs, nlogs, unfinished):
    print(f"\n### valgrind: {nlogs} logs ({unfinished} without a summary: killed, "
          "or still running)")
    for e in errs.values():
        where = ", ".join(f"{p} in {t}" + (f" (x{n})" if n > 1 else "")
                          for (p, t), n in sorted(e["where"].items()))
        print(f"\nvalgrind: {e['title']}\n  seen: {where}")
        for fr in e["frames"][:16]:
            print(f"    {fr}")
        for x in e["extra"][:12]:
            print(f"  {x}")
    print(f"\n### valgrind: {len(errs)} distinct errors")
    return len(errs)


# ------------------------------------------------------------ main

def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default="build-vg", help="build tree of the programs")
    ap.add_argument("--out", help="wrappers and logs (default BUILD/valgrind)")
    ap.add_argument("--timeout", type=int, default=1800, help="seconds per test file")
    ap.add_argument("--slow", default=os.environ.get("FP_SLOW", "4"), help="FP_SLOW")
    ap.add_argument("--vg-opts", default=os.environ.get("VG_OPTS", ""),
                    help="more valgrind options, e.g. --track-origins=yes")
    ap.add_argument("--report-only", action="store_true", help="only read OUT/logs")
    ap.add_argument("names", nargs="*", help="test files or name fragments")
    args = ap.parse_args()
    build_bin = os.path.abspath(os.path.join(args.build, "bin"))
    out = os.path.abspath(args.out or os.path.join(args.build, "valgrind"))
    logs = os.path.join(out, "logs")
    tdir = os.path.join(HERE, "e2e")
    if args.report_only:
        return 1 if report(*collect(logs)) else 0

    files = sorted(f for f in os.listdir(tdir)
                   if f.startswith("test_") and f.endswith(".py") and f not in SKIP)
    if args.names:
        files = [f for f in files if any(n in f for n in args.names)]
    files = order(files)
    bindir = make_wrappers(build_bin, out, args.vg_opts)
    shutil.rmtree(logs, ignore_errors=True)
    os.makedirs(os.path.join(logs, "unknown"))
    # the programs may run as www-data (mod_fcgid, the responders' group)
    for d in (out, logs):
        os.chmod(d, 0o755)
    os.chmod(os.path.join(logs, "unknown"), 0o777 | stat.S_ISVTX)
    env = run.test_env(bindir, tdir)
    env["FP_SLOW"] = str(args.slow)
    failed = []
    t0 = time.time()
    for f in files:
        name = f[:-3]
        d = os.path.join(logs, name)
        os.makedirs(d)
        os.chmod(d, 0o777 | stat.S_ISVTX)
        with open(os.path.join(out, "current"), "w") as w:
            w.write(name + "\n")
        print(f"\n### {f} under valgrind", flush=True)
        p, fl, _ = run.run_file(os.path.join(tdir, f), env, args.timeout)
        if fl:
            failed.append(f)
    print(f"\n### valgrind run: {len(files)} test files in {time.time() - t0:.0f} s, "
          f"{len(failed)} with failures", flush=True)

    # failures again without valgrind: slowness, or a real failure?  (A
    # file whose programs memcheck faulted is one of the errors below.)
    found = collect(logs)
    faulted = {t for e in found[0].values() for (_, t) in e["where"]}
    slow_only, real = [], []
    plain = run.test_env(build_bin, tdir)
    for f in failed:
        if f[:-3] in faulted:
            continue
        print(f"\n### {f} again without valgrind", flush=True)
        _, fl, _ = run.run_file(os.path.join(tdir, f), plain, args.timeout)
        (real if fl else slow_only).append(f)

    nerr = report(*found)
    if slow_only:
        print("# failed only under valgrind (timing; passed without it): " + " ".join(slow_only))
    if real:
        print("# failed without valgrind too: " + " ".join(real))
    bad = sorted(f for f in failed if f[:-3] in faulted)
    if bad:
        print("# failed with memcheck errors: " + " ".join(bad))
    print(f"{len(files) - len(failed)} test files passed under valgrind, "
          f"{len(slow_only)} failed only under valgrind, {len(real)} failed, "
          f"{nerr} valgrind errors")
    return 1 if nerr or real else 0


if __name__ == "__main__":
    sys.exit(main())
