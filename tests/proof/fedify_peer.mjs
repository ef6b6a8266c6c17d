// An independent FEP-8b32 implementation (Fedify's signObject / verifyProof)
// for tests/proof/fedify.rs. Reads one JSON request on stdin, prints one JSON
// answer on stdout. FEDIFY_DIR is the directory holding node_modules with
// @fedify/fedify (tests/interop/fedify). No network: every context used is
// one Fedify preloads, and the key document is answered from the request.
//
//   {"op":"verify","document":{…},"actor":{…}}    → {"verified":true|false}
//   {"op":"sign","document":{…},"pkcs8":BASE64,"keyId":IRI,"created":RFC3339}
//                                                  → the signed document
import { pathToFileURL } from "node:url";

const dir = process.env.FEDIFY_DIR;
const fedify = await import(
  pathToFileURL(`${dir}/node_modules/@fedify/fedify/dist/mod.js`).href
);
const { Temporal } = await import(
  pathToFileURL(`${dir}/node_modules/@js-temporal/polyfill/dist/index.esm.js`).href
);

let input = "";
for await (const chunk of process.stdin) input += chunk;
const req = JSON.parse(input);

const contextLoader = fedify.getDocumentLoader();
// The actor document is the only "remote" document: answered locally.
const documentLoader = async (url) => {
  if (req.actor && url.split("#")[0] === req.actor.id) {
    return { contextUrl: null, documentUrl: url, document: req.actor };
  }
  return contextLoader(url);
};

if (req.op === "verify") {
  const raw = req.document.proof;
  const proof = await fedify.DataIntegrityProof.fromJsonLd(
    { "@context": "https://w3id.org/security/data-integrity/v1", ...raw },
    { contextLoader, documentLoader },
  );
  const key = await fedify.verifyProof(req.document, proof, {
    contextLoader,
    documentLoader,
  });
  console.log(JSON.stringify({ verified: key != null }));
} else if (req.op === "sign") {
  const der = Buffer.from(req.pkcs8, "base64");
  const privateKey = await crypto.subtle.importKey(
    "pkcs8",
    der,
    "Ed25519",
    true,
    ["sign"],
  );
  const object = await fedify.Object.fromJsonLd(req.document, {
    contextLoader,
    documentLoader,
  });
  const signed = await fedify.signObject(object, privateKey, new URL(req.keyId), {
    contextLoader,
    documentLoader,
    created: Temporal.Instant.from(req.created),
  });
  const json = await signed.toJsonLd({ format: "compact", contextLoader });
  console.log(JSON.stringify(json));
} else {
  throw new Error(`unknown op ${req.op}`);
}
