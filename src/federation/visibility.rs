//! Who may read an object: the serving guard for a local actor's objects
//! and activities ([`ReadGuard`]).
//!
//! ActivityPub §7 leaves access control of `GET` to the server. archipel
//! decides it here, from the object's addressing and the follow graph,
//! and refuses by default:
//!
//! | visibility (see [`read_visibility`]) | who may read |
//! |---|---|
//! | `Public`, `Unlisted` | anyone, signed or not |
//! | `FollowersOnly` | a signed reader who is an accepted follower of the author, or whose server (`host[:port]`) has one (servers fetch with their instance actor), or who is named in `to`/`cc`/`bto`/`bcc`/`audience` |
//! | `Direct` | a signed reader named in `to`/`cc`/`bto`/`bcc`/`audience` (exact IRI) |
//! | any | [`Reader::Owner`], and a signed reader whose key belongs to the author |
//!
//! Everything else gets [`Access::NotFound`]. **Answer it with `404 Not
//! Found`, never `403 Forbidden`**: a 403 tells a stranger that a private
//! object exists at that IRI.
//!
//! An object with no addressing at all is `Direct` (private by default);
//! `Public` counts in each of its spellings (`Public`, `as:Public`, the full
//! IRI). The author's followers collection counts wherever it appears in
//! the addressing.
//!
//! ```
//! use std::sync::Arc;
//! use archipel::federation::visibility::{Access, ReadGuard, Reader};
//! use archipel::federation::{keys::ActorKeys, Graph, LocalActor, MemoryGraph, Paths};
//! use archipel::signatures::PrivateKey;
//! use archipel::vocab::{Audience, Iri, Object};
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let pem = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/interop/keys/rsa-2048-pkcs8.pem"));
//! # let keys = ActorKeys { rsa: PrivateKey::from_pem(pem)?, ed25519: None };
//! let paths = Paths::new("https://books.example".parse()?)?;
//! let alice = LocalActor::person(&paths, "alice", keys)?;
//! let graph = Arc::new(MemoryGraph::new());
//! graph.add_follower(alice.id(), &Iri::parse("https://b.example/users/bob")?).await?;
//! let guard = ReadGuard::new(graph);
//!
//! let mut note = Object::new("Note");
//! Audience::followers_only(alice.followers().clone()).apply(&mut note);
//!
//! // Anonymous readers get 404; bob's server, signing with its instance actor, may read.
//! assert_eq!(guard.check(&alice, &note, &Reader::Anonymous).await?, Access::NotFound);
//! let bobs_server = Reader::Signed { owner: Iri::parse("https://b.example/actor")? };
//! assert_eq!(guard.check(&alice, &note, &bobs_server).await?, Access::Allow);
//! let stranger = Reader::Signed { owner: Iri::parse("https://c.example/actor")? };
//! assert_eq!(guard.check(&alice, &note, &stranger).await?, Access::NotFound);
//! # Ok(())
//! # }
//! ```

use std::sync::Arc;

use crate::signatures::Verified;
use crate::vocab::{AnyObject, Iri, Object, Refs, Visibility};

use super::graph::{Graph, GraphError};
use super::local::LocalActor;

/// Why the guard could not decide (the follow graph failed). Never a
/// reason to serve the object: answer `500` or `404`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum VisibilityError {
    /// The [`Graph`] failed while the guard asked whether the reader
    /// follows the author.
    #[error("read guard: asking the follow graph about reader {reader}: {source}")]
    Graph {
        /// The reader's IRI (the verified key owner).
        reader: Iri,
        /// The graph's error.
        #[source]
        source: GraphError,
    },
}

/// Who asks to read an object.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Reader {
    /// An unsigned request: sees only public and unlisted objects.
    Anonymous,
    /// A request with a verified HTTP signature; `owner` is the verified
    /// key's owner (a person, or a server's instance actor).
    Signed {
        /// The key owner the signature verification reported.
        owner: Iri,
    },
    /// The author themselves, as the application decided (the logged-in
    /// author, or a holder of their access token): sees everything they wrote.
    Owner,
}

impl From<&Verified> for Reader {
    /// A signed reader: the verified key's owner.
    fn from(v: &Verified) -> Reader {
        Reader::Signed {
            owner: v.owner.clone(),
        }
    }
}

impl From<Option<&Verified>> for Reader {
    /// A signed reader if the request was verified, else
    /// [`Reader::Anonymous`].
    fn from(v: Option<&Verified>) -> Reader {
        v.map_or(Reader::Anonymous, Reader::from)
    }
}

/// The guard's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Serve the object.
    Allow,
    /// Answer `404 Not Found`, never `403`: a refusal must not reveal that
    /// the object exists.
    NotFound,
}

/// The visibility the guard applies to `object` written by `author`.
///
/// It is [`Object::visibility`] with the author's followers collection,
/// except that a followers collection named only in `bto`, `bcc` or
/// `audience` also makes the object `FollowersOnly` (the followers were
/// sent it, so they may read it). An object with no addressing is
/// [`Visibility::Direct`].
pub fn read_visibility(object: &Object, author: &LocalActor) -> Visibility {
    let followers = author.followers();
    match object.visibility(Some(followers)) {
        Visibility::Direct
            if [&object.bto, &object.bcc, &object.audience]
                .into_iter()
                .any(|r| names(r.as_ref(), followers)) =>
        {
            Visibility::FollowersOnly
        }
        other => other,
    }
}

/// Whether `refs` names `iri` (exact match of the IRI, or of an embedded
/// object's `id`).
fn names(refs: Option<&Refs>, iri: &Iri) -> bool {
    refs.is_some_and(|r| r.iter().any(|x| x.id() == Some(iri)))
}

/// Whether `reader` is named in any addressing property of `object`.
fn addressed_to(object: &Object, reader: &Iri) -> bool {
    [
        &object.to,
        &object.cc,
        &object.bto,
        &object.bcc,
        &object.audience,
    ]
    .into_iter()
    .any(|r| names(r.as_ref(), reader))
}

/// The serving guard: decides, for a local actor's object and a reader,
/// whether to serve it (see the module docs for the rules).
///
/// It holds the follow [`Graph`]; the follower question is asked at most
/// once per [`check`](ReadGuard::check) or [`filter`](ReadGuard::filter)
/// call, and only when an object is followers-only.
#[derive(Clone)]
pub struct ReadGuard {
    graph: Arc<dyn Graph>,
}

impl std::fmt::Debug for ReadGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReadGuard").finish_non_exhaustive()
    }
}

/// The follower question for one (author, reader) pair, asked lazily and
/// remembered, so a listing of many objects asks the graph once.
struct Follows<'a> {
    graph: &'a dyn Graph,
    author: &'a Iri,
    reader: &'a Iri,
    answer: Option<bool>,
}

impl Follows<'_> {
    async fn get(&mut self) -> Result<bool, VisibilityError> {
        if let Some(a) = self.answer {
            return Ok(a);
        }
        let err = |source| VisibilityError::Graph {
            reader: self.reader.clone(),
            source,
        };
        let mut answer = self
            .graph
            .is_follower(self.author, self.reader)
            .await
            .map_err(err)?;
        if !answer {
            // A server fetches with its instance actor, not with the
            // follower's key: a follower on the same server suffices.
            let authority = self
                .reader
                .to_url()
                .ok()
                .map(|u| crate::client::authority(&u))
                .filter(|a| !a.is_empty());
            if let Some(authority) = authority {
                answer = self
                    .graph
                    .has_follower_on(self.author, &authority)
                    .await
                    .map_err(err)?;
            }
        }
        self.answer = Some(answer);
        Ok(answer)
    }
}

impl ReadGuard {
    /// A guard consulting `graph` for follow relationships.
    pub fn new(graph: Arc<dyn Graph>) -> ReadGuard {
        ReadGuard { graph }
    }

    /// Whether `reader` may read `object`, written by the local actor
    /// `author`. Pass an [`Activity`](crate::vocab::Activity) through
    /// `&activity` (it derefs to its object properties).
    ///
    /// # Errors
    /// [`VisibilityError::Graph`] if the follow graph fails; the object
    /// must not be served then.
    pub async fn check(
        &self,
        author: &LocalActor,
        object: &Object,
        reader: &Reader,
    ) -> Result<Access, VisibilityError> {
        match reader {
            Reader::Owner => Ok(Access::Allow),
            Reader::Anonymous => Ok(anonymous(object, author)),
            Reader::Signed { owner } => {
                let mut follows = self.follows(author, owner);
                signed(object, author, owner, &mut follows).await
            }
        }
    }

    /// The items of a listing (an outbox page, say) that `reader` may
    /// see, in order; all written by `author`. Links, which carry no
    /// addressing, are dropped except for [`Reader::Owner`].
    ///
    /// # Errors
    /// [`VisibilityError::Graph`] if the follow graph fails.
    pub async fn filter(
        &self,
        author: &LocalActor,
        items: Vec<AnyObject>,
        reader: &Reader,
    ) -> Result<Vec<AnyObject>, VisibilityError> {
        if *reader == Reader::Owner {
            return Ok(items);
        }
        let owner = match reader {
            Reader::Signed { owner } => Some(owner),
            _ => None,
        };
        let mut follows = owner.map(|o| self.follows(author, o));
        let mut shown = Vec::with_capacity(items.len());
        for item in items {
            let Some(object) = item.as_object() else {
                continue;
            };
            let access = match (owner, follows.as_mut()) {
                (Some(o), Some(f)) => signed(object, author, o, f).await?,
                _ => anonymous(object, author),
            };
            if access == Access::Allow {
                shown.push(item);
            }
        }
        Ok(shown)
    }

    fn follows<'a>(&'a self, author: &'a LocalActor, reader: &'a Iri) -> Follows<'a> {
        Follows {
            graph: self.graph.as_ref(),
            author: author.id(),
            reader,
            answer: None,
        }
    }
}

fn anonymous(object: &Object, author: &LocalActor) -> Access {
    match read_visibility(object, author) {
        Visibility::Public | Visibility::Unlisted => Access::Allow,
        _ => Access::NotFound,
    }
}

async fn signed(
    object: &Object,
    author: &LocalActor,
    owner: &Iri,
    follows: &mut Follows<'_>,
) -> Result<Access, VisibilityError> {
    // A request signed with the author's own key comes from this server.
    if owner == author.id() || addressed_to(object, owner) {
        return Ok(Access::Allow);
    }
    Ok(match read_visibility(object, author) {
        Visibility::Public | Visibility::Unlisted => Access::Allow,
        Visibility::FollowersOnly if follows.get().await? => Access::Allow,
        _ => Access::NotFound,
    })
}

#[cfg(test)]
mod tests;
