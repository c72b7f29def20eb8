//! One delivery from a work queue: admit it (size, content type, then for a command
//! its producer: see `bus::intake`), read it as a command envelope (refusing malformed
//! JSON, unknown types and schema versions as permanent failures), check its producer
//! may send its type, apply it ([`apply_command`]) or run the job an event asks for
//! ([`crate::jobs::run`]), and settle it: retry or dead-letter if need be, then reply
//! if asked, then ack. A refusal the domain decided is only replied and acked (its
//! record is the answer to any redelivery). The ack comes last, after the transaction
//! committed and the re-publish and reply were confirmed, so a crash at any point
//! redelivers instead of losing the command. Each command is counted by type and
//! outcome and timed (decide and commit, not the settling); each job by kind.
//! Commands and jobs run in a span that continues the W3C trace of the message's
//! `traceparent` header (or starts one) and records `trace.id` beside `correlation.id`.

use bus::intake::Intake;
use bus::{QueueShard, WorkQueue, headers};
use domain::CommandId;
use lapin::BasicProperties;
use lapin::message::Delivery;
use lapin::options::BasicAckOptions;
use shared::metrics::{COMMAND_DURATION, COMMANDS, JOBS};
use shared::telemetry;
use tokio::time::Instant;
use tracing::Instrument;
use wire::{COMMAND_SCHEMA_V1, CommandEnvelope, EVENT_SCHEMA_V1, EventEnvelope, TraceContext};

use crate::apply_command::apply_command;
use crate::group_commit::GroupCommitter;
use crate::jobs::JobContext;
use crate::outcome::Outcome;
use crate::publisher::{Publisher, attempts_of};

/// What a delivery is processed with.
#[derive(Clone)]
pub struct DeliveryContext {
    /// Applies the commands of the work queues exactly once, several per transaction
    /// under load.
    pub committer: GroupCommitter,
    /// What the jobs started by events need.
    pub jobs: JobContext,
}

/// Reads a message body as a command envelope, or says why it is not one.
pub fn parse(body: &[u8]) -> Result<CommandEnvelope, Outcome> {
    let value: serde_json::Value = serde_json::from_slice(body)
        .map_err(|e| Outcome::unreadable(None, format!("malformed JSON: {e}")))?;
    let command_id = value
        .get("command_id")
        .and_then(|id| id.as_str())
        .and_then(|id| CommandId::parse(id).ok());
    match value.get("schema").and_then(|s| s.as_str()) {
        Some(COMMAND_SCHEMA_V1) => {}
        Some(other) => {
            return Err(Outcome::unreadable(
                command_id,
                format!("unsupported schema '{other}': this worker reads {COMMAND_SCHEMA_V1}"),
            ));
        }
        None => {
            return Err(Outcome::unreadable(
                command_id,
                format!("missing 'schema' (expected {COMMAND_SCHEMA_V1})"),
            ));
        }
    }
    serde_json::from_value(value)
        .map_err(|e| Outcome::unreadable(command_id, format!("invalid command: {e}")))
}

/// Processes one delivery to the end, including its ack. Errors are broker failures
/// while settling: the delivery stays unacked and the broker redelivers it.
pub async fn process(
    delivery: Delivery,
    queue: QueueShard,
    context: &DeliveryContext,
    publisher: &Publisher,
    intake: &Intake,
) -> Result<(), lapin::Error> {
    let trace = headers::traceparent(&delivery.properties);
    // Size and content type before anything reads the body, events included.
    let outcome =
        if let Err(rejection) = intake.check_message(&delivery.properties, delivery.data.len()) {
            count_unreadable(Outcome::refused_unread(None, rejection))
        } else if queue.queue == WorkQueue::Jobs && is_event(&delivery.data) {
            run_job(&delivery.data, trace, context).await
        } else {
            run_command(&delivery.data, &delivery.properties, trace, context, intake).await
        };
    tracing::debug!(outcome = outcome.label(), "delivery processed");
    // The dead letter or retry copy is confirmed before the reply goes out: a producer
    // (or a test) that has its answer finds the letter already in its queue.
    match &outcome {
        Outcome::Accepted { .. } | Outcome::Rejected { .. } | Outcome::Done => {}
        Outcome::DeadLetter {
            class, rejection, ..
        } => {
            let attempts = attempts_of(&delivery.properties);
            publisher
                .dead_letter(
                    &delivery,
                    queue,
                    class.as_str(),
                    &rejection.message,
                    attempts,
                )
                .await?;
        }
        Outcome::Retryable { reason } => {
            publisher
                .retry_or_dead_letter(&delivery, queue, reason)
                .await?;
        }
    }
    if let Some(reply) = outcome.reply() {
        publisher.reply(&delivery.properties, &reply).await?;
    }
    delivery.ack(BasicAckOptions::default()).await?;
    Ok(())
}

/// Events reach only the jobs queue (bound to the events exchange for the kinds that
/// start a job). They are told apart by their schema, not their routing key: a retried
/// delivery comes back from its retry queue under the queue's name.
fn is_event(body: &[u8]) -> bool {
    #[derive(serde::Deserialize)]
    struct Schema<'a> {
        #[serde(borrow)]
        schema: std::borrow::Cow<'a, str>,
    }
    serde_json::from_slice::<Schema<'_>>(body).is_ok_and(|s| s.schema == EVENT_SCHEMA_V1)
}

/// The `type` or `kind` label of a message that could not be read that far.
const UNREADABLE: &str = "unreadable";

/// Runs the job an event asks for, in a span of the event's trace (`trace`, from its
/// `traceparent` header): the commands the job applies carry that span's context on.
async fn run_job(body: &[u8], trace: Option<TraceContext>, context: &DeliveryContext) -> Outcome {
    let (kind, outcome) = match serde_json::from_slice::<EventEnvelope>(body) {
        Ok(event) if event.schema == EVENT_SCHEMA_V1 => {
            let span = tracing::info_span!(
                "job",
                event.id = %event.event_id,
                event.r#type = %event.event_type,
                correlation.id = event.correlation_id.as_deref().unwrap_or(""),
                trace.id = tracing::field::Empty,
            );
            let trace = telemetry::continue_trace(&span, trace);
            let outcome = crate::jobs::run(&event, trace, &context.jobs)
                .instrument(span)
                .await;
            (event.event_type, outcome)
        }
        Ok(event) => {
            let reason = format!("unsupported event schema '{}'", event.schema);
            (UNREADABLE.to_owned(), Outcome::unreadable(None, reason))
        }
        Err(e) => (
            UNREADABLE.to_owned(),
            Outcome::unreadable(None, format!("invalid event: {e}")),
        ),
    };
    // Event types are a closed set (the outbox writes them), so `kind` stays bounded.
    metrics::counter!(JOBS, "kind" => kind, "outcome" => outcome.label()).increment(1);
    outcome
}

/// Counts a message refused before it could be read as a command.
fn count_unreadable(outcome: Outcome) -> Outcome {
    metrics::counter!(COMMANDS, "type" => UNREADABLE, "outcome" => outcome.label()).increment(1);
    outcome
}

/// Applies a command in a span of the sender's trace (`trace`, from its `traceparent`
/// header; a new trace without one), if its producer may send it: an unknown producer's
/// message is refused unread. The events it writes carry the span's context.
async fn run_command(
    body: &[u8],
    properties: &BasicProperties,
    trace: Option<TraceContext>,
    context: &DeliveryContext,
    intake: &Intake,
) -> Outcome {
    let producer = match intake.producer(properties) {
        Ok(producer) => producer,
        Err(rejection) => return count_unreadable(Outcome::refused_unread(None, rejection)),
    };
    let started = Instant::now();
    let (command_type, outcome) = match parse(body) {
        Ok(envelope) => {
            let command_type = envelope.command.type_name();
            let outcome = match intake.permit(&producer, &envelope.command) {
                Ok(()) => apply(envelope, trace, context).await,
                Err(rejection) => Outcome::refused_unread(Some(envelope.command_id), rejection),
            };
            (command_type, outcome)
        }
        Err(outcome) => (UNREADABLE, outcome),
    };
    metrics::counter!(COMMANDS, "type" => command_type, "outcome" => outcome.label()).increment(1);
    metrics::histogram!(COMMAND_DURATION, "type" => command_type)
        .record(started.elapsed().as_secs_f64());
    outcome
}

/// Applies an admitted command in its span.
async fn apply(
    mut envelope: CommandEnvelope,
    trace: Option<TraceContext>,
    context: &DeliveryContext,
) -> Outcome {
    let span = tracing::info_span!(
        "command",
        command.id = %envelope.command_id,
        command.r#type = envelope.command.type_name(),
        correlation.id = envelope.correlation_id.as_deref().unwrap_or(""),
        trace.id = tracing::field::Empty,
    );
    envelope.trace = Some(telemetry::continue_trace(&span, trace));
    apply_command(&envelope, &context.committer)
        .instrument(span)
        .await
}
