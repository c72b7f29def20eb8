//! Whole fleets: workers (consumers, publishers, outbox relay, janitor) and the gateway
//! on the real Postgres and RabbitMQ, or on private ones to break. Every command type end
//! to end, exactly-once under redelivery, restarts, node loss and blackholed
//! connections, the janitor and the leaders' locks, the `imagefleet` operator command,
//! metrics and health, and the existing OpenStack clients and notification listeners.

mod cli;
mod cluster_fleet;
mod commands_e2e;
mod exactly_once;
mod janitor;
mod leader_failover;
mod leader_liveness;
mod notifications;
mod openstack_clients;
mod operability;
#[cfg(feature = "otlp")]
mod otlp;
mod pg_blackhole;
mod restart;
mod retention;
