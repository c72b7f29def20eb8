//! The fence that makes the gateway's 503 definitive. A worker's commit is not bounded
//! by the deadline check before it (a COMMIT may reach the server seconds later), so
//! "the deadline and a margin have passed and nothing is recorded" alone does not mean
//! "never applied". The fence closes that gap with one advisory lock per command id:
//!
//! - Every worker transaction (or group-commit savepoint) that applies or records a
//!   command takes the command's key shared in the statement that reads the target
//!   ([`document::load`]), before any write (only row locks of the target may come
//!   first), and checks the deadline by the database's clock in its last statement.
//! - The gateway, once the deadline and its margin have passed without a reply, takes
//!   the key exclusively ([`settled_answer`]): it waits for every worker transaction
//!   holding it to end, committed or not, then reads the command's record. Any worker
//!   transaction that takes the key after that finds the deadline passed and commits
//!   no change. So the record read then, or its absence, is the final answer.
//!
//! The gateway's transaction is read-only: it takes a lock and reads, nothing more.

use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use diesel_async::{AsyncPgConnection, SimpleAsyncConnection};

use super::DbError;
use super::document::{self, Answer};
use domain::CommandId;

/// The advisory lock key of `command_id`, used by workers and the gateway alike: the
/// two 64-bit halves of the UUID folded together (exclusive or; a v7 id's random low
/// half keeps ids of one millisecond apart), passed as the two `int4` halves of
/// Postgres' two-key form. Two-key advisory locks are a key space of their own, apart
/// from the single-`bigint` keys of the relay, janitor and migration locks, so a
/// command can never meet a leader's lock. Two ids folding to the same key only make
/// one wait for the other's transaction.
pub fn lock_key(command_id: CommandId) -> (i32, i32) {
    let (high, low) = command_id.as_uuid().as_u64_pair();
    let folded = high ^ low;
    ((folded >> 32) as u32 as i32, folded as u32 as i32)
}

/// The SQL of a `FROM` item that takes `command_id`'s key shared, with the key's halves
/// bound as parameters `$first` and `$first + 1`: the worker statement that reads the
/// target joins it, so the lock costs no round trip and is held before the statement
/// reads anything.
pub(crate) fn shared_lock_item(first: usize) -> String {
    format!(
        "(SELECT pg_advisory_xact_lock_shared(${first}, ${})) AS fence",
        first + 1
    )
}

/// The final answer for `command_id`, whose deadline is `deadline`: waits until the
/// deadline has passed by the database's clock (the one workers check against; the
/// caller's may be ahead of it), then for any worker transaction holding the command's
/// key (a commit under way), then reads its record; each wait at most `bound`. `None`
/// means never applied: no worker can apply it any more. An error (a wait timed out,
/// Postgres unreachable) means the outcome is unknown.
pub async fn settled_answer(
    conn: &mut AsyncPgConnection,
    command_id: CommandId,
    deadline: DateTime<Utc>,
    bound: Duration,
) -> Result<Option<Answer>, DbError> {
    let (first, second) = lock_key(command_id);
    let millis = bound.as_millis().max(1);
    let deadline = deadline.to_rfc3339_opts(SecondsFormat::Micros, true);
    conn.build_transaction()
        .read_committed()
        .read_only()
        .run(async |conn| {
            // Its own statement: the record is read under a snapshot taken after the
            // lock was granted, so it sees whatever the transactions waited for wrote.
            conn.batch_execute(&format!(
                "SET LOCAL lock_timeout = {millis}; SET LOCAL statement_timeout = {millis}; \
                 SELECT pg_sleep(GREATEST(0, EXTRACT(EPOCH FROM \
                     '{deadline}'::timestamptz - clock_timestamp()))); \
                 SELECT pg_advisory_xact_lock({first}, {second})"
            ))
            .await?;
            document::recorded_answer(conn, command_id).await
        })
        .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    #[test]
    fn the_key_folds_both_halves_of_the_id() {
        let id = CommandId::from_uuid(Uuid::from_u128(0x0000_0001_0000_0002_0000_0010_0000_0020));
        assert_eq!(lock_key(id), (0x11, 0x22));
        let top = CommandId::from_uuid(Uuid::from_u128(0xffff_ffff_ffff_ffff_0000_0000_0000_0000));
        assert_eq!(lock_key(top), (-1, -1));
    }
}
