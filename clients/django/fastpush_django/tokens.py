"""Channel tokens for the logged-in user: the JWTs fastpush-sse (and
fastpush-poll, fastpush-ws) verify with `auth on` (docs/security.md).

    token, claims = issue(request.user)

The claims:

    {"sub": "42", "iat": NOW, "exp": NOW + FASTPUSH_STREAM_LIFETIME,
     "fastpush": {"subscribe": ["user.42", ...FASTPUSH_SUBSCRIBE]}}

`sub` is the user's pk as a string: fastpush-sse counts
max-user-connections by it.  `exp` is the stream's lifetime: fastpush-sse
ends the stream with `auth-expired` when it passes, and the browser
client asks for a fresh token and resumes from its cursor.  Nothing may
be published with these tokens.

HS256 is signed with hmac (the secret from FASTPUSH_JWT_KEY_FILE, read as
fastpush-sse reads jwt-key: one trailing newline ignored, at least 32
bytes; or FASTPUSH_JWT_SECRET).  RS256 is signed with the private key in
FASTPUSH_JWT_KEY_FILE by `openssl dgst -sha256 -sign` (Debian's openssl);
fastpush-sse gets the public key.
"""
import base64
import hashlib
import hmac
import json
import re
import subprocess
import time

from django.core.exceptions import ImproperlyConfigured

from .conf import positive, setting

_CHANNEL = re.compile(r"[A-Za-z0-9_.:@~=+-]{1,128}\Z")


def _b64(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _json(obj):
    return json.dumps(obj, separators=(",", ":")).encode()


def user_channel(user):
    """The channel of one user: FASTPUSH_USER_CHANNEL with {id} = user.pk
    (accepts a user or a pk)."""
    pk = getattr(user, "pk", user)
    ch = setting("USER_CHANNEL").format(id=pk)
    if not _CHANNEL.match(ch):
        raise ImproperlyConfigured(f"FASTPUSH_USER_CHANNEL gives {ch!r}, not a channel "
                                   "name (1-128 of A-Z a-z 0-9 _ . : @ ~ = + -)")
    return ch


def _hs_secret():
    path, secret = setting("JWT_KEY_FILE"), setting("JWT_SECRET")
    if path:
        with open(path, "rb") as f:
            key = f.read()
        if key.endswith(b"\n"):
            key = key[:-1]
    elif secret:
        key = secret.encode() if isinstance(secret, str) else secret
    else:
        raise ImproperlyConfigured("FASTPUSH_JWT_KEY_FILE (or FASTPUSH_JWT_SECRET) is not set")
    if len(key) < 32:
        raise ImproperlyConfigured("the HS256 secret must have at least 32 bytes "
                                   "(fastpush-sse refuses a shorter jwt-key)")
    return key


def sign(claims):
    """The compact JWT of these claims, signed as FASTPUSH_JWT_ALG says."""
    alg = setting("JWT_ALG")
    if alg not in ("HS256", "RS256"):
        raise ImproperlyConfigured(f"FASTPUSH_JWT_ALG must be HS256 or RS256, not {alg!r}")
    msg = (_b64(_json({"alg": alg, "typ": "JWT"})) + "." + _b64(_json(claims))).encode()
    if alg == "HS256":
        sig = hmac.new(_hs_secret(), msg, hashlib.sha256).digest()
    else:
        path = setting("JWT_KEY_FILE")
        if not path:
            raise ImproperlyConfigured("RS256: FASTPUSH_JWT_KEY_FILE must name the private key")
        p = subprocess.run(["openssl", "dgst", "-sha256", "-sign", path], input=msg,
                           capture_output=True)
        if p.returncode != 0:
            raise ImproperlyConfigured(f"RS256: openssl could not sign with {path}: "
                                       + p.stderr.decode(errors="replace").strip())
        sig = p.stdout
    return msg.decode() + "." + _b64(sig)


def claims_for(user, now=None):
    """The claims of a token for this (logged-in) user."""
    now = int(time.time() if now is None else now)
    return {"sub": str(user.pk), "iat": now, "exp": now + int(positive("STREAM_LIFETIME")),
            setting("JWT_CLAIM"): {"subscribe": [user_channel(user)] + list(setting("SUBSCRIBE"))}}


def issue(user):
    """(token, claims) for this user.  The caller checks that the user is
    authenticated."""
    c = claims_for(user)
    return sign(c), c
