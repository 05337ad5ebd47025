"""The durable store: crash safety (kill -9) under always and everysec,
epoch and SEQ across restarts, torn and corrupt logs, a newer format,
retention with keyed compaction, disk errors, STATS figures."""
import json
import os
import random
import resource
import signal
import struct
import subprocess
import threading
import time

import zmq

from harness import BIN, Env, Tap, wait_for

t = Tap()
REC_HEAD = 20
SEG_HEAD = 80


def since_all(b, channels, cursor="earliest"):
    """SINCE paged to the end: (events, resets of the first page)."""
    events, resets, first = [], None, True
    while True:
        st, meta, evs = b.request("SINCE", {"channels": channels, "cursor": cursor, "limit": 5000})
        assert st == "OK", meta
        if first:
            resets, first = meta["reset"], False
        events += evs
        cursor = meta["cursor"]
        if not meta["more"]:
            return events, resets


def publish_many(b, channel, n, key=None):
    """n acknowledged publishes, 64 in flight; returns their SEQs in order."""
    s = b.run.ctx.socket(zmq.DEALER)
    s.setsockopt(zmq.LINGER, 0)
    s.connect(b.control)
    seqs, sent = {}, 0
    while len(seqs) < n:
        while sent < n and sent - len(seqs) < 64:
            body = {"channel": channel, "data": {"i": sent}, "tag": sent}
            if key:
                body["key"] = f"{key}{sent % 10}"
            s.send_multipart([b"PUBLISH", json.dumps(body).encode()])
            sent += 1
        if not s.poll(5000):
            raise TimeoutError("no acknowledgement")
        r = s.recv_multipart()
        meta = json.loads(r[1])
        assert r[0] == b"OK", meta
        seqs[meta["tag"]] = meta["seq"]
    s.close()
    return [seqs[i] for i in range(n)]


def segments(path):
    return sorted(f for f in os.listdir(path) if f.endswith(".seg"))


def records(seg_path):
    """[(offset, type, seq, length)] of a segment file."""
    data = open(seg_path, "rb").read()
    out, off = [], SEG_HEAD
    while off + REC_HEAD <= len(data):
        magic, typ, _, n, seq, _ = struct.unpack_from("<HBBIQI", data, off)
        out.append((off, typ, seq, n))
        off += REC_HEAD + n
    return out


class Publisher(threading.Thread):
    """Publishes on its own DEALER, 32 in flight, until stopped; every
    acknowledgement lands in self.acked {i: seq}."""

    def __init__(self, b, channel):
        super().__init__(daemon=True)
        self.b, self.channel = b, channel
        self.acked, self.refused = {}, []
        self.stop_at = None

    def run(self):
        s = self.b.run.ctx.socket(zmq.DEALER)
        s.setsockopt(zmq.LINGER, 0)
        s.connect(self.b.control)
        sent, waiting = 0, {}
        while self.stop_at is None or time.time() < self.stop_at:
            now = time.time()
            for k in [k for k, ts in waiting.items() if now - ts > 1.0]:
                del waiting[k]          # lost with a killed broker (may still come)
            while self.stop_at is None and len(waiting) < 32:
                body = {"channel": self.channel, "data": {"i": sent}, "tag": sent}
                try:
                    s.send_multipart([b"PUBLISH", json.dumps(body).encode()], zmq.NOBLOCK)
                except zmq.Again:
                    break
                waiting[sent] = now
                sent += 1
            if s.poll(20):
                r = s.recv_multipart()
                meta = json.loads(r[1])
                waiting.pop(meta.get("tag"), None)
                if r[0] == b"OK":
                    self.acked[meta["tag"]] = meta["seq"]
                else:
                    self.refused.append(meta)
        s.close()


def check_kill9_always(env):
    path = env.path("store-always")
    b = env.broker(store=path, store_fsync="always", history_count=1000000,
                   history_bytes="1g")
    epoch = b.request("PING")[1]["epoch"]
    pub = Publisher(b, "dur")
    pub.start()
    epochs, rng = [], random.Random(7)
    for _ in range(4):
        time.sleep(rng.uniform(0.3, 0.8))
        b.restart(signal.SIGKILL)
        epochs.append(b.request("PING")[1]["epoch"])
    time.sleep(0.5)
    pub.stop_at = time.time() + 1.5
    pub.join()
    t.eq(set(epochs), {epoch}, "always: the epoch survives four kill -9 restarts")
    t.eq(pub.refused, [], "always: no publish refused")
    evs, resets = since_all(b, ["dur"])
    t.eq(resets, [], "always: no reset after kill -9 (nothing that was sent is lost)")
    by_i = {}
    for e in evs:
        by_i.setdefault(e["data"]["i"], []).append(e["seq"])
    acked = pub.acked
    missing = [i for i in acked if i not in by_i]
    twice = [i for i, s in by_i.items() if len(s) > 1]
    wrong = [i for i in acked if i in by_i and by_i[i][0] != acked[i]]
    t.ok(len(acked) > 200, f"always: {len(acked)} publishes acknowledged across the crashes")
    t.eq((len(missing), len(twice), len(wrong)), (0, 0, 0),
         "always: every acknowledged event is there exactly once, with its SEQ")
    if missing or twice or wrong:
        t.note(f"missing {missing[:10]}, twice {twice[:10]}, wrong SEQ {wrong[:10]}")
    seqs = [e["seq"] for e in evs]
    t.ok(seqs == sorted(seqs) and len(set(seqs)) == len(seqs), "always: SINCE returns them in SEQ order")
    t.eq(len(set(acked.values())), len(acked), "always: no SEQ was handed out twice")
    log = b.read_log()
    t.ok(log.count("replayed") >= 5, "a replay line at every start", log[-800:])


def check_everysec(env):
    path = env.path("store-es")
    b = env.broker(store=path, store_fsync="everysec")
    epoch = b.request("PING")[1]["epoch"]
    seqs = publish_many(b, "es", 300)
    f0 = b.request("STATS")[1]["store"]["fsyncs"]
    time.sleep(1.6)
    f1 = b.request("STATS")[1]["store"]["fsyncs"]
    t.ok(f1 > f0, "everysec: the tick fsynced after the acknowledgements")
    b.restart(signal.SIGKILL)
    t.eq(b.request("PING")[1]["epoch"], epoch, "everysec: epoch kept after kill -9")
    evs, resets = since_all(b, ["es"])
    t.eq([e["seq"] for e in evs], seqs, "everysec: every event acknowledged before the fsync is there")
    t.ok("may be lost" in b.read_log() and resets and resets[0]["channel"] == "es",
         "everysec: an unclean stop is logged and older cursors get a reset", resets)
    new = b.publish("es", "after")
    t.ok(new["seq"] > seqs[-1] + 1, "everysec: SEQs continue after the reservation, never reused", new)
    # a clean restart: no reset, and the next SEQ follows the head
    head = b.request("PING")[1]["head"]
    b.restart()
    st, meta, evs = b.request("SINCE", {"channels": ["es"], "cursor": f"{epoch}-{head}"})
    t.eq((meta["reset"], evs), ([], []), "clean restart: a current cursor needs no reset")
    t.eq(b.publish("es", "next")["seq"], head + 1, "clean restart: the next SEQ follows the head")


def stopped_store(env, name, channel, n):
    """A broker with n events on channel in store `name`, stopped.
    Returns (broker, epoch, seqs, newest segment path, its event records)."""
    path = env.path(name)
    b = env.broker(f"broker-{channel}", store=path)
    epoch = b.request("PING")[1]["epoch"]
    seqs = publish_many(b, channel, n)
    b.stop()
    seg = os.path.join(path, segments(path)[-1])
    return b, epoch, seqs, seg, [r for r in records(seg) if r[1] == 1]


def check_torn_tail(env):
    b, epoch, seqs, seg, evrecs = stopped_store(env, "store-torn", "tt", 20)
    last = evrecs[-1]                                      # the newest event record
    os.truncate(seg, last[0] + REC_HEAD + last[3] // 2)
    b.restart()
    log = b.read_log()
    t.ok(f"torn tail at byte {last[0]}" in log and "truncated there" in log,
         "torn tail: the log says where the segment was cut", log[-600:])
    t.eq(b.request("PING")[1]["epoch"], epoch, "torn tail: epoch kept")
    evs, resets = since_all(b, ["tt"], f"{epoch}-{seqs[10]}")
    t.eq([e["seq"] for e in evs], seqs[:-1], "torn tail: everything before the cut is there")
    t.eq([r["channel"] for r in resets], ["tt"], "torn tail: a cursor before the lost event gets a reset")
    t.ok(b.publish("tt", "x")["seq"] > seqs[-1], "torn tail: the lost SEQ is not reused")


def check_flipped_byte(env):
    b, epoch, seqs, seg, evrecs = stopped_store(env, "store-flip", "fb", 30)
    victim = evrecs[9]                                     # the 10th event
    with open(seg, "r+b") as f:
        f.seek(victim[0] + REC_HEAD + 5)
        c = f.read(1)
        f.seek(victim[0] + REC_HEAD + 5)
        f.write(bytes([c[0] ^ 0x40]))
    b.restart()
    log = b.read_log()
    t.ok(f"corrupt record at byte {victim[0]}" in log and os.path.basename(seg) in log,
         "flipped byte: segment file and byte offset are reported", log[-600:])
    t.ok(b.alive() and b.request("PING")[1]["epoch"] == epoch, "flipped byte: broker up, epoch kept")
    evs, resets = since_all(b, ["fb"], f"{epoch}-{seqs[4]}")
    t.eq([e["seq"] for e in evs], seqs[:9] + seqs[10:], "flipped byte: only the damaged event is gone")
    t.eq([r["channel"] for r in resets], ["fb"], "flipped byte: a cursor before the damage gets a reset")
    st, meta, evs = b.request("SINCE", {"channels": ["fb"], "cursor": f"{epoch}-{seqs[9]}"})
    t.eq((meta["reset"], [e["seq"] for e in evs]), ([], seqs[10:]), "flipped byte: a cursor after it does not")


def check_future_version(env):
    path = env.path("store-future")
    os.makedirs(path)
    head = b"FPSTORE\n" + struct.pack("<II", 2, 96) + b"\0" * 84
    with open(os.path.join(path, "%020d.seg" % 1), "wb") as f:
        f.write(head)
    conf = env.path("future.conf")
    with open(conf, "w") as f:
        d = env.path("fut")
        f.write(f"store {path}\ningest ipc://{d}-i\ncontrol ipc://{d}-c\nfanout ipc://{d}-f\n")
    r = subprocess.run([os.path.join(BIN, "fastpush-broker"), "-f", conf], capture_output=True,
                       timeout=20)
    err = r.stderr.decode()
    t.eq(r.returncode, 1, "a store of a newer format: exit status 1")
    t.ok("format version 2" in err, "... with a message naming the version", err)


def check_retention(env):
    path = env.path("store-ret")
    b = env.broker(store=path, store_segment_bytes="64k", history_count=50, history_age="2s",
                   heartbeat="200ms")
    epoch = b.request("PING")[1]["epoch"]
    for k in range(20):
        b.publish("cfg", {"v": k}, key=f"k{k}")
    b.publish("cfg", None, key="k19")                      # tombstone
    push = b.run.ctx.socket(zmq.PUSH)
    push.connect(b.ingest)
    n = 30000
    for i in range(n):
        push.send(json.dumps({"channel": f"bulk{i % 4}", "data": "x" * 80}).encode())
    push.close(linger=5000)
    ok = wait_for(lambda: b.request("PING")[1]["head"] >= 21 + n, 20)
    t.ok(ok, "retention: 30,000 events ingested")
    peak = len(segments(path))
    ok = wait_for(lambda: len(segments(path)) <= 4, 15, 0.2)
    st = b.request("STATS")[1]["store"]
    t.ok(ok and peak > 10, f"retention: {peak} segments shrink to {len(segments(path))}", st)
    t.ok(st["compacted"] >= 19 and st["segments_deleted"] > 0, "retention: keyed events were compacted", st)
    size = sum(os.path.getsize(os.path.join(path, f)) for f in segments(path))
    # a segment closes at the end of the batch that filled it: 64k plus up
    # to one PULL batch (1024 events, ~150 KB) each
    t.ok(size < 1000000 and st["records"] > 30000,
         f"retention: {size} bytes on disk after writing ~4.5 MB", st)
    want = [(f"k{k}", {"v": k}) for k in range(19)]
    state = lambda: [(e["key"], e["data"]) for e in b.request("STATE", {"channel": "cfg"})[2]]
    t.eq(state(), want, "retention: the keyed state survives the deleted segments")
    tail = publish_many(b, "bulk1", 60)
    # the 2 s age let the segments go; under ASan a stop and start can take
    # longer than that, so the restart keeps history by count alone
    b.set_directives(history_age="10m")
    b.restart()
    t.eq(state(), want, "retention: ... and a restart")
    evs, resets = since_all(b, ["bulk1"])
    t.ok([e["seq"] for e in evs] == tail[-50:] and resets and
         b.request("PING")[1]["epoch"] == epoch,
         "retention: history-count holds after replay; old cursors get a reset", len(evs))
    b.restart(signal.SIGKILL)
    t.eq(state(), want, "retention: keyed state after kill -9 too")


def s_limit_file_size():
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (64 << 10, 64 << 10))


def check_disk_error(env):
    path = env.path("store-full")
    b = env.broker(store=path, store_segment_bytes="1m", preexec_fn=s_limit_file_size)
    ok, err = [], None
    for i in range(1000):
        st, meta, _ = b.request("PUBLISH", {"channel": "full", "data": "y" * 200})
        if st != "OK":
            err = meta
            break
        ok.append(meta["seq"])
    t.ok(err and err["error"] == "store_failed", "a full disk refuses the publish with store_failed", err)
    t.ok(b.alive() and b.request("PING")[0] == "OK", "the broker keeps serving")
    evs, _ = since_all(b, ["full"])
    t.eq([e["seq"] for e in evs], ok, "refused events are not in history")
    st = b.request("STATS")[1]
    t.ok(st["store"]["errors"] > 0 and st["head"] == ok[-1], "STATS counts the error; no SEQ was used", st["store"])
    del b.popen["preexec_fn"]           # the next start runs without the limit
    b.restart()
    evs, _ = since_all(b, ["full"])
    t.eq([e["seq"] for e in evs], ok, "after a restart the acknowledged events are all there")
    t.ok(b.publish("full", 1)["seq"] > ok[-1], "and SEQs go on after them (the stop record could "
         "not be written, so the reservation is skipped)")


def check_stats(env):
    path = env.path("store-st")
    b = env.broker(store=path, store_fsync="no")
    b.publish("s", 1)
    r = b.cli("stats")
    out = r.stdout.decode()
    t.ok(r.returncode == 0 and "store " in out and '"fsync":"no"' in out, "fastpush stats prints the store line", out)
    st = b.request("STATS")[1]["store"]
    t.ok(all(k in st for k in ("path", "bytes", "segments", "last_fsync_ms", "replay_ms",
                               "records_replayed")), "STATS store figures", st)
    b2 = env.broker("nostore")
    t.ok("store" not in b2.request("STATS")[1], "no store object without a store")


random.seed(1)
with Env(t) as env:
    check_kill9_always(env)
with Env(t) as env:
    check_everysec(env)
with Env(t) as env:
    check_torn_tail(env)
    check_flipped_byte(env)
    check_future_version(env)
with Env(t) as env:
    check_retention(env)
with Env(t) as env:
    check_disk_error(env)
    check_stats(env)
t.done()
