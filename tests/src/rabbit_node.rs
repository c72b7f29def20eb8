//! One RabbitMQ node of the tests' own, run from RabbitMQ's scripts with everything
//! (data, logs, config, the Erlang cookie) under a directory of its own and its
//! listeners on free ports of 127.0.0.1: the building block of `PrivateBroker`
//! and `BrokerCluster`. Private, because faults on it (a stop, a memory alarm)
//! would hit everybody's tests on the shared broker.

use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};

use crate::process::{free_port, run};

/// How long a node may take to come up (a loaded 2-core machine boots RabbitMQ slowly).
const START_DEADLINE: Duration = Duration::from_secs(120);

/// The memory high watermark the nodes are configured with, restored when an alarm
/// raised by [`RabbitNode::memory_alarm`] is cleared.
const DEFAULT_WATERMARK: &str = "0.4";

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

/// The ports of one node: AMQP and Erlang distribution.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NodePorts {
    /// The AMQP listener.
    pub amqp: u16,
    /// The Erlang distribution listener (other nodes and the CLI tools talk to it).
    pub dist: u16,
}

/// Free port sets for `count` nodes. No port falls in another node's CLI tool range
/// (distribution port + 10000 ... + 10010), nor in the shared broker's (its
/// distribution port 25672 + 10000).
pub fn allocate_ports(count: usize) -> anyhow::Result<Vec<NodePorts>> {
    let mut taken: Vec<u16> = Vec::new();
    let mut dists: Vec<u16> = vec![25_672];
    let mut out = Vec::with_capacity(count);
    for _ in 0..count {
        let clash = |p: u16, taken: &[u16], dists: &[u16]| {
            taken.contains(&p) || dists.iter().any(|d| cli_ports(*d).contains(&u32::from(p)))
        };
        let dist = free_port(|p| {
            clash(p, &taken, &dists)
                || *cli_ports(p).end() > 65_535
                || taken.iter().any(|t| cli_ports(p).contains(&u32::from(*t)))
        })?;
        taken.push(dist);
        dists.push(dist);
        let amqp = free_port(|p| clash(p, &taken, &dists))?;
        taken.push(amqp);
        out.push(NodePorts { amqp, dist });
    }
    Ok(out)
}

/// Writes an Erlang cookie into `home` (nodes sharing a home share the cookie, and
/// nobody else's node is reachable with it).
pub fn write_cookie(home: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(home)?;
    let cookie = home.join(".erlang.cookie");
    std::fs::write(
        &cookie,
        uuid::Uuid::new_v4().simple().to_string().to_uppercase(),
    )?;
    std::fs::set_permissions(&cookie, std::fs::Permissions::from_mode(0o400))?;
    Ok(())
}

/// A node: configured under its directory, running or stopped.
#[derive(Debug)]
pub struct RabbitNode {
    node: String,
    dir: PathBuf,
    ports: NodePorts,
    env: Vec<(String, String)>,
    server: Option<Child>,
}

impl RabbitNode {
    /// Writes the configuration of node `name@localhost` under `dir`, with its Erlang
    /// cookie taken from `home` (see [`write_cookie`]); does not start it. No plugins
    /// (no management port to clash with).
    pub fn configure(
        dir: &Path,
        name: &str,
        ports: NodePorts,
        home: &Path,
    ) -> anyhow::Result<Self> {
        for sub in ["mnesia", "log"] {
            std::fs::create_dir_all(dir.join(sub))?;
        }
        std::fs::write(dir.join("enabled_plugins"), "[].\n")?;
        std::fs::write(
            dir.join("rabbitmq.conf"),
            format!(
                "listeners.tcp.1 = 127.0.0.1:{}\nloopback_users = none\n\
                 vm_memory_high_watermark.relative = {DEFAULT_WATERMARK}\n",
                ports.amqp
            ),
        )?;
        std::fs::write(dir.join("rabbitmq-env.conf"), "")?;
        let node = format!("{name}@localhost");
        let path = |p: &str| dir.join(p).display().to_string();
        let env = [
            ("HOME", home.display().to_string()),
            ("RABBITMQ_NODENAME", node.clone()),
            ("RABBITMQ_DIST_PORT", ports.dist.to_string()),
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
        Ok(Self {
            node,
            dir: dir.to_owned(),
            ports,
            env,
            server: None,
        })
    }

    /// Starts the (stopped) node and waits until it runs.
    pub fn start(&mut self) -> anyhow::Result<()> {
        if self.server.is_some() {
            bail!("{} is already running", self.node);
        }
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join("server.out"))?;
        let server = {
            use std::os::unix::process::CommandExt as _;
            Command::new(rabbit_script("rabbitmq-server"))
                .envs(self.env.iter().map(|(k, v)| (k, v)))
                .current_dir(&self.dir)
                .stdin(Stdio::null())
                .stdout(log.try_clone()?)
                .stderr(log)
                // A group of its own, so that a stop can end the whole tree if need be.
                .process_group(0)
                .spawn()
                .context("starting rabbitmq-server")?
        };
        self.server = Some(server);
        self.await_startup()
    }

    /// Stops the whole node (`rabbitmqctl stop`, its Erlang VM exits), as a lost host
    /// would, and waits until it is gone.
    pub fn stop(&mut self) -> anyhow::Result<()> {
        let Some(mut server) = self.server.take() else {
            return Ok(());
        };
        let stopped = self.ctl(&["stop"]);
        // Whatever is left of the tree (the node after a failed stop, its helpers).
        let group = format!("-{}", server.id());
        let _ = Command::new("kill").args(["-KILL", "--", &group]).output();
        let _ = server.wait();
        stopped.map(drop)
    }

    /// Whether the node was started and not stopped since.
    pub fn is_running(&self) -> bool {
        self.server.is_some()
    }

    /// Runs `rabbitmqctl -n <node> <args>` and returns its output.
    pub fn ctl(&self, args: &[&str]) -> anyhow::Result<String> {
        self.tool("rabbitmqctl", args)
    }

    /// Runs one of RabbitMQ's tools (`rabbitmq-queues`, ...) against this node.
    pub fn tool(&self, tool: &str, args: &[&str]) -> anyhow::Result<String> {
        run(
            Command::new(rabbit_script(tool))
                .envs(self.env.iter().map(|(k, v)| (k, v)))
                .args(["-n", &self.node])
                .args(args),
            &format!("{tool} {}", args.join(" ")),
        )
    }

    fn await_startup(&mut self) -> anyhow::Result<()> {
        let started = Instant::now();
        loop {
            if let Some(server) = self.server.as_mut()
                && let Some(status) = server.try_wait()?
            {
                self.server = None;
                bail!(
                    "rabbitmq-server {} exited ({status}) while starting",
                    self.node
                );
            }
            if self.ctl(&["await_startup", "--timeout", "10"]).is_ok() {
                return Ok(());
            }
            if started.elapsed() > START_DEADLINE {
                bail!(
                    "RabbitMQ {} did not start within {START_DEADLINE:?}",
                    self.node
                );
            }
            std::thread::sleep(Duration::from_millis(500));
        }
    }

    /// The node's name (`name@localhost`).
    pub fn name(&self) -> &str {
        &self.node
    }

    /// Its ports.
    pub fn ports(&self) -> NodePorts {
        self.ports
    }

    /// `amqp://guest:guest@127.0.0.1:<port>/%2f`.
    pub fn url(&self) -> String {
        format!("amqp://guest:guest@127.0.0.1:{}/%2f", self.ports.amqp)
    }

    /// `rabbitmqctl stop_app`: every connection is cut, the broker stays down (the
    /// Erlang VM keeps running).
    pub fn stop_app(&self) -> anyhow::Result<()> {
        self.ctl(&["stop_app"]).map(drop)
    }

    /// `rabbitmqctl start_app`, then waits until the broker runs.
    pub fn start_app(&mut self) -> anyhow::Result<()> {
        self.ctl(&["start_app"])?;
        self.await_startup()
    }

    /// Raises (`on`) the memory alarm by setting the watermark to one byte, so the
    /// node blocks every publishing connection, or clears it by restoring the
    /// configured watermark.
    pub fn memory_alarm(&self, on: bool) -> anyhow::Result<()> {
        let args: &[&str] = if on {
            &["set_vm_memory_high_watermark", "absolute", "1"]
        } else {
            &["set_vm_memory_high_watermark", DEFAULT_WATERMARK]
        };
        self.ctl(args).map(drop)
    }
}

impl Drop for RabbitNode {
    fn drop(&mut self) {
        if let Err(error) = self.stop() {
            eprintln!("{}: rabbitmqctl stop failed ({error:#}); killed", self.node);
        }
    }
}
