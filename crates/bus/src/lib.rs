//! RabbitMQ: connections to the nodes of a cluster, the topology (exchanges and
//! queues), publishing with confirms, flow control, the intake of commands and the
//! request/reply client. The messages themselves are the `wire` crate's.

mod args;
pub mod backoff;
pub mod client;
pub mod confirm;
pub mod connection;
pub mod failure_class;
pub mod flow;
pub mod headers;
pub mod intake;
pub mod topology;

pub use args::{AmqpArgs, DEFAULT_AMQP_URL};
pub use backoff::Backoff;
pub use failure_class::FailureClass;
pub use topology::{QueueShard, Topology, WorkQueue};
