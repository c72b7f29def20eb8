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
}

impl AmqpArgs {
    /// The topology these settings name.
    pub fn topology(&self) -> crate::Topology {
        crate::Topology::new(self.topology_prefix.clone())
    }
}
