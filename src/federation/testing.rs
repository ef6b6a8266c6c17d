//! Test scaffolding shared by the federation modules' unit tests.

use std::path::PathBuf;

/// A fresh directory under the system temp dir (not created), removed
/// with everything in it on drop.
pub(crate) struct TempDir(pub(crate) PathBuf);

impl TempDir {
    /// `archipel-{tag}-{random id}` under the system temp dir.
    pub(crate) fn new(tag: &str) -> TempDir {
        let id = super::Paths::new_id().unwrap();
        TempDir(std::env::temp_dir().join(format!("archipel-{tag}-{id}")))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A file `name` in a fresh [`TempDir`]; the directory goes on drop.
pub(crate) struct TempFile(
    pub(crate) PathBuf,
    // Held only so that its drop removes the directory.
    #[allow(dead_code)] TempDir,
);

impl TempFile {
    pub(crate) fn new(tag: &str, name: &str) -> TempFile {
        let dir = TempDir::new(tag);
        TempFile(dir.0.join(name), dir)
    }
}
