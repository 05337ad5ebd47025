#!/usr/bin/env python3
"""fastpush-poll's figures behind lighttpd, measured with loadgen:

  1. polls/s answered 304 (If-None-Match with the current cursor: loadgen
     sends the ETag of the previous answer; nothing is published);
  2. polls/s answering a batch of 10 events (a fixed cursor 10 events back,
     limit=10);
  3. memory per waiting long-poll: RSS of fastpush-poll and of lighttpd
     with N long-polls parked (wait=30) against none.

    python3 bench/poll_figures.py --bin build/bin [--conns 50] [--secs 5] [--parked 5000]

The system is bench/systems.py's "fastpush" (broker, fastpush-sse,
fastpush-poll on a unix socket, lighttpd with max-fds 16384), started in a
scratch directory and stopped at the end.  Prints one JSON object.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request

import zmq

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import systems  # noqa: E402


class Ctx:
    def __init__(self, bin_dir):
        self.bin = os.path.abspath(bin_dir)
        self.tmp = tempfile.mkdtemp(prefix="fp-pollfig-")

    def log(self, msg):
        print(msg, file=sys.stderr, flush=True)


def loadgen(ctx, sysm, url, conns, extra, label):
    out = os.path.join(ctx.tmp, f"{label}.json")
    argv = [os.path.join(ctx.bin, "loadgen"), "--url", url, "--conns", str(conns),
            "--quiet", "--json", out, "--label", label] + extra
    for pid in sysm.pids():
        argv += ["--pid", str(pid)]
    ctx.log("  " + " ".join(argv))
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL)
    with open(out) as f:
        return json.load(f)


def self_stats(port):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/push/stats") as r:
        return json.load(r)["self"]


def rss(r, when, name):
    return r["mem"][when]["by_name"].get(name, {}).get("rss_kb", 0)


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bin", default="build/bin")
    ap.add_argument("--conns", type=int, default=50, help="keep-alive pollers for 1 and 2")
    ap.add_argument("--secs", type=float, default=5, help="measurement window for 1 and 2")
    ap.add_argument("--parked", type=int, default=5000, help="long-polls for 3")
    args = ap.parse_args()
    ctx = Ctx(args.bin)
    sysm = systems.make("fastpush", ctx, args.parked)
    out = {}
    with sysm:
        port = sysm.ports[0]
        base = f"http://127.0.0.1:{port}/push/poll"
        s0 = self_stats(port)
        r = loadgen(ctx, sysm, base + "?channel=%c&since=%C", args.conns,
                    ["--mode", "poll", "--hold", "1", "--duration", str(args.secs)], "poll304")
        s1 = self_stats(port)
        out["304"] = {"polls_per_s": round(r["window"]["requests_per_s"]),
                      "p50_ms": r["handshake_or_request"]["p50_ms"],
                      "p99_ms": r["handshake_or_request"]["p99_ms"],
                      "share_304": round((s1["not_modified"] - s0["not_modified"]) /
                                         max(1, s1["requests"]["poll"] - s0["requests"]["poll"]), 3)}
        # ten events of about 200 bytes of data on the pollers' channel
        sock = zmq.Context.instance().socket(zmq.DEALER)
        sock.connect(sysm.ep["control"])
        ids = []
        for i in range(11):
            sock.send_multipart([b"PUBLISH", json.dumps(
                {"channel": "bench0", "data": {"i": i, "pad": "x" * 200}}).encode()])
            ids.append(json.loads(sock.recv_multipart()[1])["id"])
        sock.close(0)
        r = loadgen(ctx, sysm, base + f"?channel=bench0&since={ids[0]}&limit=10", args.conns,
                    ["--mode", "poll", "--hold", "1", "--duration", str(args.secs)], "poll10")
        out["10_events"] = {"polls_per_s": round(r["window"]["requests_per_s"]),
                            "events_per_s": round(r["window"]["requests_per_s"] * 10),
                            "p50_ms": r["handshake_or_request"]["p50_ms"],
                            "p99_ms": r["handshake_or_request"]["p99_ms"]}
        r = loadgen(ctx, sysm, base + "?channel=%c&since=%C&wait=30", args.parked,
                    ["--mode", "longpoll", "--hold", "3", "--channels", "100",
                     "--workers", str(max(2, args.parked // 4000 + 1)), "--rate", "2000"],
                    "parked")
        waiting = self_stats(port)["waiting"]
        n = r["ramp"]["connected"]
        out["parked"] = {"long_polls": n, "waiting_in_fastpush_poll": waiting}
        for name in ("fastpush-poll", "lighttpd"):
            before, after = rss(r, "base", name), rss(r, "idle", name)
            out["parked"][name] = {"rss_kb_before": before, "rss_kb_parked": after,
                                   "bytes_per_long_poll": round((after - before) * 1024 / max(1, n))}
        out["loadgen_mem"] = r["mem"]
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
