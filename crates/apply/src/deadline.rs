//! Command deadlines as the database's clock judges them: one clock for every worker,
//! read at the moment of asking (`clock_timestamp()`, not the transaction's start).
//! A single command checks its deadline in its last statement (see `write::record`);
//! a group of commands sharing one commit checks the earliest of theirs here, after
//! its last command and just before the commit.

use chrono::{DateTime, Utc};
use diesel::QueryableByName;
use diesel::sql_types::{Bool, Timestamptz};
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use db::cached_sql::cached_sql;

#[derive(QueryableByName)]
struct Passed {
    #[diesel(sql_type = Bool)]
    passed: bool,
}

/// Whether the earliest of `deadlines` has passed (false when there is none, without
/// a round trip).
pub(super) async fn any_passed(
    conn: &mut AsyncPgConnection,
    deadlines: impl IntoIterator<Item = DateTime<Utc>>,
) -> Result<bool, diesel::result::Error> {
    let Some(earliest) = deadlines.into_iter().min() else {
        return Ok(false);
    };
    let row: Passed = cached_sql("SELECT clock_timestamp() > $1 AS passed")
        .bind::<Timestamptz, _>(earliest)
        .get_result(conn)
        .await?;
    Ok(row.passed)
}
