// An independent ActivityPub peer built on Fedify (npm @fedify/fedify), for
// archipel's interoperability test. One local actor, "bob", on 127.0.0.1 with
// an OS-chosen port, in-memory storage, private addresses allowed (loopback
// federation). Fedify verifies every incoming signature itself (draft-cavage
// and RFC 9421) and checks that the key's owner is the activity's actor; its
// listeners below only run for activities that passed.
//
// Control endpoints for the test driver (plain JSON over HTTP):
//   POST /_control/follow   {"target": ACTOR_IRI}   bob follows the target
//   POST /_control/post     {"content": TEXT}       bob posts a public Note to his followers
//   POST /_control/undo-follow {"target": ACTOR_IRI} bob unfollows
//   GET  /_control/state    followers, following, received notes, inbound signature dialects
//
// Environment: FIRST_KNOCK = "rfc9421" (default) or "draft-cavage-http-signatures-12":
// which signature dialect Fedify tries first when it sends.
//
// REQUIRE_SIGNED_FETCH = "1": authorized-fetch mode, both ways. Bob's actor
// document and followers collection are served only to signed requests
// (401 otherwise), and every document Bob fetches (actors, objects) is
// fetched with a GET signed by Bob's key.
//
// Prints one line `{"port": N}` on stdout once listening.

import http from "node:http";
import {
  Accept,
  Create,
  createFederation,
  Endpoints,
  Follow,
  generateCryptoKeyPair,
  MemoryKvStore,
  Note,
  Person,
  PUBLIC_COLLECTION,
  Reject,
  Undo,
} from "@fedify/fedify";

const firstKnock = process.env.FIRST_KNOCK ?? "rfc9421";
const requireSignedFetch = process.env.REQUIRE_SIGNED_FETCH === "1";
// In authorized-fetch mode only a request whose signature Fedify verified
// (signedKey set) may read; otherwise anyone may.
const authorizeRead = async (_ctx, _identifier, signedKey) =>
  !requireSignedFetch || signedKey != null;
const federation = createFederation({
  kv: new MemoryKvStore(),
  allowPrivateAddress: true,
  firstKnock,
});

const keyPair = await generateCryptoKeyPair("RSASSA-PKCS1-v1_5");
const state = {
  followers: new Map(), // actor IRI -> actor object (for delivery)
  following: new Set(), // accepted
  pendingFollows: new Map(), // follow id -> target IRI
  notes: [], // received notes {id, content, attributedTo, via}
  accepts: [], // received Accepts {actor, object}
  inbound: [], // every POST to an inbox: {path, dialect, status}
  errors: [],
};

federation
  .setActorDispatcher("/users/{identifier}", async (ctx, identifier) => {
    if (identifier !== "bob") return null;
    const keys = await ctx.getActorKeyPairs(identifier);
    return new Person({
      id: ctx.getActorUri(identifier),
      preferredUsername: identifier,
      name: "Bob (Fedify peer)",
      inbox: ctx.getInboxUri(identifier),
      endpoints: new Endpoints({ sharedInbox: ctx.getInboxUri() }),
      followers: ctx.getFollowersUri(identifier),
      publicKey: keys[0].cryptographicKey,
      assertionMethods: keys.map((k) => k.multikey),
    });
  })
  .setKeyPairsDispatcher(async (_ctx, identifier) =>
    identifier === "bob" ? [keyPair] : []
  )
  .authorize(authorizeRead);

// Lookups made on Bob's behalf: signed by Bob in authorized-fetch mode;
// otherwise the context's own (unsigned) loaders, as before.
async function loaderOptions(ctx) {
  if (!requireSignedFetch) return ctx;
  return {
    documentLoader: await ctx.getDocumentLoader({ identifier: "bob" }),
    contextLoader: ctx.contextLoader,
  };
}

federation.setFollowersDispatcher(
  "/users/{identifier}/followers",
  async (_ctx, identifier) => {
    if (identifier !== "bob") return null;
    return {
      items: [...state.followers.values()].map((a) => ({
        id: a.id,
        inboxId: a.inboxId,
        endpoints: a.endpoints,
      })),
    };
  },
).authorize(authorizeRead);

federation
  .setInboxListeners("/users/{identifier}/inbox", "/inbox")
  .on(Follow, async (ctx, follow) => {
    if (follow.objectId?.href !== ctx.getActorUri("bob").href) return;
    const follower = await follow.getActor(await loaderOptions(ctx));
    if (follower == null || follower.id == null) return;
    state.followers.set(follower.id.href, follower);
    await ctx.sendActivity(
      { identifier: "bob" },
      follower,
      new Accept({
        id: new URL(`#accepts/${crypto.randomUUID()}`, ctx.getActorUri("bob")),
        actor: ctx.getActorUri("bob"),
        object: follow,
      }),
      { immediate: true },
    );
  })
  .on(Accept, async (_ctx, accept) => {
    // The id of the embedded Follow, as sent; getObject() would re-fetch a
    // cross-origin embedded object by its id, which for a fragment id is the actor.
    const followId = accept.objectId?.href;
    state.accepts.push({ actor: accept.actorId?.href, object: followId });
    for (const [id, target] of state.pendingFollows) {
      if (target === accept.actorId?.href && (followId == null || followId === id)) {
        state.following.add(target);
      }
    }
  })
  .on(Reject, async (_ctx, reject) => {
    state.following.delete(reject.actorId?.href);
  })
  .on(Undo, async (ctx, undo) => {
    const object = await undo.getObject(await loaderOptions(ctx));
    if (object instanceof Follow) state.followers.delete(undo.actorId?.href);
  })
  .on(Create, async (ctx, create) => {
    const object = await create.getObject(await loaderOptions(ctx));
    if (object instanceof Note) {
      state.notes.push({
        id: object.id?.href,
        content: object.content?.toString(),
        attributedTo: object.attributionId?.href,
        via: create.actorId?.href,
      });
    }
  })
  .onError((_ctx, error) => {
    state.errors.push(String(error?.stack ?? error));
  });

let origin;

async function control(request, url) {
  const ctx = federation.createContext(new URL(origin), undefined);
  const body = request.method === "POST" ? await request.json() : {};
  const me = ctx.getActorUri("bob");
  if (url.pathname === "/_control/state") {
    return Response.json({
      actor: me.href,
      followers: [...state.followers.keys()],
      following: [...state.following],
      pendingFollows: Object.fromEntries(state.pendingFollows),
      notes: state.notes,
      accepts: state.accepts,
      inbound: state.inbound,
      errors: state.errors,
    });
  }
  if (url.pathname === "/_control/follow") {
    const target = await ctx.lookupObject(
      body.target,
      requireSignedFetch ? await loaderOptions(ctx) : {},
    );
    if (target == null || target.id == null) {
      return Response.json({ error: `cannot look up ${body.target}` }, { status: 502 });
    }
    const id = new URL(`#follows/${crypto.randomUUID()}`, me);
    state.pendingFollows.set(id.href, target.id.href);
    await ctx.sendActivity(
      { identifier: "bob" },
      target,
      new Follow({ id, actor: me, object: target.id }),
      { immediate: true },
    );
    return Response.json({ follow: id.href });
  }
  if (url.pathname === "/_control/undo-follow") {
    const target = await ctx.lookupObject(
      body.target,
      requireSignedFetch ? await loaderOptions(ctx) : {},
    );
    const entry = [...state.pendingFollows].find(([, t]) => t === body.target);
    if (target == null || entry == null) {
      return Response.json({ error: "not following" }, { status: 404 });
    }
    state.pendingFollows.delete(entry[0]);
    state.following.delete(body.target);
    await ctx.sendActivity(
      { identifier: "bob" },
      target,
      new Undo({
        id: new URL(`#undo/${crypto.randomUUID()}`, me),
        actor: me,
        object: new Follow({ id: new URL(entry[0]), actor: me, object: target.id }),
      }),
      { immediate: true },
    );
    return Response.json({ ok: true });
  }
  if (url.pathname === "/_control/post") {
    const noteId = new URL(`/notes/${crypto.randomUUID()}`, origin);
    const note = new Note({
      id: noteId,
      attribution: me,
      content: body.content,
      to: PUBLIC_COLLECTION,
      cc: ctx.getFollowersUri("bob"),
    });
    await ctx.sendActivity(
      { identifier: "bob" },
      [...state.followers.values()],
      new Create({
        id: new URL(`${noteId.href}#create`),
        actor: me,
        object: note,
        to: PUBLIC_COLLECTION,
        cc: ctx.getFollowersUri("bob"),
      }),
      { immediate: true },
    );
    return Response.json({ note: noteId.href });
  }
  return new Response("not found", { status: 404 });
}

const server = http.createServer(async (req, res) => {
  try {
    const url = new URL(req.url, origin);
    const chunks = [];
    for await (const chunk of req) chunks.push(chunk);
    const headers = new Headers();
    for (const [name, value] of Object.entries(req.headers)) {
      if (Array.isArray(value)) value.forEach((v) => headers.append(name, v));
      else if (value !== undefined) headers.set(name, value);
    }
    const hasBody = !["GET", "HEAD"].includes(req.method);
    const request = new Request(url, {
      method: req.method,
      headers,
      body: hasBody ? Buffer.concat(chunks) : undefined,
    });
    let response;
    if (url.pathname.startsWith("/_control/")) {
      response = await control(request, url);
    } else {
      response = await federation.fetch(request, { contextData: undefined });
      if (req.method === "POST" && url.pathname.endsWith("inbox")) {
        const dialect = headers.has("signature-input")
          ? "rfc9421"
          : headers.has("signature")
          ? "draft-cavage-http-signatures-12"
          : "unsigned";
        state.inbound.push({ path: url.pathname, dialect, status: response.status });
      }
    }
    res.writeHead(response.status, Object.fromEntries(response.headers));
    res.end(Buffer.from(await response.arrayBuffer()));
  } catch (error) {
    state.errors.push(String(error?.stack ?? error));
    res.writeHead(500, { "content-type": "text/plain" });
    res.end(String(error));
  }
});

server.listen(0, "127.0.0.1", () => {
  const { port } = server.address();
  origin = `http://127.0.0.1:${port}`;
  console.log(JSON.stringify({ port }));
});
