//! A command on an image whose row another session changes without pause: the first
//! attempt may lose its optimistic race, the retry reads under the row lock and cannot
//! lose again, so the command is applied instead of being refused for contention.

use std::time::Duration;

use diesel::sql_types::Uuid as SqlUuid;
use diesel_async::RunQueryDsl;
use tokio_util::sync::CancellationToken;

use apply::Repository;
use db::document;
use domain::{DomainConfig, ImageId};
use imagefleet_tests::TestDb;
use imagefleet_tests::fixtures::*;
use imagefleet_tests::wait::wait_until;

const COMMANDS: usize = 20;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_command_on_a_row_changed_without_pause_is_applied_by_its_second_attempt() {
    let db = TestDb::new().await.expect("test database");
    let repo = Repository::new(db.pool().clone(), DomainConfig::default());
    let image = ImageId::generate();
    repo.apply(&envelope(owner(), create(image, "busy")))
        .await
        .expect("created");

    // The competitor raises the version in autocommit updates, as fast as Postgres
    // takes them: without the row lock, a read and its versioned write ~1 ms apart
    // lose to it again and again.
    let stop = CancellationToken::new();
    let mut conn = db.conn().await.expect("connection");
    let competitor = tokio::spawn({
        let stop = stop.clone();
        async move {
            let mut bumps = 0u64;
            while !stop.is_cancelled() {
                diesel::sql_query("UPDATE images SET version = version + 1 WHERE id = $1")
                    .bind::<SqlUuid, _>(image.as_uuid())
                    .execute(&mut conn)
                    .await
                    .expect("bump");
                bumps += 1;
            }
            bumps
        }
    });
    let mut reader = db.conn().await.expect("connection");
    wait_until(
        Duration::from_secs(10),
        "the competitor changed the row",
        async || {
            document::image_by_id(&mut reader, image.as_uuid())
                .await
                .ok()
                .flatten()
                .is_some_and(|read| read.version > 1)
        },
    )
    .await
    .expect("the competitor runs");

    for n in 0..COMMANDS {
        let command = envelope(owner(), set_property(image, &format!("k{n}"), "v"));
        let applied = repo
            .apply(&command)
            .await
            .unwrap_or_else(|e| panic!("command {n} refused on a busy row: {e}"));
        assert!(
            applied.attempts <= 2,
            "command {n} took {} attempts: the retry must hold the row lock",
            applied.attempts
        );
        assert_eq!(
            applied.result.events.len(),
            1,
            "command {n} changed the image"
        );
    }
    stop.cancel();
    let bumps = competitor.await.expect("competitor");
    assert!(bumps > 0, "the competitor ran");
}
