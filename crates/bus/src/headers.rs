//! AMQP header names imagefleet sets on messages it moves between queues, and the W3C
//! `traceparent` header that carries a message's trace, with its reader and writer.

use lapin::BasicProperties;
use lapin::types::AMQPValue;

use wire::CommandEnvelope;
use wire::trace_context::TraceContext;

/// How many times the message has been tried (1 on the first retry).
pub const ATTEMPTS: &str = "x-imagefleet-attempts";
/// Why the message was dead-lettered or retried.
pub const FAILURE_REASON: &str = "x-imagefleet-failure-reason";
/// `retryable` while in a retry queue; in a dead-letter queue, a
/// [`super::FailureClass`] (`unreadable`, `forbidden`, `retries-exhausted`,
/// `unprocessable`).
pub const FAILURE_CLASS: &str = "x-imagefleet-failure-class";
/// The work queue a dead-lettered message came from.
pub const ORIGIN_QUEUE: &str = "x-imagefleet-origin-queue";

/// The command's target, as its image's id (or its task's when it names no image): the
/// commands' hash exchange routes on it when the commands queue is sharded, so one
/// image's commands share a queue, in publish order. The value is the UUID as an AMQP
/// long string, lowercase with hyphens (the exchange hashes the bytes: another spelling
/// is another key). Rust producers set it from the envelope; commands without it all
/// share one shard.
pub const TARGET: &str = "x-imagefleet-target";

/// The producer a message was first sent by, when an operator forwards it (a worker's
/// retries and dead letters, `imagefleet dlq replay`): see [`super::intake`].
pub const PRODUCER: &str = "x-imagefleet-producer";

/// The W3C trace context of the span that sent the message (see [`wire::trace_context`]).
pub use wire::trace_context::TRACEPARENT;

/// The message's `traceparent` header, if it has a valid one. An invalid value is
/// ignored, as the W3C specification asks: the receiver starts a new trace.
pub fn traceparent(properties: &BasicProperties) -> Option<TraceContext> {
    let headers = properties.headers().as_ref()?;
    let text = match headers.inner().get(TRACEPARENT)? {
        AMQPValue::LongString(value) => value.to_string(),
        AMQPValue::ShortString(value) => value.to_string(),
        _ => return None,
    };
    TraceContext::parse(&text).ok()
}

/// `properties` with a `traceparent` header (the other headers kept).
pub fn with_traceparent(properties: BasicProperties, context: &TraceContext) -> BasicProperties {
    let mut table = properties.headers().clone().unwrap_or_default();
    table.insert(
        TRACEPARENT.into(),
        AMQPValue::LongString(context.to_string().into()),
    );
    properties.with_headers(table)
}

/// `properties` with the [`TARGET`] header of `envelope`'s command (the other headers
/// kept).
pub fn with_target(properties: BasicProperties, envelope: &CommandEnvelope) -> BasicProperties {
    let mut table = properties.headers().clone().unwrap_or_default();
    let target = envelope.command.target().primary().to_string();
    table.insert(TARGET.into(), AMQPValue::LongString(target.into()));
    properties.with_headers(table)
}
