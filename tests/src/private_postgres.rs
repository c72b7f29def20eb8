//! `PrivatePostgres`: a Postgres cluster of its own made with `initdb` in a directory
//! of its own, on a free port of 127.0.0.1, that may be crashed and started again
//! (the chaos runner does) and whose sessions a test may hold locks in without
//! touching the shared server. Dropping it stops it (immediately), whatever happened
//! before.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::Context as _;

use crate::process::{free_port, is_root, run};

/// How long Postgres may take to come up on a loaded machine.
const START_DEADLINE: Duration = Duration::from_secs(120);

/// The private Postgres cluster.
#[derive(Debug)]
pub struct PrivatePostgres {
    bin: PathBuf,
    data: PathBuf,
    socket_dir: PathBuf,
    log: PathBuf,
    port: u16,
    /// initdb and postgres refuse to run as root: as root, they run as `postgres`.
    as_postgres: bool,
}

impl PrivatePostgres {
    /// Makes a cluster under `dir` (trust authentication, user `postgres`) and starts it.
    pub fn start(dir: &Path) -> anyhow::Result<Self> {
        let bin = pg_bin()?;
        std::fs::create_dir_all(dir)?;
        let as_postgres = is_root();
        if as_postgres {
            run(Command::new("chown").arg("postgres:").arg(dir), "chown")?;
        }
        let postgres = Self {
            bin,
            data: dir.join("data"),
            socket_dir: dir.to_owned(),
            log: dir.join("postgres.log"),
            port: free_port(|_| false)?,
            as_postgres,
        };
        run(
            postgres
                .command("initdb")
                .arg("-D")
                .arg(&postgres.data)
                .args(["-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync"]),
            "initdb",
        )?;
        postgres.start_again()?;
        Ok(postgres)
    }

    fn command(&self, program: &str) -> Command {
        let path = self.bin.join(program);
        if self.as_postgres {
            let mut command = Command::new("runuser");
            command.args(["-u", "postgres", "--"]).arg(path);
            command
        } else {
            Command::new(path)
        }
    }

    /// The URL of database `name` on this cluster.
    pub fn url(&self, name: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{name}", self.port)
    }

    /// Its port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Starts the (stopped) cluster and waits until it accepts connections.
    pub fn start_again(&self) -> anyhow::Result<()> {
        // fsync off: the machine does not crash here, only Postgres does, and the
        // kernel keeps what a crashed Postgres wrote.
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200",
            self.port,
            self.socket_dir.display()
        );
        run(
            self.command("pg_ctl")
                .arg("-D")
                .arg(&self.data)
                .arg("-l")
                .arg(&self.log)
                .args(["-w", "-t", &START_DEADLINE.as_secs().to_string()])
                .args(["-o", &options, "start"]),
            "pg_ctl start",
        )?;
        Ok(())
    }

    /// Stops it as a crash would: `pg_ctl -m immediate` (no checkpoint, sessions cut).
    pub fn crash(&self) -> anyhow::Result<()> {
        run(
            self.command("pg_ctl").arg("-D").arg(&self.data).args([
                "-m",
                "immediate",
                "-w",
                "stop",
            ]),
            "pg_ctl stop",
        )?;
        Ok(())
    }

    /// Runs `sql` on database `db` with psql and returns the rows, fields split on tabs.
    pub fn query(&self, db: &str, sql: &str) -> anyhow::Result<Vec<Vec<String>>> {
        let out = run(
            Command::new(self.bin.join("psql"))
                .args(["-h", "127.0.0.1", "-U", "postgres", "-X", "-q", "-At"])
                .args(["-F", "\t", "-v", "ON_ERROR_STOP=1"])
                .args(["-p", &self.port.to_string(), "-d", db, "-c", sql]),
            "psql",
        )?;
        Ok(out
            .lines()
            .map(|line| line.split('\t').map(str::to_owned).collect())
            .collect())
    }
}

impl Drop for PrivatePostgres {
    fn drop(&mut self) {
        // Already stopped (a failed restart) is fine: only a running one is stopped.
        let _ = self.crash();
    }
}

/// The newest Postgres under /usr/lib/postgresql, or the one on PATH.
fn pg_bin() -> anyhow::Result<PathBuf> {
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let version = entry.file_name().to_str()?.parse().ok()?;
            let bin = entry.path().join("bin");
            bin.join("initdb").exists().then_some((version, bin))
        })
        .collect();
    versions.sort();
    if let Some((_, bin)) = versions.pop() {
        return Ok(bin);
    }
    let which = run(
        Command::new("sh").args(["-c", "command -v initdb"]),
        "which",
    )?;
    Path::new(which.trim())
        .parent()
        .map(Path::to_owned)
        .context("no initdb: install Postgres")
}
