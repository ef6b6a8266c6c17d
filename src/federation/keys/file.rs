//! [`FileKeyStore`]: one PKCS#8 PEM file per key in a private directory.

use std::fs::{File, OpenOptions};
use std::io::{ErrorKind, Read as _, Write as _};
use std::path::{Path, PathBuf};

use crate::federation::Paths;
use crate::signatures::{PrivateKey, SignatureError};

use super::{
    ActorKeys, ED25519, INSTANCE_KEY_NAME, KeyStore, KeyStoreError, MAX_KEY_PEM_BYTES, RSA,
    check_key_name, from_pem, to_pem,
};

/// A [`KeyStore`] in one directory, one PKCS#8 PEM file per key.
///
/// File names: `{stem}.pem` for the RSA key and `{stem}+ed25519.pem` for
/// the Ed25519 key, where the stem is the local name with each capital
/// letter written `^` + its lower case (`Alice` → `^alice.pem`), so that
/// `Alice` and `alice` stay two files on case-insensitive file systems,
/// and `+` (which names cannot contain) keeps `alice.ed25519`'s RSA key
/// apart from `alice`'s Ed25519 key. The instance actor's stem is
/// [`INSTANCE_KEY_NAME`] (`@instance.pem`).
///
/// On unix the directory is created with mode `0700` and each file with
/// `0600`; a directory or key file that group or others can access is
/// refused with [`KeyStoreError::PermissionsTooOpen`]. A key is written to
/// a temporary file, synced, then renamed (or, for a first key, linked)
/// into place and the directory synced, so a crash never leaves half a
/// key. Files are small and read with blocking calls.
///
/// ```
/// use archipel::federation::keys::{FileKeyStore, KeyStore};
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), archipel::federation::keys::KeyStoreError> {
/// # let dir = std::env::temp_dir().join(format!("archipel-doc-keys-{}", std::process::id()));
/// let store = FileKeyStore::open(&dir)?;
/// let keys = store.load_or_generate("alice", false).await?;
/// assert!(dir.join("alice.pem").exists());
/// # std::fs::remove_dir_all(&dir).ok();
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct FileKeyStore {
    dir: PathBuf,
}

/// Unix mode of the directory and of each key file.
const DIR_MODE: u32 = 0o700;
const FILE_MODE: u32 = 0o600;

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> KeyStoreError + '_ {
    move |source| KeyStoreError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Refuses a file or directory that group or others can access (unix).
#[cfg(unix)]
fn check_private(path: &Path, meta: &std::fs::Metadata, want: u32) -> Result<(), KeyStoreError> {
    use std::os::unix::fs::PermissionsExt as _;
    let mode = meta.permissions().mode() & 0o7777;
    if mode & 0o077 != 0 {
        return Err(KeyStoreError::PermissionsTooOpen {
            path: path.to_path_buf(),
            mode,
            want,
        });
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_private(_: &Path, _: &std::fs::Metadata, _: u32) -> Result<(), KeyStoreError> {
    Ok(())
}

/// The file-name stem of a (checked) store name; see [`FileKeyStore`].
fn stem(name: &str) -> String {
    if name == INSTANCE_KEY_NAME {
        return name.to_owned();
    }
    let mut out = String::with_capacity(name.len() + 4);
    for c in name.chars() {
        if c.is_ascii_uppercase() {
            out.push('^');
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

impl FileKeyStore {
    /// Opens the store in `dir`, creating it (and missing parents) with
    /// mode `0700`.
    ///
    /// # Errors
    /// [`KeyStoreError::Io`] if it cannot be created or is not a directory;
    /// [`KeyStoreError::PermissionsTooOpen`] if it exists and group or
    /// others can access it.
    pub fn open(dir: impl AsRef<Path>) -> Result<FileKeyStore, KeyStoreError> {
        let dir = dir.as_ref().to_path_buf();
        let mut builder = std::fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut builder, DIR_MODE);
        builder.create(&dir).map_err(io(&dir))?;
        let meta = std::fs::metadata(&dir).map_err(io(&dir))?;
        if !meta.is_dir() {
            return Err(KeyStoreError::Io {
                path: dir,
                source: std::io::Error::new(ErrorKind::NotADirectory, "not a directory"),
            });
        }
        check_private(&dir, &meta, DIR_MODE)?;
        Ok(FileKeyStore { dir })
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn path(&self, name: &str, slot: &str) -> PathBuf {
        let stem = stem(name);
        if slot == RSA {
            self.dir.join(format!("{stem}.pem"))
        } else {
            self.dir.join(format!("{stem}+{slot}.pem"))
        }
    }

    /// Reads one key, `None` if its file does not exist.
    fn read(&self, name: &str, slot: &'static str) -> Result<Option<PrivateKey>, KeyStoreError> {
        let path = self.path(name, slot);
        let file = match File::open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io(&path)(e)),
        };
        // The mode of the file opened, not of whatever the path names later.
        let meta = file.metadata().map_err(io(&path))?;
        check_private(&path, &meta, FILE_MODE)?;
        let mut bytes = Vec::new();
        let cap = u64::try_from(MAX_KEY_PEM_BYTES + 1).unwrap_or(u64::MAX);
        file.take(cap).read_to_end(&mut bytes).map_err(io(&path))?;
        let pem = String::from_utf8(bytes).map_err(|_| KeyStoreError::Corrupt {
            name: name.to_owned(),
            kind: slot,
            reason: format!("{} is not UTF-8", path.display()),
        })?;
        from_pem(name, slot, &pem).map(Some)
    }

    /// Writes `key` to a fresh temporary file (mode `0600`), synced.
    fn write_temp(
        &self,
        name: &str,
        slot: &str,
        key: &PrivateKey,
    ) -> Result<PathBuf, KeyStoreError> {
        let pem = to_pem(key)?;
        let nonce = Paths::new_id()
            .map_err(|e| KeyStoreError::Signature(SignatureError::Crypto(e.to_string())))?;
        // `.tmp`, never `.pem`: a temporary file cannot be taken for a key.
        let tmp = self.dir.join(format!("{}+{slot}.{nonce}.tmp", stem(name)));
        let mut options = OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, FILE_MODE);
        let written = options.open(&tmp).and_then(|mut f| {
            f.write_all(pem.as_bytes())?;
            f.sync_all()
        });
        if let Err(e) = written {
            let _ = std::fs::remove_file(&tmp);
            return Err(io(&tmp)(e));
        }
        Ok(tmp)
    }

    /// Makes renames and links in the directory durable.
    fn sync_dir(&self) -> Result<(), KeyStoreError> {
        #[cfg(unix)]
        File::open(&self.dir)
            .and_then(|d| d.sync_all())
            .map_err(io(&self.dir))?;
        Ok(())
    }

    /// Writes `key`, replacing the file in one rename.
    fn replace(&self, name: &str, slot: &str, key: &PrivateKey) -> Result<(), KeyStoreError> {
        let tmp = self.write_temp(name, slot, key)?;
        let path = self.path(name, slot);
        if let Err(e) = std::fs::rename(&tmp, &path) {
            let _ = std::fs::remove_file(&tmp);
            return Err(io(&path)(e));
        }
        self.sync_dir()
    }

    /// Writes `key` unless its file exists, and returns the key now stored.
    ///
    /// The hard link is the only guard (it never replaces a file), so a
    /// writer that lost the race, in this process or another, reads the
    /// winner's key. No read first: it would only narrow the race window.
    fn create(
        &self,
        name: &str,
        slot: &'static str,
        key: &PrivateKey,
    ) -> Result<PrivateKey, KeyStoreError> {
        let tmp = self.write_temp(name, slot, key)?;
        let path = self.path(name, slot);
        let linked = std::fs::hard_link(&tmp, &path);
        let _ = std::fs::remove_file(&tmp);
        match linked {
            Ok(()) => {
                self.sync_dir()?;
                Ok(key.clone())
            }
            // Someone else wrote it first: theirs is the key.
            Err(e) if e.kind() == ErrorKind::AlreadyExists => {
                self.read(name, slot)?.ok_or_else(|| io(&path)(e))
            }
            Err(e) => Err(io(&path)(e)),
        }
    }
}

#[async_trait::async_trait]
impl KeyStore for FileKeyStore {
    async fn load(&self, name: &str) -> Result<Option<ActorKeys>, KeyStoreError> {
        check_key_name(name)?;
        let Some(rsa) = self.read(name, RSA)? else {
            return Ok(None);
        };
        let ed25519 = self.read(name, ED25519)?;
        Ok(Some(ActorKeys { rsa, ed25519 }))
    }

    async fn store(&self, name: &str, keys: &ActorKeys) -> Result<(), KeyStoreError> {
        check_key_name(name)?;
        self.replace(name, RSA, &keys.rsa)?;
        match &keys.ed25519 {
            Some(key) => self.replace(name, ED25519, key),
            None => {
                let path = self.path(name, ED25519);
                match std::fs::remove_file(&path) {
                    Ok(()) => self.sync_dir(),
                    Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
                    Err(e) => Err(io(&path)(e)),
                }
            }
        }
    }

    async fn insert_missing(
        &self,
        name: &str,
        keys: &ActorKeys,
    ) -> Result<ActorKeys, KeyStoreError> {
        check_key_name(name)?;
        // RSA first: an actor is known by its RSA key, so a crash between
        // the two writes leaves an actor without Ed25519 (added next time),
        // never an Ed25519 key without its actor.
        let rsa = self.create(name, RSA, &keys.rsa)?;
        let ed25519 = match &keys.ed25519 {
            Some(key) => Some(self.create(name, ED25519, key)?),
            None => self.read(name, ED25519)?,
        };
        Ok(ActorKeys { rsa, ed25519 })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::federation::keys::tests::rsa_fixture;

    use crate::federation::testing::TempDir;

    fn fixture_keys() -> ActorKeys {
        ActorKeys {
            rsa: rsa_fixture(),
            ed25519: None,
        }
    }

    #[cfg(unix)]
    fn mode(path: &Path) -> u32 {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::metadata(path).unwrap().permissions().mode() & 0o7777
    }

    #[tokio::test]
    async fn survives_a_reload_with_the_same_key() {
        let tmp = TempDir::new("reload");
        let dir = tmp.0.join("nested").join("keys");
        let first = FileKeyStore::open(&dir)
            .unwrap()
            .load_or_generate("alice", false)
            .await
            .unwrap();
        let store = FileKeyStore::open(&dir).unwrap();
        let again = store.load_or_generate("alice", false).await.unwrap();
        assert_eq!(
            again.rsa.public_key().to_spki_pem(),
            first.rsa.public_key().to_spki_pem()
        );
        // No temporary file is left behind.
        let mut names: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        assert_eq!(names, ["alice.pem"]);
    }

    #[cfg(unix)]
    #[tokio::test]
    async fn creates_a_0700_directory_and_0600_files() {
        let tmp = TempDir::new("modes");
        let store = FileKeyStore::open(&tmp.0).unwrap();
        assert_eq!(mode(&tmp.0), 0o700);
        store.store("alice", &fixture_keys()).await.unwrap();
        assert_eq!(mode(&tmp.0.join("alice.pem")), 0o600);
        store.insert_missing("bob", &fixture_keys()).await.unwrap();
        assert_eq!(mode(&tmp.0.join("bob.pem")), 0o600);
    }

    #[cfg(unix)]
    #[tokio::test]
    async fn refuses_a_key_file_others_can_read() {
        use std::os::unix::fs::PermissionsExt as _;
        let tmp = TempDir::new("open");
        let store = FileKeyStore::open(&tmp.0).unwrap();
        store.store("alice", &fixture_keys()).await.unwrap();
        let path = tmp.0.join("alice.pem");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        match store.load("alice").await {
            Err(KeyStoreError::PermissionsTooOpen {
                path: p,
                mode,
                want,
            }) => {
                assert_eq!((p, mode, want), (path.clone(), 0o644, 0o600));
            }
            other => panic!("{other:?}"),
        }
        // Nor will it hand it out through load_or_generate, or replace it.
        assert!(matches!(
            store.load_or_generate("alice", false).await,
            Err(KeyStoreError::PermissionsTooOpen { .. })
        ));
        assert_eq!(mode(&path), 0o644);
    }

    #[cfg(unix)]
    #[test]
    fn refuses_a_directory_others_can_enter() {
        use std::os::unix::fs::PermissionsExt as _;
        let tmp = TempDir::new("dir");
        std::fs::create_dir(&tmp.0).unwrap();
        std::fs::set_permissions(&tmp.0, std::fs::Permissions::from_mode(0o755)).unwrap();
        match FileKeyStore::open(&tmp.0) {
            Err(KeyStoreError::PermissionsTooOpen { path, mode, want }) => {
                assert_eq!((path, mode, want), (tmp.0.clone(), 0o755, 0o700));
            }
            other => panic!("{other:?}"),
        }
    }

    #[tokio::test]
    async fn rejects_hostile_names() {
        let tmp = TempDir::new("names");
        let store = FileKeyStore::open(&tmp.0).unwrap();
        let long = "x".repeat(65);
        for bad in ["../x", "", long.as_str(), "a/b", "..", "a\0b"] {
            match store.store(bad, &fixture_keys()).await {
                Err(KeyStoreError::InvalidName(n)) => assert_eq!(n, bad),
                other => panic!("{bad:?}: {other:?}"),
            }
            assert!(matches!(
                store.load(bad).await,
                Err(KeyStoreError::InvalidName(_))
            ));
        }
        // Nothing was written, inside or outside the directory.
        assert_eq!(std::fs::read_dir(&tmp.0).unwrap().count(), 0);
        assert!(!tmp.0.with_file_name("x.pem").exists());
    }

    #[tokio::test]
    async fn names_differing_in_case_or_suffix_get_distinct_files() {
        let tmp = TempDir::new("stems");
        let store = FileKeyStore::open(&tmp.0).unwrap();
        store.store("alice", &fixture_keys()).await.unwrap();
        // `Alice` and `alice.ed25519` are other actors: no key yet.
        assert!(store.load("Alice").await.unwrap().is_none());
        assert!(store.load("alice.ed25519").await.unwrap().is_none());
        assert_eq!(store.path("Alice", RSA), tmp.0.join("^alice.pem"),);
        assert_eq!(
            store.path("alice", ED25519),
            tmp.0.join("alice+ed25519.pem"),
        );
        assert_eq!(
            store.path("alice.ed25519", RSA),
            tmp.0.join("alice.ed25519.pem"),
        );
        assert_eq!(
            store.path(INSTANCE_KEY_NAME, RSA),
            tmp.0.join("@instance.pem"),
        );
    }

    #[test]
    fn racing_first_writers_all_get_the_same_key() {
        let tmp = TempDir::new("race");
        let store = FileKeyStore::open(&tmp.0).unwrap();
        let candidates: Vec<PrivateKey> = (0..4)
            .map(|_| PrivateKey::generate_rsa(1024).unwrap())
            .collect();
        let barrier = std::sync::Barrier::new(candidates.len());
        let won: Vec<PrivateKey> = std::thread::scope(|s| {
            let handles: Vec<_> = candidates
                .iter()
                .map(|key| {
                    let (store, barrier) = (&store, &barrier);
                    s.spawn(move || {
                        barrier.wait();
                        store.create("erin", RSA, key).unwrap()
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let stored = store.read("erin", RSA).unwrap().unwrap().public_key();
        for key in &won {
            assert_eq!(key.public_key(), stored);
        }
        assert!(candidates.iter().any(|k| k.public_key() == stored));
    }

    #[tokio::test]
    async fn a_corrupt_key_file_names_the_actor() {
        let tmp = TempDir::new("corrupt");
        let store = FileKeyStore::open(&tmp.0).unwrap();
        store.store("carol", &fixture_keys()).await.unwrap();
        let path = tmp.0.join("carol.pem");
        std::fs::write(
            &path,
            b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
        )
        .unwrap();
        match store.load("carol").await {
            Err(KeyStoreError::Corrupt { name, kind, .. }) => {
                assert_eq!((name.as_str(), kind), ("carol", RSA));
            }
            other => panic!("{other:?}"),
        }
    }

    #[cfg(feature = "ed25519")]
    #[tokio::test]
    async fn keeps_both_keys_and_the_first_writer_wins() {
        let tmp = TempDir::new("both");
        let store = FileKeyStore::open(&tmp.0).unwrap();
        let first = ActorKeys {
            rsa: rsa_fixture(),
            ed25519: Some(PrivateKey::generate_ed25519().unwrap()),
        };
        let kept = store.insert_missing("dave", &first).await.unwrap();
        let second = ActorKeys {
            rsa: PrivateKey::generate_rsa(1024).unwrap(),
            ed25519: Some(PrivateKey::generate_ed25519().unwrap()),
        };
        let racing = store.insert_missing("dave", &second).await.unwrap();
        for got in [&kept, &racing] {
            assert_eq!(got.rsa.public_key(), first.rsa.public_key());
            assert_eq!(
                got.ed25519.as_ref().unwrap().public_key(),
                first.ed25519.as_ref().unwrap().public_key()
            );
        }
        let loaded = store.load("dave").await.unwrap().unwrap();
        assert_eq!(
            loaded.ed25519.unwrap().public_key(),
            first.ed25519.unwrap().public_key()
        );
        // `store` without Ed25519 removes the Ed25519 file.
        store.store("dave", &fixture_keys()).await.unwrap();
        assert!(store.load("dave").await.unwrap().unwrap().ed25519.is_none());
        assert!(!tmp.0.join("dave+ed25519.pem").exists());
    }
}
