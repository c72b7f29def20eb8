//! `BrokerCluster`: a private RabbitMQ cluster on loopback, three nodes by default,
//! each with its own name, AMQP and distribution ports and data directory, sharing one
//! Erlang cookie and joined with `rabbitmqctl join_cluster`. Quorum queues declared on
//! it once all nodes joined get a member on every node (RabbitMQ's default initial
//! group size is the cluster's size). A test or the chaos runner finds the node
//! leading a quorum queue, stops it as a lost host would, and starts it again.
//! Dropping the cluster stops every node and removes its directory.

use std::path::Path;

use anyhow::{Context as _, bail};
use serde::Deserialize;

use crate::rabbit_node::{RabbitNode, allocate_ports, write_cookie};
use crate::scratch_dir::ScratchDir;

/// A running private cluster.
#[derive(Debug)]
pub struct BrokerCluster {
    /// Declared before the directory: the nodes stop before their files go.
    nodes: Vec<RabbitNode>,
    _dir: Option<ScratchDir>,
}

/// One quorum queue as `rabbitmqctl list_queues --formatter json` reports it.
#[derive(Debug, Deserialize)]
struct QueueRow {
    name: String,
    #[serde(default)]
    leader: serde_json::Value,
    #[serde(default)]
    members: serde_json::Value,
}

impl BrokerCluster {
    /// Starts a cluster of `size` nodes in a temporary directory of its own.
    pub fn start(size: usize) -> anyhow::Result<Self> {
        let dir = ScratchDir::create("cluster")?;
        let nodes = Self::start_nodes(dir.path(), dir.name(), size)?;
        Ok(Self {
            nodes,
            _dir: Some(dir),
        })
    }

    /// Starts a cluster of `size` nodes named `<name>-<n>@localhost` under `dir`
    /// (which the caller removes after dropping the cluster).
    pub fn start_in(dir: &Path, name: &str, size: usize) -> anyhow::Result<Self> {
        Ok(Self {
            nodes: Self::start_nodes(dir, name, size)?,
            _dir: None,
        })
    }

    fn start_nodes(dir: &Path, name: &str, size: usize) -> anyhow::Result<Vec<RabbitNode>> {
        if size == 0 {
            bail!("a cluster needs a node");
        }
        let home = dir.join("home");
        write_cookie(&home)?;
        let mut nodes = allocate_ports(size)?
            .into_iter()
            .enumerate()
            .map(|(n, ports)| {
                RabbitNode::configure(
                    &dir.join(format!("node{n}")),
                    &format!("{name}-{n}"),
                    ports,
                    &home,
                )
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        // The nodes boot at once (a boot is mostly waiting), then join the first.
        std::thread::scope(|scope| {
            let boots: Vec<_> = nodes
                .iter_mut()
                .map(|node| scope.spawn(move || node.start()))
                .collect();
            boots
                .into_iter()
                .try_for_each(|boot| boot.join().map_err(|_| anyhow::anyhow!("boot panicked"))?)
        })?;
        let seed = nodes[0].name().to_owned();
        for node in &mut nodes[1..] {
            node.stop_app()?;
            node.ctl(&["join_cluster", &seed])?;
            node.start_app()?;
        }
        Ok(nodes)
    }

    /// The nodes, in start order.
    pub fn nodes(&self) -> &[RabbitNode] {
        &self.nodes
    }

    /// Each node's AMQP URL, in start order.
    pub fn urls(&self) -> Vec<String> {
        self.nodes.iter().map(RabbitNode::url).collect()
    }

    /// The URLs as one comma-separated list (`IMAGEFLEET_AMQP_URL`'s form for a cluster).
    pub fn url_list(&self) -> String {
        self.urls().join(",")
    }

    /// A running node's index (the first), to ask the cluster things through.
    fn running(&self) -> anyhow::Result<&RabbitNode> {
        self.nodes
            .iter()
            .find(|n| n.is_running())
            .context("no node of the cluster runs")
    }

    fn queue_row(&self, vhost: &str, queue: &str) -> anyhow::Result<QueueRow> {
        let listing = self.running()?.ctl(&[
            "list_queues",
            "-p",
            vhost,
            "name",
            "leader",
            "members",
            "--formatter",
            "json",
            "-q",
        ])?;
        let rows: Vec<QueueRow> =
            serde_json::from_str(listing.trim()).context("reading list_queues' JSON")?;
        rows.into_iter()
            .find(|row| row.name == queue)
            .with_context(|| format!("no queue {queue} in vhost {vhost}"))
    }

    /// The index of the node leading quorum queue `queue` of `vhost`.
    pub fn leader_of(&self, vhost: &str, queue: &str) -> anyhow::Result<usize> {
        let row = self.queue_row(vhost, queue)?;
        let leader = row
            .leader
            .as_str()
            .with_context(|| format!("{queue} has no leader ({:?})", row.leader))?;
        self.nodes
            .iter()
            .position(|n| n.name() == leader)
            .with_context(|| format!("{queue}'s leader {leader} is not a node of the cluster"))
    }

    /// The nodes holding a member of quorum queue `queue` of `vhost`.
    pub fn members_of(&self, vhost: &str, queue: &str) -> anyhow::Result<Vec<String>> {
        let row = self.queue_row(vhost, queue)?;
        Ok(row
            .members
            .as_array()
            .map(|members| {
                members
                    .iter()
                    .filter_map(|m| m.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default())
    }

    /// Stops node `index` whole (its Erlang VM exits), as a lost host would.
    pub fn stop_node(&mut self, index: usize) -> anyhow::Result<()> {
        self.nodes.get_mut(index).context("no such node")?.stop()
    }

    /// Starts the stopped node `index` again; it rejoins the cluster with its data.
    pub fn start_node(&mut self, index: usize) -> anyhow::Result<()> {
        self.nodes.get_mut(index).context("no such node")?.start()
    }
}
