//! The migrations' SQL: it reverts cleanly, and its constraints and triggers refuse
//! what the rest of the system relies on never being stored.

use std::time::Duration;

use anyhow::{Context as _, ensure};
use chrono::Utc;
use db::migrate::MIGRATIONS;
use db::schema::events;
use diesel::migration::MigrationSource;
use diesel::prelude::*;
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use diesel::sql_types::Text;
use diesel_async::async_connection_wrapper::AsyncConnectionWrapper;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use diesel_migrations::MigrationHarness;
use futures::StreamExt as _;
use imagefleet_tests::TestDb;
use serde_json::json;
use uuid::Uuid;

#[derive(QueryableByName, Debug, PartialEq, Eq)]
struct Object {
    #[diesel(sql_type = Text)]
    kind: String,
    #[diesel(sql_type = Text)]
    name: String,
}

/// Everything in the public schema but diesel's own bookkeeping table.
fn schema_objects(
    conn: &mut AsyncConnectionWrapper<AsyncPgConnection>,
) -> QueryResult<Vec<Object>> {
    let query = diesel::sql_query(
        "SELECT 'relation ' || c.relkind::text AS kind, c.relname::text AS name
           FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public'
         UNION ALL SELECT 'function', p.proname::text
           FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = 'public'
         UNION ALL SELECT 'type', t.typname::text
           FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace WHERE n.nspname = 'public'
         UNION ALL SELECT 'constraint', c.conname::text
           FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace WHERE n.nspname = 'public'
         UNION ALL SELECT 'trigger', t.tgname::text
           FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
           JOIN pg_namespace n ON n.oid = c.relnamespace
          WHERE n.nspname = 'public' AND NOT t.tgisinternal
         ORDER BY 1, 2",
    );
    let objects: Vec<Object> = diesel::RunQueryDsl::load(query, conn)?;
    Ok(objects
        .into_iter()
        .filter(|object| !object.name.contains("__diesel_schema_migrations"))
        .collect())
}

#[tokio::test(flavor = "multi_thread")]
async fn migrations_are_reversible() -> anyhow::Result<()> {
    let db = TestDb::new().await?;
    let url = db.url().to_owned();
    // diesel's harness is synchronous: it runs on a blocking thread.
    tokio::task::spawn_blocking(move || -> anyhow::Result<()> {
        let mut conn = <AsyncConnectionWrapper<AsyncPgConnection> as Connection>::establish(&url)?;
        let count = MigrationSource::<diesel::pg::Pg>::migrations(&MIGRATIONS)
            .map_err(anyhow::Error::msg)?
            .len();
        let migrated = schema_objects(&mut conn)?;
        ensure!(!migrated.is_empty(), "the template has no tables");

        let reverted = conn
            .revert_all_migrations(MIGRATIONS)
            .map_err(anyhow::Error::msg)?;
        ensure!(
            reverted.len() == count,
            "reverted {} of {count}",
            reverted.len()
        );
        let left = schema_objects(&mut conn)?;
        ensure!(left.is_empty(), "down.sql left objects behind: {left:?}");

        let applied = conn
            .run_pending_migrations(MIGRATIONS)
            .map_err(anyhow::Error::msg)?;
        ensure!(
            applied.len() == count,
            "applied {} of {count}",
            applied.len()
        );
        assert_eq!(schema_objects(&mut conn)?, migrated);
        Ok(())
    })
    .await?
}

/// Asserts that `result` failed with `kind` and returns the constraint it names.
fn refused<T: std::fmt::Debug>(
    result: QueryResult<T>,
    kind: DatabaseErrorKind,
) -> anyhow::Result<String> {
    match result {
        Err(DieselError::DatabaseError(actual, info)) if actual == kind => {
            Ok(info.constraint_name().unwrap_or(info.message()).to_owned())
        }
        other => anyhow::bail!("expected {kind:?}, got {other:?}"),
    }
}

const INSERT_IMAGE: &str = "INSERT INTO images (id, version, status, visibility, protected, \
     os_hidden, owner, min_disk, min_ram, created_at, updated_at) \
     VALUES ($1, 1, $2, 'private', false, false, 'project-a', 0, 0, now(), now())";

#[tokio::test(flavor = "multi_thread")]
async fn an_unknown_image_status_is_refused() -> anyhow::Result<()> {
    let db = TestDb::new().await?;
    let mut conn = db.conn().await?;
    let insert = |status: &'static str| {
        diesel::sql_query(INSERT_IMAGE)
            .bind::<diesel::sql_types::Uuid, _>(Uuid::new_v4())
            .bind::<Text, _>(status)
    };
    // The same row with a known status goes in: only the status is at fault below.
    insert("queued").execute(&mut conn).await?;
    let result = insert("bogus").execute(&mut conn).await;
    assert_eq!(
        refused(result, DatabaseErrorKind::CheckViolation)?,
        "images_status_check"
    );
    Ok(())
}

async fn insert_event(
    conn: &mut AsyncPgConnection,
    aggregate: Uuid,
    version: i64,
) -> QueryResult<i64> {
    diesel::insert_into(events::table)
        .values((
            events::event_id.eq(Uuid::now_v7()),
            events::aggregate_type.eq("image"),
            events::aggregate_id.eq(aggregate),
            events::version.eq(version),
            events::event_type.eq("image.created"),
            events::from_status.eq(None::<String>),
            events::to_status.eq("queued"),
            events::routing_key.eq("image.queued"),
            events::command_id.eq(Uuid::now_v7()),
            events::correlation_id.eq(Some("req-1")),
            events::actor.eq(json!({"project_id": "project-a"})),
            events::snapshot.eq(json!({"status": "queued"})),
            events::occurred_at.eq(Utc::now()),
        ))
        .returning(events::seq)
        .get_result(conn)
        .await
}

#[tokio::test(flavor = "multi_thread")]
async fn events_are_append_only() -> anyhow::Result<()> {
    let db = TestDb::new().await?;
    let mut conn = db.conn().await?;
    let seq = insert_event(&mut conn, Uuid::new_v4(), 1).await?;
    let row = events::table.filter(events::seq.eq(seq));
    let restrict = DatabaseErrorKind::RestrictViolation;

    let result = diesel::update(row)
        .set(events::event_type.eq("image.forged"))
        .execute(&mut conn)
        .await;
    refused(result, restrict).context("changing event_type")?;
    // A JSON column and one added by a later migration are covered as well.
    let result = diesel::update(row)
        .set(events::snapshot.eq(json!({"forged": true})))
        .execute(&mut conn)
        .await;
    refused(result, restrict).context("changing the snapshot")?;
    let result = diesel::update(row)
        .set(events::traceparent.eq(Some("forged")))
        .execute(&mut conn)
        .await;
    refused(result, restrict).context("changing traceparent")?;
    let result = diesel::delete(row).execute(&mut conn).await;
    refused(result, restrict).context("deleting")?;
    let result = diesel::sql_query("TRUNCATE events")
        .execute(&mut conn)
        .await;
    refused(result, restrict).context("truncating")?;

    // The relay's one legitimate change, then never again.
    let stamped = diesel::update(row)
        .set(events::published_at.eq(Some(Utc::now())))
        .execute(&mut conn)
        .await?;
    assert_eq!(stamped, 1);
    let later = Utc::now() + chrono::Duration::seconds(1);
    let result = diesel::update(row)
        .set(events::published_at.eq(Some(later)))
        .execute(&mut conn)
        .await;
    refused(result, restrict).context("stamping twice")?;
    let result = diesel::update(row)
        .set(events::published_at.eq(None::<chrono::DateTime<Utc>>))
        .execute(&mut conn)
        .await;
    refused(result, restrict).context("unstamping")?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn an_aggregate_version_has_one_event() -> anyhow::Result<()> {
    let db = TestDb::new().await?;
    let mut conn = db.conn().await?;
    let image = Uuid::new_v4();
    insert_event(&mut conn, image, 1).await?;
    let result = insert_event(&mut conn, image, 1).await;
    assert_eq!(
        refused(result, DatabaseErrorKind::UniqueViolation)?,
        "events_aggregate_id_version_key"
    );
    insert_event(&mut conn, image, 2).await?;
    // Versions are per aggregate: another image starts at 1 as well.
    insert_event(&mut conn, Uuid::new_v4(), 1).await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn inserting_events_wakes_the_outbox_relay() -> anyhow::Result<()> {
    let db = TestDb::new().await?;
    let mut listener = AsyncPgConnection::establish(db.url()).await?;
    diesel::sql_query("LISTEN imagefleet_outbox")
        .execute(&mut listener)
        .await?;
    let mut writer = db.conn().await?;
    insert_event(&mut writer, Uuid::new_v4(), 1).await?;

    let mut notifications = std::pin::pin!(listener.notifications_stream());
    let notification = tokio::time::timeout(Duration::from_secs(10), notifications.next())
        .await
        .context("no notification within 10 s")?
        .context("notification stream ended")??;
    assert_eq!(notification.channel, "imagefleet_outbox");
    Ok(())
}
