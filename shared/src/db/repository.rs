//! The optimistic-locking repository: `apply` runs a command in one transaction (read,
//! decide, versioned write, `processed_commands`, events) and retries a lost race a
//! bounded number of times. A command id seen before returns its stored result and
//! changes nothing.

use std::time::Duration;

use chrono::{SubsecRound, Utc};
use diesel_async::AsyncConnection;
use rand::Rng;

use super::write::{self, CommandRecord, EventRow};
use super::{DbError, PgPool, document};
use crate::domain::{self, Context, DomainConfig, Event, Rejection, State};
use crate::messaging::{CommandEnvelope, CommandResult, RecordedEvent};

/// How many times a command is decided again after losing a race before it is refused
/// with a conflict.
pub const MAX_ATTEMPTS: u32 = 5;

/// The outcome of [`Repository::apply`] for a command that was not refused.
#[derive(Debug, Clone, PartialEq)]
pub struct Applied {
    /// What the command did.
    pub result: CommandResult,
    /// True when the command id had been processed before and nothing was written now.
    pub replayed: bool,
    /// Transactions run, 1 unless races were lost and the command decided again.
    pub attempts: u32,
}

/// Why a command was not applied.
#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    /// The domain refused it, or it kept losing races; nothing was written. Permanent.
    #[error(transparent)]
    Rejected(#[from] Rejection),
    /// Concurrent commands on the same target won every one of [`MAX_ATTEMPTS`] races;
    /// nothing was written. Retry later (HTTP callers see 409).
    #[error(
        "the target kept changing while {command_type} was applied ({MAX_ATTEMPTS} attempts): retry"
    )]
    Contended {
        /// The command's type.
        command_type: &'static str,
    },
    /// Postgres failed or is unreachable; nothing was written. Retry later.
    #[error(transparent)]
    Database(#[from] DbError),
}

impl From<diesel::result::Error> for ApplyError {
    fn from(e: diesel::result::Error) -> Self {
        ApplyError::Database(DbError::Query(e))
    }
}

/// Applies commands to Postgres.
#[derive(Clone)]
pub struct Repository {
    pool: PgPool,
    config: DomainConfig,
}

/// Why one transaction attempt ended without applying; either rolls it back.
pub(super) enum AttemptError {
    /// Another command changed the target (or recorded this command id) first.
    LostRace,
    /// Refused or failed: returned to the caller as is.
    Failed(ApplyError),
}

impl From<diesel::result::Error> for AttemptError {
    fn from(e: diesel::result::Error) -> Self {
        AttemptError::Failed(e.into())
    }
}

impl From<DbError> for AttemptError {
    fn from(e: DbError) -> Self {
        AttemptError::Failed(e.into())
    }
}

impl From<Rejection> for AttemptError {
    fn from(e: Rejection) -> Self {
        AttemptError::Failed(e.into())
    }
}

impl Repository {
    /// A repository over `pool` deciding with `config`.
    pub fn new(pool: PgPool, config: DomainConfig) -> Self {
        Self { pool, config }
    }

    /// The pool, for reads that go with the writes.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// The settings commands are decided with (the janitor reads `scrub_time` here, so
    /// what it finds due is what the domain accepts).
    pub fn config(&self) -> &DomainConfig {
        &self.config
    }

    /// Applies `envelope` exactly once: decided against the current state and written in
    /// one transaction, or, if its command id was processed before, answered with the
    /// stored result.
    pub async fn apply(&self, envelope: &CommandEnvelope) -> Result<Applied, ApplyError> {
        let mut conn = self.pool.get().await.map_err(DbError::from)?;
        for attempt in 1..=MAX_ATTEMPTS {
            // Postgres keeps microseconds: deciding with a truncated clock makes the
            // snapshot in the events equal to what a later read returns.
            let now = Utc::now().trunc_subsecs(6);
            let outcome = conn
                .transaction(async |conn| self.attempt(conn, envelope, now, attempt).await)
                .await;
            match outcome {
                Ok(applied) => return Ok(applied),
                Err(AttemptError::Failed(e)) => return Err(e),
                Err(AttemptError::LostRace) if attempt < MAX_ATTEMPTS => {
                    // Jitter spreads the retries of writers that collided together.
                    let pause = rand::rng().random_range(1..=5 * u64::from(attempt));
                    tokio::time::sleep(Duration::from_millis(pause)).await;
                }
                Err(AttemptError::LostRace) => {}
            }
        }
        Err(ApplyError::Contended {
            command_type: envelope.command.type_name(),
        })
    }

    /// One decision and write of `envelope` on `conn`, inside a transaction (or a
    /// savepoint) the caller opened.
    pub(super) async fn attempt(
        &self,
        conn: &mut diesel_async::AsyncPgConnection,
        envelope: &CommandEnvelope,
        now: chrono::DateTime<Utc>,
        attempt: u32,
    ) -> Result<Applied, AttemptError> {
        let target = envelope.command.target();
        let loaded = document::load(conn, envelope.command_id, target).await?;
        if let Some(stored) = loaded.processed {
            let result = serde_json::from_value(stored).map_err(|source| DbError::Corrupt {
                what: "command result",
                source,
            })?;
            return Ok(Applied {
                result,
                replayed: true,
                attempts: attempt,
            });
        }
        let ctx = Context {
            actor: envelope.actor.clone(),
            now,
            config: self.config.clone(),
        };
        let events = domain::decide(&loaded.state, &envelope.command, &ctx)?;
        let after = state_after(&loaded.state, &events);
        for event in &events {
            let written = match event {
                Event::Image(e) => {
                    write::write_image(conn, loaded.state.image.as_ref(), &e.image).await?
                }
                Event::Task(e) => {
                    write::write_task(conn, loaded.state.task.as_ref(), &e.task).await?
                }
            };
            if !written {
                return Err(AttemptError::LostRace);
            }
        }
        let rows: Vec<EventRow> = events.iter().map(|e| event_row(e, now)).collect();
        let result = CommandResult {
            image: after.image,
            task: after.task,
            events: rows
                .iter()
                .map(|r| RecordedEvent {
                    event_id: r.event_id,
                    aggregate_id: r.aggregate_id,
                    version: r.version,
                    routing_key: r.routing_key.clone(),
                })
                .collect(),
        };
        let stored = serde_json::to_value(&result).map_err(|source| DbError::Corrupt {
            what: "command result",
            source,
        })?;
        let actor = serde_json::to_value(&envelope.actor).map_err(|source| DbError::Corrupt {
            what: "actor",
            source,
        })?;
        let record = CommandRecord {
            command_id: envelope.command_id.as_uuid(),
            aggregate_id: target.primary(),
            command_type: envelope.command.type_name(),
            correlation_id: envelope.correlation_id.as_deref(),
            traceparent: envelope.trace.map(|context| context.to_string()),
            actor,
        };
        if !write::record(conn, &record, &stored, &rows).await? {
            // A concurrent delivery of the same command committed first: undo ours.
            return Err(AttemptError::LostRace);
        }
        Ok(Applied {
            result,
            replayed: false,
            attempts: attempt,
        })
    }
}

/// The state once `events` are applied: each event carries its aggregate's new snapshot.
fn state_after(before: &State, events: &[Event]) -> State {
    let mut after = before.clone();
    for event in events {
        match event {
            Event::Image(e) => after.image = Some(e.image.clone()),
            Event::Task(e) => after.task = Some(e.task.clone()),
        }
    }
    after
}

fn event_row(event: &Event, now: chrono::DateTime<Utc>) -> EventRow {
    EventRow {
        event_id: uuid::Uuid::now_v7(),
        aggregate_type: event.aggregate_type(),
        aggregate_id: event.aggregate_id(),
        version: event.version(),
        event_type: event.event_type(),
        from_status: event.from_status(),
        to_status: event.to_status(),
        routing_key: event.routing_key(),
        snapshot: event.snapshot(),
        occurred_at: now,
    }
}
