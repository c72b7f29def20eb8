//! The run's directory: the private Postgres cluster, the RabbitMQ node's files, the
//! image store and the processes' logs, under the system's temporary directory. It is
//! removed when dropped (after everything running in it was stopped), unless kept.

use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};

/// A directory of one run.
pub struct RunDir {
    path: PathBuf,
    name: String,
    keep: bool,
}

impl RunDir {
    /// Makes `<tmp>/imagefleet-chaos-<random>`, readable by others: Postgres runs as
    /// its own user inside it when the runner is root.
    pub fn create(keep: bool) -> anyhow::Result<Self> {
        let name = format!("chaos{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
        let path = std::env::temp_dir().join(format!("imagefleet-{name}"));
        std::fs::create_dir(&path)?;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))?;
        Ok(Self { path, name, keep })
    }

    /// Where it is.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A name unique to the run (the RabbitMQ node's).
    pub fn name(&self) -> String {
        self.name.clone()
    }
}

impl Drop for RunDir {
    fn drop(&mut self) {
        if self.keep {
            eprintln!("chaos: kept {}", self.path.display());
        } else if let Err(error) = std::fs::remove_dir_all(&self.path) {
            eprintln!("chaos: could not remove {}: {error}", self.path.display());
        }
    }
}

/// The last lines of every process's log, for a failed run.
pub fn print_logs(log_dir: &std::path::Path) {
    let Ok(entries) = std::fs::read_dir(log_dir) else {
        return;
    };
    for entry in entries.flatten() {
        let text = std::fs::read_to_string(entry.path()).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        eprintln!("--- {} (last 15 lines)", entry.path().display());
        for line in &lines[lines.len().saturating_sub(15)..] {
            eprintln!("{line}");
        }
    }
}
