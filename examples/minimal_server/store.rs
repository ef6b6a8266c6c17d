//! The example's storage: everything in memory, mirrored to
//! `DATA_DIR/state.json` (written atomically: temp file + rename) when
//! `--data-dir` is given. Durable storage proper (SQLite) is a separate
//! concern; this keeps the example dependency-free and honest.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Everything one local user owns.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub struct UserData {
    /// Accepted followers (actor IRIs), oldest first.
    pub followers: Vec<String>,
    /// Actors this user follows (accepted), oldest first.
    pub following: Vec<String>,
    /// Follow requests this user received and has not decided yet (the `Follow` documents).
    pub pending_followers: Vec<Value>,
    /// Follows this user sent: follow id → target actor IRI (pending or accepted).
    pub sent_follows: BTreeMap<String, String>,
    /// Activities received, oldest first (served newest first).
    pub inbox: Vec<Value>,
    /// Activities sent, oldest first (served newest first).
    pub outbox: Vec<Value>,
}

/// What a remote actor's document told us.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct RemoteActor {
    /// The actor's `inbox`.
    pub inbox: String,
    /// `endpoints.sharedInbox`, when advertised.
    pub shared_inbox: Option<String>,
}

/// The whole server state.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub struct Data {
    /// Per local user (by name).
    pub users: BTreeMap<String, UserData>,
    /// Notes received from others, by id.
    pub notes: HashMap<String, Value>,
    /// Objects this server published (notes and activities), by id.
    pub local_objects: HashMap<String, Value>,
    /// Likes received: object id → liking actors.
    pub likes: HashMap<String, Vec<String>>,
    /// Announces received: object id → announcing actors.
    pub announces: HashMap<String, Vec<String>>,
    /// Remote actors seen (inboxes), by actor IRI.
    pub actors: HashMap<String, RemoteActor>,
    /// How each accepted inbound activity was verified: activity id →
    /// "dialect algorithm key-id".
    pub verifications: HashMap<String, String>,
}

/// Most activities kept per user inbox/outbox; older ones are dropped.
pub const MAX_BOX: usize = 5_000;

/// Appends to a bounded list, dropping the oldest past [`MAX_BOX`].
pub fn push_bounded(list: &mut Vec<Value>, item: Value) {
    list.push(item);
    if list.len() > MAX_BOX {
        let excess = list.len() - MAX_BOX;
        list.drain(..excess);
    }
}

/// Adds `item` to a set-like list if absent; says whether it was added.
pub fn add_unique(list: &mut Vec<String>, item: &str) -> bool {
    if list.iter().any(|x| x == item) {
        false
    } else {
        list.push(item.to_owned());
        true
    }
}

/// Removes `item` from a set-like list; says whether it was there.
pub fn remove(list: &mut Vec<String>, item: &str) -> bool {
    let before = list.len();
    list.retain(|x| x != item);
    before != list.len()
}

/// Where (and whether) the state is mirrored on disk.
#[derive(Debug, Clone)]
pub struct Disk {
    dir: Option<PathBuf>,
}

impl Disk {
    /// No persistence: state lives in memory only.
    pub fn memory() -> Self {
        Self { dir: None }
    }

    /// Persist under `dir` (created if needed).
    pub fn at(dir: &Path) -> std::io::Result<Self> {
        std::fs::create_dir_all(dir.join("keys"))?;
        Ok(Self {
            dir: Some(dir.to_owned()),
        })
    }

    /// Loads the saved state, or an empty one.
    pub fn load(&self) -> Data {
        let Some(dir) = &self.dir else {
            return Data::default();
        };
        match std::fs::read(dir.join("state.json")) {
            Ok(bytes) => serde_json::from_slice(&bytes).unwrap_or_else(|e| {
                eprintln!("warning: ignoring unreadable state.json: {e}");
                Data::default()
            }),
            Err(_) => Data::default(),
        }
    }

    /// Saves the state atomically (temp file, then rename).
    pub fn save(&self, data: &Data) {
        let Some(dir) = &self.dir else { return };
        let tmp = dir.join("state.json.tmp");
        let result = serde_json::to_vec_pretty(data)
            .map_err(std::io::Error::other)
            .and_then(|bytes| std::fs::write(&tmp, bytes))
            .and_then(|()| std::fs::rename(&tmp, dir.join("state.json")));
        if let Err(e) = result {
            eprintln!("warning: could not save state: {e}");
        }
    }

    /// Reads a saved private key PEM for `user`.
    pub fn load_key(&self, user: &str) -> Option<String> {
        let dir = self.dir.as_ref()?;
        std::fs::read_to_string(dir.join("keys").join(format!("{user}.pem"))).ok()
    }

    /// Saves a private key PEM for `user`.
    pub fn save_key(&self, user: &str, pem: &str) {
        let Some(dir) = &self.dir else { return };
        let path = dir.join("keys").join(format!("{user}.pem"));
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            // The private key is readable by its owner only.
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let result = options
            .open(&path)
            .and_then(|mut f| std::io::Write::write_all(&mut f, pem.as_bytes()));
        if let Err(e) = result {
            eprintln!("warning: could not save key for {user}: {e}");
        }
    }
}
