//! Group commit: [`Repository::apply_group`] applies several commands in one
//! transaction, each in a savepoint of its own, so they share one commit (one WAL
//! flush, one BEGIN and COMMIT) without any of them weakening another's guarantees.
//!
//! A command the domain refuses keeps its savepoint: its refusal is recorded with the
//! group, as alone. One that loses a race, passes its deadline, or meets a database
//! error, is rolled back to its savepoint and applied again on its own after the group
//! commits, with the whole retry loop of [`Repository::apply`]. If the group's
//! transaction itself fails (its commit, a broken connection, or a member's deadline
//! passed before the commit), none of it was written, and every command is applied on
//! its own.
//! Within a group commands run in the order of their primary targets, stably: groups of
//! single-target commands lock rows in one order, and a target's commands keep their
//! arrival order, except that a command applied alone after the group comes after the
//! later commands of its target that the group applied. Commands that lock an image
//! and a task can still meet another group in the opposite order; Postgres then ends
//! one statement as a deadlock after `deadlock_timeout`, and that command is applied
//! alone.

use chrono::{SubsecRound, Utc};
use diesel_async::{AsyncConnection, SimpleAsyncConnection};

use super::{Applied, ApplyError, Repository};
use crate::messaging::CommandEnvelope;

/// A group's decisions by command: refused or applied, or None to apply on its own.
type Decisions = Vec<Option<Result<Applied, ApplyError>>>;

impl Repository {
    /// Applies `envelopes` exactly once each, sharing one transaction where it can;
    /// the results are in the order of `envelopes`.
    pub async fn apply_group(
        &self,
        envelopes: &[&CommandEnvelope],
    ) -> Vec<Result<Applied, ApplyError>> {
        if let [envelope] = envelopes {
            return vec![self.apply(envelope).await];
        }
        let mut order: Vec<usize> = (0..envelopes.len()).collect();
        order.sort_by_key(|&i| envelopes[i].command.target().primary());
        let decided = match self.pool().get().await {
            Ok(mut conn) => conn
                .transaction(async |conn| self.decide_group(conn, envelopes, &order).await)
                .await
                .ok(),
            Err(_) => None,
        };
        let mut decided =
            decided.unwrap_or_else(|| envelopes.iter().map(|_| None).collect::<Decisions>());
        for &i in &order {
            if decided[i].is_none() {
                decided[i] = Some(self.apply(envelopes[i]).await);
            }
        }
        // Every command now has its result, in the order of `envelopes`.
        decided.into_iter().flatten().collect()
    }

    /// Decides and writes each command of the group in a savepoint, in `order`.
    async fn decide_group(
        &self,
        conn: &mut diesel_async::AsyncPgConnection,
        envelopes: &[&CommandEnvelope],
        order: &[usize],
    ) -> Result<Decisions, diesel::result::Error> {
        let mut decided: Decisions = envelopes.iter().map(|_| None).collect();
        for &i in order {
            // A savepoint of one name, never released: each shadows the one before,
            // and a rollback goes back to the latest.
            conn.batch_execute("SAVEPOINT group_command").await?;
            let now = Utc::now().trunc_subsecs(6);
            match self.attempt(conn, envelopes[i], now, 1).await {
                // Applied or refused: either way its record commits with the group.
                Ok(decision) => decided[i] = Some(decision),
                Err(_) => {
                    conn.batch_execute("ROLLBACK TO SAVEPOINT group_command")
                        .await?;
                }
            }
        }
        // The group commits its commands together, after the last one's statements:
        // none may commit past its deadline, so the whole group is applied again alone
        // (where each command is checked in its last statement) if one has passed.
        let deadlines = order.iter().filter_map(|&i| match &decided[i] {
            Some(Ok(applied)) if !applied.replayed => envelopes[i].deadline,
            _ => None,
        });
        if super::deadline::any_passed(conn, deadlines).await? {
            return Err(diesel::result::Error::RollbackTransaction);
        }
        Ok(decided)
    }
}
