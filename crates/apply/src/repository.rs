//! The optimistic-locking repository: `apply` runs a command in one transaction (read,
//! decide, versioned write, `processed_commands`, events) and retries a lost race a
//! bounded number of times, the retries under the target's row locks so that a
//! command on a busy image waits its turn instead of losing every race. Every decision
//! is recorded under the command id in the transaction that makes it, refusals
//! included (that row alone: nothing else changes), so a command id seen before is
//! answered as it was then. A command with a deadline is never committed after it (see
//! [`write::record`]): it is recorded as expired instead.

use std::time::Duration;

use chrono::{SubsecRound, Utc};
use diesel_async::AsyncConnection;
use rand::Rng;

use db::document;

use crate::write;
use crate::write::{CommandRecord, EventRow, Recorded};
use db::document::Answer;
use db::{DbError, PgPool};
use domain::{Context, DomainConfig, Event, Rejection, RejectionKind, State};
use wire::{CommandEnvelope, CommandResult, RecordedEvent};

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
    /// The domain refused it, its deadline passed, or (answered from its record) it
    /// was refused so before; only the refusal was written. Permanent.
    #[error(transparent)]
    Rejected(#[from] Rejection),
    /// Concurrent commands on the same target won every one of [`MAX_ATTEMPTS`] races;
    /// nothing but the refusal was written (unless the repository leaves contention
    /// unrecorded: see [`Repository::leaving_contention_unrecorded`]). HTTP callers see
    /// 409.
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
    /// Whether a command out of races is recorded as refused (409 for good).
    record_contention: bool,
}

/// What a committed attempt decided: applied, or refused with only its record written.
pub(super) type Decision = Result<Applied, ApplyError>;

/// Why one transaction attempt ended without a decision to commit; rolls it back.
pub(super) enum AttemptError {
    /// Another command changed the target (or recorded this command id) first.
    LostRace,
    /// The command's deadline passed before its commit: decide again, which records it
    /// as expired.
    Late,
    /// Failed: returned to the caller as is.
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

fn corrupt(what: &'static str) -> impl FnOnce(serde_json::Error) -> DbError {
    move |source| DbError::Corrupt { what, source }
}

impl Repository {
    /// A repository over `pool` deciding with `config`.
    pub fn new(pool: PgPool, config: DomainConfig) -> Self {
        Self {
            pool,
            config,
            record_contention: true,
        }
    }

    /// The same repository, leaving a command that runs out of races unrecorded
    /// ([`ApplyError::Contended`], nothing written), for callers that try the same
    /// command id again later and must not find it refused for good: jobs, whose steps
    /// have ids derived from the task.
    pub fn leaving_contention_unrecorded(mut self) -> Self {
        self.record_contention = false;
        self
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
    /// stored result or refusal.
    pub async fn apply(&self, envelope: &CommandEnvelope) -> Result<Applied, ApplyError> {
        let mut conn = self.pool.get().await.map_err(DbError::from)?;
        // Past MAX_ATTEMPTS an attempt refuses (and records) the command instead of
        // deciding it; one more in case that record lost to a concurrent delivery's.
        let last = if self.record_contention {
            MAX_ATTEMPTS + 2
        } else {
            MAX_ATTEMPTS
        };
        for attempt in 1..=last {
            // Postgres keeps microseconds: deciding with a truncated clock makes the
            // snapshot in the events equal to what a later read returns.
            let now = Utc::now().trunc_subsecs(6);
            let outcome = conn
                .transaction(async |conn| self.attempt(conn, envelope, now, attempt).await)
                .await;
            match outcome {
                Ok(decision) => return decision,
                Err(AttemptError::Failed(e)) => return Err(e),
                // The next attempt finds the deadline passed and records the expiry.
                Err(AttemptError::Late) => {}
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

    /// One decision of `envelope` on `conn`, inside a transaction (or a savepoint) the
    /// caller opened and commits on `Ok`: the stored answer of a command seen before;
    /// else the expiry of one past its deadline, the domain's refusal, or (`attempt`
    /// past [`MAX_ATTEMPTS`]) the conflict of one out of races, each recorded; else
    /// the command applied and recorded.
    pub(super) async fn attempt(
        &self,
        conn: &mut diesel_async::AsyncPgConnection,
        envelope: &CommandEnvelope,
        now: chrono::DateTime<Utc>,
        attempt: u32,
    ) -> Result<Decision, AttemptError> {
        let target = envelope.command.target();
        if attempt > 1 {
            // Lost a race already: read under the target's row locks so that this
            // attempt's write cannot lose another (it can only wait).
            document::lock_target(conn, target).await?;
        }
        let loaded = document::load(conn, envelope.command_id, target).await?;
        let expired = envelope
            .deadline
            .filter(|deadline| *deadline <= loaded.db_now);
        match loaded.processed {
            Some(Answer::Applied(result)) => {
                return Ok(Ok(Applied {
                    result: *result,
                    replayed: true,
                    attempts: attempt,
                }));
            }
            // An expiry applied nothing: a delivery still within its own deadline (the
            // producer retried the command id) is decided as new.
            Some(Answer::Refused(rejection))
                if rejection.kind != RejectionKind::Expired || expired.is_some() =>
            {
                return Ok(Err(ApplyError::Rejected(rejection)));
            }
            Some(Answer::Refused(_)) | None => {}
        }
        if let Some(deadline) = expired {
            return self
                .refuse(conn, envelope, Rejection::expired(deadline))
                .await;
        }
        if attempt > MAX_ATTEMPTS {
            let error = ApplyError::Contended {
                command_type: envelope.command.type_name(),
            };
            let decision = self
                .refuse(conn, envelope, Rejection::conflict(error.to_string()))
                .await?;
            return Ok(decision.map_err(|_| error));
        }
        let ctx = Context {
            actor: envelope.actor.clone(),
            now,
            config: self.config.clone(),
        };
        let events = match domain::decide(&loaded.state, &envelope.command, &ctx) {
            Ok(events) => events,
            Err(rejection) => return self.refuse(conn, envelope, rejection).await,
        };
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
        let stored = serde_json::to_value(&result).map_err(corrupt("command result"))?;
        let record = command_record(envelope)?;
        match write::record(conn, &record, &stored, &rows, envelope.deadline).await? {
            Recorded::Written => Ok(Ok(Applied {
                result,
                replayed: false,
                attempts: attempt,
            })),
            // A concurrent delivery of the same command committed first: undo ours.
            Recorded::Taken => Err(AttemptError::LostRace),
            Recorded::Late => Err(AttemptError::Late),
        }
    }

    /// Records `rejection` as the command's answer; the caller commits that row alone.
    async fn refuse(
        &self,
        conn: &mut diesel_async::AsyncPgConnection,
        envelope: &CommandEnvelope,
        rejection: Rejection,
    ) -> Result<Decision, AttemptError> {
        let stored = serde_json::to_value(&rejection).map_err(corrupt("command refusal"))?;
        if write::record_refusal(conn, &command_record(envelope)?, &stored).await? {
            Ok(Err(ApplyError::Rejected(rejection)))
        } else {
            // Recorded meanwhile by a concurrent delivery: its answer is the one.
            Err(AttemptError::LostRace)
        }
    }
}

/// What files `envelope` in `processed_commands` and on its events.
fn command_record(envelope: &CommandEnvelope) -> Result<CommandRecord<'_>, DbError> {
    Ok(CommandRecord {
        command_id: envelope.command_id.as_uuid(),
        aggregate_id: envelope.command.target().primary(),
        command_type: envelope.command.type_name(),
        correlation_id: envelope.correlation_id.as_deref(),
        traceparent: envelope.trace.map(|context| context.to_string()),
        actor: serde_json::to_value(&envelope.actor).map_err(corrupt("actor"))?,
    })
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
