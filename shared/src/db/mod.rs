//! The database layer: the diesel schema of the tables in `migrations/`, the
//! connection pool, start-up migrations and the error type they share. Everything here
//! talks to Postgres through diesel-async (tokio-postgres underneath, no libpq).

pub mod cached_sql;
pub mod error;
pub mod migrate;
pub mod pool;
pub mod schema;
pub mod session;
pub mod url;

pub use error::DbError;
pub use pool::{PgPool, PoolOptions, build_pool};
pub use session::SessionSettings;
mod deadline;
pub mod document;
pub mod fence;
mod group_apply;
pub mod image_list;
pub mod repository;
pub mod sweep;
pub mod task_list;
pub mod write;

pub use repository::{Applied, ApplyError, Repository};
