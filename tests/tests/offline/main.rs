//! imagefleet's tests that need neither Postgres nor RabbitMQ, in a binary of their own:
//! the container set-up and the README against the source, the message contract's JSON
//! Schemas, the fleet's flags, and the import fetcher against a local HTTP server on
//! 127.0.0.1.

mod compose;
mod compose_multi_store;
mod dockerfile;
mod fetch;
mod fetch_ssrf;
mod fleet_flags;
mod message_schemas;
mod readme;
mod repo_files;
