//! RabbitMQ and a worker's handling of what arrives on it: the topology, the command
//! client, broker settings, the private broker and cluster of the fault harness,
//! hung and closed connections, and messages a worker must refuse, retry, dead-letter
//! or answer from its record. Needs the RabbitMQ of `IMAGEFLEET_TEST_AMQP_URL` and,
//! where a worker applies commands, Postgres.

mod amqp_halfopen;
mod broker_cluster;
mod bus_settings;
mod client;
mod command_shards;
pub(crate) mod hostile_bus;
mod permanent_failures;
mod poison;
mod private_broker;
mod reconnect;
mod refusals;
mod retry;
mod topology;
