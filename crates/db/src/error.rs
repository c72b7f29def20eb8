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
    /// The client gave up waiting on the database (a bound on the command path ran
    /// out): the connection is unusable, whatever it was doing is not known to have
    /// happened.
    #[error("no answer from the database while {0}")]
    TimedOut(&'static str),
    /// The connection a command shared with others failed; the text is that failure.
    /// Nothing of the command was written.
    #[error("the database connection failed: {0}")]
    Unavailable(String),
    /// Not tried: an earlier command of the same target failed retryably and is to be
    /// applied first (the text is its failure), so this one must not overtake it.
    #[error("not tried before an earlier command of its target: {0}")]
    HeldBack(String),
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

/// What a failure says about the session and about trying again; decided once, here,
/// for every caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureClass {
    /// The pool or the connection failed (unreachable, closed, ended by the server, no
    /// answer in time): the whole transaction on it is lost, every command in it may
    /// succeed on another try, and none should be tried again on this connection.
    Connection,
    /// A statement waited too long (`lock_timeout`, `statement_timeout`): the session
    /// is fine, but the same statement now would wait the same way. Try later.
    Timeout,
    /// A statement failed in a way a retry may not meet (deadlock, serialization
    /// failure, an error Postgres does not classify): the session is fine.
    Transient,
    /// Fails whenever tried: a constraint violation, a row or value that does not
    /// (de)serialise, a configuration error.
    Permanent,
}

/// Messages of errors Postgres reports with no SQLSTATE diesel maps (its kind is then
/// `Unknown`), with their class. Matched as prefixes.
///
/// By text, because diesel-async keeps the SQLSTATE only for the kinds it maps (55P03
/// `lock_not_available` and 57014 `query_canceled` become `Unknown`, the code dropped).
/// The text is English unless the server's `lc_messages` says otherwise; the sessions
/// cannot pin `lc_messages=C` themselves (only a superuser may set it: any other role's
/// connection would be refused), so README asks for it on the database. Under another
/// language a timeout reads as [`FailureClass::Transient`]: still retried, never
/// dead-lettered, since [`FailureClass::Permanent`] is decided by kind, never by text.
const MESSAGES: [(&str, FailureClass); 8] = [
    (
        "canceling statement due to lock timeout",
        FailureClass::Timeout,
    ),
    (
        "canceling statement due to statement timeout",
        FailureClass::Timeout,
    ),
    ("terminating connection", FailureClass::Connection),
    ("the database system is", FailureClass::Connection),
    ("server closed the connection", FailureClass::Connection),
    ("connection closed", FailureClass::Connection),
    ("deadlock detected", FailureClass::Transient),
    ("could not serialize access", FailureClass::Transient),
];

impl DbError {
    /// The class of this failure.
    pub fn class(&self) -> FailureClass {
        use diesel::result::{DatabaseErrorKind as Kind, Error};
        match self {
            DbError::Query(Error::DatabaseError(kind, info)) => match kind {
                Kind::UniqueViolation
                | Kind::ForeignKeyViolation
                | Kind::NotNullViolation
                | Kind::CheckViolation
                | Kind::RestrictViolation
                | Kind::ExclusionViolation => FailureClass::Permanent,
                Kind::UnableToSendCommand | Kind::ClosedConnection => FailureClass::Connection,
                Kind::SerializationFailure => FailureClass::Transient,
                _ => MESSAGES
                    .iter()
                    .find(|(prefix, _)| info.message().starts_with(prefix))
                    .map_or(FailureClass::Transient, |(_, class)| *class),
            },
            DbError::Query(
                Error::BrokenTransactionManager | Error::RollbackErrorOnCommit { .. },
            )
            | DbError::Pool(_)
            | DbError::Connection(_)
            | DbError::TimedOut(_)
            | DbError::Unavailable(_) => FailureClass::Connection,
            DbError::Query(
                Error::DeserializationError(_)
                | Error::SerializationError(_)
                | Error::QueryBuilderError(_),
            )
            | DbError::Corrupt { .. }
            | DbError::InvalidUrl(_)
            | DbError::Migration(_)
            | DbError::PoolBuild(_) => FailureClass::Permanent,
            DbError::Query(_) | DbError::HeldBack(_) => FailureClass::Transient,
        }
    }

    /// Whether the same statement may succeed later (the database was unreachable,
    /// restarting or busy, a lock or the statement took too long, a deadlock or
    /// serialization failure) rather than being refused whenever it is tried: a
    /// constraint violation or a stored row that does not decode never heals by waiting.
    pub fn is_transient(&self) -> bool {
        self.class() != FailureClass::Permanent
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use diesel::result::{DatabaseErrorKind as Kind, Error};

    fn database(kind: Kind, message: &str) -> DbError {
        DbError::Query(Error::DatabaseError(kind, Box::new(message.to_owned())))
    }

    #[test]
    fn classifies_each_failure_once() {
        let lock = database(Kind::Unknown, "canceling statement due to lock timeout");
        assert_eq!(lock.class(), FailureClass::Timeout);
        assert!(lock.is_transient());
        let statement = database(
            Kind::Unknown,
            "canceling statement due to statement timeout",
        );
        assert_eq!(statement.class(), FailureClass::Timeout);
        let idle = database(
            Kind::Unknown,
            "terminating connection due to idle-in-transaction timeout",
        );
        assert_eq!(idle.class(), FailureClass::Connection);
        let serialization = database(Kind::SerializationFailure, "could not serialize access");
        assert_eq!(serialization.class(), FailureClass::Transient);
        assert!(serialization.is_transient());
        assert_eq!(
            database(Kind::UnableToSendCommand, "broken pipe").class(),
            FailureClass::Connection
        );
        assert_eq!(
            DbError::TimedOut("applying a group").class(),
            FailureClass::Connection
        );
        let unique = database(Kind::UniqueViolation, "duplicate key");
        assert_eq!(unique.class(), FailureClass::Permanent);
        assert!(!unique.is_transient());
    }
}
