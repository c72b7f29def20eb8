//! imagefleet's integration tests that need the services: one binary (it links once),
//! grouped by the layer they exercise. They need the Postgres named by
//! `IMAGEFLEET_TEST_DATABASE_URL` (default: local) and, for most, the RabbitMQ named by
//! `IMAGEFLEET_TEST_AMQP_URL`. Tests that need neither are in the `offline` binary.
//!
//! - [`http`]: Glance behaviour and the domain's rules through the gateway's router;
//! - [`db`]: the database layer: repository, group commit, deadlines, migrations,
//!   queries and the outbox relay;
//! - [`bus`]: RabbitMQ and a worker's handling of deliveries: topology, clients,
//!   broker settings and faults, hostile and refused messages;
//! - [`fleet`]: whole fleets of workers and the gateway, the janitor, leaders, the
//!   operator command and what operators and existing clients see.

mod bus;
mod db;
mod fleet;
mod http;
