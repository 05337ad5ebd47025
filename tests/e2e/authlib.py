"""Tokens and keys for the auth tests, with the standard library only.

    keys = Keys(env.dir)                 # an HS256 secret and an RS256 pair
    tok = keys.hs256(sub="alice", subscribe=["news", "user.{sub}"], exp=+60)
    keys.matrix(...)                     # the tokens every transport checks

HS256 is hmac/hashlib; RS256 is signed by `openssl dgst -sha256 -sign`.
exp/nbf are given relative to now (seconds); None leaves the claim out.
"""
import base64
import hashlib
import hmac
import json
import os
import subprocess
import time


def b64url(data):
    if isinstance(data, str):
        data = data.encode()
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def claims(sub=None, subscribe=None, publish=None, exp=60, nbf=None, claim="fastpush", extra=None,
           user_info=None):
    now = int(time.time())
    c = {}
    if sub is not None:
        c["sub"] = sub
    if exp is not None:
        c["exp"] = now + exp
    if nbf is not None:
        c["nbf"] = now + nbf
    rights = {}
    if subscribe is not None:
        rights["subscribe"] = subscribe
    if publish is not None:
        rights["publish"] = publish
    if user_info is not None:
        rights["user_info"] = user_info
    c[claim] = rights
    c.update(extra or {})
    return c


def unsigned(header, payload):
    return b64url(json.dumps(header, separators=(",", ":"))) + "." + \
        b64url(json.dumps(payload, separators=(",", ":")))


class Keys:
    def __init__(self, directory):
        self.dir = directory
        self.secret = b"s3cret-for-the-fastpush-auth-tests!"     # 35 bytes
        self.hs_path = os.path.join(directory, "jwt-hs.key")
        with open(self.hs_path, "wb") as f:
            f.write(self.secret + b"\n")
        self.rs_priv = os.path.join(directory, "jwt-rs.pem")
        self.rs_pub = os.path.join(directory, "jwt-rs.pub")
        subprocess.run(["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt",
                        "rsa_keygen_bits:2048", "-out", self.rs_priv],
                       check=True, capture_output=True)
        subprocess.run(["openssl", "pkey", "-in", self.rs_priv, "-pubout", "-out", self.rs_pub],
                       check=True, capture_output=True)
        with open(self.rs_pub, "rb") as f:
            self.rs_pub_bytes = f.read()

    def hs256(self, key=None, **kw):
        msg = unsigned({"alg": "HS256", "typ": "JWT"}, claims(**kw))
        sig = hmac.new(key or self.secret, msg.encode(), hashlib.sha256).digest()
        return msg + "." + b64url(sig)

    def rs256(self, **kw):
        msg = unsigned({"alg": "RS256", "typ": "JWT"}, claims(**kw))
        p = subprocess.run(["openssl", "dgst", "-sha256", "-sign", self.rs_priv],
                           input=msg.encode(), check=True, capture_output=True)
        return msg + "." + b64url(p.stdout)

    def alg_none(self, **kw):
        return unsigned({"alg": "none", "typ": "JWT"}, claims(**kw)) + "."

    def hs_with_public_key(self, **kw):
        """HS/RS confusion: HS256 signed with the RS256 public key."""
        return self.hs256(key=self.rs_pub_bytes, **kw)

    def forged(self, **kw):
        """A valid HS256 token whose payload was swapped afterwards."""
        good = self.hs256(**kw).split(".")
        evil = claims(**dict(kw, subscribe=["*"], publish=["*"]))
        good[1] = b64url(json.dumps(evil, separators=(",", ":")))
        return ".".join(good)

    def matrix(self, channel="room.1", sub="alice", rs=False):
        """(name, token, allowed) for a subscriber of `channel`: allowed
        is True, or the status a client must get (401/403)."""
        sign = self.rs256 if rs else self.hs256
        rest = dict(sub=sub)
        return [
            ("valid", sign(subscribe=[channel], **rest), True),
            ("wildcard", sign(subscribe=[channel.split(".")[0] + ".*"], **rest), True),
            ("{sub}", sign(subscribe=["user.{sub}"], **rest), 403),
            ("expired", sign(subscribe=[channel], exp=-120, **rest), 401),
            ("not yet valid", sign(subscribe=[channel], nbf=120, **rest), 401),
            ("wrong channel", sign(subscribe=["room.2"], **rest), 403),
            ("wildcard edge: prefix without dot", sign(subscribe=[channel.split(".")[0] + "*"], **rest), True),
            ("wildcard edge: longer name", sign(subscribe=[channel + "0*"], **rest), 403),
            ("exact is not prefix", sign(subscribe=[channel[:-1]], **rest), 403),
            ("forged signature", self.forged(subscribe=["room.2"], **rest), 401),
            ("alg none", self.alg_none(subscribe=["*"], **rest), 401),
            ("HS/RS confusion" if rs else "RS256 to an HS256 key",
             self.hs_with_public_key(subscribe=["*"], **rest) if rs
             else self.rs256(subscribe=["*"], **rest), 401),
            ("malformed", "not-a-token", 401),
            ("garbage base64", "eyJ!!.eyJ!!.x", 401),
            ("claim missing", sign(**rest), 403),
        ]
