//! The database layer's error type: what can go wrong between this process and
//! Postgres, before any domain meaning is attached (repositories map these further).

use diesel_async::pooled_connection::deadpool::{BuildError, PoolError};

/// A failure of the database layer.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// The database URL cannot be understood.
    #[error("invalid database URL: {0}")]
    InvalidUrl(String),
    /// The pool could not be built (bad settings, no runtime).
    #[error("cannot build the database pool: {0}")]
    PoolBuild(#[from] BuildError),
    /// No connection could be had from the pool in time, or creating one failed.
    #[error("no database connection available: {0}")]
    Pool(#[from] PoolError),
    /// A direct connection could not be established.
    #[error("cannot connect to the database: {0}")]
    Connection(#[from] diesel::ConnectionError),
    /// A query failed.
    #[error("database query failed: {0}")]
    Query(#[from] diesel::result::Error),
    /// Running or inspecting migrations failed.
    #[error("migration failed: {0}")]
    Migration(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// A stored row does not decode into its domain type: schema drift or a hand edit.
    #[error("stored {what} does not decode: {source}")]
    Corrupt {
        /// Which kind of row.
        what: &'static str,
        /// The decoding failure.
        #[source]
        source: serde_json::Error,
    },
}

impl DbError {
    /// Whether the same statement may succeed later (the database was unreachable,
    /// restarting or busy) rather than being refused whenever it is tried: a constraint
    /// violation or a stored row that does not decode never heals by waiting.
    pub fn is_transient(&self) -> bool {
        use diesel::result::{DatabaseErrorKind as Kind, Error};
        match self {
            DbError::Query(Error::DatabaseError(
                Kind::UniqueViolation
                | Kind::ForeignKeyViolation
                | Kind::NotNullViolation
                | Kind::CheckViolation
                | Kind::RestrictViolation,
                _,
            ))
            | DbError::Corrupt { .. }
            | DbError::InvalidUrl(_)
            | DbError::Migration(_) => false,
            DbError::PoolBuild(_)
            | DbError::Pool(_)
            | DbError::Connection(_)
            | DbError::Query(_) => true,
        }
    }
}
