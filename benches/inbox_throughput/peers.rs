//! The remote side of the bench: actors with RSA-2048 keys, spread over
//! several loopback hosts (127.0.0.11, 127.0.0.12, ...), each host an axum
//! server answering its actors' documents (with `publicKey`), and their
//! `Create{Note}` activities signed ahead of the measurement.
//!
//! Why several hosts: the server's key resolver allows 60 key fetches per
//! host per minute, as a real server does, so 100 actors on one host would
//! meet 503s that a real fediverse spread over instances does not.

use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use archipel::signatures::{PrivateKey, Signer};
use archipel::vocab::audience::PUBLIC;
use archipel::vocab::{Activity, Actor, AnyObject, Iri, Kind, Object, OneOrMany, Reference};
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;

use crate::Res;

/// One remote actor and the signer of its key (`{id}#main-key`).
pub struct Peer {
    /// The actor's IRI, `http://127.0.0.N:PORT/actors/I`.
    pub id: Iri,
    signer: Signer,
}

/// Every remote actor, and their servers' shared fetch counter.
pub struct Peers {
    /// The actors, in index order.
    pub actors: Vec<Peer>,
    /// How many actor documents the hosts served (the server's cache misses).
    pub fetches: Arc<AtomicUsize>,
}

/// A signed inbox POST, ready to send: body and headers (`Date`, `Digest`,
/// `Host`, `Signature`, `Content-Type`).
pub struct Signed {
    /// The serialized activity.
    pub body: Bytes,
    /// The headers, signature included.
    pub headers: http::HeaderMap,
}

/// Generates `count` RSA-2048 keys on every core (tens of milliseconds each).
fn generate_keys(count: usize) -> Res<Vec<PrivateKey>> {
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let per_thread = count.div_ceil(cores).max(1);
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..count)
            .step_by(per_thread)
            .map(|start| {
                let n = per_thread.min(count - start);
                scope.spawn(move || {
                    (0..n)
                        .map(|_| PrivateKey::generate_rsa_2048())
                        .collect::<Result<Vec<_>, _>>()
                })
            })
            .collect();
        let mut keys = Vec::with_capacity(count);
        for handle in handles {
            let batch = handle.join().map_err(|_| "key generation panicked")??;
            keys.extend(batch);
        }
        Ok(keys)
    })
}

/// The documents one host serves, by actor index.
struct Host {
    documents: HashMap<usize, String>,
    fetches: Arc<AtomicUsize>,
}

async fn actor_document(State(host): State<Arc<Host>>, Path(index): Path<usize>) -> Response {
    match host.documents.get(&index) {
        Some(doc) => {
            host.fetches.fetch_add(1, Ordering::Relaxed);
            (
                [(header::CONTENT_TYPE, "application/activity+json")],
                doc.clone(),
            )
                .into_response()
        }
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

/// Starts `hosts` loopback hosts serving `actors` actors between them
/// (actor `i` on host `i % hosts`), on the current tokio runtime, each
/// actor with a key of its own.
#[allow(dead_code)] // each bench compiles this module; not all call both
pub async fn start(actors: usize, hosts: usize) -> Res<Peers> {
    start_with_keys(actors, hosts, actors).await
}

/// [`start`], with only `keys` RSA keys generated and actor `i` given key
/// `i % keys` (under its own key id): the server verifies exactly as with
/// distinct keys, since it resolves and checks each key id on its own, and
/// a thousand actors do not cost a thousand key generations.
pub async fn start_with_keys(actors: usize, hosts: usize, keys: usize) -> Res<Peers> {
    let keys = keys.clamp(1, actors.max(1));
    let generated = tokio::task::spawn_blocking(move || generate_keys(keys)).await??;
    let keys: Vec<PrivateKey> = (0..actors)
        .map(|i| generated[i % generated.len()].clone())
        .collect();
    let fetches = Arc::new(AtomicUsize::new(0));
    let mut listeners = Vec::with_capacity(hosts);
    for h in 0..hosts {
        let ip = Ipv4Addr::new(127, 0, 0, u8::try_from(11 + h)?);
        listeners.push(tokio::net::TcpListener::bind(SocketAddr::from((ip, 0))).await?);
    }
    let mut documents: Vec<HashMap<usize, String>> = vec![HashMap::new(); hosts];
    let mut peers = Vec::with_capacity(actors);
    for (i, key) in keys.into_iter().enumerate() {
        let h = i % hosts;
        let base = format!("http://{}", listeners[h].local_addr()?);
        let id = Iri::parse(format!("{base}/actors/{i}"))?;
        let key_id = Iri::parse(format!("{id}#main-key"))?;
        let inbox = Iri::parse(format!("{id}/inbox"))?;
        let mut actor = Actor::new(Kind::Person, id.clone(), inbox)
            .with_public_key(key_id.clone(), key.public_key().to_spki_pem());
        actor.preferred_username = Some(format!("peer{i}"));
        documents[h].insert(i, serde_json::to_string(&actor)?);
        peers.push(Peer {
            id,
            signer: Signer::new(key_id.as_str(), key),
        });
    }
    for (listener, documents) in listeners.into_iter().zip(documents) {
        let host = Arc::new(Host {
            documents,
            fetches: fetches.clone(),
        });
        let router = axum::Router::new()
            .route("/actors/{index}", axum::routing::get(actor_document))
            .with_state(host);
        tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, router).await {
                eprintln!("actor host: {e}");
            }
        });
    }
    Ok(Peers {
        actors: peers,
        fetches,
    })
}

/// The note of activity `n` of `peer`: its IRI, for the check that the
/// server kept it.
pub fn note_id(peer: &Peer, n: usize) -> Res<Iri> {
    Ok(Iri::parse(format!("{}/notes/{n}", peer.id))?)
}

/// The content of note `n` (distinct per note, so that a kept row can be
/// checked against what was sent).
pub fn note_content(n: usize) -> String {
    format!("<p>Throughput note {n}: distinct, signed, and addressed to one local user.</p>")
}

/// `Create{Note}` number `n` of `peer`, to `local` with `Public` in `cc`
/// (a public post mentioning the local user).
pub fn create(peer: &Peer, n: usize, local: &Iri) -> Res<Activity> {
    let to: OneOrMany<Reference> = vec![Reference::from(local.clone())].into();
    let cc: OneOrMany<Reference> = vec![Reference::from(Iri::parse(PUBLIC)?)].into();
    let mut note = Object::new("Note")
        .with_id(note_id(peer, n)?)
        .with_attributed_to(peer.id.clone())
        .with_content(note_content(n));
    note.to = Some(to);
    note.cc = Some(cc);
    let id = Iri::parse(format!("{}/creates/{n}", peer.id))?;
    Ok(Activity::create(id, peer.id.clone(), AnyObject::from(note)))
}

/// Signs (draft-cavage, `Date` now) a POST of `activity` to `inbox`.
pub fn sign(peer: &Peer, inbox: &str, activity: &Activity) -> Res<Signed> {
    let body = Bytes::from(serde_json::to_vec(activity)?);
    let mut request = http::Request::post(inbox)
        .header(header::CONTENT_TYPE, "application/activity+json")
        .body(body.clone())?;
    peer.signer.sign(&mut request)?;
    Ok(Signed {
        body,
        headers: request.headers().clone(),
    })
}

/// `make(i)` for every `i` in `0..total`, in order, spread over every
/// core: signing tens of thousands of requests before a run starts.
pub fn on_every_core<T: Send>(total: usize, make: impl Fn(usize) -> Res<T> + Sync) -> Res<Vec<T>> {
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let chunk = total.div_ceil(cores).max(1);
    let make = &make;
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..total)
            .step_by(chunk)
            .map(|from| {
                let to = (from + chunk).min(total);
                scope.spawn(move || (from..to).map(make).collect::<Res<Vec<T>>>())
            })
            .collect();
        let mut all = Vec::with_capacity(total);
        for handle in handles {
            all.extend(handle.join().map_err(|_| "signing panicked")??);
        }
        Ok(all)
    })
}
