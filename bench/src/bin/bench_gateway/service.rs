//! The service under test: the release `imagefleet up` binary as a child process, on a
//! database of its own (a `TestDb`), a RabbitMQ vhost of its own and the database's
//! image store directory. A child process rather than `run_until` in this process, so
//! that its memory (VmHWM) and CPU time are its own and not the load generator's.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use imagefleet_tests::{TestDb, TestVhost};

/// How long the service may take to answer `/versions` after it is started.
const START_DEADLINE: Duration = Duration::from_secs(120);
/// How long a graceful stop (SIGTERM) may take before the process is killed.
const STOP_DEADLINE: Duration = Duration::from_secs(30);

/// The running service. Dropping it kills the process (if a graceful [`Service::stop`]
/// did not happen), then removes the vhost, the database and the store, in that order.
pub struct Service {
    child: Child,
    base: String,
    log: PathBuf,
    _vhost: TestVhost,
    _db: TestDb,
}

impl Service {
    /// Starts `binary up` and waits until it answers `GET /versions`.
    pub async fn start(binary: &Path, client: &reqwest::Client) -> anyhow::Result<Self> {
        let db = TestDb::new().await?;
        let vhost = TestVhost::new(db.name())?;
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let log = std::env::temp_dir().join(format!("{}.log", db.name()));
        let output = std::fs::File::create(&log)?;
        let child = Command::new(binary)
            .arg("up")
            .env("IMAGEFLEET_DATABASE_URL", db.url())
            .env("IMAGEFLEET_AMQP_URL", vhost.url())
            .env("IMAGEFLEET_BIND", format!("127.0.0.1:{port}"))
            .env("IMAGEFLEET_DATA_DIR", db.data_dir())
            .stdin(Stdio::null())
            .stdout(output.try_clone()?)
            .stderr(output)
            .spawn()
            .with_context(|| format!("starting {}", binary.display()))?;
        let mut service = Self {
            child,
            base: format!("http://127.0.0.1:{port}"),
            log,
            _vhost: vhost,
            _db: db,
        };
        let started = Instant::now();
        loop {
            if let Some(status) = service.child.try_wait()? {
                bail!(
                    "imagefleet up exited ({status}) before answering:\n{}",
                    service.log_tail()
                );
            }
            let answered = client
                .get(format!("{}/versions", service.base))
                .send()
                .await;
            if answered.is_ok_and(|r| r.status().is_success()) {
                return Ok(service);
            }
            if started.elapsed() > START_DEADLINE {
                bail!(
                    "no answer within {START_DEADLINE:?}:\n{}",
                    service.log_tail()
                );
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// The gateway's base URL, `http://127.0.0.1:<port>`.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// A field of `/proc/<pid>/status` in KiB (`VmHWM`, `VmRSS`).
    pub fn status_kib(&self, field: &str) -> anyhow::Result<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))?;
        status
            .lines()
            .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
            .and_then(|value| value.split_whitespace().next()?.parse().ok())
            .with_context(|| format!("no {field} in /proc/<pid>/status"))
    }

    /// User plus system CPU time of the service so far, in clock ticks.
    pub fn cpu_ticks(&self) -> anyhow::Result<u64> {
        cpu_ticks(&format!("/proc/{}/stat", self.child.id()))
    }

    /// The last lines the service logged (for errors).
    pub fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }

    /// Stops the service with SIGTERM (its graceful shutdown) and waits for it; kills
    /// it if it takes longer than [`STOP_DEADLINE`].
    pub async fn stop(mut self) -> anyhow::Result<()> {
        // std can only SIGKILL; the graceful path is what `imagefleet up` users get.
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()?;
        let asked = Instant::now();
        while self.child.try_wait()?.is_none() {
            if asked.elapsed() > STOP_DEADLINE {
                bail!("imagefleet up did not stop within {STOP_DEADLINE:?}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Ok(())
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        let _ = std::fs::remove_file(&self.log);
    }
}

/// User plus system time (fields 14 and 15) of a `/proc/.../stat` file, in clock ticks.
pub fn cpu_ticks(path: &str) -> anyhow::Result<u64> {
    let stat = std::fs::read_to_string(path)?;
    // The command name (field 2) may hold spaces; the fields after it are plain.
    let after_name = stat.rsplit_once(')').context("a stat line")?.1;
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let utime: u64 = fields.get(11).context("utime")?.parse()?;
    let stime: u64 = fields.get(12).context("stime")?.parse()?;
    Ok(utime + stime)
}
