//! [`ClientError`]: why a command could not be published or its reply not received,
//! and which of those a retry with the same command id can fix.

use std::time::Duration;

/// Why a command could not be published, or its reply not received.
///
/// Retrying is always safe with the **same** `command_id`: a worker applies a command
/// once however often it is delivered, and a redelivery answers with the stored result.
/// [`ClientError::is_retryable`] says when a retry can help. The underlying error is
/// part of the message (not a `source`), so a log line or an anyhow chain shows it once.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// RabbitMQ could not be reached (or the topology not declared). Nothing was sent.
    #[error("cannot connect to RabbitMQ: {0}")]
    Connection(lapin::Error),
    /// The publish failed on the wire (typically the connection dropped). The broker
    /// may or may not have the command.
    #[error("publishing the command failed: {0}")]
    Publish(lapin::Error),
    /// The broker refused the message (a negative publisher confirm).
    #[error("the broker refused (nacked) the command")]
    Nacked,
    /// No queue is bound for the command's routing key (the message was returned).
    /// The topology is missing or broken: a retry alone does not help.
    #[error("the command could not be routed to a queue ({code} {text})")]
    Unroutable {
        /// The AMQP reply code (312 NO_ROUTE).
        code: u16,
        /// The broker's explanation.
        text: String,
    },
    /// No reply (or confirm) within the time allowed. The command's outcome is
    /// **unknown**: it may be queued, applied, or lost. Retry with the same
    /// `command_id` to learn it: a worker that already applied it replies with the
    /// stored result (`replayed: true`) instead of applying it twice.
    #[error("no answer within {0:?}; the command's outcome is unknown")]
    Timeout(Duration),
    /// The connection dropped while the caller waited for the reply; as with
    /// [`ClientError::Timeout`], the outcome is unknown and a retry with the same
    /// `command_id` is safe. The next call reconnects.
    #[error("the connection to RabbitMQ dropped before the reply arrived")]
    Disconnected,
    /// RabbitMQ blocks this client's connection (a memory or disk alarm): nothing was
    /// sent. Retrying helps once the alarm clears.
    #[error("RabbitMQ blocks publishing (a resource alarm); the command was not sent")]
    Blocked,
    /// Too many earlier publishes still await their confirm: nothing was sent.
    #[error("the command was not sent: {0}")]
    Backlog(crate::confirm::TooManyPending),
    /// The reply was not a readable [`CommandReply`](wire::CommandReply).
    #[error("the reply is not a valid command reply: {0}")]
    InvalidReply(serde_json::Error),
    /// The envelope could not be serialised (it never can in practice).
    #[error("the command cannot be serialised: {0}")]
    Encode(serde_json::Error),
    /// [`CommandClient::close`](super::CommandClient::close) was called.
    #[error("the command client is closed")]
    Closed,
}

impl ClientError {
    /// True when the same call (with the same `command_id`) may succeed if retried.
    pub fn is_retryable(&self) -> bool {
        match self {
            ClientError::Connection(_)
            | ClientError::Publish(_)
            | ClientError::Nacked
            | ClientError::Timeout(_)
            | ClientError::Disconnected
            | ClientError::Blocked
            | ClientError::Backlog(_) => true,
            ClientError::Unroutable { .. }
            | ClientError::InvalidReply(_)
            | ClientError::Encode(_)
            | ClientError::Closed => false,
        }
    }
}
