// An independent Linked Data Signatures implementation (Fedify 2's
// signJsonLd / verifyJsonLd, on jsonld.js) for tests/ldsig/fedify.rs. Reads
// one JSON request on stdin, prints one JSON answer on stdout. FEDIFY_DIR is
// the directory holding node_modules with @fedify/fedify 2
// (tests/interop/fedify2). No network: every context used is one Fedify
// preloads, and the actor document is answered from the request.
//
//   {"op":"verify","document":{…},"actor":{…}}    → {"verified":true|false}
//   {"op":"sign","document":{…},"pkcs8":BASE64,"keyId":IRI,"created":RFC3339}
//                                                  → the signed document
import { pathToFileURL } from "node:url";

const dir = process.env.FEDIFY_DIR;
const modules = `${dir}/node_modules/@fedify`;
const fedify = await import(pathToFileURL(`${modules}/fedify/dist/mod.js`).href);
const runtime = await import(
  pathToFileURL(`${modules}/vocab-runtime/dist/mod.js`).href
);

let input = "";
for await (const chunk of process.stdin) input += chunk;
const req = JSON.parse(input);

const contextLoader = runtime.getDocumentLoader();
// The actor document is the only "remote" document: answered locally.
const documentLoader = async (url) => {
  if (req.actor && url.split("#")[0] === req.actor.id) {
    return { contextUrl: null, documentUrl: url, document: req.actor };
  }
  return contextLoader(url);
};

if (req.op === "verify") {
  const verified = await fedify.verifyJsonLd(req.document, {
    contextLoader,
    documentLoader,
  });
  console.log(JSON.stringify({ verified }));
} else if (req.op === "sign") {
  const der = Buffer.from(req.pkcs8, "base64");
  const privateKey = await crypto.subtle.importKey(
    "pkcs8",
    der,
    { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" },
    true,
    ["sign"],
  );
  // `created` is written with its toString(): a Temporal.Instant in
  // Fedify's types, the RFC 3339 string here.
  const created = { toString: () => req.created };
  const signed = await fedify.signJsonLd(
    req.document,
    privateKey,
    new URL(req.keyId),
    { contextLoader, created },
  );
  console.log(JSON.stringify(signed));
} else {
  throw new Error(`unknown op ${req.op}`);
}
