#!/usr/bin/env python3
"""make bench: run the benchmark suites and write bench/results/RESULTS.md.

Each suite is a module bench/suite_*.py with

    TITLE = "..."
    def run(ctx) -> str      # returns a Markdown section

ctx gives the programs' directory (ctx.bin), a scratch directory
(ctx.tmp), ctx.quick (True for `make bench`, False for `make bench-full`)
and ctx.log(msg) for progress output.  Suites run in name order; a suite
that fails is reported in RESULTS.md and the others still run.
"""
import argparse
import importlib.util
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)        # suites import systems and benchlib


class Ctx:
    def __init__(self, bin_dir, quick, out_dir):
        self.bin = os.path.abspath(bin_dir)
        self.quick = quick
        self.tmp = tempfile.mkdtemp(prefix="fp-bench-")
        self.out_dir = out_dir                  # RESULTS.md and its plots
        self.raw = os.path.join(out_dir, "raw") # loadgen JSON, git-ignored

    def log(self, msg):
        print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def machine():
    cpu = "?"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{os.cpu_count()} cores ({cpu}), {mem:.0f} GiB, {platform.platform()}"


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bin", default="build/bin")
    ap.add_argument("--full", action="store_true", help="the longer set")
    ap.add_argument("--out", default=os.path.join(HERE, "results", "RESULTS.md"))
    ap.add_argument("suites", nargs="*", help="suite names (default: all)")
    args = ap.parse_args()
    names = sorted(f[6:-3] for f in os.listdir(HERE)
                   if f.startswith("suite_") and f.endswith(".py"))
    if args.suites:
        names = [n for n in names if n in args.suites]
    ctx = Ctx(args.bin, not args.full, os.path.dirname(os.path.abspath(args.out)))
    sections = []
    started = time.time()
    for name in names:
        spec = importlib.util.spec_from_file_location(f"suite_{name}",
                                                      os.path.join(HERE, f"suite_{name}.py"))
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        ctx.log(f"suite {name}: {mod.TITLE}")
        t0 = time.time()
        try:
            md = mod.run(ctx)
        except Exception:
            md = f"## {mod.TITLE}\n\nThis suite failed:\n\n```\n{traceback.format_exc()}```\n"
            ctx.log(f"suite {name} FAILED")
        sections.append(md.rstrip() + f"\n\n_Suite time: {time.time() - t0:.0f} s._\n")
    rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                         text=True, cwd=HERE).stdout.strip() or "?"
    head = (f"# fastpush benchmark results\n\n"
            f"- Command: `make {'bench-full' if args.full else 'bench'}`"
            f" (`bench/run.py{' --full' if args.full else ''}`)\n"
            f"- Date: {time.strftime('%Y-%m-%d %H:%M %Z')}, commit {rev}\n"
            f"- Machine: {machine()}\n"
            f"- Everything ran on this one machine over loopback; the load clients share"
            f" its cores with the servers. Compare ratios measured in the same run,"
            f" not absolute numbers across runs.\n")
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    if args.suites and os.path.exists(args.out):
        out_path = os.path.join(os.path.dirname(args.out), "partial-" + "-".join(names) + ".md")
    else:
        out_path = args.out
    with open(out_path, "w") as f:
        f.write(head + "\n" + "\n".join(sections))
    ctx.log(f"wrote {out_path} in {time.time() - started:.0f} s")
    shutil.rmtree(ctx.tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
