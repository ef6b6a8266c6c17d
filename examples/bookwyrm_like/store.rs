//! The server's tables. Its own data (the readers' catalog, shelves, and
//! which book each of their statuses is about) is in one SQLite file
//! (`DATA_DIR/state.sqlite3`, WAL), or in memory without `--data-dir`.
//! What peers send is in the library's bounded tables (`CappedStore`, a
//! private file `DATA_DIR/received.sqlite3`, or memory), each a
//! `CappedTable` whose cap is kept as rows are written. Each write
//! touches only its rows; nothing rewrites the whole state.
//!
//! | table | grown by | cap ([`Caps`], flag, default) |
//! |---|---|---|
//! | `catalog` | the readers (their books) | none: local |
//! | `shelves` | the readers | none: local |
//! | `statuses` | the readers (which book each status is about) | none: local |
//! | `received` (+ `about`, its index by book) | peers (statuses about books) | `--max-received`, 10,000 |
//! | `remote_books` | peers (titles of books reviewed elsewhere) | `--max-remote-books`, 10,000 |
//! | `remote_shelves` | peers (books on followed readers' shelves) | `--max-remote-shelf-items`, 10,000 |
//! | `inbox` | peers (every activity accepted) | `--max-inbox`, 10,000 |
//! | `peers` | peers (which servers speak the book types) | `--max-peers`, 10,000 |
//!
//! Past a cap the oldest rows go, in batches (the library's `Cap`: a full
//! table holds between 63/64 of its cap and its cap). A received status
//! or activity larger than 64 KiB serialized is handled but not kept
//! (`inbound::MAX_KEPT_BYTES`), so the caps bound bytes as well as rows.
//! The readers' statuses and their `Create`s are kept by the library's
//! post store (`SqlitePosts`, `posts.sqlite3`), which serves and lists
//! them through its serving guard; `statuses` only says which book each
//! is about. The follow graph is the library's `SqliteGraph`
//! (`graph.sqlite3`), whose follower cap is `--max-followers` (100,000
//! per reader; past it a Follow is refused). Keys, the delivery queue and
//! the remote actor cache are the library's SQLite stores too.

use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};

use archipel::federation::Graph;
use archipel::federation::dispatch::{BoxError, OwnerLookup};
use archipel::federation::graph::{GraphError, SqliteGraph};
use archipel::federation::serve::StoredObject;
use archipel::federation::store::Received as ReceivedObjects;
use archipel::federation::store::{
    Cap, CappedStore, CappedTable, MemoryPosts, PostStore, Posts, SqlitePosts, StoreError,
};
use archipel::vocab::{AnyObject, Iri};

use super::books::BookStatus;
use rusqlite::{Connection, params};

/// The caps on the tables peers can grow (rows).
#[derive(Debug, Clone, Copy)]
pub struct Caps {
    /// Statuses received from other servers (default 10,000).
    pub received: usize,
    /// Titles of remote books (default 10,000).
    pub remote_books: usize,
    /// Books on followed readers' shelves, all shelves together (default 10,000).
    pub remote_shelf_items: usize,
    /// Accepted activities kept for `GET /api/received` (default 10,000).
    pub inbox: usize,
    /// Servers whose software is known (default 10,000).
    pub peers: usize,
    /// Followers per reader (default 100,000; past it a Follow is refused).
    pub followers: usize,
}

impl Default for Caps {
    fn default() -> Self {
        Caps {
            received: 10_000,
            remote_books: 10_000,
            remote_shelf_items: 10_000,
            inbox: 10_000,
            peers: 10_000,
            followers: 100_000,
        }
    }
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS catalog (id TEXT PRIMARY KEY, title TEXT, author TEXT, doc TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS shelves (seq INTEGER PRIMARY KEY AUTOINCREMENT, reader TEXT NOT NULL, shelf TEXT NOT NULL, book TEXT NOT NULL, UNIQUE (reader, shelf, book));
CREATE TABLE IF NOT EXISTS statuses (seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, author TEXT NOT NULL, book TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS statuses_book ON statuses (book);
";

/// A book of the local catalog.
#[derive(Debug, Clone)]
pub struct Book {
    /// Its title.
    pub title: String,
    /// Its author's name.
    pub author: String,
}

/// An activity as received, with the key that signed it.
#[derive(Debug, Clone)]
pub struct Received {
    /// The activity as received.
    pub activity: serde_json::Value,
    /// The key that signed it.
    pub key_id: String,
}

/// The tables (see the module docs). Cheap to clone.
#[derive(Clone)]
pub struct Store {
    db: Arc<Mutex<Connection>>,
    peers: PeerTables,
    graph: Arc<dyn Graph>,
    posts: Posts,
    caps: Caps,
    /// Held while a received status and its book index row are written:
    /// both tables drop their oldest rows by insertion order, so two
    /// statuses written at once must go into both in the same order, or
    /// each table would keep a different newest few.
    receiving: Arc<Mutex<()>>,
}

/// Why the tables could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// The server's own tables.
    #[error("state database: {0}")]
    State(#[from] rusqlite::Error),
    /// The follow graph.
    #[error("{0}")]
    Graph(#[from] GraphError),
    /// The post store.
    #[error("{0}")]
    Posts(#[from] StoreError),
}

fn to_json(doc: &impl serde::Serialize) -> rusqlite::Result<String> {
    serde_json::to_string(doc).map_err(|e| rusqlite::Error::ToSqlConversionFailure(e.into()))
}

/// A row count as SQLite's integer.
fn cap(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// The tables peers grow, each a library [`CappedTable`] bounded by its
/// [`Caps`] entry (past it the oldest rows go, in batches).
#[derive(Clone)]
struct PeerTables {
    /// Received statuses and their authors (the owner lookup's source).
    received: ReceivedObjects,
    /// Which received status is about which book (scope: the book).
    about: CappedTable,
    /// Titles of remote books (key: the book's IRI).
    remote_books: CappedTable,
    /// Followed readers' shelves (scope: the shelf, key: the book).
    remote_shelves: CappedTable,
    /// Accepted activities (owner: the signing key).
    inbox: CappedTable,
    /// Servers and whether they speak the book types (key: authority).
    peers: CappedTable,
}

impl PeerTables {
    fn new(db: &CappedStore, caps: &Caps) -> PeerTables {
        PeerTables {
            received: ReceivedObjects::new(db, caps.received),
            about: db.table("about", Cap::total(caps.received)),
            remote_books: db.table("remote_books", Cap::total(caps.remote_books)),
            remote_shelves: db.table("remote_shelves", Cap::total(caps.remote_shelf_items)),
            inbox: db.table("inbox", Cap::total(caps.inbox)),
            peers: db.table("peers", Cap::total(caps.peers)),
        }
    }
}

impl Store {
    /// Opens (or creates) `dir/state.sqlite3`, `dir/graph.sqlite3` and
    /// `dir/posts.sqlite3`, or in-memory stores.
    pub fn open(dir: Option<&Path>, caps: Caps) -> Result<Store, OpenError> {
        let (db, capped, graph, posts): (_, _, _, Arc<dyn PostStore>) = match dir {
            Some(dir) => {
                let db = Connection::open(dir.join("state.sqlite3"))?;
                db.pragma_update(None, "journal_mode", "WAL")?;
                db.pragma_update(None, "synchronous", "NORMAL")?;
                let capped = CappedStore::open(dir.join("received.sqlite3"))?;
                let graph = SqliteGraph::open(dir.join("graph.sqlite3"))?;
                let posts = SqlitePosts::open(dir.join("posts.sqlite3"))?;
                (db, capped, graph, Arc::new(posts))
            }
            None => (
                Connection::open_in_memory()?,
                CappedStore::open_in_memory()?,
                SqliteGraph::open_in_memory()?,
                Arc::new(MemoryPosts::new()),
            ),
        };
        db.execute_batch(SCHEMA)?;
        let graph: Arc<dyn Graph> = Arc::new(graph.with_max_followers(caps.followers));
        Ok(Store {
            db: Arc::new(Mutex::new(db)),
            peers: PeerTables::new(&capped, &caps),
            posts: Posts::new(posts, graph.clone()),
            graph,
            caps,
            receiving: Arc::new(Mutex::new(())),
        })
    }

    /// The readers' statuses and their activities, kept and served by the
    /// library (the `/objects/{id}` and `/activities/{id}` routes and the
    /// outbox listing, through its serving guard).
    pub fn posts(&self) -> &Posts {
        &self.posts
    }

    /// The follow graph, for the library's `Federation`.
    pub fn graph(&self) -> Arc<dyn Graph> {
        self.graph.clone()
    }

    fn db(&self) -> MutexGuard<'_, Connection> {
        self.db.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Rows of a query whose columns are all text.
    fn rows<const N: usize>(&self, sql: &str, args: impl rusqlite::Params) -> Vec<[String; N]> {
        let db = self.db();
        let Ok(mut stmt) = db.prepare_cached(sql) else {
            return Vec::new();
        };
        stmt.query_map(args, |r| {
            let mut row: [String; N] = std::array::from_fn(|_| String::new());
            for (i, cell) in row.iter_mut().enumerate() {
                *cell = r.get::<_, Option<String>>(i)?.unwrap_or_default();
            }
            Ok(row)
        })
        .and_then(|rows| rows.collect())
        .unwrap_or_default()
    }

    // ---- the readers' own data (not capped: only the token holder adds)

    /// Adds a catalog document (an edition with its title and author's
    /// name, or a work or an author).
    pub fn put_catalog(
        &self,
        id: &Iri,
        book: Option<(&str, &str)>,
        doc: &impl serde::Serialize,
    ) -> rusqlite::Result<()> {
        self.db().execute(
            "INSERT OR REPLACE INTO catalog (id, title, author, doc) VALUES (?1, ?2, ?3, ?4)",
            params![
                id.as_str(),
                book.map(|b| b.0),
                book.map(|b| b.1),
                to_json(doc)?
            ],
        )?;
        Ok(())
    }

    /// A catalog document by IRI.
    pub fn catalog(&self, id: &str) -> Option<serde_json::Value> {
        let [doc] = self
            .rows("SELECT doc FROM catalog WHERE id = ?1", [id])
            .pop()?;
        serde_json::from_str(&doc).ok()
    }

    /// A local book (an edition) by IRI.
    pub fn book(&self, id: &str) -> Option<Book> {
        let [title, author] = self
            .rows(
                "SELECT title, author FROM catalog WHERE id = ?1 AND title IS NOT NULL",
                [id],
            )
            .pop()?;
        Some(Book { title, author })
    }

    /// Puts `book` on (or takes it off) `reader`'s `shelf`.
    pub fn shelve(&self, reader: &Iri, shelf: &str, book: &Iri, on: bool) -> rusqlite::Result<()> {
        let args = params![reader.as_str(), shelf, book.as_str()];
        let sql = if on {
            "INSERT OR IGNORE INTO shelves (reader, shelf, book) VALUES (?1, ?2, ?3)"
        } else {
            "DELETE FROM shelves WHERE reader = ?1 AND shelf = ?2 AND book = ?3"
        };
        self.db().execute(sql, args)?;
        Ok(())
    }

    /// `reader`'s shelves: (shelf, book IRIs in shelving order), by name.
    pub fn shelves(&self, reader: &Iri) -> Vec<(String, Vec<String>)> {
        let mut out: Vec<(String, Vec<String>)> = Vec::new();
        for [shelf, book] in self.rows(
            "SELECT shelf, book FROM shelves WHERE reader = ?1 ORDER BY shelf, seq",
            [reader.as_str()],
        ) {
            match out.last_mut() {
                Some((name, books)) if *name == shelf => books.push(book),
                _ => out.push((shelf, vec![book])),
            }
        }
        out
    }

    /// Records that the local status `id` of `author` is about `book`.
    pub fn put_status(&self, id: &Iri, author: &Iri, book: &Iri) -> rusqlite::Result<()> {
        self.db().execute(
            "INSERT OR IGNORE INTO statuses (id, author, book) VALUES (?1, ?2, ?3)",
            params![id.as_str(), author.as_str(), book.as_str()],
        )?;
        Ok(())
    }

    /// Local statuses, newest first (at most `limit`), as the post store
    /// keeps them: by `author`, or about `book`.
    pub async fn statuses(
        &self,
        author: Option<&Iri>,
        book: Option<&str>,
        limit: usize,
    ) -> Vec<StoredObject> {
        let ids = self.rows(
            "SELECT id FROM statuses WHERE (?1 IS NULL OR author = ?1) AND (?2 IS NULL OR book = ?2)
             ORDER BY seq DESC LIMIT ?3",
            params![author.map(Iri::as_str), book, cap(limit)],
        );
        let mut out = Vec::new();
        for [id] in ids {
            if let Ok(id) = Iri::parse(id)
                && let Ok(Some(status)) = self.posts.get(&id).await
            {
                out.push(status);
            }
        }
        out
    }

    // ---- what peers send (each a capped table of the library's)

    /// Keeps a status received from `owner` about `book`.
    pub fn put_received(
        &self,
        owner: &Iri,
        book: Option<&Iri>,
        doc: &AnyObject,
    ) -> Result<(), StoreError> {
        let Some(id) = doc.id() else { return Ok(()) };
        let _in_order = self.receiving.lock().unwrap_or_else(|e| e.into_inner());
        self.peers.received.put(owner, doc)?;
        if let Some(book) = book {
            self.peers.about.put(book.as_str(), id.as_str(), None, "")?;
        }
        Ok(())
    }

    /// Statuses received about `book`, newest first (at most `limit`).
    /// Index rows whose status went (deleted, or past its cap) or is now
    /// about another book (an `Update` moved it) are skipped.
    pub fn received_about(&self, book: &str, limit: usize) -> Vec<AnyObject> {
        let rows = self.peers.about.newest(book, None, limit);
        rows.unwrap_or_default()
            .into_iter()
            .filter_map(|e| Iri::parse(e.key).ok())
            .filter_map(|id| self.peers.received.get(&id).ok().flatten())
            .map(|(_, doc)| doc)
            .filter(|doc| {
                let status = BookStatus::from_any(doc.clone());
                status.as_ref().and_then(BookStatus::book).map(Iri::as_str) == Some(book)
            })
            .collect()
    }

    /// Forgets a received status (its author deleted it).
    pub fn remove_received(&self, id: &Iri) -> Result<(), StoreError> {
        self.peers.received.remove(id)?;
        Ok(())
    }

    /// Remembers the title of a remote book.
    pub fn put_remote_book(&self, iri: &Iri, title: &str) -> Result<(), StoreError> {
        self.peers.remote_books.put("", iri.as_str(), None, title)
    }

    /// The title of a book: local, or learnt from its server.
    pub fn title(&self, iri: &str) -> Option<String> {
        if let Some(book) = self.book(iri) {
            return Some(book.title);
        }
        let row = self.peers.remote_books.get("", iri).ok().flatten()?;
        Some(row.value)
    }

    /// Puts `book` on (or takes it off) a followed reader's `shelf`.
    pub fn remote_shelve(&self, shelf: &Iri, book: &Iri, on: bool) -> Result<(), StoreError> {
        let table = &self.peers.remote_shelves;
        if on {
            table.put(shelf.as_str(), book.as_str(), None, "")
        } else {
            table.remove(shelf.as_str(), book.as_str()).map(drop)
        }
    }

    /// The books on a followed reader's shelf, in shelving order.
    #[allow(dead_code)] // read by the integration tests
    pub fn remote_shelf(&self, shelf: &str) -> Vec<String> {
        let rows = self
            .peers
            .remote_shelves
            .oldest(shelf, self.caps.remote_shelf_items);
        rows.unwrap_or_default()
            .into_iter()
            .map(|e| e.key)
            .collect()
    }

    /// Logs an accepted activity and the key that signed it (the key is
    /// the row's owner). Keyed by the activity's id, so a redelivery
    /// replaces its row; one without an id by its body.
    pub fn log(&self, activity: &impl serde::Serialize, key_id: &Iri) -> Result<(), StoreError> {
        let doc = serde_json::to_value(activity).map_err(|e| StoreError::Store(e.to_string()))?;
        let body = doc.to_string();
        let key = doc.get("id").and_then(|id| id.as_str()).unwrap_or(&body);
        self.peers.inbox.put("", key, Some(key_id), &body)
    }

    /// Accepted activities, oldest first (at most `limit`, the newest).
    pub fn received(&self, limit: usize) -> Vec<Received> {
        let rows = self.peers.inbox.newest("", None, limit).unwrap_or_default();
        let mut out: Vec<Received> = rows
            .into_iter()
            .filter_map(|e| {
                Some(Received {
                    activity: serde_json::from_str(&e.value).ok()?,
                    key_id: e.owner?.as_str().to_owned(),
                })
            })
            .collect();
        out.reverse();
        out
    }

    /// Whether the server at `authority` speaks the book types, if known.
    pub fn peer(&self, authority: &str) -> Option<bool> {
        let row = self.peers.peers.get("", authority).ok().flatten()?;
        Some(row.value == "rich")
    }

    /// Remembers whether the server at `authority` speaks the book types.
    pub fn put_peer(&self, authority: &str, rich: bool) -> Result<(), StoreError> {
        let value = if rich { "rich" } else { "plain" };
        self.peers.peers.put("", authority, None, value)
    }

    /// How many rows a table peers grow holds (`received`, `about`,
    /// `remote_books`, `remote_shelves`, `inbox`, `peers`): a kept count.
    #[allow(dead_code)] // read by the integration tests
    pub fn count(&self, table: &str) -> usize {
        let table = match table {
            "received" => self.peers.received.table(),
            "about" => &self.peers.about,
            "remote_books" => &self.peers.remote_books,
            "remote_shelves" => &self.peers.remote_shelves,
            "inbox" => &self.peers.inbox,
            _ => &self.peers.peers,
        };
        table.len().unwrap_or(0)
    }
}

/// Who owns a status this server keeps, so that only its author updates
/// or deletes it (the dispatcher asks before its rules pass).
#[async_trait::async_trait]
impl OwnerLookup for Store {
    async fn owner(&self, object: &Iri) -> Result<Option<Iri>, BoxError> {
        match self.peers.received.get(object)? {
            Some((owner, _)) => Ok(Some(owner)),
            None => Ok(self.posts.owner(object).await?),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn iri(s: &str) -> Iri {
        Iri::parse(s).unwrap()
    }

    fn review(id: &Iri, book: &Iri) -> AnyObject {
        serde_json::from_value(serde_json::json!({
            "type": "Review", "id": id, "inReplyToBook": book, "content": "<p>Yes.</p>"
        }))
        .unwrap()
    }

    #[test]
    fn an_update_that_moves_a_status_to_another_book_moves_it_on_the_book_pages() {
        let store = Store::open(None, Caps::default()).unwrap();
        let owner = iri("https://b.example/users/rat");
        let id = iri("https://b.example/objects/1");
        let (first, second) = (
            iri("https://b.example/book/1"),
            iri("https://b.example/book/2"),
        );
        store
            .put_received(&owner, Some(&first), &review(&id, &first))
            .unwrap();
        store
            .put_received(&owner, Some(&second), &review(&id, &second))
            .unwrap();
        assert!(store.received_about(first.as_str(), 10).is_empty());
        let moved = store.received_about(second.as_str(), 10);
        assert_eq!(
            moved.iter().map(|s| s.id()).collect::<Vec<_>>(),
            [Some(&id)]
        );
        // A deleted status leaves its book page.
        store.remove_received(&id).unwrap();
        assert!(store.received_about(second.as_str(), 10).is_empty());
    }

    #[test]
    fn every_table_a_peer_can_grow_stays_within_its_cap() {
        let caps = Caps {
            received: 2,
            remote_books: 2,
            remote_shelf_items: 2,
            inbox: 2,
            peers: 2,
            followers: 2,
        };
        let store = Store::open(None, caps).unwrap();
        let owner = iri("https://b.example/users/rat");
        let shelf = iri("https://b.example/users/rat/shelf/read");
        for n in 0..10 {
            let id = iri(&format!("https://b.example/objects/{n}"));
            let book = iri(&format!("https://b.example/book/{n}"));
            let status = review(&id, &book);
            store.put_received(&owner, Some(&book), &status).unwrap();
            store.put_remote_book(&book, "A title").unwrap();
            store.remote_shelve(&shelf, &book, true).unwrap();
            store
                .log(&status, &iri("https://b.example/users/rat#main-key"))
                .unwrap();
            store.put_peer(&format!("h{n}.example"), true).unwrap();
        }
        for table in [
            "received",
            "about",
            "remote_books",
            "remote_shelves",
            "inbox",
            "peers",
        ] {
            assert_eq!(store.count(table), 2, "{table}");
        }
        // The newest are kept.
        assert_eq!(
            store.received_about("https://b.example/book/9", 10).len(),
            1
        );
        assert!(
            store
                .received_about("https://b.example/book/7", 10)
                .is_empty()
        );
        assert_eq!(
            store.remote_shelf(shelf.as_str()),
            ["https://b.example/book/8", "https://b.example/book/9"]
        );
        assert_eq!(store.peer("h9.example"), Some(true));
        assert_eq!(store.peer("h0.example"), None);
    }
}
