//! A directory of its own under the system's temporary directory for a private
//! service's files, removed when dropped (after the service in it was stopped).

use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};

/// A temporary directory, removed on drop.
#[derive(Debug)]
pub struct ScratchDir {
    path: PathBuf,
    name: String,
}

impl ScratchDir {
    /// Makes `<tmp>/imagefleet-<kind><random>`, readable by others: Postgres runs as
    /// its own user inside it when the caller is root.
    pub fn create(kind: &str) -> anyhow::Result<Self> {
        let name = format!("{kind}{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
        let path = std::env::temp_dir().join(format!("imagefleet-{name}"));
        std::fs::create_dir(&path)?;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))?;
        Ok(Self { path, name })
    }

    /// Where it is.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A name unique to it (`<kind><random>`), usable as a node name.
    pub fn name(&self) -> &str {
        &self.name
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        if let Err(error) = std::fs::remove_dir_all(&self.path) {
            eprintln!("could not remove {}: {error}", self.path.display());
        }
    }
}
