"""The FASTPUSH_* settings, with their defaults.

    from fastpush_django.conf import setting
    setting("STREAM_LIFETIME")          # settings.FASTPUSH_STREAM_LIFETIME or 300

Read at each use (not cached), so override_settings works in tests.
docs/django.md has the table; each one that fastpush-sse must agree with
names its directive (manage.py fastpush_config prints those lines).
"""
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

DEFAULTS = {
    # publishing (the broker's sockets, as in its own configuration)
    "CONTROL": "tcp://127.0.0.1:7401",      # broker `control`: acknowledged publish
    "INGEST": "tcp://127.0.0.1:7400",       # broker `ingest`: publish_async
    "TIMEOUT": 3.0,                         # seconds to wait for the broker
    "BROKER_TOKEN": None,                   # broker `publish-token`, if it wants one
    "CURVE_SERVER_CERT": None,              # the broker's public certificate (CURVE)
    "CURVE_CLIENT_CERT": None,              # this application's secret certificate
    # tokens (fastpush-sse/-poll: auth on, jwt-key, jwt-alg, jwt-claim)
    "JWT_KEY_FILE": None,                   # HS256 secret (the file jwt-key names), or
                                            # the RS256 private key (PEM)
    "JWT_SECRET": None,                     # HS256 secret as a string, instead of a file
    "JWT_PUBLIC_KEY_FILE": None,            # RS256: the public key fastpush-sse reads
    "JWT_ALG": "HS256",                     # jwt-alg
    "JWT_CLAIM": "fastpush",                # jwt-claim
    "USER_CHANNEL": "user.{id}",            # the logged-in user's channel ({id}: user.pk)
    "SUBSCRIBE": [],                        # more patterns every logged-in user may follow
    # streams
    "SSE_PREFIX": "/events",                # fastpush-sse `prefix`
    "HEARTBEAT": 30,                        # fastpush-sse `heartbeat`, seconds
    "STREAM_LIFETIME": 300,                 # seconds a token lives: the stream ends then
    "MAX_CONNECTIONS_PER_USER": 5,          # fastpush-sse `max-user-connections`
    "TRANSPORTS": ["sse"],                  # the browser client's order
    "JS_URL": None,                         # default: static fastpush/fastpush.js
}


def setting(name):
    """settings.FASTPUSH_<name>, or its default."""
    if name not in DEFAULTS:
        raise KeyError(f"no FASTPUSH_{name} setting")
    return getattr(settings, "FASTPUSH_" + name, DEFAULTS[name])


def positive(name):
    """A setting that must be a positive number of seconds or a count."""
    v = setting(name)
    if isinstance(v, bool) or not isinstance(v, (int, float)) or v <= 0:
        raise ImproperlyConfigured(f"FASTPUSH_{name} must be a positive number, not {v!r}")
    return v
