//! Account migration (`Move`) in this server; the decisions are the
//! library's (`archipel::federation::migration`):
//!
//! - `--also-known-as NAME=IRI` names an earlier account of a user, so
//!   that account may move here (receivers check the new account's
//!   `alsoKnownAs`).
//! - `{"type":"Move","target":"bob@host"}` (a handle or an IRI) posted to a
//!   user's outbox moves them: refused unless the target names them, else
//!   `movedTo` is set (and kept in `--data-dir`, `moved.json`) and the
//!   `Move` goes to their followers.
//! - A `Move` received is believed only when both accounts, fetched fresh,
//!   agree; then the local users who followed the account follow the new
//!   one and stop following the old.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use archipel::federation::LocalActor;
use archipel::federation::dispatch::{Cx, HandlerResult};
use archipel::federation::migration::{Migration, MigrationError};
use archipel::vocab::{Activity, Iri};
use axum::http::StatusCode;
use serde_json::{Map, Value};

use super::App;

/// What the server keeps for account migration: the library's receiving
/// side (one per server: it remembers recent moves) and where each local
/// user moved, kept across restarts under `--data-dir`.
pub struct Migrations {
    /// Verifies received `Move`s and moves the local follows.
    pub receiving: Migration,
    /// `moved.json` under `--data-dir`; memory only without it.
    file: Option<PathBuf>,
    /// Local user name → the account they moved to.
    moved: Mutex<BTreeMap<String, String>>,
}

impl Migrations {
    /// Reads who moved where from `dir` (nothing yet without the file).
    pub fn open(receiving: Migration, dir: Option<&Path>) -> std::io::Result<Migrations> {
        let file = dir.map(|d| d.join("moved.json"));
        let moved = match &file {
            Some(f) if f.exists() => serde_json::from_slice(&std::fs::read(f)?)
                .map_err(|e| std::io::Error::other(format!("{}: {e}", f.display())))?,
            _ => BTreeMap::new(),
        };
        Ok(Migrations {
            receiving,
            file,
            moved: Mutex::new(moved),
        })
    }

    /// The account `name` moved to, if they moved.
    pub fn moved_to(&self, name: &str) -> Option<Iri> {
        let moved = self.moved.lock().unwrap_or_else(|e| e.into_inner());
        moved.get(name).map(|t| Iri::new_unchecked(t.as_str()))
    }

    /// Records that `name` moved to `target`, on disk before it returns.
    fn record(&self, name: &str, target: &Iri) -> std::io::Result<()> {
        let mut moved = self.moved.lock().unwrap_or_else(|e| e.into_inner());
        moved.insert(name.to_owned(), target.as_str().to_owned());
        if let Some(file) = &self.file {
            let tmp = file.with_extension("json.tmp");
            write_private(&tmp, &serde_json::to_vec_pretty(&*moved)?)?;
            std::fs::rename(&tmp, file)?;
        }
        Ok(())
    }
}

/// Writes `bytes` to a new file at `path` readable by this user only
/// (`0600`, like every file of the data directory).
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write as _;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

/// `--also-known-as NAME=IRI`: the user and the IRI of their earlier account.
pub fn parse_alias(value: &str) -> Result<(String, Iri), String> {
    let (name, iri) = value
        .split_once('=')
        .ok_or(format!("--also-known-as {value}: expected NAME=IRI"))?;
    let iri = Iri::parse(iri).map_err(|e| format!("--also-known-as {value}: {e}"))?;
    match iri.to_url() {
        Ok(url) if matches!(url.scheme(), "http" | "https") => Ok((name.to_owned(), iri)),
        _ => Err(format!("--also-known-as {value}: not an http(s) IRI")),
    }
}

/// `{"type":"Move","target":…}` posted to `me`'s outbox: moves `me` to the
/// target (a handle or an IRI); answers with the `Move`'s id.
pub async fn move_user(
    app: &App,
    me: &LocalActor,
    raw: &Map<String, Value>,
) -> Result<Iri, (StatusCode, String)> {
    // An account moves only itself.
    if let Some(object) = raw.get("object").and_then(Value::as_str)
        && object != me.id().as_str()
    {
        let msg = format!("{} can only move itself, not {object}", me.name());
        return Err((StatusCode::FORBIDDEN, msg));
    }
    let Some(target) = raw.get("target").and_then(Value::as_str) else {
        return Err((StatusCode::BAD_REQUEST, "Move needs a target".into()));
    };
    let target = crate::outbound::resolve(app, target).await?;
    let moved = app
        .fed
        .move_account(me, &target)
        .await
        .map_err(|e| match &e {
            // The target has not named this account, or moved on: the
            // user's to fix (on the target's server), not ours.
            e if e.is_refusal() => (StatusCode::UNPROCESSABLE_ENTITY, e.to_string()),
            MigrationError::Fetch { .. } => (StatusCode::BAD_GATEWAY, e.to_string()),
            _ => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
        })?;
    app.migration
        .record(me.name(), &target)
        .map_err(|e| (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    let id = moved.activity.id.clone().unwrap_or_else(|| target.clone());
    eprintln!(
        "{} moved to {target}: Move {id} queued to the followers",
        me.name()
    );
    Ok(id)
}

/// A `Move` received (the dispatcher already checked that it moves its
/// sender): the library checks both accounts and moves the local follows.
pub async fn on_move(app: Arc<App>, cx: Cx, activity: Activity) -> HandlerResult {
    match app.migration.receiving.handle(&cx, &activity).await {
        Ok(done) => {
            let moved: Vec<&str> = done.moved.iter().map(Iri::as_str).collect();
            eprintln!(
                "{} moved: {} local followers follow along {moved:?}",
                cx.actor(),
                done.moved.len() + done.already_following.len()
            );
            for (who, e) in &done.failed {
                eprintln!("cannot move the follow of {who}: {e}");
            }
            Ok(())
        }
        Err(e) => {
            eprintln!("Move from {} refused: {e}", cx.actor());
            // As the library's error, so a refusal is answered 403.
            Err(e.into())
        }
    }
}

#[cfg(test)]
mod tests {
    // The benches that compile this module (`harness = false`) build it
    // with `cfg(test)` but drop `#[test]` functions: nothing uses the import
    // there.
    #[allow(unused_imports)]
    use super::*;

    #[test]
    fn an_alias_flag_is_a_user_and_an_http_iri() {
        let (name, iri) = parse_alias("bob=https://old.example/users/bob").unwrap();
        assert_eq!(
            (name.as_str(), iri.as_str()),
            ("bob", "https://old.example/users/bob")
        );
        assert_eq!(
            parse_alias("bob").unwrap_err(),
            "--also-known-as bob: expected NAME=IRI"
        );
        assert_eq!(
            parse_alias("bob=acct:bob@old.example").unwrap_err(),
            "--also-known-as bob=acct:bob@old.example: not an http(s) IRI"
        );
    }

    #[tokio::test]
    async fn where_a_user_moved_is_kept_in_the_data_dir() {
        let fed = archipel::federation::Federation::builder("https://a.example".parse().unwrap())
            .build()
            .await
            .unwrap();
        let dir = std::env::temp_dir().join(format!("archipel-moved-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let target = Iri::parse("https://b.example/users/alice").unwrap();
        let moves = Migrations::open(Migration::new(&fed), Some(&dir)).unwrap();
        assert_eq!(moves.moved_to("alice"), None);
        moves.record("alice", &target).unwrap();
        // A restart reads it back; another user has not moved.
        let again = Migrations::open(Migration::new(&fed), Some(&dir)).unwrap();
        assert_eq!(again.moved_to("alice"), Some(target));
        assert_eq!(again.moved_to("bob"), None);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(dir.join("moved.json"))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600, "moved.json is private");
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
