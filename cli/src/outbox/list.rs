//! `imagefleet outbox list`: the quarantined rows, oldest first, each with why its
//! last publish failed and how many later events of its aggregate wait behind it.

use anyhow::Context as _;
use clap::Args;
use db::DEFAULT_DATABASE_URL;
use outbox::quarantine::{QuarantinedRow, list_quarantined};

/// Arguments of `imagefleet outbox list`.
#[derive(Debug, Clone, Args)]
pub struct ListArgs {
    /// Postgres URL (the fleet's database).
    #[arg(long, env = "IMAGEFLEET_DATABASE_URL", default_value = DEFAULT_DATABASE_URL)]
    pub database_url: String,
    /// Most rows to print.
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(i64).range(1..))]
    pub limit: i64,
}

/// Up to `limit` quarantined rows, in `seq` order.
pub async fn list(database_url: &str, limit: i64) -> anyhow::Result<Vec<QuarantinedRow>> {
    let mut conn = db::connect(database_url)
        .await
        .context("connecting to Postgres")?;
    list_quarantined(&mut conn, limit)
        .await
        .context("reading the quarantined outbox rows")
}

/// The line `outbox list` prints for `row`.
pub fn row_json(row: &QuarantinedRow) -> serde_json::Value {
    serde_json::json!({
        "seq": row.seq,
        "aggregate": row.aggregate_type,
        "id": row.aggregate_id,
        "version": row.version,
        "event_type": row.event_type,
        "attempts": row.publish_attempts,
        "last_error": row.last_error,
        "quarantined_at": row.quarantined_at.to_rfc3339(),
        "held_back": row.held_back,
    })
}
