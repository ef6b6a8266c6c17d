"""RFC 9421 peer built on the `http-message-signatures` package (installed
by setup.sh). Reads {"cmd","request","key","keyId","alg","includeAlg"} JSON
on stdin; `alg` (RFC 9421 §3.3 name, default rsa-v1_5-sha256) picks the
algorithm for both commands, `key` is a PEM private (sign) or public (verify)
key.

sign:   covers @method @target-uri @authority date content-digest with
        created/keyid/alg (Fedify's set; alg left out when includeAlg is
        false) and prints the request.
verify: prints {"verified": true, "keyId": ...} or {"verified": false,
        "error": repr of the exception}.
"""
import datetime
import email.utils
import json
import sys

from cryptography.hazmat.primitives.serialization import load_pem_private_key, load_pem_public_key
from http_message_signatures import (
    HTTPMessageSigner,
    HTTPMessageVerifier,
    HTTPSignatureKeyResolver,
    algorithms,
)

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
        return load_pem_public_key(self.pem)


def main():
    msg = json.load(sys.stdin)
    req = msg["request"]
    body = (req.get("body") or "").encode()
    headers = {k.lower(): v for k, v in (req.get("headers") or {}).items()}
    alg = ALGS[msg.get("alg", "rsa-v1_5-sha256")]
    m = Message(req["method"], req["url"], headers)
    if msg["cmd"] == "sign":
        headers["date"] = email.utils.formatdate(usegmt=True)
        signer = HTTPMessageSigner(signature_algorithm=alg, key_resolver=Keys(msg["key"]))
        signer.sign(
            m,
            key_id=msg["keyId"],
            label="sig1",
            include_alg=msg.get("includeAlg", True),
            covered_component_ids=("@method", "@target-uri", "@authority", "date"),
            body=body,
        )
        print(json.dumps({**req, "headers": m.headers}))
    else:
        verifier = HTTPMessageVerifier(signature_algorithm=alg, key_resolver=Keys(msg["key"]))
        try:
            results = verifier.verify(
                m,
                max_age=datetime.timedelta(hours=1),
                require_components=("@method", "@target-uri"),
                body=body,
            )
            print(json.dumps({"verified": True, "keyId": results[0].parameters["keyid"]}))
        except Exception as e:  # report, do not crash: the Rust test asserts
            print(json.dumps({"verified": False, "error": repr(e)}))


main()
