//! The Python side of the client tests: the virtualenv with the OpenStack clients and
//! oslo.messaging (from PyPI), made once by `scripts/client-venv`, and the paths of the
//! scripts under `tests/clients/`.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The workspace's root directory.
pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the tests package is in the workspace")
        .to_path_buf()
}

/// A script of `tests/clients/`.
pub fn client_script(name: &str) -> PathBuf {
    workspace().join("tests/clients").join(name)
}

/// The virtualenv's python, creating the virtualenv on first use (pip from PyPI; a lock
/// in the script keeps parallel tests from racing).
pub async fn python() -> PathBuf {
    let script = workspace().join("scripts/client-venv");
    let output =
        tokio::task::spawn_blocking(move || Command::new(script).stderr(Stdio::inherit()).output())
            .await
            .expect("the venv step ran")
            .expect("scripts/client-venv runs");
    assert!(output.status.success(), "scripts/client-venv failed");
    PathBuf::from(String::from_utf8_lossy(&output.stdout).trim())
}
