//! imagefleet's process wiring, what every binary starts with: the configuration
//! groups that are no single layer's (domain settings, logging), telemetry, metrics,
//! readiness checks and shutdown on a signal. The layers themselves are crates of their
//! own: `domain`, `wire`, `db`, `apply`, `bus`, `outbox`, `store`, `fetch`,
//! `notifications`.

pub mod config;
pub mod health;
pub mod metrics;
pub mod shutdown;
pub mod telemetry;
