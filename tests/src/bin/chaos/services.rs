//! The chaos runner's own Postgres and RabbitMQ: a Postgres cluster made with `initdb`
//! and a RabbitMQ node of its own, both in the run's directory, on free ports of
//! 127.0.0.1. Private, because the runner restarts them: the shared services carry other
//! people's tests. Dropping either stops it (immediately), whatever happened before.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};

/// How long a service may take to come up (a loaded 2-core machine boots RabbitMQ slowly).
const START_DEADLINE: Duration = Duration::from_secs(120);

/// Runs a command to completion, failing with its output when it fails.
pub fn run(command: &mut Command, what: &str) -> anyhow::Result<String> {
    let output = command
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("running {what}"))?;
    if !output.status.success() {
        bail!(
            "{what} failed ({}): {}{}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// A free port of 127.0.0.1 outside `avoid` (the OS picks; the listener is closed
/// again, so a race with another process is possible but unlikely).
pub fn free_port(avoid: impl Fn(u16) -> bool) -> anyhow::Result<u16> {
    for _ in 0..100 {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        if !avoid(port) {
            return Ok(port);
        }
    }
    bail!("no free port found")
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|out| out.stdout.trim_ascii() == b"0")
}

/// The private Postgres cluster.
pub struct Postgres {
    bin: PathBuf,
    data: PathBuf,
    socket_dir: PathBuf,
    log: PathBuf,
    port: u16,
    /// initdb and postgres refuse to run as root: as root, they run as `postgres`.
    as_postgres: bool,
}

impl Postgres {
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

impl Drop for Postgres {
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

/// The private RabbitMQ node.
pub struct Rabbit {
    node: String,
    port: u16,
    env: Vec<(String, String)>,
    server: Child,
}

/// RabbitMQ's scripts as shipped, without Debian's wrappers that switch to the
/// `rabbitmq` user (and its shared cookie and node name).
fn rabbit_script(name: &str) -> PathBuf {
    let packaged = Path::new("/usr/lib/rabbitmq/bin").join(name);
    if packaged.exists() {
        packaged
    } else {
        PathBuf::from(name)
    }
}

/// The ports RabbitMQ's command-line tools of a node with distribution port `dist`
/// listen on (dist + 10000 ... + 10010).
fn cli_ports(dist: u16) -> std::ops::RangeInclusive<u32> {
    u32::from(dist) + 10_000..=u32::from(dist) + 10_010
}

impl Rabbit {
    /// Starts a node named `name@localhost` with everything under `dir` and waits until
    /// it runs. No plugins (no management port to clash with).
    pub fn start(dir: &Path, name: &str) -> anyhow::Result<Self> {
        let home = dir.join("home");
        for sub in ["home", "mnesia", "log"] {
            std::fs::create_dir_all(dir.join(sub))?;
        }
        // The shared node's tools use 35672-35682 (its distribution port 25672 +
        // 10000): neither of this node's ports, nor its tools' range, may fall there.
        let shared_tools = cli_ports(25_672);
        let dist = free_port(|p| {
            shared_tools.contains(&u32::from(p))
                || *cli_ports(p).end() > 65_535
                || cli_ports(p).contains(&35_672)
        })?;
        let port = free_port(|p| {
            shared_tools.contains(&u32::from(p)) || cli_ports(dist).contains(&u32::from(p))
        })?;
        std::fs::write(dir.join("enabled_plugins"), "[].\n")?;
        std::fs::write(
            dir.join("rabbitmq.conf"),
            format!("listeners.tcp.1 = 127.0.0.1:{port}\nloopback_users = none\n"),
        )?;
        std::fs::write(dir.join("rabbitmq-env.conf"), "")?;
        let node = format!("{name}@localhost");
        let path = |p: &str| dir.join(p).display().to_string();
        let env: Vec<(String, String)> = [
            // A home of its own: Erlang makes the node's cookie there, shared with the
            // rabbitmqctl calls below, and nobody else's node is reachable with it.
            ("HOME", home.display().to_string()),
            ("RABBITMQ_NODENAME", node.clone()),
            ("RABBITMQ_DIST_PORT", dist.to_string()),
            ("RABBITMQ_MNESIA_BASE", path("mnesia")),
            ("RABBITMQ_LOG_BASE", path("log")),
            ("RABBITMQ_CONFIG_FILE", path("rabbitmq.conf")),
            ("RABBITMQ_ENABLED_PLUGINS_FILE", path("enabled_plugins")),
            ("RABBITMQ_CONF_ENV_FILE", path("rabbitmq-env.conf")),
            ("ERL_EPMD_ADDRESS", "127.0.0.1".to_owned()),
            (
                "ERL_FLAGS",
                "-kernel inet_dist_use_interface {127,0,0,1}".to_owned(),
            ),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        let log = std::fs::File::create(dir.join("server.out"))?;
        let server = {
            use std::os::unix::process::CommandExt as _;
            Command::new(rabbit_script("rabbitmq-server"))
                .envs(env.iter().map(|(k, v)| (k, v)))
                .current_dir(dir)
                .stdin(Stdio::null())
                .stdout(log.try_clone()?)
                .stderr(log)
                // A group of its own, so that Drop can end the whole tree if need be.
                .process_group(0)
                .spawn()
                .context("starting rabbitmq-server")?
        };
        let mut rabbit = Self {
            node,
            port,
            env,
            server,
        };
        rabbit.await_startup()?;
        Ok(rabbit)
    }

    fn ctl(&self, args: &[&str]) -> anyhow::Result<String> {
        run(
            Command::new(rabbit_script("rabbitmqctl"))
                .envs(self.env.iter().map(|(k, v)| (k, v)))
                .args(["-n", &self.node])
                .args(args),
            &format!("rabbitmqctl {}", args.join(" ")),
        )
    }

    fn await_startup(&mut self) -> anyhow::Result<()> {
        let started = Instant::now();
        loop {
            if let Some(status) = self.server.try_wait()? {
                bail!("rabbitmq-server exited ({status}) while starting");
            }
            if self.ctl(&["await_startup", "--timeout", "10"]).is_ok() {
                return Ok(());
            }
            if started.elapsed() > START_DEADLINE {
                bail!("RabbitMQ did not start within {START_DEADLINE:?}");
            }
            std::thread::sleep(Duration::from_millis(500));
        }
    }

    /// `amqp://guest:guest@127.0.0.1:<port>/%2f`.
    pub fn url(&self) -> String {
        format!("amqp://guest:guest@127.0.0.1:{}/%2f", self.port)
    }

    /// `rabbitmqctl stop_app`: every connection is cut, the broker stays down.
    pub fn stop_app(&self) -> anyhow::Result<()> {
        self.ctl(&["stop_app"]).map(drop)
    }

    /// `rabbitmqctl start_app`, then waits until the broker runs.
    pub fn start_app(&mut self) -> anyhow::Result<()> {
        self.ctl(&["start_app"])?;
        self.await_startup()
    }
}

impl Drop for Rabbit {
    fn drop(&mut self) {
        if self.ctl(&["stop"]).is_err() {
            eprintln!("chaos: rabbitmqctl stop failed; killing the node");
        }
        // Whatever is left of the tree (the node after a failed stop, its helpers).
        let group = format!("-{}", self.server.id());
        let _ = Command::new("kill").args(["-KILL", "--", &group]).output();
        let _ = self.server.wait();
    }
}
