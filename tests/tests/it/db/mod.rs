//! The database layer against the real Postgres (each test on a database of its own,
//! `TestDb`): the repository's transactions, group commit, command deadlines and the
//! commit fence, lock and connection timeouts, migrations, the SQL constraints and the
//! hand-written diesel schema, the list queries, prepared statements, the Postgres fault
//! harness, and the outbox relay that carries the written events to RabbitMQ.

mod busy_row;
mod concurrency;
pub(crate) mod deadline;
mod diesel_schema_catalog;
mod fault_harness;
mod fence;
mod group_commit;
mod image_list;
mod migrate;
mod migration_constraints;
mod outbox;
pub(crate) mod pg_timeouts;
mod prepared;
pub(crate) mod repository;
mod task_list;
