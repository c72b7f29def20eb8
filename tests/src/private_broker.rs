//! `PrivateBroker`: a RabbitMQ node of one test (or of the chaos runner) alone, on free
//! ports of 127.0.0.1, that may be stopped, started and put under a memory alarm
//! without touching anybody else's tests. Dropping it stops the node (whatever
//! happened before) and removes its directory when it made one.

use std::path::Path;

use crate::rabbit_node::{RabbitNode, allocate_ports, write_cookie};
use crate::scratch_dir::ScratchDir;

/// A private single-node broker.
#[derive(Debug)]
pub struct PrivateBroker {
    /// Declared before the directory: the node stops before its files go.
    node: RabbitNode,
    _dir: Option<ScratchDir>,
}

impl PrivateBroker {
    /// Starts a node in a temporary directory of its own, removed on drop.
    pub fn start() -> anyhow::Result<Self> {
        let dir = ScratchDir::create("broker")?;
        let node = Self::start_node(dir.path(), dir.name())?;
        Ok(Self {
            node,
            _dir: Some(dir),
        })
    }

    /// Starts a node named `name@localhost` with everything under `dir` (which the
    /// caller removes, after dropping the broker).
    pub fn start_in(dir: &Path, name: &str) -> anyhow::Result<Self> {
        Ok(Self {
            node: Self::start_node(dir, name)?,
            _dir: None,
        })
    }

    fn start_node(dir: &Path, name: &str) -> anyhow::Result<RabbitNode> {
        let home = dir.join("home");
        write_cookie(&home)?;
        let ports = allocate_ports(1)?
            .pop()
            .ok_or_else(|| anyhow::anyhow!("no ports allocated"))?;
        let mut node = RabbitNode::configure(dir, name, ports, &home)?;
        node.start()?;
        Ok(node)
    }

    /// `amqp://guest:guest@127.0.0.1:<port>/%2f`.
    pub fn url(&self) -> String {
        self.node.url()
    }

    /// Its AMQP port.
    pub fn port(&self) -> u16 {
        self.node.ports().amqp
    }

    /// The node itself, for `rabbitmqctl` calls of a test's own.
    pub fn node(&self) -> &RabbitNode {
        &self.node
    }

    /// `rabbitmqctl stop_app`: every connection is cut, the broker stays down.
    pub fn stop_app(&self) -> anyhow::Result<()> {
        self.node.stop_app()
    }

    /// `rabbitmqctl start_app`, then waits until the broker runs.
    pub fn start_app(&mut self) -> anyhow::Result<()> {
        self.node.start_app()
    }

    /// Stops the whole node (its Erlang VM exits).
    pub fn stop(&mut self) -> anyhow::Result<()> {
        self.node.stop()
    }

    /// Starts the stopped node again (same ports, same data) and waits until it runs.
    pub fn start_again(&mut self) -> anyhow::Result<()> {
        self.node.start()
    }

    /// Raises (`on`) or clears the memory alarm: while raised, the broker blocks every
    /// connection that publishes (`connection.blocked`).
    pub fn memory_alarm(&self, on: bool) -> anyhow::Result<()> {
        self.node.memory_alarm(on)
    }
}
