//! The broker settings every binary takes, as a clap argument group that also reads
//! `IMAGEFLEET_AMQP_URL` and `IMAGEFLEET_TOPOLOGY_PREFIX`; the defaults name the local
//! RabbitMQ.

use clap::Args;

/// The default broker: the local RabbitMQ, vhost `/`.
pub const DEFAULT_AMQP_URL: &str = "amqp://guest:guest@127.0.0.1:5672/%2f";

/// Where the messages go.
#[derive(Debug, Clone, Args)]
pub struct AmqpArgs {
    /// RabbitMQ URL (or a comma-separated list of a cluster's nodes). A connection
    /// asks for a 10 s heartbeat unless the URL names one (`?heartbeat=N`).
    #[arg(long, env = "IMAGEFLEET_AMQP_URL", default_value = DEFAULT_AMQP_URL)]
    pub amqp_url: String,
    /// Prefix of every exchange and queue name (`imagefleet.commands`, ...).
    #[arg(long, env = "IMAGEFLEET_TOPOLOGY_PREFIX", default_value = crate::topology::DEFAULT_PREFIX)]
    pub topology_prefix: String,
    /// Queues the commands queue is split into, behind a consistent-hash exchange on
    /// each command's image (RabbitMQ's `rabbitmq_consistent_hash_exchange` plugin,
    /// needed from 2): every process of a site must use the same number.
    #[arg(long, env = "IMAGEFLEET_COMMAND_SHARDS", default_value_t = 1,
          value_parser = clap::value_parser!(u16).range(1..=i64::from(crate::topology::MAX_COMMAND_SHARDS)))]
    pub command_shards: u16,
}

impl AmqpArgs {
    /// The topology these settings name.
    pub fn topology(&self) -> crate::Topology {
        crate::Topology::new(self.topology_prefix.clone()).with_command_shards(self.command_shards)
    }
}
