//! A RabbitMQ node of one test alone (data, logs, cookie under a directory of its own,
//! listeners on free ports of 127.0.0.1), for the memory alarm: raising it on the
//! shared broker would block everybody's tests. It has the shape of the tests
//! library's private broker (`start`, `url`, `memory_alarm`), which takes its place
//! once that lands.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};

/// How long the node may take to boot on a loaded machine.
const START_DEADLINE: Duration = Duration::from_secs(120);

/// The running node; dropping it stops it and removes its directory.
pub struct PrivateNode {
    dir: PathBuf,
    node: String,
    port: u16,
    env: Vec<(String, String)>,
    server: Child,
}

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// RabbitMQ's scripts as shipped, without Debian's wrappers that switch user.
fn script(name: &str) -> PathBuf {
    let packaged = Path::new("/usr/lib/rabbitmq/bin").join(name);
    if packaged.exists() {
        packaged
    } else {
        PathBuf::from(name)
    }
}

impl PrivateNode {
    /// Starts a node and waits until it runs.
    pub fn start() -> anyhow::Result<Self> {
        let id = format!("alarm{:08x}", rand::random::<u32>());
        let dir = std::env::temp_dir().join(format!("imagefleet-{id}"));
        for sub in ["home", "mnesia", "log"] {
            std::fs::create_dir_all(dir.join(sub))?;
        }
        // The distribution port's tool range (+10000..+10010) must stay clear of the
        // shared node's (35672..35682).
        let dist = loop {
            let port = free_port()?;
            if port < 55_000 && !(25_662..=25_682).contains(&port) {
                break port;
            }
        };
        let port = free_port()?;
        std::fs::write(dir.join("enabled_plugins"), "[].\n")?;
        std::fs::write(
            dir.join("rabbitmq.conf"),
            format!("listeners.tcp.1 = 127.0.0.1:{port}\nloopback_users = none\n"),
        )?;
        std::fs::write(dir.join("rabbitmq-env.conf"), "")?;
        let node = format!("{id}@localhost");
        let path = |p: &str| dir.join(p).display().to_string();
        let env: Vec<(String, String)> = [
            ("HOME", path("home")),
            ("RABBITMQ_NODENAME", node.clone()),
            ("RABBITMQ_NODE_PORT", port.to_string()),
            ("RABBITMQ_DIST_PORT", dist.to_string()),
            ("RABBITMQ_MNESIA_BASE", path("mnesia")),
            ("RABBITMQ_LOG_BASE", path("log")),
            ("RABBITMQ_CONFIG_FILE", path("rabbitmq.conf")),
            ("RABBITMQ_ENABLED_PLUGINS_FILE", path("enabled_plugins")),
            ("RABBITMQ_CONF_ENV_FILE", path("rabbitmq-env.conf")),
            ("ERL_EPMD_ADDRESS", "127.0.0.1".to_owned()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        let log = std::fs::File::create(dir.join("server.out"))?;
        let server = {
            use std::os::unix::process::CommandExt as _;
            Command::new(script("rabbitmq-server"))
                .envs(env.iter().map(|(k, v)| (k, v)))
                .current_dir(&dir)
                .stdin(Stdio::null())
                .stdout(log.try_clone()?)
                .stderr(log)
                .process_group(0)
                .spawn()
                .context("starting rabbitmq-server")?
        };
        let mut node = Self {
            dir,
            node,
            port,
            env,
            server,
        };
        let started = Instant::now();
        loop {
            if let Some(status) = node.server.try_wait()? {
                bail!("rabbitmq-server exited ({status}) while starting");
            }
            if node.ctl(&["await_startup", "--timeout", "10"]).is_ok() {
                return Ok(node);
            }
            if started.elapsed() > START_DEADLINE {
                bail!("RabbitMQ did not start within {START_DEADLINE:?}");
            }
            std::thread::sleep(Duration::from_millis(500));
        }
    }

    fn ctl(&self, args: &[&str]) -> anyhow::Result<String> {
        let output = Command::new(script("rabbitmqctl"))
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .args(["-n", &self.node])
            .args(args)
            .stdin(Stdio::null())
            .output()
            .context("running rabbitmqctl")?;
        if !output.status.success() {
            bail!(
                "rabbitmqctl {} failed: {}",
                args.join(" "),
                String::from_utf8_lossy(&output.stderr)
            );
        }
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    }

    /// `amqp://guest:guest@127.0.0.1:<port>/%2f`.
    pub fn url(&self) -> String {
        format!("amqp://guest:guest@127.0.0.1:{}/%2f", self.port)
    }

    /// Raises (a watermark of 1 byte) or clears the memory alarm: while raised, the node
    /// blocks every connection that publishes.
    pub fn memory_alarm(&self, on: bool) -> anyhow::Result<()> {
        if on {
            self.ctl(&["set_vm_memory_high_watermark", "absolute", "1"])
        } else {
            self.ctl(&["set_vm_memory_high_watermark", "0.4"])
        }
        .map(drop)
    }
}

impl Drop for PrivateNode {
    fn drop(&mut self) {
        let _ = self.ctl(&["stop"]);
        let group = format!("-{}", self.server.id());
        let _ = Command::new("kill").args(["-KILL", "--", &group]).output();
        let _ = self.server.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
