//! imagefleet's shared crate: what the gateway, the workers and any producer agree on.
//! The pure lifecycle domain (`domain`), the database layer (`db`), and the wiring every
//! binary needs (configuration, telemetry).

pub mod config;
pub mod db;
pub mod domain;
/// Fetching web-download and location URLs behind the SSRF guard (`[import_filtering_opts]`).
pub mod fetch;
pub mod health;
pub mod messaging;
pub mod metrics;
/// Glance notifications (oslo.messaging v2 envelope) for existing listeners (SPEC 10).
pub mod notifications;
pub mod outbox;
pub mod shutdown;
pub mod store;
pub mod telemetry;
