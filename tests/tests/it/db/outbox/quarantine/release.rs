//! The operator's side of the quarantine: `imagefleet outbox` lists a quarantined row
//! with why it failed, `imagefleet outbox retry` releases it (all or nothing) and the
//! relay then publishes it before its image's later events; `imagefleet status` and its
//! JSON count quarantined rows and flag them.

use bus::AmqpArgs;
use diesel_async::RunQueryDsl;
use imagefleet_cli::exit;
use imagefleet_cli::outbox::{list, retry, row_json};
use imagefleet_cli::status::{self, StatusArgs, render};
use imagefleet_tests::wait::wait_until;
use imagefleet_tests::{TestBus, TestDb};
use lapin::types::FieldTable;
use outbox::quarantine::Release;
use uuid::Uuid;

use super::super::{DEADLINE, Running};
use super::{Subscriber, bookkeeping, first_arrivals, good, nacked_rows, relay_config};

#[tokio::test(flavor = "multi_thread")]
async fn outbox_retry_releases_a_quarantined_row_which_goes_out_in_order() {
    let db = TestDb::new().await.expect("test database");
    let bus = TestBus::new().await.expect("test bus");
    let subscriber = Subscriber::new(&bus).await;
    let limited = subscriber.limited("limited").await;
    let image = Uuid::new_v4();
    let nacked = nacked_rows(&db, image).await;
    let behind = nacked + 1;

    let relay = Running::start(relay_config(&db, &bus));
    wait_until(DEADLINE, "the nacked row is quarantined", async || {
        bookkeeping(&db, nacked).await.quarantined
    })
    .await
    .expect("quarantined");

    let rows = list(db.url(), 100).await.expect("outbox list");
    assert_eq!(rows.len(), 1, "{rows:?}");
    let line = row_json(&rows[0]);
    assert_eq!(line["seq"], nacked);
    assert_eq!(line["id"], image.to_string());
    assert_eq!(line["version"], 2);
    assert_eq!(line["event_type"], "image.updated");
    assert_eq!(line["attempts"], 3);
    assert_eq!(line["held_back"], 1, "version 3 waits behind it");
    let error = line["last_error"].as_str().unwrap_or_default();
    assert!(error.contains("nacked"), "{error}");

    // Naming a row that is not quarantined releases nothing.
    let refused = retry(db.url(), &Release::Seqs(vec![nacked, behind])).await;
    let message = format!("{:#}", refused.expect_err("version 3 is not quarantined"));
    assert!(message.contains(&behind.to_string()), "{message}");
    assert!(bookkeeping(&db, nacked).await.quarantined, "all or nothing");

    // The cause is fixed (a queue that takes the event replaces the one refusing it),
    // then the row is released.
    subscriber.queue("plain", FieldTable::default()).await;
    subscriber.delete(&limited).await;
    let released = retry(db.url(), &Release::Seqs(vec![nacked])).await;
    assert_eq!(released.expect("released"), [nacked]);
    wait_until(DEADLINE, "versions 2 and 3 are published", async || {
        bookkeeping(&db, behind).await.published
    })
    .await
    .expect("the released row and the one behind it go out");
    wait_until(DEADLINE, "the subscriber has all three", async || {
        first_arrivals(&subscriber.versions(image)).len() == 3
    })
    .await
    .expect("received");
    assert_eq!(first_arrivals(&subscriber.versions(image)), [1, 2, 3]);
    let row = bookkeeping(&db, nacked).await;
    assert!(row.published && !row.quarantined, "{row:?}");
    assert!(list(db.url(), 100).await.expect("list").is_empty());
    relay.stop().await;
    subscriber.close().await;
}

fn status_args(db: &TestDb, bus: &TestBus) -> StatusArgs {
    StatusArgs {
        amqp: AmqpArgs {
            amqp_url: bus.url().to_owned(),
            topology_prefix: bus.topology().prefix().to_owned(),
            command_shards: bus.topology().command_shards(),
        },
        database_url: db.url().to_owned(),
        max_outbox_lag: 3600.0,
        timeout: 5.0,
        json: false,
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn status_counts_and_flags_quarantined_outbox_rows() {
    let db = TestDb::new().await.expect("test database");
    let bus = TestBus::new().await.expect("test bus");
    let image = Uuid::new_v4();
    good(&db, image, 1).await;
    let seq = good(&db, image, 2).await;
    good(&db, image, 3).await;
    // As the relay leaves a row it gave up on; the append-only trigger allows it.
    let mut conn = db.conn().await.expect("connection");
    diesel::sql_query(
        "UPDATE events SET publish_attempts = 5, last_error = 'nacked', \
         last_attempt_at = now(), quarantined_at = now() WHERE seq = $1",
    )
    .bind::<diesel::sql_types::BigInt, _>(seq)
    .execute(&mut conn)
    .await
    .expect("quarantine a row");

    let args = status_args(&db, &bus);
    let report = status::gather(&args).await.expect("status");
    let database = report.database.as_ref().expect("Postgres reached");
    let outbox = database.outbox.as_ref().expect("outbox read");
    assert_eq!((outbox.unpublished, outbox.quarantined), (3, 1));
    let attention = report.attention();
    let flagged: Vec<&String> = attention
        .iter()
        .filter(|a| a.contains("quarantined"))
        .collect();
    assert_eq!(flagged.len(), 1, "{attention:?}");
    assert!(
        flagged[0].contains("imagefleet outbox retry"),
        "{}",
        flagged[0]
    );
    assert_eq!(report.exit_code(), exit::ATTENTION);
    assert!(render::table(&report).contains("1 quarantined"));
    let json = render::json(&report);
    assert_eq!(json["postgres"]["outbox"]["quarantined"], 1);

    assert_eq!(
        retry(db.url(), &Release::All).await.expect("retry --all"),
        [seq]
    );
    let report = status::gather(&args).await.expect("status");
    let database = report.database.as_ref().expect("Postgres reached");
    assert_eq!(database.outbox.as_ref().expect("outbox").quarantined, 0);
    assert!(!report.attention().iter().any(|a| a.contains("quarantined")));
}
