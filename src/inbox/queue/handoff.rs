//! The in-process handoff: an activity the inbox just verified and stored
//! reaches this process's workers as the inbox parsed it, so the worker
//! that claims it does not decode the stored envelope and parse the body
//! a second time. Only an optimization: the stored job stays the truth.
//! A job claimed by another process, or retried, or stored while the table
//! is full, is decoded from its envelope as before.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::inbox::Incoming;

/// Most activities waiting in the handoff. Past it (or past
/// [`MAX_BYTES`]) a new activity is not kept: its worker decodes the
/// stored copy. The oldest entries are the next to be claimed (the queue
/// is first in, first out), so a full table keeps them rather than making
/// room: evicting the oldest would throw away exactly the parses about to
/// be used, and a backlog just past the capacity would then decode every
/// activity twice.
const CAPACITY: usize = 4_096;

/// Most received bytes the kept activities may hold together (16 MiB);
/// their parsed form is a small multiple of it. Bounds memory whatever the
/// senders' body sizes.
const MAX_BYTES: usize = 16 * 1024 * 1024;

/// An entry older than this was claimed elsewhere (another machine, or a
/// lease that lapsed after a crash of the worker holding it): nobody here
/// will take it, so a full table forgets it. Far past the time a local
/// worker takes to claim what was just stored.
const STALE: Duration = Duration::from_secs(60);

/// Activities stored by this process and not yet claimed, by activity id.
#[derive(Default)]
pub(crate) struct Handoff {
    table: Mutex<Table>,
}

#[derive(Default)]
struct Table {
    by_id: HashMap<String, (Instant, Incoming)>,
    /// Sum of the kept activities' body lengths.
    bytes: usize,
    /// When a full table last looked for stale entries.
    swept: Option<Instant>,
}

impl Table {
    fn remove(&mut self, id: &str) -> Option<Incoming> {
        let (_, incoming) = self.by_id.remove(id)?;
        self.bytes = self.bytes.saturating_sub(incoming.body.len());
        Some(incoming)
    }

    fn has_room(&self, len: usize) -> bool {
        self.by_id.len() < CAPACITY && self.bytes.saturating_add(len) <= MAX_BYTES
    }

    /// Forgets the stale entries, at most once a second (the scan is over
    /// the whole table).
    fn sweep(&mut self, now: Instant) -> Vec<Incoming> {
        if self
            .swept
            .is_some_and(|at| now.saturating_duration_since(at) < Duration::from_secs(1))
        {
            return Vec::new();
        }
        self.swept = Some(now);
        let stale: Vec<String> = self
            .by_id
            .iter()
            .filter(|(_, (at, _))| now.saturating_duration_since(*at) >= STALE)
            .map(|(id, _)| id.clone())
            .collect();
        stale.iter().filter_map(|id| self.remove(id)).collect()
    }
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

    /// Keeps `incoming` for the worker that claims its job, if there is
    /// room; else it is dropped here and the worker decodes the stored
    /// copy.
    pub(crate) fn put(&self, incoming: Incoming) {
        self.put_at(incoming, Instant::now());
    }

    fn put_at(&self, incoming: Incoming, now: Instant) {
        let len = incoming.body.len();
        // Whatever is let go is dropped after the lock is released: a
        // parsed activity's tree takes a while to free.
        let mut released = Vec::new();
        {
            let mut t = self.lock();
            if !t.has_room(len) {
                released = t.sweep(now);
            }
            if t.has_room(len) {
                let id = incoming.id.as_str().to_owned();
                t.bytes += len;
                if let Some((_, old)) = t.by_id.insert(id, (now, incoming)) {
                    t.bytes = t.bytes.saturating_sub(old.body.len());
                    released.push(old);
                }
            } else {
                released.push(incoming);
            }
        }
        drop(released);
    }

    /// The activity `id` as the inbox parsed it, if this process stored it
    /// and no worker took it yet.
    pub(crate) fn take(&self, id: &str) -> Option<Incoming> {
        self.lock().remove(id)
    }

    /// Forgets `id` (its job was not stored after all).
    pub(crate) fn forget(&self, id: &str) {
        let forgotten = self.lock().remove(id);
        drop(forgotten);
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
    fn a_full_table_keeps_the_oldest_which_are_claimed_next() {
        let handoff = Handoff::default();
        for n in 0..CAPACITY + 10 {
            handoff.put(like(n));
        }
        assert_eq!(handoff.len(), CAPACITY);
        // The first stored are still there; the ones past the capacity
        // were not kept (their workers decode the stored copy).
        assert!(handoff.take("https://b.example/likes/0").is_some());
        assert!(
            handoff
                .take(&format!("https://b.example/likes/{}", CAPACITY - 1))
                .is_some()
        );
        assert!(
            handoff
                .take(&format!("https://b.example/likes/{CAPACITY}"))
                .is_none()
        );
        // A place taken is a place free again.
        handoff.put(like(CAPACITY + 20));
        assert!(
            handoff
                .take(&format!("https://b.example/likes/{}", CAPACITY + 20))
                .is_some()
        );
    }

    #[test]
    fn entries_nobody_here_claims_are_forgotten_once_stale() {
        let handoff = Handoff::default();
        let then = Instant::now();
        for n in 0..CAPACITY {
            handoff.put_at(like(n), then);
        }
        // Full of entries claimed elsewhere: within the minute, a new one
        // finds no room; after it, the stale ones make room.
        handoff.put_at(like(CAPACITY), then + Duration::from_secs(30));
        assert!(
            handoff
                .take(&format!("https://b.example/likes/{CAPACITY}"))
                .is_none()
        );
        handoff.put_at(like(CAPACITY + 1), then + STALE + Duration::from_secs(2));
        assert_eq!(handoff.len(), 1);
        assert!(
            handoff
                .take(&format!("https://b.example/likes/{}", CAPACITY + 1))
                .is_some()
        );
    }

    #[test]
    fn the_bodies_kept_are_bounded_in_bytes() {
        let handoff = Handoff::default();
        let big = |n: usize| {
            let mut i = like(n);
            i.body = Bytes::from(vec![b' '; 1024 * 1024]);
            i
        };
        for n in 0..20 {
            handoff.put(big(n));
        }
        assert_eq!(handoff.len(), MAX_BYTES / (1024 * 1024));
        assert!(handoff.lock().bytes <= MAX_BYTES);
        assert!(handoff.take("https://b.example/likes/0").is_some());
        assert_eq!(handoff.lock().bytes, MAX_BYTES - 1024 * 1024);
    }
}
