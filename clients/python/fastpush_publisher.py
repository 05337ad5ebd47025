"""Publish events to a fastpush broker from Python (pyzmq only).

    from fastpush_publisher import FastpushPublisher, FastpushError

    pub = FastpushPublisher(control="tcp://127.0.0.1:7401",
                            ingest="tcp://127.0.0.1:7400", timeout=3.0)
    event_id = pub.publish("news", {"title": "Hello"})     # "EPOCH-SEQ"
    pub.publish("prices", 1.0841, key="EURUSD", event="tick")
    pub.publish_async("news", "fire and forget")
    pub.close()

A broker that authenticates publishers (docs/security.md) needs its
publish token, its CURVE keys, or both:

    pub = FastpushPublisher(control=..., ingest=..., token="the-publish-token",
                            curve_server_cert="/etc/fastpush/broker",
                            curve_client_cert="/etc/fastpush/app_secret")

The token goes as a last frame of every message; the certificates are the
files `fastpush keygen` writes (czmq's format, which pyzmq's
zmq.auth.load_certificate reads).

publish() is acknowledged: the broker numbers the event and answers with
its id, or refuses it with an error code (FastpushError.code, e.g.
"invalid_event", "too_large").  publish_async() pushes the event to the
broker's ingest socket without waiting; the broker drops invalid ones, so
the names are checked here first.  The wire format is in
docs/protocol.md.
"""
import itertools
import json
import re

import zmq

__all__ = ["FastpushPublisher", "FastpushError"]

_CHANNEL = re.compile(r"[A-Za-z0-9_.:@~=+-]{1,128}\Z")
_TYPE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,199}\Z")
_RESERVED = {"ready", "reset", "error", "heartbeat", "auth-expired", "close", "presence",
             "member_added", "member_removed"}


class FastpushError(Exception):
    """A publish that failed.  `code` is the broker's error code, or one of
    the client's own: "timeout" (no answer in time: the event may still
    have been published), "broker_unavailable" (could not send),
    "invalid_event" (refused before sending), "bad_reply".  A broker that
    wants a publish token answers "unauthorized" without the right one;
    one that wants CURVE keys does not answer at all ("timeout")."""

    def __init__(self, code, message):
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


def _check(channel, event, key):
    """The broker's name rules (common/event.h), for publish_async."""
    if not isinstance(channel, str) or not _CHANNEL.match(channel):
        raise FastpushError("invalid_event", "invalid channel name: 1 to 128 characters "
                            "of A-Z a-z 0-9 _ . : @ ~ = + -")
    if event is not None and (not isinstance(event, str) or not _TYPE.match(event)
                              or event in _RESERVED):
        raise FastpushError("invalid_event", "invalid event type: 1 to 200 characters of "
                            "A-Z a-z 0-9 _ . : -, not a reserved name")
    if key is not None:
        raw = key.encode("utf-8") if isinstance(key, str) else b""
        if not 1 <= len(raw) <= 256 or any(c < 0x20 or c in (0x7F, 0x22, 0x5C) for c in raw):
            raise FastpushError("invalid_event", "invalid key: 1 to 256 bytes without "
                                "control characters, quote or backslash")


def _event(channel, data, event, key):
    ev = {"channel": channel}
    if event is not None:
        ev["event"] = event
    if key is not None:
        ev["key"] = key
    ev["data"] = data
    return ev


def _dumps(obj):
    try:
        return json.dumps(obj, separators=(",", ":"), ensure_ascii=False,
                          allow_nan=False).encode("utf-8")
    except (TypeError, ValueError) as e:
        raise FastpushError("invalid_event", f"data cannot be encoded as JSON: {e}") from None


class FastpushPublisher:
    """One connection to a broker: a DEALER on the control socket for
    publish(), a PUSH on the ingest socket for publish_async() (each made
    on first use).  control and ingest may list several brokers of a
    cluster (engine jetstream), comma-separated: requests go to them in
    turn, skipping one that is not connected.  Not thread-safe: one
    publisher per thread."""

    def __init__(self, control="tcp://127.0.0.1:7401", ingest="tcp://127.0.0.1:7400",
                 timeout=3.0, context=None, token=None, curve_server_cert=None,
                 curve_client_cert=None):
        self.control = control
        self.ingest = ingest
        self.timeout = timeout
        self._token = token.encode() if isinstance(token, str) else token
        self._curve = None
        if curve_server_cert or curve_client_cert:
            from zmq.auth import load_certificate
            server_public, _ = load_certificate(curve_server_cert)
            public, secret = load_certificate(curve_client_cert)
            if not secret:
                raise ValueError(f"{curve_client_cert}: not a secret certificate")
            self._curve = (server_public, public, secret)
        self._ctx = context or zmq.Context.instance()
        self._dealer = None
        self._push = None
        self._tags = itertools.count(1)

    def _socket(self, kind, endpoint):
        s = self._ctx.socket(kind)
        ms = int(self.timeout * 1000)
        s.setsockopt(zmq.LINGER, ms if kind == zmq.PUSH else 0)
        s.setsockopt(zmq.SNDTIMEO, ms)
        s.setsockopt(zmq.IMMEDIATE, 1)      # nothing queues for a broker that is not there
        if self._curve:
            s.curve_serverkey, s.curve_publickey, s.curve_secretkey = self._curve
        for ep in endpoint.split(","):
            s.connect(ep.strip())
        return s

    def request(self, command, body=None):
        """Send COMMAND with a JSON object body on the control socket and
        return the reply: (meta, events).  Raises FastpushError."""
        if self._dealer is None:
            self._dealer = self._socket(zmq.DEALER, self.control)
        tag = next(self._tags)
        body = dict(body or {}, tag=tag)
        try:
            self._dealer.send_multipart([command.encode(), _dumps(body)] + self._tok())
        except zmq.Again:
            raise FastpushError("broker_unavailable",
                                f"cannot reach the broker at {self.control}") from None
        ms = int(self.timeout * 1000)
        while self._dealer.poll(ms):
            frames = self._dealer.recv_multipart()
            try:
                meta = json.loads(frames[1])
            except (IndexError, ValueError):
                raise FastpushError("bad_reply", "malformed reply from the broker") from None
            if meta.get("tag") != tag:
                continue                    # a late answer to an earlier, timed-out request
            if frames[0] != b"OK":
                raise FastpushError(meta.get("error", "bad_reply"), meta.get("message", ""))
            events = [json.loads(line) for f in frames[2:] for line in f.split(b"\n") if line]
            return meta, events
        raise FastpushError("timeout", f"no answer from the broker at {self.control} "
                            f"within {self.timeout} s (the event may have been published)")

    def publish(self, channel, data, event=None, key=None):
        """Publish and wait for the broker: returns the event's id
        "EPOCH-SEQ".  data: any JSON value (None with a key deletes the
        key).  Raises FastpushError with the broker's code."""
        meta, _ = self.request("PUBLISH", _event(channel, data, event, key))
        return meta["id"]

    def publish_async(self, channel, data, event=None, key=None):
        """Send without waiting for an answer (no id).  Names are checked
        here; raises FastpushError "broker_unavailable" when the event
        cannot be handed to ZeroMQ within the timeout."""
        _check(channel, event, key)
        self._push_send(_dumps(_event(channel, data, event, key)))

    def publish_batch_async(self, events):
        """Send several events in one message: a list of dicts with
        "channel", "data" and optionally "event" and "key"."""
        for ev in events:
            _check(ev.get("channel"), ev.get("event"), ev.get("key"))
        self._push_send(_dumps(list(events)))

    def _tok(self):
        return [self._token] if self._token else []

    def _push_send(self, payload):
        if self._push is None:
            self._push = self._socket(zmq.PUSH, self.ingest)
        try:
            self._push.send_multipart([payload] + self._tok())
        except zmq.Again:
            raise FastpushError("broker_unavailable",
                                f"cannot reach the broker at {self.ingest}") from None

    def close(self):
        """Close the sockets; queued async events get `timeout` seconds to
        leave."""
        for s in (self._dealer, self._push):
            if s is not None:
                s.close()
        self._dealer = self._push = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
