//! Group commit (`Repository::apply_group`): commands sharing one transaction each get
//! the outcome they would get alone, in order; a refused one writes nothing and spoils
//! nothing; a command twice in a group has its effect once; one that loses a race inside
//! a group is rolled back to its savepoint and applied on its own after the group, and
//! one that then fails retryably holds back its target's later commands.

use std::time::Duration;

use apply::{ApplyError, Repository};
use db::document;
use diesel::QueryableByName;
use diesel::sql_types::{BigInt, Bool};
use diesel_async::{RunQueryDsl, SimpleAsyncConnection};
use domain::{DomainConfig, ImageId, RejectionKind, Target};
use imagefleet_tests::fixtures::*;
use imagefleet_tests::wait::wait_until;
use imagefleet_tests::{HeldLock, TestDb};
use wire::CommandEnvelope;

use crate::db::pg_timeouts::{
    contended_pair, created, patient_repository, someone_waits_on_a_lock,
};
use crate::db::repository::count;

fn repository(db: &TestDb) -> Repository {
    Repository::new(db.pool().clone(), DomainConfig::default())
}

/// The rejection kind of a refused result, or None for an applied one.
fn refusal(result: &Result<apply::Applied, ApplyError>) -> Option<RejectionKind> {
    match result {
        Ok(_) => None,
        Err(ApplyError::Rejected(rejection)) => Some(rejection.kind),
        Err(other) => panic!("not a refusal: {other}"),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_group_gives_each_command_the_outcome_it_has_alone_in_order() {
    let (grouped, alone) = (
        TestDb::new().await.expect("test database"),
        TestDb::new().await.expect("test database"),
    );
    let (image, missing) = (ImageId::generate(), ImageId::generate());
    let commands: Vec<CommandEnvelope> = vec![
        envelope(owner(), create(image, "grouped")),
        envelope(owner(), set_property(image, "os_distro", "cirros")),
        envelope(owner(), remove_tag(image, "absent")),
        envelope(owner(), add_tag(image, "small")),
        envelope(owner(), create(image, "again")),
        envelope(other(), set_property(image, "stolen", "yes")),
        envelope(owner(), set_property(missing, "k", "v")),
        envelope(owner(), remove_tag(image, "small")),
    ];
    let refs: Vec<&CommandEnvelope> = commands.iter().collect();
    let group = repository(&grouped).apply_group(&refs).await;
    let mut one_by_one = Vec::new();
    for command in &commands {
        one_by_one.push(repository(&alone).apply(command).await);
    }
    let outcomes = |results: &[Result<apply::Applied, ApplyError>]| {
        results.iter().map(refusal).collect::<Vec<_>>()
    };
    assert_eq!(outcomes(&group), outcomes(&one_by_one));
    assert_eq!(
        outcomes(&group).iter().filter(|r| r.is_none()).count(),
        4,
        "create, property, tag and its removal apply: {:?}",
        outcomes(&group)
    );

    let mut conn = grouped.conn().await.expect("connection");
    let loaded = document::load(&mut conn, commands[0].command_id, Target::Image(image))
        .await
        .expect("load");
    let state = loaded.state.image.expect("the image");
    assert_eq!(state.version, 4, "one version per applied command");
    assert!(state.tags.is_empty(), "the tag was added, then removed");
    assert_eq!(state.name.as_deref(), Some("grouped"));
    assert_eq!(count(&grouped, "events").await, 4);
    // Every decision is recorded, the four refusals too (in their savepoints).
    assert_eq!(count(&grouped, "processed_commands").await, 8);
    assert_eq!(count(&alone, "processed_commands").await, 8);
    // Sent again, each command gets the answer it had, refusals included.
    let again = repository(&grouped).apply_group(&refs).await;
    assert_eq!(outcomes(&again), outcomes(&group));
    assert!(again.iter().flatten().all(|applied| applied.replayed));
    assert_eq!(count(&grouped, "events").await, 4);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_command_twice_in_a_group_has_its_effect_once() {
    let db = TestDb::new().await.expect("test database");
    let image = ImageId::generate();
    let create = envelope(owner(), create(image, "twice"));
    let change = envelope(owner(), set_property(image, "k", "v"));
    let group = repository(&db)
        .apply_group(&[&create, &change, &change, &create])
        .await;
    let replayed: Vec<bool> = group
        .iter()
        .map(|r| r.as_ref().expect("applied or replayed").replayed)
        .collect();
    assert_eq!(replayed, [false, false, true, true]);
    assert_eq!(count(&db, "events").await, 2);
    assert_eq!(count(&db, "processed_commands").await, 2);
}

#[derive(QueryableByName)]
struct Waiting {
    #[diesel(sql_type = Bool)]
    waiting: bool,
}

#[derive(QueryableByName)]
struct Version {
    #[diesel(sql_type = BigInt)]
    version: i64,
}

#[tokio::test(flavor = "multi_thread")]
async fn a_command_that_loses_a_race_in_a_group_is_applied_alone_after_it() {
    let db = TestDb::new().await.expect("test database");
    // The group waits on the blocker's row until the test releases it, however long
    // that takes on a loaded machine.
    let repo = patient_repository(&db);
    // Another writer holds the contended image's row: the group's versioned UPDATE
    // waits for it, then finds the version it read gone (a lost race).
    let (contended, calm, mut blocker) = contended_pair(&db, &repo).await;

    let first = envelope(owner(), set_property(contended, "winner", "group"));
    let second = envelope(owner(), set_property(calm, "untouched", "yes"));
    let grouped = {
        let repo = repo.clone();
        let (first, second) = (first.clone(), second.clone());
        tokio::spawn(async move { repo.apply_group(&[&first, &second]).await })
    };
    let mut probe = db.conn().await.expect("probe connection");
    wait_until(
        Duration::from_secs(30),
        "the group waits on the row lock",
        async || {
            diesel::sql_query(
                "SELECT EXISTS (SELECT 1 FROM pg_stat_activity \
             WHERE datname = current_database() AND wait_event_type = 'Lock') AS waiting",
            )
            .get_result::<Waiting>(&mut probe)
            .await
            .is_ok_and(|row| row.waiting)
        },
    )
    .await
    .expect("the group blocked");
    blocker.batch_execute("COMMIT").await.expect("released");

    let results = grouped.await.expect("the group's task");
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    let version = |id: ImageId| {
        let db = &db;
        async move {
            let mut conn = db.conn().await.expect("connection");
            diesel::sql_query(format!("SELECT version FROM images WHERE id = '{id}'"))
                .get_result::<Version>(&mut conn)
                .await
                .expect("version")
                .version
        }
    };
    // Created (1), bumped by the blocker (2), then the property, applied alone (3).
    assert_eq!(version(contended).await, 3);
    assert_eq!(version(calm).await, 2);
    assert_eq!(count(&db, "processed_commands").await, 4);
}

/// Cancels every statement of `db` waiting on a lock: each fails, retryable, as
/// neither a timeout nor a lost connection.
async fn cancel_lock_waiters(db: &TestDb) {
    let mut conn = db.conn().await.expect("connection");
    diesel::sql_query(
        "SELECT count(pg_cancel_backend(pid)) AS n FROM pg_stat_activity \
         WHERE datname = current_database() AND wait_event_type = 'Lock'",
    )
    .execute(&mut conn)
    .await
    .expect("cancelled");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_command_that_fails_alone_after_its_group_holds_back_its_targets_later_ones() {
    let db = TestDb::new().await.expect("test database");
    let repo = patient_repository(&db);
    let (held, calm) = (ImageId::generate(), ImageId::generate());
    for id in [held, calm] {
        repo.apply(&envelope(owner(), create(id, "order")))
            .await
            .expect("created");
    }
    let lock = HeldLock::image_row(db.url(), held.as_uuid())
        .await
        .expect("row held");
    let commands = [
        envelope(owner(), set_property(held, "k", "first")),
        envelope(owner(), set_property(held, "k", "second")),
        envelope(owner(), set_property(calm, "k", "calm")),
    ];
    let group = {
        let (repo, commands) = (repo.clone(), commands.clone());
        tokio::spawn(async move {
            let refs: Vec<&CommandEnvelope> = commands.iter().collect();
            repo.apply_group_within(&refs, Duration::from_secs(600))
                .await
        })
    };
    // In the group the first command waits on the held row; cancelled there, it and
    // its target's second command are left to be applied alone after the group.
    wait_until(
        Duration::from_secs(60),
        "the group waits on the held row",
        async || someone_waits_on_a_lock(&db).await,
    )
    .await
    .expect("the group reached the row");
    cancel_lock_waiters(&db).await;
    // The group commits the calm command; then the first waits on the row alone.
    wait_until(
        Duration::from_secs(60),
        "the first command, alone, waits on the held row",
        async || {
            created(&db, calm)
                .await
                .is_some_and(|image| image.properties.contains_key("k"))
                && someone_waits_on_a_lock(&db).await
        },
    )
    .await
    .expect("the first command was applied alone");
    cancel_lock_waiters(&db).await;
    // Free now: the second command, were it tried, would be applied before the first.
    lock.release().await.expect("released");

    let results = tokio::time::timeout(Duration::from_secs(60), group)
        .await
        .expect("the group is answered")
        .expect("the group's task");
    assert!(results[2].is_ok(), "{results:?}");
    for result in &results[..2] {
        assert!(
            matches!(result, Err(ApplyError::Database(e)) if e.is_transient()),
            "{results:?}"
        );
    }
    let image = created(&db, held).await.expect("the image");
    assert!(
        image.properties.is_empty(),
        "the second command did not overtake the first: {:?}",
        image.properties
    );
}
