//! The verdict of the cluster run: the driver's ledger against Postgres (processed
//! commands, the events table, image versions and properties) and against the events
//! the tap received, in the order it received them.

use std::collections::{BTreeSet, HashMap, HashSet};

use diesel::QueryableByName;
use diesel::sql_types::{BigInt, Text};
use diesel_async::RunQueryDsl;
use imagefleet_tests::TestDb;
use uuid::Uuid;
use wire::EventEnvelope;

use super::driver::{PROPERTY, Sent};

/// What went wrong, each list naming the commands or events concerned.
#[derive(Debug, Default)]
pub struct Findings {
    /// Answered commands without their effect.
    pub lost: Vec<String>,
    /// Commands with more than one event.
    pub applied_twice: Vec<String>,
    /// Images whose version is not the number of commands accepted on them.
    pub version_mismatches: Vec<String>,
    /// Events of the outbox the tap never received.
    pub events_missing: Vec<String>,
    /// Events the tap received after a later version of their image.
    pub order_violations: Vec<String>,
    /// Commands refused or failed for good.
    pub failed: Vec<String>,
}

#[derive(QueryableByName)]
struct EventRow {
    #[diesel(sql_type = diesel::sql_types::Uuid)]
    event_id: Uuid,
    #[diesel(sql_type = diesel::sql_types::Uuid)]
    command_id: Uuid,
}

#[derive(QueryableByName)]
struct Processed {
    #[diesel(sql_type = diesel::sql_types::Uuid)]
    command_id: Uuid,
}

#[derive(QueryableByName)]
struct Version {
    #[diesel(sql_type = diesel::sql_types::Uuid)]
    id: Uuid,
    #[diesel(sql_type = BigInt)]
    version: i64,
}

#[derive(QueryableByName)]
struct Property {
    #[diesel(sql_type = diesel::sql_types::Uuid)]
    image_id: Uuid,
    #[diesel(sql_type = Text)]
    value: String,
}

/// Events of the outbox not yet confirmed by the broker.
pub async fn unpublished(db: &TestDb) -> anyhow::Result<i64> {
    #[derive(QueryableByName)]
    struct Count {
        #[diesel(sql_type = BigInt)]
        n: i64,
    }
    let mut conn = db.conn().await?;
    let sql = "SELECT count(*) AS n FROM events WHERE published_at IS NULL";
    Ok(diesel::sql_query(sql)
        .get_result::<Count>(&mut conn)
        .await?
        .n)
}

/// The unpublished rows of the outbox, as `seq attempts quarantined last_error`, for a
/// failure message.
pub async fn unpublished_rows(db: &TestDb) -> anyhow::Result<Vec<String>> {
    #[derive(QueryableByName)]
    struct Row {
        #[diesel(sql_type = Text)]
        row: String,
    }
    let mut conn = db.conn().await?;
    let sql = "SELECT format('%s attempts %s quarantined %s: %s', seq, publish_attempts, \
               quarantined_at IS NOT NULL, last_error) AS row \
               FROM events WHERE published_at IS NULL ORDER BY seq";
    let rows: Vec<Row> = diesel::sql_query(sql).load(&mut conn).await?;
    Ok(rows.into_iter().map(|r| r.row).collect())
}

/// Compares what the drivers sent and the tap received with the database.
pub async fn judge(
    db: &TestDb,
    sent: &[Sent],
    received: &[EventEnvelope],
) -> anyhow::Result<Findings> {
    let mut conn = db.conn().await?;
    let events: Vec<EventRow> = diesel::sql_query("SELECT event_id, command_id FROM events")
        .load(&mut conn)
        .await?;
    let processed: HashSet<Uuid> = diesel::sql_query("SELECT command_id FROM processed_commands")
        .load::<Processed>(&mut conn)
        .await?
        .into_iter()
        .map(|p| p.command_id)
        .collect();
    let versions: HashMap<Uuid, i64> = diesel::sql_query("SELECT id, version FROM images")
        .load::<Version>(&mut conn)
        .await?
        .into_iter()
        .map(|v| (v.id, v.version))
        .collect();
    let properties: HashSet<(Uuid, String)> =
        diesel::sql_query("SELECT image_id, value FROM image_properties WHERE name = $1")
            .bind::<Text, _>(PROPERTY)
            .load::<Property>(&mut conn)
            .await?
            .into_iter()
            .map(|p| (p.image_id, p.value))
            .collect();

    let mut f = Findings::default();
    let mut per_command: HashMap<Uuid, usize> = HashMap::new();
    for event in &events {
        *per_command.entry(event.command_id).or_default() += 1;
    }
    let mut accepted_per_image: HashMap<Uuid, i64> = HashMap::new();
    for s in sent {
        let what = format!("{} on {} ({} sends)", s.command_id, s.image, s.sends);
        if let Some(why) = &s.failed {
            f.failed.push(format!("{what}: {why}"));
            continue;
        }
        if s.answered.is_none() {
            continue;
        }
        *accepted_per_image.entry(s.image).or_default() += 1;
        let effect = match &s.value {
            None => versions.contains_key(&s.image),
            Some(value) => properties.contains(&(s.image, value.clone())),
        };
        match per_command.get(&s.command_id).copied().unwrap_or(0) {
            0 => f.lost.push(format!("{what}: no event")),
            1 if !effect || !processed.contains(&s.command_id) => {
                f.lost.push(format!("{what}: effect {effect}, recorded no"));
            }
            1 => {}
            n => f.applied_twice.push(format!("{what}: {n} events")),
        }
    }
    for (image, accepted) in &accepted_per_image {
        let version = versions.get(image).copied();
        if version != Some(*accepted) {
            f.version_mismatches
                .push(format!("{image}: version {version:?}, {accepted} accepted"));
        }
    }

    let mut seen_ids = HashSet::new();
    let mut latest: HashMap<Uuid, i64> = HashMap::new();
    let mut versions_seen: HashMap<Uuid, BTreeSet<i64>> = HashMap::new();
    for event in received {
        // A repeat of an event already seen is a duplicate (at least once), not disorder.
        if !seen_ids.insert(event.event_id) {
            continue;
        }
        versions_seen
            .entry(event.id)
            .or_default()
            .insert(event.version);
        let last = latest.entry(event.id).or_default();
        if event.version < *last {
            f.order_violations.push(format!(
                "{}: version {} after {last}",
                event.id, event.version
            ));
        } else {
            *last = event.version;
        }
    }
    for event in &events {
        if !seen_ids.contains(&event.event_id) {
            f.events_missing
                .push(format!("{} of {}", event.event_id, event.command_id));
        }
    }
    for (image, version) in &versions {
        let expected: BTreeSet<i64> = (1..=*version).collect();
        let seen = versions_seen.get(image).cloned().unwrap_or_default();
        if seen != expected {
            f.events_missing
                .push(format!("{image}: versions {seen:?} of 1..={version}"));
        }
    }
    Ok(f)
}
