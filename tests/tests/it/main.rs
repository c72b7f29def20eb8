//! imagefleet's integration tests: one binary (it links once), a module per feature.
//! They need the Postgres named by `IMAGEFLEET_TEST_DATABASE_URL` (default: local).

mod api_identity;
mod api_images;
mod api_locations;
mod api_sharing;
mod api_tasks_info;
mod cli;
mod client;
mod commands_e2e;
mod compose;
mod concurrency;
mod fault_harness;
mod fetch;
mod fetch_ssrf;
mod fleet;
mod group_commit;
mod hostile_bus;
mod hostile_http;
mod image_data;
mod image_list;
mod janitor;
mod leader_failover;
mod migrate;
mod notifications;
mod openapi;
mod openstack_clients;
mod operability;
#[cfg(feature = "otlp")]
mod otlp;
mod outbox;
mod pg_blackhole;
mod pg_timeouts;
mod poison;
mod prepared;
mod readme;
mod reconnect;
mod repository;
mod restart;
mod retry;
mod schema;
mod schema_catalog;
mod schemas;
mod task_list;
mod tenant_matrix;
mod topology;
mod tracing;
