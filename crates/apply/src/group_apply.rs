//! Group commit: [`Repository::apply_group`] applies several commands in one
//! transaction, each in a savepoint of its own, so they share one commit (one WAL
//! flush, one BEGIN and COMMIT) without any of them weakening another's guarantees.
//!
//! Within a group commands run in the order of their primary targets, stably, so
//! groups of single-target commands lock rows in one order and a target's commands
//! keep their arrival order. What a failure costs depends on where it happens
//! ([`FailureClass`], decided once in [`DbError::class`]):
//!
//! - The domain refuses a command: it keeps its savepoint, and its refusal is recorded
//!   with the group, as alone.
//! - A command loses a race, passes its deadline, or meets a statement error (a
//!   deadlock with another group, say): rolled back to its savepoint and applied again
//!   on its own after the group commits, with the whole retry loop of
//!   [`Repository::apply`]. Its target's later commands in the group are not run in the
//!   group either but applied alone after it, in order, so the target's arrival order
//!   holds. If one of them fails retryably alone, its target's later commands are
//!   answered retryable without being tried: applied now, they would overtake it.
//! - A member's deadline passes before the group commits: none of the group is
//!   written, and each command is applied on its own (where its deadline is checked in
//!   its last statement).
//! - A statement waits out `lock_timeout` or `statement_timeout` (another session
//!   holds the row): the command, and its target's later commands in the group, which
//!   would wait the same way, are answered retryable at once; the rest of the group
//!   goes on.
//! - The pool or the group's connection fails, or the group takes longer than its
//!   bound (a database that answers nothing): nothing of the group was written, and
//!   every command is answered retryable at once, not tried again one after another
//!   on a database that is not there.
//!
//! The bound is one deadline for the whole call, the commands applied alone after the
//! group included: a lane is never held longer than it, however the group fails.

use std::collections::HashMap;
use std::time::Duration;

use tokio::time::Instant;

use chrono::{SubsecRound, Utc};
use diesel_async::{AsyncConnection, SimpleAsyncConnection};
use uuid::Uuid;

use crate::repository::AttemptError;
use crate::{Applied, ApplyError, Repository};
use db::DbError;
use db::error::FailureClass;
use wire::CommandEnvelope;

/// How long a group may take, pool wait included, when the caller names no bound: the
/// default statement timeout plus the default idle-in-transaction timeout. A group
/// still unanswered by then is on a connection that no longer answers.
pub const DEFAULT_GROUP_BOUND: Duration = Duration::from_secs(15);

/// What the group's transaction made of one command.
enum Step {
    /// Not reached yet.
    Pending,
    /// Its result is final: applied, refused, or to be retried later.
    Decided(Box<Result<Applied, ApplyError>>),
    /// To be applied on its own after the group, in order.
    Alone,
}

/// Why a target's later commands in a group do not run in it.
enum Stop {
    /// One of its commands is applied alone after the group: so are the later ones.
    Alone,
    /// One of its commands waited out a timeout: the later ones would wait the same.
    Waited(String),
}

impl Repository {
    /// Applies `envelopes` exactly once each, sharing one transaction where it can,
    /// within [`DEFAULT_GROUP_BOUND`]; the results are in the order of `envelopes`.
    pub async fn apply_group(
        &self,
        envelopes: &[&CommandEnvelope],
    ) -> Vec<Result<Applied, ApplyError>> {
        self.apply_group_within(envelopes, DEFAULT_GROUP_BOUND)
            .await
    }

    /// [`Repository::apply_group`] within `limit` all told: the pool, the group's
    /// transaction and each command applied alone after it share one deadline, and a
    /// command not answered by then is answered retryable, so a database that stopped
    /// answering never holds a caller longer than `limit`.
    pub async fn apply_group_within(
        &self,
        envelopes: &[&CommandEnvelope],
        limit: Duration,
    ) -> Vec<Result<Applied, ApplyError>> {
        if let [envelope] = envelopes {
            return vec![self.apply_within(envelope, limit).await];
        }
        let deadline = Instant::now() + limit;
        let mut order: Vec<usize> = (0..envelopes.len()).collect();
        order.sort_by_key(|&i| envelopes[i].command.target().primary());
        let group = async {
            let mut conn = self.pool().get().await.map_err(DbError::from)?;
            conn.transaction(async |conn| self.decide_group(conn, envelopes, &order).await)
                .await
                .map_err(DbError::from)
        };
        let mut steps = match tokio::time::timeout_at(deadline, group).await {
            Ok(Ok(steps)) => steps,
            Err(_) => return all_unavailable(envelopes, &DbError::TimedOut("applying a group")),
            Ok(Err(error)) if error.class() == FailureClass::Connection => {
                return all_unavailable(envelopes, &error);
            }
            // Not the connection (a member past its deadline, a failed commit): none of
            // it was written, and each command is tried again on its own.
            Ok(Err(error)) => {
                if matches!(
                    error,
                    DbError::Query(diesel::result::Error::RollbackTransaction)
                ) {
                    tracing::debug!(
                        commands = envelopes.len(),
                        "a member's deadline passed before the group committed; applying each alone"
                    );
                } else {
                    tracing::warn!(
                        %error,
                        commands = envelopes.len(),
                        "group transaction failed; applying each of its commands alone"
                    );
                }
                envelopes.iter().map(|_| Step::Alone).collect()
            }
        };
        self.apply_alone(envelopes, &order, &mut steps, deadline)
            .await;
        steps
            .into_iter()
            .map(|step| match step {
                Step::Decided(result) => *result,
                // Every step was decided above; this keeps the types honest.
                Step::Pending | Step::Alone => Err(ApplyError::Database(DbError::Unavailable(
                    "the command was not reached".into(),
                ))),
            })
            .collect()
    }

    /// Applies the commands the group left [`Step::Alone`] one by one, in `order`, by
    /// `deadline`. Once the database is gone the rest are answered at once rather than
    /// each waiting for it in turn; once a target's command fails retryably, its later
    /// ones are answered retryable untried, so none overtakes it.
    async fn apply_alone(
        &self,
        envelopes: &[&CommandEnvelope],
        order: &[usize],
        steps: &mut [Step],
        deadline: Instant,
    ) {
        let mut lost: Option<String> = None;
        let mut held: HashMap<Uuid, String> = HashMap::new();
        for &i in order {
            if !matches!(steps[i], Step::Alone) {
                continue;
            }
            let target = envelopes[i].command.target().primary();
            let result = if let Some(reason) = &lost {
                Err(ApplyError::Database(DbError::Unavailable(reason.clone())))
            } else if let Some(reason) = held.get(&target) {
                Err(ApplyError::Database(DbError::HeldBack(reason.clone())))
            } else {
                self.apply_until(envelopes[i], deadline).await
            };
            match &result {
                Err(ApplyError::Database(error)) if error.class() == FailureClass::Connection => {
                    lost = Some(error.to_string());
                }
                // Retried later, so its target's later commands must wait for it. A
                // command out of races is recorded as refused or, where contention is
                // left unrecorded, tried again: held back either way.
                Err(ApplyError::Database(error)) if error.is_transient() => {
                    held.entry(target).or_insert_with(|| error.to_string());
                }
                Err(error @ ApplyError::Contended { .. }) => {
                    held.entry(target).or_insert_with(|| error.to_string());
                }
                Ok(_) | Err(ApplyError::Rejected(_) | ApplyError::Database(_)) => {}
            }
            steps[i] = Step::Decided(Box::new(result));
        }
    }

    /// [`Repository::apply`] bounded by `limit`.
    pub async fn apply_within(
        &self,
        envelope: &CommandEnvelope,
        limit: Duration,
    ) -> Result<Applied, ApplyError> {
        self.apply_until(envelope, Instant::now() + limit).await
    }

    /// [`Repository::apply`] by `deadline`; one already passed is not started.
    async fn apply_until(
        &self,
        envelope: &CommandEnvelope,
        deadline: Instant,
    ) -> Result<Applied, ApplyError> {
        let late = Err(ApplyError::Database(DbError::TimedOut(
            "applying a command",
        )));
        if Instant::now() >= deadline {
            return late;
        }
        tokio::time::timeout_at(deadline, self.apply(envelope))
            .await
            .unwrap_or(late)
    }

    /// Decides and writes each command of the group in a savepoint, in `order`.
    async fn decide_group(
        &self,
        conn: &mut diesel_async::AsyncPgConnection,
        envelopes: &[&CommandEnvelope],
        order: &[usize],
    ) -> Result<Vec<Step>, diesel::result::Error> {
        let mut steps: Vec<Step> = envelopes.iter().map(|_| Step::Pending).collect();
        let mut stopped: HashMap<Uuid, Stop> = HashMap::new();
        for &i in order {
            let target = envelopes[i].command.target().primary();
            match stopped.get(&target) {
                Some(Stop::Alone) => {
                    steps[i] = Step::Alone;
                    continue;
                }
                Some(Stop::Waited(message)) => {
                    steps[i] = Step::Decided(Box::new(Err(ApplyError::Database(waited(message)))));
                    continue;
                }
                None => {}
            }
            // A savepoint of one name, never released: each shadows the one before,
            // and a rollback goes back to the latest.
            conn.batch_execute("SAVEPOINT group_command").await?;
            let now = Utc::now().trunc_subsecs(6);
            let outcome = match self.attempt(conn, envelopes[i], now, 1).await {
                // Applied or refused: either way its record commits with the group.
                Ok(decision) => {
                    steps[i] = Step::Decided(Box::new(decision));
                    continue;
                }
                Err(outcome) => outcome,
            };
            // Fails on a lost connection, which ends the group as a whole.
            conn.batch_execute("ROLLBACK TO SAVEPOINT group_command")
                .await?;
            steps[i] = match outcome {
                AttemptError::Failed(ApplyError::Database(error))
                    if error.class() == FailureClass::Timeout =>
                {
                    stopped.insert(target, Stop::Waited(message(&error)));
                    Step::Decided(Box::new(Err(ApplyError::Database(error))))
                }
                AttemptError::LostRace | AttemptError::Late | AttemptError::Failed(_) => {
                    stopped.insert(target, Stop::Alone);
                    Step::Alone
                }
            };
        }
        // The group commits its commands together, after the last one's statements:
        // none may commit past its deadline, so the whole group is applied again alone
        // (where each command is checked in its last statement) if one has passed.
        let deadlines = order.iter().filter_map(|&i| match &steps[i] {
            Step::Decided(result) => match result.as_ref() {
                Ok(applied) if !applied.replayed => envelopes[i].deadline,
                _ => None,
            },
            Step::Pending | Step::Alone => None,
        });
        if super::deadline::any_passed(conn, deadlines).await? {
            return Err(diesel::result::Error::RollbackTransaction);
        }
        Ok(steps)
    }
}

/// Every command of a group answered retryable with `error`.
fn all_unavailable(
    envelopes: &[&CommandEnvelope],
    error: &DbError,
) -> Vec<Result<Applied, ApplyError>> {
    envelopes
        .iter()
        .map(|_| {
            Err(ApplyError::Database(DbError::Unavailable(
                error.to_string(),
            )))
        })
        .collect()
}

/// Postgres' own text of a failure, which [`DbError::class`] reads.
fn message(error: &DbError) -> String {
    match error {
        DbError::Query(diesel::result::Error::DatabaseError(_, info)) => info.message().to_owned(),
        other => other.to_string(),
    }
}

/// The timeout a target's earlier command met, for one of its later commands.
fn waited(message: &str) -> DbError {
    DbError::Query(diesel::result::Error::DatabaseError(
        diesel::result::DatabaseErrorKind::Unknown,
        Box::new(message.to_owned()),
    ))
}
