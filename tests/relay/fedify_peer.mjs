// Fedify 2's verifiers (npm @fedify/fedify 2, on jsonld.js), for
// tests/relay/fedify.rs: does an independent implementation believe a
// public activity archipel's outbox signed both ways (an eddsa-jcs-2022
// proof, then an RsaSignature2017 LD signature)? Reads one JSON request on
// stdin, prints one JSON answer on stdout. FEDIFY_DIR is the directory
// holding node_modules with @fedify/fedify 2 (tests/interop/fedify2). No
// network: contexts are Fedify's preloaded ones, and the actor document is
// answered from the request.
//
//   {"document":{…},"actor":{…}}
//     → {"ldSignature": bool,        verifyJsonLd on the document as sent
//        "proof": bool,              verifyObject (every proof, and the
//                                    actor authenticated by one) as sent
//        "proofWithoutSignature": bool}  the same once detachSignature set
//                                    the LD signature aside, as Fedify's
//                                    inbox does before checking proofs
import { pathToFileURL } from "node:url";

const dir = process.env.FEDIFY_DIR;
const modules = `${dir}/node_modules/@fedify`;
const fedify = await import(pathToFileURL(`${modules}/fedify/dist/mod.js`).href);
const vocab = await import(pathToFileURL(`${modules}/vocab/dist/mod.js`).href);
const runtime = await import(
  pathToFileURL(`${modules}/vocab-runtime/dist/mod.js`).href
);

let input = "";
for await (const chunk of process.stdin) input += chunk;
const req = JSON.parse(input);

const contextLoader = runtime.getDocumentLoader();
const documentLoader = async (url) => {
  if (url.split("#")[0] === req.actor.id) {
    return { contextUrl: null, documentUrl: url, document: req.actor };
  }
  return contextLoader(url);
};
const options = { contextLoader, documentLoader };

const ldSignature = await fedify.verifyJsonLd(req.document, options);
const proofOf = async (doc) =>
  (await fedify.verifyObject(vocab.Activity, doc, options)) != null;
const proof = await proofOf(req.document);
const proofWithoutSignature = await proofOf(
  await fedify.detachSignature(req.document),
);
console.log(JSON.stringify({ ldSignature, proof, proofWithoutSignature }));
