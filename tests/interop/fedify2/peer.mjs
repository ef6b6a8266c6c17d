// An independent ActivityPub peer built on Fedify 2 (npm @fedify/fedify and
// @fedify/vocab), for archipel's interop test of FEP-044f quote posts and
// account migration (`Move`). Fedify 2 types the vocabulary (QuoteRequest,
// QuoteAuthorization, InteractionPolicy, the `quote`/`quoteAuthorization`
// properties, `movedTo`/`alsoKnownAs` as `successor`/`aliases`) but leaves
// the protocol to the application, so this file plays the application the
// way Mastodon 4.5 does: the quoted side decides from its post's
// `interactionPolicy.canQuote`, the quoter attaches the authorization once
// granted, a receiver shows a quote only after fetching its authorization
// from the quoted post's origin, and a received `Move` moves bob's follow
// once the target's `alsoKnownAs` and the origin's `movedTo` agree.
//
// Local actors: ACTORS (comma-separated, default "bob,carol") on 127.0.0.1
// with an OS-chosen port, in-memory storage, private addresses allowed
// (loopback federation). Fedify verifies every incoming signature and that
// the key's owner is the activity's actor before a listener below runs.
//
// Control endpoints for the test driver (plain JSON over HTTP; `as` names
// the local actor acting, default "bob"):
//   POST /_control/follow      {target}                follow an actor (IRI)
//   POST /_control/undo-follow {target}                unfollow it
//   POST /_control/post        {content, canQuote?}    a public Note to followers;
//        canQuote: "public" (automatic approval for anyone), "manual"
//        (manual approval for anyone), "nobody" (the author alone), or
//        absent (no interactionPolicy at all)
//   POST /_control/quote       {target, content}       a Note quoting target (a post
//        IRI): Create to followers, QuoteRequest to the quoted author; on
//        Accept the authorization is checked as a receiver would, then
//        attached and an Update sent
//   POST /_control/approve     {request}               approve a pending QuoteRequest
//   POST /_control/reject      {request}               refuse a pending QuoteRequest
//   POST /_control/revoke      {authorization}         Delete a granted authorization
//   POST /_control/aliases     {aliases: [IRI]}        set the actor's alsoKnownAs
//   POST /_control/move        {target}                set movedTo and send Move to followers
//   GET  /_control/state       everything above, per actor, plus errors
//
// Environment: QUOTE_ANSWER=iri: Accept/Reject name the QuoteRequest by IRI
// instead of embedding it (Mastodon embeds it).
//
// Prints one line `{"port": N}` on stdout once listening.

import http from "node:http";
import { createFederation, generateCryptoKeyPair, MemoryKvStore } from "@fedify/fedify";
import {
  Accept,
  Create,
  Delete,
  Endpoints,
  Follow,
  InteractionPolicy,
  InteractionRule,
  lookupObject,
  Move,
  Note,
  Person,
  PUBLIC_COLLECTION,
  QuoteAuthorization,
  QuoteRequest,
  Reject,
  Undo,
  Update,
} from "@fedify/vocab";
import { getDocumentLoader } from "@fedify/vocab-runtime";

const names = (process.env.ACTORS ?? "bob,carol").split(",");
const federation = createFederation({
  kv: new MemoryKvStore(),
  allowPrivateAddress: true,
});
// Fresh, uncached fetches for the checks that must not trust a cache: the
// authorization of a quote, the two actors of a Move.
const freshLoader = getDocumentLoader({ allowPrivateAddress: true });

const actors = new Map(); // name -> per-actor state
for (const name of names) {
  actors.set(name, {
    keyPair: await generateCryptoKeyPair("RSASSA-PKCS1-v1_5"),
    followers: new Map(), // actor IRI -> actor object (for delivery)
    following: new Set(), // accepted
    pendingFollows: new Map(), // follow id -> target IRI
    aliases: [], // alsoKnownAs
    successor: null, // movedTo
  });
}
const state = {
  notes: new Map(), // id -> Note, served at /notes/{id}
  authorizations: new Map(), // id -> QuoteAuthorization, served until revoked
  // QuoteRequests received: {id, actor, object, instrument, status, authorization}
  quoteRequests: [],
  // Quotes made here: {note, target, request, status, authorization}
  myQuotes: [],
  // Notes received (Create or Update): {activity, id, content, attributedTo,
  // quote, quoteAuthorization, verified, reason}
  received: [],
  accepts: [],
  rejects: [],
  deletes: [],
  moves: [], // Moves received: {origin, target, accepted, reason, movedFollowers}
  inbound: [], // every POST to an inbox: {path, type, status}
  errors: [],
};

const local = (name) => actors.get(name);

federation
  .setActorDispatcher("/users/{identifier}", async (ctx, identifier) => {
    const a = local(identifier);
    if (a == null) return null;
    const keys = await ctx.getActorKeyPairs(identifier);
    return new Person({
      id: ctx.getActorUri(identifier),
      preferredUsername: identifier,
      name: `${identifier} (Fedify 2 peer)`,
      inbox: ctx.getInboxUri(identifier),
      endpoints: new Endpoints({ sharedInbox: ctx.getInboxUri() }),
      followers: ctx.getFollowersUri(identifier),
      publicKey: keys[0].cryptographicKey,
      assertionMethods: keys.map((k) => k.multikey),
      aliases: a.aliases.map((iri) => new URL(iri)),
      successor: a.successor == null ? null : new URL(a.successor),
    });
  })
  .setKeyPairsDispatcher(async (_ctx, identifier) => {
    const a = local(identifier);
    if (a == null) return [];
    return [a.keyPair];
  });

federation.setFollowersDispatcher(
  "/users/{identifier}/followers",
  async (_ctx, identifier) => {
    const a = local(identifier);
    if (a == null) return null;
    return {
      items: [...a.followers.values()].map((f) => ({
        id: f.id,
        inboxId: f.inboxId,
        endpoints: f.endpoints,
      })),
    };
  },
);

federation.setObjectDispatcher(
  Note,
  "/notes/{id}",
  (ctx, { id }) => state.notes.get(ctx.getObjectUri(Note, { id }).href) ?? null,
);
// The dereferenceable proof of consent; gone (404) once revoked.
federation.setObjectDispatcher(
  QuoteAuthorization,
  "/authorizations/{id}",
  (ctx, { id }) =>
    state.authorizations.get(ctx.getObjectUri(QuoteAuthorization, { id }).href) ?? null,
);

// The local actor an inbox-delivered activity is about, by IRI.
function localName(ctx, iri) {
  for (const name of names) {
    if (ctx.getActorUri(name).href === iri) return name;
  }
  return null;
}

// Who the policy lets quote: "automatic", "manual" or "refused". Only the
// public collection is honoured as an audience here (as the test needs);
// no policy at all means anyone may quote (FEP-044f, Mastodon).
function decide(note, quoter) {
  const policy = note.interactionPolicy;
  if (policy == null) return "automatic";
  const rule = policy.canQuote;
  if (rule == null) return "automatic";
  const names = (list) => list.map((u) => u.href);
  const auto = names(rule.automaticApprovals);
  const manual = names(rule.manualApprovals);
  if (auto.includes(quoter) || auto.includes(PUBLIC_COLLECTION.href)) return "automatic";
  if (manual.includes(quoter) || manual.includes(PUBLIC_COLLECTION.href)) return "manual";
  return "refused";
}

// The request as embedded in the answer, as Mastodon writes it (the quote
// post by IRI): a receiver recognizes an answer to its QuoteRequest by it.
// QUOTE_ANSWER=iri names the request by IRI only instead, as an answer
// built with Fedify's `object: requestId` does.
const answerByIri = process.env.QUOTE_ANSWER === "iri";
function embedded(request) {
  if (answerByIri) return new URL(request.id);
  return new QuoteRequest({
    id: new URL(request.id),
    actor: new URL(request.actor),
    object: new URL(request.object),
    instrument: new URL(request.instrument),
  });
}

async function authorize(ctx, request) {
  const name = localName(ctx, request.authorIri);
  const id = ctx.getObjectUri(QuoteAuthorization, { id: crypto.randomUUID() });
  state.authorizations.set(
    id.href,
    new QuoteAuthorization({
      id,
      attribution: ctx.getActorUri(name),
      interactingObject: new URL(request.instrument),
      interactionTarget: new URL(request.object),
    }),
  );
  request.status = "accepted";
  request.authorization = id.href;
  const quoter = await lookupObject(request.actor, { documentLoader: freshLoader });
  await ctx.sendActivity(
    { identifier: name },
    quoter,
    new Accept({
      id: new URL(`#accepts/${crypto.randomUUID()}`, ctx.getActorUri(name)),
      actor: ctx.getActorUri(name),
      object: embedded(request),
      result: id,
    }),
    { immediate: true },
  );
}

async function refuse(ctx, request) {
  const name = localName(ctx, request.authorIri);
  request.status = "rejected";
  const quoter = await lookupObject(request.actor, { documentLoader: freshLoader });
  await ctx.sendActivity(
    { identifier: name },
    quoter,
    new Reject({
      id: new URL(`#rejects/${crypto.randomUUID()}`, ctx.getActorUri(name)),
      actor: ctx.getActorUri(name),
      object: embedded(request),
    }),
    { immediate: true },
  );
}

// The receiver's check (FEP-044f): the authorization, fetched fresh from
// the quoted post's origin, is a QuoteAuthorization by the quoted post's
// author naming this quote and this post.
async function checkQuote(note) {
  const quote = note.quoteId;
  const authorization = note.quoteAuthorizationId;
  if (quote == null) return { verified: false, reason: "not a quote" };
  if (authorization == null) return { verified: false, reason: "no quoteAuthorization" };
  if (authorization.origin !== quote.origin) {
    return { verified: false, reason: "authorization not on the quoted post's origin" };
  }
  let auth;
  try {
    auth = await lookupObject(authorization, { documentLoader: freshLoader });
  } catch (e) {
    return { verified: false, reason: `authorization fetch failed: ${e}` };
  }
  if (!(auth instanceof QuoteAuthorization)) {
    return { verified: false, reason: `authorization is not a QuoteAuthorization: ${auth?.constructor?.name}` };
  }
  if (auth.interactingObjectId?.href !== note.id?.href) {
    return { verified: false, reason: `interactingObject is ${auth.interactingObjectId?.href}` };
  }
  if (auth.interactionTargetId?.href !== quote.href) {
    return { verified: false, reason: `interactionTarget is ${auth.interactionTargetId?.href}` };
  }
  const quoted = await lookupObject(quote, { documentLoader: freshLoader });
  if (quoted == null || auth.attributionId?.href !== quoted.attributionId?.href) {
    return { verified: false, reason: `attributedTo ${auth.attributionId?.href} is not the quoted author` };
  }
  return { verified: true, reason: null };
}

// Checks again every received quote resting on this authorization (after a
// Delete of it, or a revocation here).
async function recheck(authorization) {
  for (const r of state.received) {
    if (authorization == null || r.quoteAuthorization !== authorization) continue;
    const note = new Note({
      id: new URL(r.id),
      quote: new URL(r.quote),
      quoteAuthorization: new URL(r.quoteAuthorization),
    });
    Object.assign(r, await checkQuote(note));
  }
}

async function receiveNote(activity, note) {
  const check = await checkQuote(note);
  const entry = {
    activity: activity.constructor.name,
    id: note.id?.href,
    content: note.content?.toString(),
    attributedTo: note.attributionId?.href,
    quote: note.quoteId?.href ?? null,
    quoteUrl: note.quoteUrl?.href ?? null,
    quoteAuthorization: note.quoteAuthorizationId?.href ?? null,
    ...check,
  };
  // The latest version of a note replaces the earlier one.
  state.received = state.received.filter((r) => r.id !== entry.id);
  state.received.push(entry);
}

// A Move is honoured only when the target's alsoKnownAs names the origin
// and the origin's movedTo names the target, both fetched fresh.
async function checkMove(move) {
  const origin = move.actorId;
  const target = move.targetId;
  if (origin == null || target == null) return { accepted: false, reason: "no actor or target" };
  if (move.objectId?.href !== origin.href) {
    return { accepted: false, reason: "object is not the sender" };
  }
  const targetActor = await lookupObject(target, { documentLoader: freshLoader });
  if (targetActor == null) return { accepted: false, reason: "target not found" };
  if (!targetActor.aliasIds.some((a) => a.href === origin.href)) {
    return { accepted: false, reason: "target's alsoKnownAs does not name the origin" };
  }
  const originActor = await lookupObject(origin, { documentLoader: freshLoader });
  if (originActor?.successorId?.href !== target.href) {
    return { accepted: false, reason: "origin's movedTo does not name the target" };
  }
  return { accepted: true, reason: null, targetActor };
}

async function follow(ctx, name, target) {
  const me = ctx.getActorUri(name);
  const id = new URL(`#follows/${crypto.randomUUID()}`, me);
  local(name).pendingFollows.set(id.href, target.id.href);
  await ctx.sendActivity(
    { identifier: name },
    target,
    new Follow({ id, actor: me, object: target.id }),
    { immediate: true },
  );
  return id;
}

async function undoFollow(ctx, name, target) {
  const me = ctx.getActorUri(name);
  const a = local(name);
  const entry = [...a.pendingFollows].find(([, t]) => t === target.id.href);
  if (entry == null) return false;
  a.pendingFollows.delete(entry[0]);
  a.following.delete(target.id.href);
  await ctx.sendActivity(
    { identifier: name },
    target,
    new Undo({
      id: new URL(`#undo/${crypto.randomUUID()}`, me),
      actor: me,
      object: new Follow({ id: new URL(entry[0]), actor: me, object: target.id }),
    }),
    { immediate: true },
  );
  return true;
}

federation
  .setInboxListeners("/users/{identifier}/inbox", "/inbox")
  .on(Follow, async (ctx, follow) => {
    const name = localName(ctx, follow.objectId?.href);
    if (name == null) return;
    const follower = await follow.getActor(ctx);
    if (follower == null || follower.id == null) return;
    local(name).followers.set(follower.id.href, follower);
    await ctx.sendActivity(
      { identifier: name },
      follower,
      new Accept({
        id: new URL(`#accepts/${crypto.randomUUID()}`, ctx.getActorUri(name)),
        actor: ctx.getActorUri(name),
        object: follow,
      }),
      { immediate: true },
    );
  })
  .on(Accept, async (ctx, accept) => {
    const objectId = accept.objectId?.href;
    state.accepts.push({
      actor: accept.actorId?.href,
      object: objectId,
      result: accept.resultId?.href ?? null,
    });
    const quote = state.myQuotes.find((q) => q.request === objectId);
    if (quote != null) {
      // The quoted author consented: attach the authorization and update.
      if (accept.actorId?.href !== quote.targetAuthor) return;
      quote.authorization = accept.resultId?.href ?? null;
      const note = state.notes.get(quote.note);
      const updated = note.clone({
        quoteAuthorization: quote.authorization == null ? null : new URL(quote.authorization),
      });
      // Checked as any receiver would before it is attached.
      quote.check = await checkQuote(updated);
      quote.status = quote.check.verified ? "accepted" : "unverified";
      if (!quote.check.verified) return;
      state.notes.set(quote.note, updated);
      await sendToFollowersAnd(ctx, quote.name, [quote.targetAuthor], (me) =>
        new Update({
          id: new URL(`${quote.note}#update/${crypto.randomUUID()}`),
          actor: me,
          object: updated,
          to: PUBLIC_COLLECTION,
          cc: ctx.getFollowersUri(quote.name),
        })
      );
      return;
    }
    for (const a of actors.values()) {
      for (const [id, target] of a.pendingFollows) {
        if (target === accept.actorId?.href && (objectId == null || objectId === id)) {
          a.following.add(target);
        }
      }
    }
  })
  .on(Reject, async (_ctx, reject) => {
    const objectId = reject.objectId?.href;
    state.rejects.push({ actor: reject.actorId?.href, object: objectId });
    const quote = state.myQuotes.find((q) => q.request === objectId);
    if (quote != null) {
      if (reject.actorId?.href === quote.targetAuthor) quote.status = "rejected";
      return;
    }
    for (const a of actors.values()) a.following.delete(reject.actorId?.href);
  })
  .on(Undo, async (ctx, undo) => {
    const object = await undo.getObject(ctx);
    if (object instanceof Follow) {
      const name = localName(ctx, object.objectId?.href);
      if (name != null) local(name).followers.delete(undo.actorId?.href);
    }
  })
  .on(Create, async (ctx, create) => {
    const object = await create.getObject(ctx);
    if (object instanceof Note) await receiveNote(create, object);
  })
  .on(Update, async (ctx, update) => {
    const object = await update.getObject(ctx);
    if (object instanceof Note) await receiveNote(update, object);
  })
  .on(Delete, async (_ctx, del) => {
    const objectId = del.objectId?.href;
    state.deletes.push({ actor: del.actorId?.href, object: objectId });
    // A revoked authorization: the quotes resting on it are links again.
    for (const q of state.myQuotes) {
      if (q.authorization === objectId && del.actorId?.href === q.targetAuthor) {
        q.status = "revoked";
      }
    }
    await recheck(objectId);
  })
  .on(QuoteRequest, async (ctx, request) => {
    const target = request.objectId?.href;
    const note = state.notes.get(target);
    const entry = {
      id: request.id?.href,
      actor: request.actorId?.href,
      object: target,
      instrument: request.instrumentId?.href ?? null,
      status: "pending",
      decision: null,
      authorization: null,
      authorIri: note?.attributionId?.href ?? null,
    };
    state.quoteRequests.push(entry);
    if (note == null || entry.instrument == null) {
      entry.status = "ignored";
      return;
    }
    // The instrument (the quote post) must be the requester's own.
    const instrument = await request.getInstrument(ctx);
    if (instrument?.attributionId?.href !== entry.actor) {
      entry.decision = "refused";
      await refuse(ctx, entry);
      return;
    }
    entry.decision = decide(note, entry.actor);
    if (entry.decision === "automatic") await authorize(ctx, entry);
    else if (entry.decision === "refused") await refuse(ctx, entry);
  })
  .on(Move, async (ctx, move) => {
    const check = await checkMove(move);
    const record = {
      origin: move.actorId?.href,
      target: move.targetId?.href,
      accepted: check.accepted,
      reason: check.reason,
      movedFollowers: [],
    };
    state.moves.push(record);
    if (!check.accepted) return;
    // Every local actor following the origin follows the target instead.
    for (const [name, a] of actors) {
      if (![...a.pendingFollows.values()].includes(record.origin)) continue;
      const origin = await lookupObject(record.origin, { documentLoader: freshLoader });
      await undoFollow(ctx, name, origin);
      await follow(ctx, name, check.targetActor);
      record.movedFollowers.push(name);
    }
  })
  .onError((_ctx, error) => {
    state.errors.push(String(error?.stack ?? error));
  });

async function sendToFollowersAnd(ctx, name, extra, build) {
  const me = ctx.getActorUri(name);
  const recipients = [...local(name).followers.values()];
  for (const iri of extra) {
    if (!recipients.some((r) => r.id?.href === iri)) {
      const actor = await lookupObject(iri, { documentLoader: freshLoader });
      if (actor != null) recipients.push(actor);
    }
  }
  if (recipients.length === 0) return;
  await ctx.sendActivity({ identifier: name }, recipients, build(me), { immediate: true });
}

// "nobody" is written as Mastodon writes it: only the author, approved
// automatically. (An empty InteractionRule would not do: Fedify 2.3.6
// serializes it as `"canQuote": []`, which JSON-LD reads as no rule at all,
// that is, anyone may quote.)
function policyFor(canQuote, author) {
  const rule = {
    public: new InteractionRule({ automaticApprovals: [PUBLIC_COLLECTION] }),
    manual: new InteractionRule({ manualApprovals: [PUBLIC_COLLECTION] }),
    nobody: new InteractionRule({ automaticApprovals: [author] }),
  }[canQuote];
  return rule == null ? null : new InteractionPolicy({ canQuote: rule });
}

let origin;

async function control(request, url) {
  const ctx = federation.createContext(new URL(origin), undefined);
  const body = request.method === "POST" ? await request.json() : {};
  const name = body.as ?? "bob";
  if (local(name) == null) return Response.json({ error: `no actor ${name}` }, { status: 404 });
  const me = ctx.getActorUri(name);
  const lookup = async (iri) => {
    const found = await lookupObject(iri, { documentLoader: freshLoader });
    if (found == null || found.id == null) throw new Error(`cannot look up ${iri}`);
    return found;
  };
  switch (url.pathname) {
    case "/_control/state": {
      const perActor = {};
      for (const [n, a] of actors) {
        perActor[n] = {
          id: ctx.getActorUri(n).href,
          followers: [...a.followers.keys()],
          following: [...a.following],
          pendingFollows: Object.fromEntries(a.pendingFollows),
          aliases: a.aliases,
          successor: a.successor,
        };
      }
      return Response.json({
        actors: perActor,
        notes: [...state.notes.keys()],
        authorizations: [...state.authorizations.keys()],
        quoteRequests: state.quoteRequests,
        myQuotes: state.myQuotes,
        received: state.received,
        accepts: state.accepts,
        rejects: state.rejects,
        deletes: state.deletes,
        moves: state.moves,
        inbound: state.inbound,
        errors: state.errors,
      });
    }
    case "/_control/follow": {
      const id = await follow(ctx, name, await lookup(body.target));
      return Response.json({ follow: id.href });
    }
    case "/_control/undo-follow": {
      const ok = await undoFollow(ctx, name, await lookup(body.target));
      return ok ? Response.json({ ok }) : Response.json({ error: "not following" }, { status: 404 });
    }
    case "/_control/post": {
      const id = ctx.getObjectUri(Note, { id: crypto.randomUUID() });
      const note = new Note({
        id,
        attribution: me,
        content: body.content,
        to: PUBLIC_COLLECTION,
        cc: ctx.getFollowersUri(name),
        interactionPolicy: policyFor(body.canQuote, me),
      });
      state.notes.set(id.href, note);
      await sendToFollowersAnd(ctx, name, [], (me) =>
        new Create({
          id: new URL(`${id.href}#create`),
          actor: me,
          object: note,
          to: PUBLIC_COLLECTION,
          cc: ctx.getFollowersUri(name),
        })
      );
      return Response.json({ note: id.href });
    }
    case "/_control/quote": {
      const target = await lookup(body.target);
      const targetAuthor = target.attributionId?.href;
      if (targetAuthor == null) return Response.json({ error: "no author" }, { status: 400 });
      const id = ctx.getObjectUri(Note, { id: crypto.randomUUID() });
      const note = new Note({
        id,
        attribution: me,
        content: `${body.content}<p class="quote-inline">RE: ${target.id.href}</p>`,
        to: PUBLIC_COLLECTION,
        cc: ctx.getFollowersUri(name),
        quote: target.id,
      });
      state.notes.set(id.href, note);
      const requestId = new URL(`${id.href}#quote-request`);
      state.myQuotes.push({
        name,
        note: id.href,
        target: target.id.href,
        targetAuthor,
        request: requestId.href,
        status: "pending",
        authorization: null,
        check: null,
      });
      await sendToFollowersAnd(ctx, name, [], (me) =>
        new Create({
          id: new URL(`${id.href}#create`),
          actor: me,
          object: note,
          to: PUBLIC_COLLECTION,
          cc: ctx.getFollowersUri(name),
        })
      );
      await ctx.sendActivity(
        { identifier: name },
        await lookup(targetAuthor),
        new QuoteRequest({ id: requestId, actor: me, object: target.id, instrument: note }),
        { immediate: true },
      );
      return Response.json({ note: id.href, request: requestId.href });
    }
    case "/_control/approve":
    case "/_control/reject": {
      const entry = state.quoteRequests.find((r) => r.id === body.request);
      if (entry == null || entry.status !== "pending") {
        return Response.json({ error: "no pending request" }, { status: 404 });
      }
      if (url.pathname === "/_control/approve") await authorize(ctx, entry);
      else await refuse(ctx, entry);
      return Response.json({ status: entry.status, authorization: entry.authorization });
    }
    case "/_control/revoke": {
      const entry = state.quoteRequests.find((r) => r.authorization === body.authorization);
      if (entry == null) return Response.json({ error: "no such authorization" }, { status: 404 });
      state.authorizations.delete(entry.authorization);
      entry.status = "revoked";
      await recheck(entry.authorization);
      await sendToFollowersAnd(ctx, localName(ctx, entry.authorIri), [entry.actor], (me) =>
        new Delete({
          id: new URL(`${entry.authorization}#delete`),
          actor: me,
          object: new URL(entry.authorization),
          to: PUBLIC_COLLECTION,
        })
      );
      return Response.json({ ok: true });
    }
    case "/_control/aliases": {
      local(name).aliases = body.aliases;
      return Response.json({ ok: true });
    }
    case "/_control/move": {
      const target = await lookup(body.target);
      local(name).successor = target.id.href;
      await sendToFollowersAnd(ctx, name, [], (me) =>
        new Move({
          id: new URL(`#moves/${crypto.randomUUID()}`, me),
          actor: me,
          object: me,
          target: target.id,
          to: ctx.getFollowersUri(name),
        })
      );
      return Response.json({ ok: true });
    }
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
    const body = Buffer.concat(chunks);
    const request = new Request(url, {
      method: req.method,
      headers,
      body: hasBody ? body : undefined,
    });
    let response;
    if (url.pathname.startsWith("/_control/")) {
      try {
        response = await control(request, url);
      } catch (error) {
        state.errors.push(String(error?.stack ?? error));
        response = Response.json({ error: String(error) }, { status: 502 });
      }
    } else {
      response = await federation.fetch(request, { contextData: undefined });
      if (req.method === "POST" && url.pathname.endsWith("inbox")) {
        let type = null;
        try {
          type = JSON.parse(body.toString("utf8")).type ?? null;
        } catch {
          // recorded as null
        }
        state.inbound.push({ path: url.pathname, type, status: response.status });
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
