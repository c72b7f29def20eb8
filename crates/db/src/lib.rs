//! Postgres: the connection pool and its session settings, start-up migrations, the
//! diesel schema of the tables in `migrations/`, the error type, the reads of the
//! gateway and the CLI (image and task documents, listings, usage, history, the
//! recorded answer of a command) and leadership locks. Writes of state, and the
//! janitor's reads, live in the `apply` crate and the outbox's in `outbox`: the gateway
//! links neither. Everything here talks to Postgres through diesel-async
//! (tokio-postgres underneath, no libpq).

mod args;
pub mod cached_sql;
pub mod document;
pub mod error;
pub mod fence;
pub mod history;
pub mod image_list;
pub mod leader;
pub mod list;
pub mod migrate;
pub mod pool;
pub mod schema;
pub mod session;
pub mod task_list;
pub mod url;
pub mod usage;
pub mod worker_sessions;

pub use args::{DEFAULT_DATABASE_URL, DatabaseArgs};
/// A Postgres connection, as every function of this crate takes it.
pub use diesel_async::AsyncPgConnection;
pub use error::DbError;
pub use pool::{PgPool, PoolOptions, build_pool, connect};
pub use session::SessionSettings;
