//! The optimistic-locking repository against a real Postgres: each command path writes
//! the state, the events and the processed command in one transaction; reads return
//! what was written.

use apply::{ApplyError, Repository};
use db::document;
use diesel::QueryableByName;
use diesel::sql_types::BigInt;
use diesel_async::RunQueryDsl;
use domain::{Command, DomainConfig, ImageId, ImageStatus, RejectionKind};
use imagefleet_tests::TestDb;
use imagefleet_tests::fixtures::*;

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// Rows in `table` (a fixed, trusted name).
pub async fn count(db: &TestDb, table: &str) -> i64 {
    let mut conn = db.conn().await.expect("connection");
    let row: Count = diesel::sql_query(format!("SELECT count(*) AS n FROM {table}"))
        .get_result(&mut conn)
        .await
        .expect("count");
    row.n
}

fn repository(db: &TestDb) -> Repository {
    Repository::new(db.pool().clone(), DomainConfig::default())
}

#[tokio::test(flavor = "multi_thread")]
async fn upload_lifecycle_writes_state_events_and_history() {
    let db = TestDb::new().await.expect("test database");
    let repo = repository(&db);
    let id = ImageId::generate();
    let steps = [
        (
            owner(),
            create(id, "cirros"),
            ImageStatus::Queued,
            "image.queued",
        ),
        (
            owner(),
            set_property(id, "os_distro", "cirros"),
            ImageStatus::Queued,
            "image.updated",
        ),
        (
            owner(),
            add_tag(id, "small"),
            ImageStatus::Queued,
            "image.updated",
        ),
        (
            owner(),
            begin_upload(id),
            ImageStatus::Saving,
            "image.saving",
        ),
        (
            domain::Actor::service(),
            complete_upload(id, 1024),
            ImageStatus::Active,
            "image.active",
        ),
    ];
    for (version, (actor, command, status, key)) in (1..).zip(steps) {
        let applied = repo
            .apply(&envelope(actor, command))
            .await
            .expect("accepted");
        let image = applied.result.image.expect("image in the result");
        assert_eq!((image.version, image.status), (version, status));
        assert_eq!(applied.result.events.len(), 1);
        assert_eq!(applied.result.events[0].routing_key, key);
        let mut conn = db.conn().await.expect("connection");
        let stored = document::image_by_id(&mut conn, id.as_uuid())
            .await
            .expect("read");
        assert_eq!(
            stored.as_ref(),
            Some(&image),
            "a read returns what was written"
        );
    }
    assert_eq!(count(&db, "events").await, 5);
    assert_eq!(count(&db, "processed_commands").await, 5);
    assert_eq!(count(&db, "image_tags").await, 1);
    assert_eq!(count(&db, "image_properties").await, 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_command_for_a_missing_image_is_not_found_and_writes_only_its_refusal() {
    let db = TestDb::new().await.expect("test database");
    let repo = repository(&db);
    let missing = ImageId::generate();
    let command = envelope(owner(), Command::DeactivateImage(image_ref(missing)));
    for _ in 0..2 {
        let err = repo
            .apply(&command)
            .await
            .expect_err("nothing to deactivate");
        assert!(
            matches!(err, ApplyError::Rejected(ref r) if r.kind == RejectionKind::NotFound),
            "{err:?}"
        );
    }
    for table in ["images", "events"] {
        assert_eq!(count(&db, table).await, 0, "{table} stays empty");
    }
    assert_eq!(
        count(&db, "processed_commands").await,
        1,
        "the refusal is recorded once"
    );
}
