//! The processes under test: the real `api-gateway` and `workers run` binaries as child
//! processes on the private services, each on a port that stays the same across its
//! restarts, logging to a file of the run's directory. `kill -9` and restart of any of
//! them; the relay's leader found from each worker's `/metrics`.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{Context as _, bail};

use imagefleet_tests::process::{self, free_port, run};

/// Settings every process gets: short leases and janitor rounds, so that a killed
/// upload is given back within seconds; a large property quota for the many commands.
pub struct FleetSettings {
    /// Directory of `api-gateway` and `workers`.
    pub bin_dir: PathBuf,
    /// Postgres URL (the database).
    pub database_url: String,
    /// RabbitMQ URL.
    pub amqp_url: String,
    /// The image store.
    pub data_dir: PathBuf,
    /// Where the logs go.
    pub log_dir: PathBuf,
    /// `IMAGEFLEET_DATA_LEASE` in seconds.
    pub lease_seconds: u64,
}

/// A kind of process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// `api-gateway`.
    Gateway,
    /// `workers run`, numbered.
    Worker(usize),
}

struct Process {
    role: Role,
    /// The gateway's address, or the worker's operations port.
    port: u16,
    child: Option<Child>,
}

/// The gateway and the workers.
pub struct Fleet {
    settings: FleetSettings,
    processes: Vec<Process>,
}

impl Fleet {
    /// Applies the migrations (`workers migrate`), then starts the gateway and
    /// `workers` workers.
    pub fn start(settings: FleetSettings, workers: usize) -> anyhow::Result<Self> {
        for binary in ["api-gateway", "workers"] {
            if !settings.bin_dir.join(binary).exists() {
                bail!(
                    "no {binary} in {}: run `cargo build --workspace` (same profile) or pass --bin-dir",
                    settings.bin_dir.display()
                );
            }
        }
        run(
            Command::new(settings.bin_dir.join("workers"))
                .arg("migrate")
                .env("IMAGEFLEET_DATABASE_URL", &settings.database_url),
            "workers migrate",
        )?;
        let mut processes = vec![Process {
            role: Role::Gateway,
            port: free_port(|_| false)?,
            child: None,
        }];
        for n in 0..workers {
            processes.push(Process {
                role: Role::Worker(n),
                port: free_port(|_| false)?,
                child: None,
            });
        }
        let mut fleet = Self {
            settings,
            processes,
        };
        for n in 0..fleet.processes.len() {
            fleet.spawn(n)?;
        }
        Ok(fleet)
    }

    /// The gateway's base URL.
    pub fn gateway_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.processes[0].port)
    }

    /// The operations URL (`/metrics`, `/readyz`) of each process, by role.
    pub fn ops_urls(&self) -> Vec<(Role, String)> {
        self.processes
            .iter()
            .map(|p| (p.role, format!("http://127.0.0.1:{}", p.port)))
            .collect()
    }

    /// How many workers there are.
    pub fn workers(&self) -> usize {
        self.processes.len() - 1
    }

    fn index(role: Role) -> usize {
        match role {
            Role::Gateway => 0,
            Role::Worker(n) => n + 1,
        }
    }

    fn spawn(&mut self, index: usize) -> anyhow::Result<()> {
        let settings = &self.settings;
        let process = &mut self.processes[index];
        let (name, mut command) = match process.role {
            Role::Gateway => {
                let mut command = Command::new(settings.bin_dir.join("api-gateway"));
                command
                    .env("IMAGEFLEET_BIND", format!("127.0.0.1:{}", process.port))
                    .env("IMAGEFLEET_DEFAULT_PROJECT", "chaos")
                    .env("IMAGEFLEET_DATA_LEASE", settings.lease_seconds.to_string());
                ("gateway".to_owned(), command)
            }
            Role::Worker(n) => {
                let mut command = Command::new(settings.bin_dir.join("workers"));
                command
                    .arg("run")
                    .env(
                        "IMAGEFLEET_METRICS_BIND",
                        format!("127.0.0.1:{}", process.port),
                    )
                    .env("IMAGEFLEET_JANITOR_INTERVAL", "1");
                (format!("worker-{n}"), command)
            }
        };
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(settings.log_dir.join(format!("{name}.log")))?;
        let database_url = format!("{}?application_name=chaos-{name}", settings.database_url);
        let child = command
            .env("IMAGEFLEET_DATABASE_URL", database_url)
            .env("IMAGEFLEET_AMQP_URL", &settings.amqp_url)
            .env("IMAGEFLEET_DATA_DIR", &settings.data_dir)
            .env("IMAGEFLEET_DATABASE_POOL_SIZE", "8")
            .env("IMAGEFLEET_IMAGE_PROPERTY_QUOTA", "100000")
            .env("IMAGEFLEET_NOTIFICATIONS", "false")
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .with_context(|| format!("starting {name}"))?;
        process.child = Some(child);
        Ok(())
    }

    /// `kill -9` of one process (SIGKILL: no graceful shutdown, nothing flushed).
    pub fn kill(&mut self, role: Role) {
        if let Some(mut child) = self.processes[Self::index(role)].child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts a killed process again on its port.
    pub fn restart(&mut self, role: Role) -> anyhow::Result<()> {
        self.kill(role);
        self.spawn(Self::index(role))
    }

    /// Processes that exited without being killed: (role, exit status). The runner
    /// restarts them and reports it.
    pub fn exited(&mut self) -> Vec<(Role, String)> {
        let mut exited = Vec::new();
        for process in &mut self.processes {
            if let Some(child) = &mut process.child
                && let Ok(Some(status)) = child.try_wait()
            {
                exited.push((process.role, status.to_string()));
                process.child = None;
            }
        }
        exited
    }
}

impl Drop for Fleet {
    fn drop(&mut self) {
        for n in 0..self.processes.len() {
            let role = self.processes[n].role;
            self.kill(role);
        }
    }
}

/// Whether `url/readyz` answers 200.
pub async fn ready(client: &reqwest::Client, url: &str) -> bool {
    client
        .get(format!("{url}/readyz"))
        .timeout(Duration::from_secs(3))
        .send()
        .await
        .is_ok_and(|r| r.status().is_success())
}

/// The worker whose relay leads (its `/metrics` says `imagefleet_relay_leader 1`).
pub async fn relay_leader(client: &reqwest::Client, ops: &[(Role, String)]) -> Option<Role> {
    for (role, url) in ops {
        if *role == Role::Gateway {
            continue;
        }
        let Ok(response) = client
            .get(format!("{url}/metrics"))
            .timeout(Duration::from_secs(3))
            .send()
            .await
        else {
            continue;
        };
        let text = response.text().await.unwrap_or_default();
        if text
            .lines()
            .any(|line| line.starts_with("imagefleet_relay_leader") && line.ends_with(" 1"))
        {
            return Some(*role);
        }
    }
    None
}

/// Builds `api-gateway` and `workers` in the profile this binary was built in (a
/// no-op when they are up to date; neither `cargo run -p imagefleet-bench` nor a test
/// build makes them) and returns their directory, this binary's. A dev build takes
/// every target, as the test build did, so that both resolve the same features and
/// share every artifact (only the binaries are new); a release build only the bins.
pub fn build_binaries() -> anyhow::Result<PathBuf> {
    let dir = std::env::current_exe()?
        .parent()
        .context("the runner's directory")?
        .to_owned();
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let mut build = std::process::Command::new(cargo);
    build
        .args(["build", "--workspace"])
        .current_dir(env!("CARGO_MANIFEST_DIR"));
    if dir.file_name().is_some_and(|name| name == "release") {
        build.args(["--release", "--bins"]);
    } else {
        build.arg("--all-targets");
    }
    process::run(&mut build, "cargo build --workspace")?;
    Ok(dir)
}
