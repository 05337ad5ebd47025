#!/usr/bin/env python3
"""Run the end-to-end tests: every tests/e2e/test_*.py (or those named on
the command line) in its own process, with FP_BIN pointing at the programs.
Each test prints TAP; this prints it through and ends with the totals:

    N passed, N failed

(a TAP skip counts as passed; the per-file lines say how many were skips).

A test file that crashes, times out or prints no plan counts as a failure.

Outside tools a test needs (chromium, lighttpd, node and node-ws, nginx,
apache2, php, systemd-analyze) must be installed: a missing one is a
failure, a `not ok` line naming it (harness.require_tool), so that a test
cannot pass without checking anything.  Environment:

    FP_ALLOW_SKIP=1   a missing tool is a TAP skip instead
                      (`ok N - ... # SKIP chromium missing`); for a
                      machine that lacks some tools on purpose, never CI
    FP_CHROMIUM=PATH  the Chromium binary to run (default: chromium,
                      chromium-browser or google-chrome on PATH)
    FP_BIN            the programs' directory (set from --bin)
"""
import argparse
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def run_file(path, env, timeout):
    start = time.time()
    try:
        proc = subprocess.run([sys.executable, path], env=env, timeout=timeout,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              stdin=subprocess.DEVNULL)
        out, rc, timed_out = proc.stdout.decode(errors="replace"), proc.returncode, False
    except subprocess.TimeoutExpired as e:
        out, rc, timed_out = (e.stdout or b"").decode(errors="replace"), -1, True
    passed = failed = skipped = 0
    planned = False
    for line in out.splitlines():
        if line.startswith("ok "):
            passed += 1
            skipped += " # SKIP " in line
        elif line.startswith("not ok "):
            failed += 1
        elif line.startswith("1.."):
            planned = True
    sys.stdout.write(out)
    name = os.path.basename(path)
    if timed_out:
        print(f"not ok - {name}: timed out after {timeout} s")
        failed += 1
    elif rc != 0 and failed == 0:
        print(f"not ok - {name}: exited with status {rc}")
        failed += 1
    elif not planned:
        print(f"not ok - {name}: printed no TAP plan")
        failed += 1
    skips = f" ({skipped} of them skipped: FP_ALLOW_SKIP)" if skipped else ""
    print(f"# {name}: {passed} passed{skips}, {failed} failed in {time.time() - start:.1f} s")
    sys.stdout.flush()
    return passed, failed, skipped


def test_env(bin_dir, test_dir):
    """The environment of a test file: FP_BIN, the test modules on the path."""
    env = dict(os.environ)
    env["FP_BIN"] = os.path.abspath(bin_dir)
    env["PYTHONPATH"] = test_dir + os.pathsep + env.get("PYTHONPATH", "")
    env["PYTHONUNBUFFERED"] = "1"
    return env


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bin", default="build/bin", help="directory of the programs")
    ap.add_argument("--timeout", type=int, default=600, help="seconds per test file")
    ap.add_argument("--dir", default=os.path.join(HERE, "e2e"), help="test directory")
    ap.add_argument("names", nargs="*", help="test files or name fragments")
    args = ap.parse_args()
    files = sorted(f for f in os.listdir(args.dir)
                   if f.startswith("test_") and f.endswith(".py"))
    if args.names:
        files = [f for f in files if any(n in f for n in args.names)]
    env = test_env(args.bin, args.dir)
    total_p = total_f = total_s = 0
    for f in files:
        p, fl, sk = run_file(os.path.join(args.dir, f), env, args.timeout)
        total_p += p
        total_f += fl
        total_s += sk
    if total_s:
        print(f"# {total_s} of the passed checks were skipped (FP_ALLOW_SKIP=1)")
    print(f"{total_p} passed, {total_f} failed")
    return 1 if total_f or not files else 0


if __name__ == "__main__":
    sys.exit(main())
