//! The in-process handoff: an activity the inbox just verified and stored
//! reaches this process's workers as the inbox parsed it, so the worker
//! that claims it does not decode the stored envelope and parse the body
//! a second time. Only an optimization: the stored job stays the truth.
//! A job claimed by another process, or retried, or stored while the table
//! is full, is decoded from its envelope as before.

use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, MutexGuard};

use crate::inbox::Incoming;

/// Most activities waiting in the handoff: bounded whatever happens to the
/// jobs (claimed elsewhere, crashed), the oldest forgotten first.
const CAPACITY: usize = 1_024;

/// Activities stored by this process and not yet claimed, by activity id.
#[derive(Default)]
pub(crate) struct Handoff {
    table: Mutex<Table>,
}

#[derive(Default)]
struct Table {
    by_id: HashMap<String, Incoming>,
    order: VecDeque<String>,
}

impl std::fmt::Debug for Handoff {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Handoff")
            .field("waiting", &self.lock().by_id.len())
            .finish()
    }
}

impl Handoff {
    fn lock(&self) -> MutexGuard<'_, Table> {
        // A poisoned lock only means a task panicked mid-insert; the table
        // is still a valid map (entries are whole or absent).
        self.table.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Keeps `incoming` for the worker that claims its job.
    pub(crate) fn put(&self, incoming: Incoming) {
        let mut t = self.lock();
        let id = incoming.id.as_str().to_owned();
        if t.by_id.insert(id.clone(), incoming).is_none() {
            t.order.push_back(id);
        }
        while t.by_id.len() > CAPACITY {
            let Some(old) = t.order.pop_front() else {
                break;
            };
            t.by_id.remove(&old);
        }
        // Ids taken out leave stale entries in `order`: compact it when it
        // grows past twice the table, so it stays bounded too.
        if t.order.len() > 2 * CAPACITY {
            let Table { by_id, order } = &mut *t;
            order.retain(|id| by_id.contains_key(id));
        }
    }

    /// The activity `id` as the inbox parsed it, if this process stored it
    /// and no worker took it yet.
    pub(crate) fn take(&self, id: &str) -> Option<Incoming> {
        self.lock().by_id.remove(id)
    }

    /// Forgets `id` (its job was not stored after all).
    pub(crate) fn forget(&self, id: &str) {
        self.lock().by_id.remove(id);
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.lock().by_id.len()
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;
    use crate::signatures::{Algorithm, Spec, Verified};
    use crate::vocab::{AnyObject, Iri};

    fn like(n: usize) -> Incoming {
        let id = format!("https://b.example/likes/{n}");
        let body = Bytes::from(format!(
            r#"{{"id":"{id}","type":"Like","actor":"https://b.example/u/bob","object":"https://a.example/n/1"}}"#
        ));
        Incoming {
            id: Iri::new_unchecked(&id),
            kind: "Like".into(),
            actor: Iri::new_unchecked("https://b.example/u/bob"),
            verified: Verified {
                key_id: Iri::new_unchecked("https://b.example/u/bob#main-key"),
                owner: Iri::new_unchecked("https://b.example/u/bob"),
                spec: Spec::Rfc9421,
                algorithm: Algorithm::Ed25519,
            },
            authenticity: crate::inbox::Authenticity::HttpSignature,
            forwarded_by: None,
            activity: AnyObject::from_slice(&body).unwrap(),
            body,
        }
    }

    #[test]
    fn an_activity_is_taken_once_as_handed_over() {
        let handoff = Handoff::default();
        handoff.put(like(1));
        let taken = handoff.take("https://b.example/likes/1").unwrap();
        assert_eq!(taken.id.as_str(), "https://b.example/likes/1");
        assert_eq!(taken.body, like(1).body);
        assert!(handoff.take("https://b.example/likes/1").is_none());
        handoff.put(like(2));
        handoff.forget("https://b.example/likes/2");
        assert!(handoff.take("https://b.example/likes/2").is_none());
    }

    #[test]
    fn activities_never_claimed_here_are_forgotten_oldest_first() {
        let handoff = Handoff::default();
        for n in 0..CAPACITY + 10 {
            handoff.put(like(n));
        }
        assert_eq!(handoff.len(), CAPACITY);
        assert!(handoff.take("https://b.example/likes/0").is_none());
        assert!(handoff.take("https://b.example/likes/9").is_none());
        assert!(handoff.take("https://b.example/likes/10").is_some());
        // Taking entries and adding more keeps the order list bounded too.
        for n in 0..10 * CAPACITY {
            handoff.put(like(n));
            handoff.take(&format!("https://b.example/likes/{n}"));
        }
        assert!(handoff.lock().order.len() <= 2 * CAPACITY + 1);
    }
}
