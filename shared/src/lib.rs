//! imagefleet's shared crate: what the gateway, the workers and any producer agree on.
//! The database layer (`db`), the bus (`messaging`, `outbox`), the image store, and the
//! wiring every binary needs (configuration, telemetry). The pure lifecycle domain is the
//! `imagefleet-domain` crate, re-exported here as `domain` while its callers move to it.

pub mod config;
pub mod db;
pub use ::domain;
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
