//! An image's history (the `GET /v2/images/{id}/history` extension, SPEC 12): every
//! version as the append-only `events` table recorded it, oldest first, in one query.

use chrono::{DateTime, Utc};
use diesel::QueryableByName;
use diesel::sql_types::{BigInt, Nullable, Text, Timestamptz, Uuid as SqlUuid};
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use crate::DbError;
use domain::ImageId;

/// One recorded version of an image; the actor's roles stay in the log, unread.
#[derive(Debug, Clone, PartialEq, Eq, QueryableByName)]
pub struct HistoryEntry {
    /// The image's version after the event.
    #[diesel(sql_type = BigInt)]
    pub version: i64,
    /// What happened (`image.created`, ...).
    #[diesel(sql_type = Text)]
    pub event_type: String,
    /// The status before, none for a creation.
    #[diesel(sql_type = Nullable<Text>)]
    pub from_status: Option<String>,
    /// The status after.
    #[diesel(sql_type = Text)]
    pub to_status: String,
    /// When the command that made it was applied.
    #[diesel(sql_type = Timestamptz)]
    pub occurred_at: DateTime<Utc>,
    /// The command that made it.
    #[diesel(sql_type = SqlUuid)]
    pub command_id: uuid::Uuid,
    /// The request it came from, when known.
    #[diesel(sql_type = Nullable<Text>)]
    pub correlation_id: Option<String>,
    /// Who sent the command.
    #[diesel(sql_type = Nullable<Text>)]
    pub user_id: Option<String>,
    /// For which project.
    #[diesel(sql_type = Nullable<Text>)]
    pub project_id: Option<String>,
}

// `UNIQUE (aggregate_id, version)` indexes exactly this lookup and order.
const HISTORY: &str = "SELECT version, event_type, from_status, to_status, occurred_at, \
     command_id, correlation_id, actor->>'user_id' AS user_id, \
     actor->>'project_id' AS project_id \
     FROM events WHERE aggregate_id = $1 AND aggregate_type = 'image' ORDER BY version";

/// `image`'s versions, oldest first.
pub async fn image_history(
    conn: &mut AsyncPgConnection,
    image: ImageId,
) -> Result<Vec<HistoryEntry>, DbError> {
    Ok(diesel::sql_query(HISTORY)
        .bind::<SqlUuid, _>(image.as_uuid())
        .load(conn)
        .await?)
}
