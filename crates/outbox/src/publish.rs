//! Publishing one batch of outbox rows on a confirm-mode channel, in waves: each wave
//! holds the next row of every aggregate in the batch, published back to back (each
//! followed by its Glance notifications) and confirmed together. An aggregate's next
//! row goes out only in a later wave, once the broker confirmed the one before, so a
//! subscriber never sees version n+1 of an aggregate unless version n was confirmed,
//! even when the broker nacks n. A row that fails (nacked, or does not encode) stops
//! its aggregate for the rest of the batch and is returned as a [`Failure`]; other
//! aggregates go on.
//!
//! A batch of distinct aggregates is one wave (one round of confirms, as before); an
//! aggregate with k rows in the batch costs k rounds.

use std::collections::HashSet;

use lapin::options::BasicPublishOptions;
use lapin::{Channel, Confirmation, PublisherConfirm};
use tracing::Instrument;
use uuid::Uuid;

use super::batch::OutboxRow;
use super::quarantine::Failure;
use super::{RelayConfig, RelayError, bounded};
use notifications::{Notification, NotificationConfig, envelope};
use shared::telemetry;

/// What became of a batch.
#[derive(Debug, Default)]
pub struct Published {
    /// Rows whose event and every notification the broker confirmed, with every
    /// earlier row of their aggregate in the batch: these may be stamped.
    pub confirmed: Vec<i64>,
    /// Rows that failed; their aggregates' later rows in the batch were not sent.
    pub failures: Vec<Failure>,
}

/// A row on its way: its span and the confirms to wait for (Err: it does not encode).
type InFlight<'a> = (
    &'a OutboxRow,
    tracing::Span,
    Result<Vec<PublisherConfirm>, String>,
);

/// Publishes `rows` (in `seq` order, with `notifications[i]` for `rows[i]`) in waves
/// and waits for the confirms of each wave before the next.
///
/// Why a row waits for its notifications' confirms too: the stamp is the only record
/// of what was sent. Stamping on the event's confirm alone would lose a notification
/// the broker nacked, or that was in flight when the relay died; not stamping
/// publishes event and notifications again (at least once for both: listeners see a
/// duplicate with the same `message_id`, subscribers the same `event_id`).
pub async fn publish_batch(
    config: &RelayConfig,
    channel: &Channel,
    rows: &[OutboxRow],
    notifications: &[Vec<Notification>],
) -> Result<Published, RelayError> {
    let mut published = Published::default();
    let mut failed: HashSet<Uuid> = HashSet::new();
    let mut waiting: Vec<usize> = (0..rows.len()).collect();
    while !waiting.is_empty() {
        let mut wave = Vec::new();
        let mut later = Vec::new();
        let mut in_wave = HashSet::new();
        for index in waiting {
            let aggregate = rows[index].aggregate_id;
            if failed.contains(&aggregate) {
                // Held back: the read leaves it out until the failed row is published.
                continue;
            }
            if in_wave.insert(aggregate) {
                wave.push(index);
            } else {
                later.push(index);
            }
        }
        let mut in_flight = Vec::with_capacity(wave.len());
        for &index in &wave {
            let sent = send(config, channel, &rows[index], &notifications[index]).await?;
            in_flight.push(sent);
        }
        for (row, result) in confirm(config, in_flight).await? {
            match result {
                Ok(()) => published.confirmed.push(row.seq),
                Err(failure) => {
                    failed.insert(row.aggregate_id);
                    published.failures.push(failure);
                }
            }
        }
        waiting = later;
    }
    Ok(published)
}

/// Publishes `row` and its notifications without waiting for confirms.
async fn send<'a>(
    config: &RelayConfig,
    channel: &Channel,
    row: &'a OutboxRow,
    notes: &[Notification],
) -> Result<InFlight<'a>, RelayError> {
    let span = publish_span(row);
    let body = match row.body() {
        Ok(body) => body,
        Err(error) => {
            tracing::error!(
                parent: &span,
                seq = row.seq,
                %error,
                "outbox row does not decode; quarantined, its aggregate held back"
            );
            return Ok((row, span, Err(format!("the row does not decode: {error}"))));
        }
    };
    // The publish is a span of the trace that wrote the event: the header names it as
    // the parent of whatever the subscriber does next.
    let trace = telemetry::continue_trace(&span, row.trace());
    let exchange = config.topology.events_exchange();
    let publish = channel.basic_publish(
        exchange.as_str().into(),
        row.routing_key.as_str().into(),
        BasicPublishOptions::default(),
        &body,
        row.properties(Some(&trace)),
    );
    let confirm = bounded(config.io_timeout, "publishing an event", publish)
        .instrument(span.clone())
        .await?;
    let mut confirms = vec![confirm];
    if let Some(target) = &config.notifications {
        for note in notes {
            let notify = notify(config, channel, target, row, note);
            confirms.extend(notify.instrument(span.clone()).await?);
        }
    }
    Ok((row, span, Ok(confirms)))
}

/// Waits for every confirm of one wave, under one deadline (the broker confirms in
/// batches too). Each row comes back with Ok, or the failure to record.
async fn confirm<'a>(
    config: &RelayConfig,
    in_flight: Vec<InFlight<'a>>,
) -> Result<Vec<(&'a OutboxRow, Result<(), Failure>)>, RelayError> {
    let deadline = tokio::time::Instant::now() + config.io_timeout;
    let mut outcomes = Vec::with_capacity(in_flight.len());
    for (row, span, confirms) in in_flight {
        let confirms = match confirms {
            Ok(confirms) => confirms,
            Err(error) => {
                let failure = Failure {
                    seq: row.seq,
                    error,
                    permanent: true,
                };
                outcomes.push((row, Err(failure)));
                continue;
            }
        };
        let mut nacked = false;
        for confirm in confirms {
            match tokio::time::timeout_at(deadline, confirm).await {
                Err(_) => return Err(RelayError::Timeout("waiting for publisher confirms")),
                Ok(result) => match result? {
                    Confirmation::Ack(_) => {}
                    Confirmation::Nack(_) => nacked = true,
                    Confirmation::NotRequested => return Err(RelayError::NotConfirming),
                },
            }
        }
        if nacked {
            tracing::warn!(
                parent: &span,
                seq = row.seq,
                "broker nacked an event or its notification; its aggregate waits for a retry"
            );
            let failure = Failure {
                seq: row.seq,
                error: "the broker nacked the event or one of its notifications".to_owned(),
                permanent: false,
            };
            outcomes.push((row, Err(failure)));
        } else {
            tracing::debug!(parent: &span, seq = row.seq, "event published");
            outcomes.push((row, Ok(())));
        }
    }
    Ok(outcomes)
}

/// Publishes one notification of `row`; None (logged) if it does not serialise, which
/// a JSON value never fails to.
async fn notify(
    config: &RelayConfig,
    channel: &Channel,
    target: &NotificationConfig,
    row: &OutboxRow,
    note: &Notification,
) -> Result<Option<PublisherConfirm>, RelayError> {
    let message_id = envelope::message_id(row.event_id, note.event_type);
    let body = match envelope::body(target, note, message_id, &row.occurred_at) {
        Ok(body) => body,
        Err(error) => {
            tracing::error!(seq = row.seq, %error, "a notification does not serialise");
            return Ok(None);
        }
    };
    let publish = channel.basic_publish(
        target.exchange.as_str().into(),
        envelope::routing_key(target, note.priority).into(),
        BasicPublishOptions::default(),
        &body,
        envelope::properties(message_id),
    );
    let limit = config.io_timeout;
    Ok(Some(
        bounded(limit, "publishing a notification", publish).await?,
    ))
}

/// The span of publishing one event: its log lines show the event, the request it
/// came from and its trace.
fn publish_span(row: &OutboxRow) -> tracing::Span {
    tracing::info_span!(
        "publish",
        event.id = %row.event_id,
        event.r#type = %row.event_type,
        correlation.id = row.correlation_id.as_deref().unwrap_or(""),
        trace.id = tracing::field::Empty,
    )
}
