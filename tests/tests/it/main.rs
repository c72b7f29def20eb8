//! imagefleet's integration tests: one binary (it links once), a module per feature.
//! They need the Postgres named by `IMAGEFLEET_TEST_DATABASE_URL` (default: local).

mod concurrency;
mod migrate;
mod poison;
mod repository;
mod schema;
mod schema_catalog;
mod topology;
