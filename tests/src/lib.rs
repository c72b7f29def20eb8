//! Helpers for imagefleet's integration tests, which run against the real Postgres
//! (and later RabbitMQ): each test gets a database of its own, copied from a template
//! migrated once, so tests run in parallel without seeing each other's rows.

mod app;
mod broker_cluster;
pub mod fault_proxy;
pub mod fixtures;
pub mod flags;
mod http_source;
mod killable_gateway;
mod pg_faults;
mod private_broker;
mod private_postgres;
mod probe;
pub mod process;
pub mod python;
mod rabbit_node;
mod s3_server;
mod scratch_dir;
mod test_bus;
mod test_db;
mod test_user;
mod test_vhost;
pub mod wait;
mod worker;

pub use app::{TestApp, TestResponse};
pub use broker_cluster::BrokerCluster;
pub use fault_proxy::{Fault, FaultProxy};
pub use http_source::HttpSource;
pub use pg_faults::HeldLock;
pub use private_broker::PrivateBroker;
pub use private_postgres::PrivatePostgres;
pub use probe::{BusProbe, PROBE_DEADLINE, Received, Reply, tap};
pub use rabbit_node::{NodePorts, RabbitNode};
pub use s3_server::S3Server;
pub use scratch_dir::ScratchDir;
pub use test_bus::{AMQP_URL_ENV, TestBus, amqp_url};
pub use test_db::{BASE_URL_ENV, TestDb, base_url};
pub use test_user::TestUser;
pub use test_vhost::TestVhost;
pub use worker::{JANITOR_INTERVAL, TestWorker};
