//! Why a message sits in a dead-letter queue: the classes a worker writes in the
//! `x-imagefleet-failure-class` header, which `imagefleet dlq` filters on. Only
//! messages an operator must look at are dead-lettered; a command the domain refuses
//! is answered and recorded instead (see `workers::outcome`).

use std::fmt;
use std::str::FromStr;

/// The class of a dead letter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, clap::ValueEnum)]
pub enum FailureClass {
    /// The message cannot be acted on as sent: too large, another content type or
    /// encoding, malformed JSON, an unknown type or schema version, or an event that
    /// names no job the database agrees with.
    Unreadable,
    /// Its producer is unknown or may not send its type.
    Forbidden,
    /// A retryable failure (Postgres unreachable) outlasted every retry queue.
    RetriesExhausted,
    /// The database refuses it whenever it is tried (a stored row that does not
    /// decode, a constraint violation): dead-lettered at once, not retried, for an
    /// operator to mend the data and replay it.
    Unprocessable,
}

/// The class written on a message waiting in a retry queue (not a dead letter).
pub const RETRYING: &str = "retryable";

impl FailureClass {
    /// The header value.
    pub const fn as_str(self) -> &'static str {
        match self {
            FailureClass::Unreadable => "unreadable",
            FailureClass::Forbidden => "forbidden",
            FailureClass::RetriesExhausted => "retries-exhausted",
            FailureClass::Unprocessable => "unprocessable",
        }
    }

    /// The `reason` label of `imagefleet_dead_lettered_total` (metric labels use `_`).
    pub const fn metric_label(self) -> &'static str {
        match self {
            FailureClass::Unreadable => "unreadable",
            FailureClass::Forbidden => "forbidden",
            FailureClass::RetriesExhausted => "retries_exhausted",
            FailureClass::Unprocessable => "unprocessable",
        }
    }

    /// The class of a header value. Dead letters of earlier versions said `retryable`
    /// (retries exhausted) or `permanent` (which also held user errors: no class).
    pub fn from_header(value: &str) -> Option<Self> {
        match value {
            RETRYING => Some(FailureClass::RetriesExhausted),
            other => other.parse().ok(),
        }
    }
}

impl fmt::Display for FailureClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A header value that names no class.
#[derive(Debug, thiserror::Error)]
#[error("unknown failure class '{0}' (unreadable, forbidden, retries-exhausted or unprocessable)")]
pub struct UnknownClass(String);

impl FromStr for FailureClass {
    type Err = UnknownClass;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        [
            FailureClass::Unreadable,
            FailureClass::Forbidden,
            FailureClass::RetriesExhausted,
            FailureClass::Unprocessable,
        ]
        .into_iter()
        .find(|class| class.as_str() == value)
        .ok_or_else(|| UnknownClass(value.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_values_read_back_and_legacy_ones_map() {
        for class in [
            FailureClass::Unreadable,
            FailureClass::Forbidden,
            FailureClass::RetriesExhausted,
            FailureClass::Unprocessable,
        ] {
            assert_eq!(FailureClass::from_header(class.as_str()), Some(class));
        }
        assert_eq!(
            FailureClass::from_header("retryable"),
            Some(FailureClass::RetriesExhausted)
        );
        assert_eq!(FailureClass::from_header("permanent"), None);
    }
}
