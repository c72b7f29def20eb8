//! AMQP header names imagefleet sets on messages it moves between queues.

/// How many times the message has been tried (1 on the first retry).
pub const ATTEMPTS: &str = "x-imagefleet-attempts";
/// Why the message was dead-lettered or retried.
pub const FAILURE_REASON: &str = "x-imagefleet-failure-reason";
/// `permanent` or `retryable`.
pub const FAILURE_CLASS: &str = "x-imagefleet-failure-class";
/// The work queue a dead-lettered message came from.
pub const ORIGIN_QUEUE: &str = "x-imagefleet-origin-queue";
