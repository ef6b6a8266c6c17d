//! The application layer's state in one directory
//! ([`FederationBuilder::with_data_dir`], feature `sqlite`): the local
//! actors' keys, the remote actor cache, the delivery queue and the
//! fan-out queue in SQLite files, so keys, cached actors, queued
//! deliveries and half-expanded fan-outs survive a restart.
//!
//! The decisions: each file is created with mode `0600` and the directory
//! with `0700` (the key file holds private keys); the file names are fixed
//! (`keys.sqlite3`, `actors.sqlite3`, `delivery.sqlite3`,
//! `fanout.sqlite3`), so two
//! applications reading the same directory agree. The follow graph and the
//! application's own tables stay the application's choice (their caps are
//! its decision): set them with
//! [`with_graph`](FederationBuilder::with_graph) and
//! [`store`](super::store).
//!
//! ```no_run
//! use archipel::federation::Federation;
//! # async fn demo() -> Result<(), archipel::federation::FederationError> {
//! let fed = Federation::builder("https://books.example".parse().unwrap())
//!     .with_data_dir("data").await?
//!     .build().await?;
//! # Ok(()) }
//! ```

use std::path::Path;
use std::sync::Arc;

use super::FederationError;
use super::hub::FederationBuilder;
use super::keys::SqliteKeyStore;
use super::remote::SqliteActorStore;
use crate::delivery::SqliteQueue;

impl FederationBuilder {
    /// Keeps keys, the remote actor cache, the delivery queue and the
    /// fan-out queue in SQLite files under `dir` (see the
    /// [module docs](super::data_dir)).
    ///
    /// # Errors
    /// The store that could not be created or opened.
    pub async fn with_data_dir(
        self,
        dir: impl AsRef<Path>,
    ) -> Result<FederationBuilder, FederationError> {
        let dir = dir.as_ref();
        let keys = SqliteKeyStore::open(dir.join("keys.sqlite3"))?;
        let actors = SqliteActorStore::open(dir.join("actors.sqlite3"))?;
        // The queue holds the bodies of private posts until they are
        // delivered: its file is created private before SQLite opens it.
        let queue_file = dir.join("delivery.sqlite3");
        super::sqlite::create_private_file(&queue_file).map_err(|(at, e)| {
            crate::delivery::DeliveryError::Queue(format!("cannot create {}: {e}", at.display()))
        })?;
        let queue = SqliteQueue::open(queue_file).await?;
        // The fan-out jobs hold the same bodies, until expanded.
        let fanout_file = dir.join("fanout.sqlite3");
        super::sqlite::create_private_file(&fanout_file).map_err(|(at, e)| {
            crate::delivery::DeliveryError::Queue(format!("cannot create {}: {e}", at.display()))
        })?;
        let fanout = SqliteQueue::open(fanout_file).await?;
        Ok(self
            .with_key_store(Arc::new(keys))
            .with_actor_store(Arc::new(actors))
            .with_queue(Arc::new(queue))
            .with_fanout_queue(Arc::new(fanout)))
    }
}

#[cfg(test)]
mod tests {
    use crate::federation::Federation;

    #[tokio::test]
    async fn keys_survive_in_the_directory_and_its_files_are_private() {
        let dir = std::env::temp_dir().join(format!("archipel-data-dir-{}", std::process::id()));
        let base: url::Url = "https://a.example".parse().unwrap();
        let first = Federation::builder(base.clone())
            .with_data_dir(&dir)
            .await
            .unwrap()
            .build()
            .await
            .unwrap();
        let key = first.actor("alice").await.unwrap().document();
        let again = Federation::builder(base)
            .with_data_dir(&dir)
            .await
            .unwrap()
            .build()
            .await
            .unwrap();
        assert_eq!(again.actor("alice").await.unwrap().document(), key);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            for file in [
                "keys.sqlite3",
                "actors.sqlite3",
                "delivery.sqlite3",
                "fanout.sqlite3",
            ] {
                let mode = std::fs::metadata(dir.join(file))
                    .unwrap()
                    .permissions()
                    .mode();
                assert_eq!(mode & 0o077, 0, "{file}: {mode:o}");
            }
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}
