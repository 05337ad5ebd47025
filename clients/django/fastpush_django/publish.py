"""Publishing from Django: one FastpushPublisher (fastpush_publisher.py,
pyzmq) per thread, made on first use from the FASTPUSH_* settings.

    import fastpush_django as fastpush
    fastpush.publish("user.42", {"text": "hello"})          # acknowledged: "EPOCH-SEQ"
    fastpush.publish_async("user.42", {"text": "hello"})    # fire and forget

publish() waits for the broker (FASTPUSH_TIMEOUT) and raises
FastpushError (e.code: "timeout", "broker_unavailable", the broker's
"invalid_event", "too_large", ...).  Call it after the transaction that
made the change commits (transaction.on_commit), so that a browser never
hears of a row it cannot read yet.

The sockets belong to the process that made them: a worker forked after
a publish (mod_wsgi, gunicorn) makes its own, since pyzmq's shared
context is per process.
"""
import os
import threading

from .conf import setting
from .fastpush_publisher import FastpushError, FastpushPublisher

__all__ = ["publish", "publish_async", "publisher", "reset", "FastpushError"]

_local = threading.local()


def _config():
    return (setting("CONTROL"), setting("INGEST"), float(setting("TIMEOUT")),
            setting("BROKER_TOKEN"), setting("CURVE_SERVER_CERT"), setting("CURVE_CLIENT_CERT"))


def publisher():
    """This thread's FastpushPublisher (made again when the settings
    changed or the process forked)."""
    key = (os.getpid(),) + _config()
    pub = getattr(_local, "pub", None)
    if pub is None or _local.key != key:
        if pub is not None:
            pub.close()
        control, ingest, timeout, token, server_cert, client_cert = key[1:]
        pub = FastpushPublisher(control=control, ingest=ingest, timeout=timeout, token=token,
                                curve_server_cert=server_cert, curve_client_cert=client_cert)
        _local.pub, _local.key = pub, key
    return pub


def reset():
    """Close this thread's sockets (the next publish makes new ones)."""
    pub = getattr(_local, "pub", None)
    if pub is not None:
        pub.close()
    _local.pub = None


def publish(channel, data, event=None, key=None):
    """Publish and wait for the broker's answer: the event's id.  A
    timeout closes the sockets, so the next publish starts afresh."""
    try:
        return publisher().publish(channel, data, event=event, key=key)
    except FastpushError as e:
        if e.code in ("timeout", "broker_unavailable"):
            reset()
        raise


def publish_async(channel, data, event=None, key=None):
    """Hand the event to ZeroMQ and return (no id, no answer)."""
    publisher().publish_async(channel, data, event=event, key=key)
