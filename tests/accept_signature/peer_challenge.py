"""Answers an RFC 9421 `Accept-Signature` challenge with independent code:
the field is parsed by `http_sf` (RFC 8941/9651 structured fields) and the
request signed by `http-message-signatures`, both installed by
tests/interop/setup.sh.

Reads {"challenge", "request": {"method","url","headers","body"}, "key",
"keyId"} JSON on stdin. Takes the first requested signature; covers exactly
its components, with its label, `created`/`expires` when asked, its `nonce`,
`tag` and `alg`, and adds `Content-Digest` (sha-256 of the body) when the
challenge covers it. Prints {"parsed": {...what was read...}, "request":
{...signed request...}}.
"""
import base64
import datetime
import email.utils
import hashlib
import json
import sys

import http_sf
from cryptography.hazmat.primitives.serialization import load_pem_private_key
from http_message_signatures import HTTPMessageSigner, HTTPSignatureKeyResolver, algorithms

ALGS = {
    "rsa-v1_5-sha256": algorithms.RSA_V1_5_SHA256,
    "rsa-pss-sha512": algorithms.RSA_PSS_SHA512,
    "ed25519": algorithms.ED25519,
}


class Message:
    def __init__(self, method, url, headers):
        self.method = method
        self.url = url
        self.headers = headers


class Keys(HTTPSignatureKeyResolver):
    def __init__(self, pem):
        self.pem = pem.encode()

    def resolve_private_key(self, key_id):
        return load_pem_private_key(self.pem, password=None)

    def resolve_public_key(self, key_id):
        raise NotImplementedError


def main():
    msg = json.load(sys.stdin)
    challenge = http_sf.parse(msg["challenge"].encode(), tltype="dictionary")
    label, (items, params) = next(iter(challenge.items()))
    components = [name for name, _ in items]
    req = msg["request"]
    body = (req.get("body") or "").encode()
    headers = {k.lower(): v for k, v in (req.get("headers") or {}).items()}
    headers["date"] = email.utils.formatdate(usegmt=True)
    if "content-digest" in components:
        digest = base64.b64encode(hashlib.sha256(body).digest()).decode()
        headers["content-digest"] = f"sha-256=:{digest}:"
    now = datetime.datetime.now(datetime.timezone.utc)
    alg = params.get("alg", "rsa-v1_5-sha256")
    m = Message(req["method"], req["url"], headers)
    HTTPMessageSigner(signature_algorithm=ALGS[alg], key_resolver=Keys(msg["key"])).sign(
        m,
        key_id=params.get("keyid", msg["keyId"]),
        created=now if params.get("created") else None,
        expires=now + datetime.timedelta(minutes=5) if params.get("expires") else None,
        nonce=params.get("nonce"),
        tag=params.get("tag"),
        label=label,
        include_alg="alg" in params,
        covered_component_ids=components,
        body=body if "content-digest" in components else None,
        # Ours, computed above; the library checks it against the body.
        use_existing_digest="content-digest" in components,
    )
    parsed = {"label": label, "components": components, "params": params}
    print(json.dumps({"parsed": parsed, "request": {**req, "headers": m.headers}}))


main()
