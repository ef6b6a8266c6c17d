//! [`Tables`]: the tables a federating server keeps, opened together under
//! one data directory (or in memory), each capped ([`Caps`]).

use std::path::Path;
use std::sync::Arc;

use super::{
    CappedStore, DEFAULT_MAX_INBOX_PER_ACTOR, DEFAULT_MAX_REACTIONS, DEFAULT_MAX_RECEIVED,
    DEFAULT_MAX_VERIFICATIONS, InboxLog, MemoryPosts, PostStore, Posts, Reactions, Received,
    SqlitePosts,
};
use crate::federation::FederationError;
use crate::federation::graph::{DEFAULT_MAX_FOLLOWERS_PER_ACTOR, Graph, SqliteGraph};
use crate::federation::requests::{DEFAULT_MAX_REQUESTS_PER_ACTOR, FollowRequests};

/// The caps on the tables remote peers can grow, in rows; past a cap the
/// oldest rows go, except followers: a new one past the cap is refused, so
/// an existing one is never silently dropped. The defaults are the
/// library's (`DEFAULT_MAX_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Caps {
    /// Activities kept per local actor's inbox (default 5,000).
    pub inbox_per_user: usize,
    /// Objects received from others (default 50,000).
    pub received: usize,
    /// Likes and announces of local objects (default 100,000).
    pub reactions: usize,
    /// Pending follow requests per local actor (default 1,000).
    pub pending_per_user: usize,
    /// Followers per local actor (default 100,000).
    pub followers_per_user: usize,
    /// Verification records (default 10,000).
    pub verifications: usize,
}

impl Default for Caps {
    fn default() -> Self {
        Caps {
            inbox_per_user: DEFAULT_MAX_INBOX_PER_ACTOR,
            received: DEFAULT_MAX_RECEIVED,
            reactions: DEFAULT_MAX_REACTIONS,
            pending_per_user: DEFAULT_MAX_REQUESTS_PER_ACTOR,
            followers_per_user: DEFAULT_MAX_FOLLOWERS_PER_ACTOR,
            verifications: DEFAULT_MAX_VERIFICATIONS,
        }
    }
}

macro_rules! with {
    ($(#[$doc:meta])* $method:ident, $field:ident) => {
        $(#[$doc])*
        pub fn $method(mut self, rows: usize) -> Caps {
            self.$field = rows;
            self
        }
    };
}

impl Caps {
    with!(
        /// Sets [`Caps::inbox_per_user`].
        with_inbox_per_user, inbox_per_user
    );
    with!(
        /// Sets [`Caps::received`].
        with_received, received
    );
    with!(
        /// Sets [`Caps::reactions`].
        with_reactions, reactions
    );
    with!(
        /// Sets [`Caps::pending_per_user`].
        with_pending_per_user, pending_per_user
    );
    with!(
        /// Sets [`Caps::followers_per_user`].
        with_followers_per_user, followers_per_user
    );
    with!(
        /// Sets [`Caps::verifications`].
        with_verifications, verifications
    );
}

/// The tables of a federating server: the follow graph, the local posts,
/// and what remote peers send (inboxes and the verification log, received
/// objects, reactions, pending follow requests), each capped by [`Caps`].
/// Cheap to clone.
#[derive(Clone)]
pub struct Tables {
    /// The follow graph (`graph.sqlite3`), for the `Federation` and the
    /// read guard.
    pub graph: Arc<dyn Graph>,
    /// What local actors posted (`posts.sqlite3`).
    pub posts: Posts,
    /// Per local actor: the activities it received; how each was verified.
    pub log: InboxLog,
    /// Objects received from others, with their owner.
    pub received: Received,
    /// Likes and announces of local posts.
    pub reactions: Reactions,
    /// Per locked actor: the Follows awaiting approval.
    pub requests: FollowRequests,
}

impl Tables {
    /// Opens (or creates) `graph.sqlite3`, `posts.sqlite3` and
    /// `state.sqlite3` (the capped tables) in `dir`, or keeps everything
    /// in memory when `dir` is `None` (a restart forgets it).
    ///
    /// # Errors
    /// [`FederationError::Graph`] or [`FederationError::Store`] naming the
    /// file that could not be opened.
    pub fn open(dir: Option<&Path>, caps: Caps) -> Result<Tables, FederationError> {
        let (tables, graph, posts): (_, _, Arc<dyn PostStore>) = match dir {
            Some(dir) => (
                CappedStore::open(dir.join("state.sqlite3"))?,
                SqliteGraph::open(dir.join("graph.sqlite3"))?,
                Arc::new(SqlitePosts::open(dir.join("posts.sqlite3"))?),
            ),
            None => (
                CappedStore::open_in_memory()?,
                SqliteGraph::open_in_memory()?,
                Arc::new(MemoryPosts::new()),
            ),
        };
        let graph: Arc<dyn Graph> = Arc::new(graph.with_max_followers(caps.followers_per_user));
        Ok(Tables {
            posts: Posts::new(posts, graph.clone()),
            graph,
            log: InboxLog::new(&tables, caps.inbox_per_user, caps.verifications),
            received: Received::new(&tables, caps.received),
            reactions: Reactions::new(&tables, caps.reactions),
            requests: FollowRequests::new(&tables, caps.pending_per_user),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::federation::graph::GraphError;
    use crate::vocab::{AnyObject, Iri, Object};

    fn note(n: u32) -> AnyObject {
        let id = Iri::parse(format!("https://b.example/notes/{n}")).unwrap();
        AnyObject::from(Object::new("Note").with_id(id))
    }

    #[test]
    fn the_default_caps_are_the_documented_ones() {
        let caps = Caps::default();
        let listed = [
            caps.inbox_per_user,
            caps.received,
            caps.reactions,
            caps.pending_per_user,
            caps.followers_per_user,
            caps.verifications,
        ];
        assert_eq!(listed, [5_000, 50_000, 100_000, 1_000, 100_000, 10_000]);
        let set = caps.with_received(2).with_verifications(3);
        assert_eq!(
            (set.received, set.verifications, set.inbox_per_user),
            (2, 3, 5_000)
        );
    }

    #[tokio::test]
    async fn tables_keep_their_caps_and_survive_a_reopen_of_the_directory() {
        let dir = std::env::temp_dir().join(format!("archipel-tables-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let bob = Iri::parse("https://b.example/users/bob").unwrap();
        let alice = Iri::parse("https://a.example/users/alice").unwrap();
        let caps = Caps::default().with_received(2).with_followers_per_user(1);
        {
            let tables = Tables::open(Some(&dir), caps).unwrap();
            for n in 0..3 {
                tables.received.put(&bob, &note(n)).unwrap();
            }
            tables.graph.add_follower(&alice, &bob).await.unwrap();
            let carol = Iri::parse("https://b.example/users/carol").unwrap();
            // Past the follower cap a new follower is refused.
            let refused = tables.graph.add_follower(&alice, &carol).await;
            assert!(
                matches!(refused, Err(GraphError::Full { cap: 1, .. })),
                "{refused:?}"
            );
        }
        let tables = Tables::open(Some(&dir), caps).unwrap();
        assert_eq!(tables.received.table().len().unwrap(), 2);
        let kept = tables.received.get(note(2).id().unwrap()).unwrap();
        assert_eq!(kept.map(|(owner, _)| owner), Some(bob.clone()));
        assert_eq!(tables.received.get(note(0).id().unwrap()).unwrap(), None);
        assert_eq!(tables.graph.followers(&alice).await.unwrap(), vec![bob]);
        let _ = std::fs::remove_dir_all(&dir);

        let memory = Tables::open(None, caps).unwrap();
        assert_eq!(memory.received.table().len().unwrap(), 0);
        assert_eq!(memory.posts.count().await.unwrap(), 0);
    }
}
