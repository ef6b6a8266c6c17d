//! Which local actors an inbound activity is for
//! ([`Federation::local_recipients`]): the shared inbox receives one copy
//! for the whole server, and the application files it for the right
//! people.
//!
//! The decision, as Mastodon makes it: an activity goes to the local
//! actors it names (in `to`, `cc`, `audience` or as its `object`), and,
//! when it is addressed to `Public` or to its sender's followers
//! collection, also to the local actors who follow its sender. Any other
//! activity is its addressees' alone, whoever else here follows the
//! sender: a direct message, even one naming someone on another server,
//! never lands in a follower's inbox.
//!
//! ```no_run
//! use archipel::federation::Federation;
//! use archipel::federation::dispatch::{Cx, WithObject};
//! # async fn demo(fed: Federation, cx: Cx, create: WithObject) -> Result<(), archipel::federation::graph::GraphError> {
//! let users: Vec<_> = ["alice", "bob"].into_iter().filter_map(|n| fed.local(n)).collect();
//! for me in fed.local_recipients(&cx, &create.activity, &users).await? {
//!     println!("file {} for {}", cx.activity_id(), me.name());
//! }
//! # Ok(()) }
//! ```

use super::dispatch::Cx;
use super::graph::GraphError;
use super::hub::Federation;
use super::local::LocalActor;
use crate::vocab::audience::is_public_iri;
use crate::vocab::{Activity, Reference};

impl Federation {
    /// Of `candidates` (this server's users), those `activity`, received
    /// from `cx.actor()`, is for: see the [module docs](super::fanin).
    /// Each candidate not named costs one look at whom they follow, and
    /// only when the activity is addressed to `Public` or the sender's
    /// followers.
    ///
    /// # Errors
    /// The follow graph's failure.
    pub async fn local_recipients(
        &self,
        cx: &Cx,
        activity: &Activity,
        candidates: &[LocalActor],
    ) -> Result<Vec<LocalActor>, GraphError> {
        let named = cx.local_actors();
        let beyond = self.to_followers(cx, activity).await;
        let mut out = Vec::new();
        for me in candidates {
            let wanted = if named.contains(me.id()) {
                true
            } else if beyond {
                self.graph().following(me.id()).await?.contains(cx.actor())
            } else {
                false
            };
            if wanted && !out.iter().any(|o: &LocalActor| o.id() == me.id()) {
                out.push(me.clone());
            }
        }
        Ok(out)
    }

    /// Whether `activity` is addressed to `Public` or to its sender's
    /// followers collection. Any other remote addressee (a second person
    /// in a direct message) does not make it the followers' business. The
    /// sender's `followers` comes from the actor cache, which verifying
    /// the signature filled; an actor that cannot be had counts as
    /// addressing no followers collection, so a private activity is never
    /// widened on a fetch failure.
    async fn to_followers(&self, cx: &Cx, activity: &Activity) -> bool {
        let addressees = || {
            [&activity.to, &activity.cc, &activity.audience]
                .into_iter()
                .flatten()
                .flat_map(|refs| refs.iter())
                .filter_map(Reference::id)
        };
        if addressees().any(|iri| is_public_iri(iri.as_str())) {
            return true;
        }
        if addressees().all(|iri| self.local_by_id(iri).is_some()) {
            return false;
        }
        let Ok(sender) = self.actors().get(cx.actor()).await else {
            return false;
        };
        sender
            .followers()
            .is_some_and(|followers| addressees().any(|iri| iri == followers))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};
    use std::time::SystemTime;

    use bytes::Bytes;
    use serde_json::json;

    use crate::federation::Federation;
    use crate::federation::remote::StoredActor;
    use crate::inbox::Incoming;
    use crate::signatures::{Algorithm, Spec, Verified};
    use crate::vocab::{AnyObject, Iri};

    const BOB: &str = "https://b.example/users/bob";

    fn iri(s: &str) -> Iri {
        Iri::parse(s).unwrap()
    }

    /// The names `local_recipients` picks of alice, carol and dora for a
    /// Like from bob addressed `to`, when alice follows bob and dora
    /// follows someone else.
    async fn recipients(to: serde_json::Value) -> Vec<String> {
        let fed = Federation::builder("https://a.example".parse().unwrap())
            .build()
            .await
            .unwrap();
        for name in ["alice", "carol", "dora"] {
            let actor = fed.actor(name).await.unwrap();
            fed.register(actor);
        }
        // The sender as verifying its signature left it in the cache.
        let bob = json!({"id": BOB, "type": "Person", "inbox": format!("{BOB}/inbox"),
            "followers": format!("{BOB}/followers")});
        let bob = StoredActor::decode(&bob.to_string(), SystemTime::now()).unwrap();
        fed.actors().store().put(bob).await.unwrap();
        let alice = iri("https://a.example/users/alice");
        fed.graph().add_following(&alice, &iri(BOB)).await.unwrap();
        let dora = iri("https://a.example/users/dora");
        let other = iri("https://c.example/users/eve");
        fed.graph().add_following(&dora, &other).await.unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let dispatcher = fed.dispatcher().on_like({
            let (fed, seen) = (fed.clone(), seen.clone());
            move |cx, like| {
                let (fed, seen) = (fed.clone(), seen.clone());
                async move {
                    let users = ["alice", "carol", "dora"].map(|n| fed.local(n).unwrap());
                    let got = fed.local_recipients(&cx, &like, &users).await?;
                    let mut seen = seen.lock().unwrap();
                    seen.extend(got.iter().map(|a| a.name().to_owned()));
                    Ok(())
                }
            }
        });
        let doc = json!({"id": "https://b.example/likes/1", "type": "Like", "actor": BOB,
                         "object": "https://a.example/objects/1", "to": to});
        let body = doc.to_string();
        let incoming = Incoming {
            id: iri("https://b.example/likes/1"),
            kind: "Like".into(),
            actor: iri(BOB),
            verified: Verified {
                key_id: iri(&format!("{BOB}#main-key")),
                owner: iri(BOB),
                spec: Spec::Cavage,
                algorithm: Algorithm::RsaV1_5Sha256,
            },
            authenticity: crate::inbox::Authenticity::HttpSignature,
            forwarded_by: None,
            activity: AnyObject::from_slice(body.as_bytes()).unwrap(),
            body: Bytes::from(body),
        };
        dispatcher.dispatch(incoming).await.unwrap();
        seen.lock().unwrap().clone()
    }

    #[tokio::test]
    async fn a_direct_activity_reaches_only_its_addressees() {
        let got = recipients(json!(["https://a.example/users/carol"])).await;
        assert_eq!(got, ["carol"]);
    }

    #[tokio::test]
    async fn a_direct_activity_naming_someone_elsewhere_stays_direct() {
        let got = recipients(json!([
            "https://a.example/users/carol",
            "https://c.example/users/eve"
        ]))
        .await;
        assert_eq!(got, ["carol"]);
    }

    #[tokio::test]
    async fn a_followers_only_activity_reaches_the_senders_local_followers() {
        let got = recipients(json!(["https://b.example/users/bob/followers"])).await;
        assert_eq!(got, ["alice"]);
    }

    #[tokio::test]
    async fn a_public_activity_naming_someone_reaches_them_and_the_followers() {
        let got = recipients(json!([
            "https://www.w3.org/ns/activitystreams#Public",
            "https://a.example/users/carol"
        ]))
        .await;
        assert_eq!(got, ["alice", "carol"]);
    }
}
