//! Refusals are answers (README, "Failures"): a command the domain refuses is replied
//! to and acked, never dead-lettered, and its refusal is recorded under its command id,
//! so a redelivery or a `dlq replay` of it gets the same refusal, even once the state
//! has changed so that it would now succeed.

use std::time::Duration;

use bus::WorkQueue;
use bus::connection::{connect, login_of};
use db::document;
use diesel::QueryableByName;
use diesel::sql_types::{Jsonb, Nullable};
use diesel_async::RunQueryDsl;
use domain::{Actor, Command, CommandId, ImageId, RejectionKind};
use imagefleet_cli::dlq;
use imagefleet_cli::progress::Progress;
use imagefleet_tests::fixtures::*;
use imagefleet_tests::wait::wait_until;
use imagefleet_tests::{BusProbe, TestBus, TestDb, TestWorker};
use lapin::BasicProperties;
use lapin::options::{BasicPublishOptions, ConfirmSelectOptions};
use wire::CommandReply;

use crate::db::repository::count;

const DEADLINE: Duration = Duration::from_secs(30);

#[derive(QueryableByName)]
struct Recorded {
    #[diesel(sql_type = Nullable<Jsonb>)]
    rejection: Option<serde_json::Value>,
}

/// The refusal recorded for `command_id`, if any.
async fn recorded_refusal(db: &TestDb, command_id: CommandId) -> Option<serde_json::Value> {
    let mut conn = db.conn().await.expect("connection");
    diesel::sql_query("SELECT rejection FROM processed_commands WHERE command_id = $1")
        .bind::<diesel::sql_types::Uuid, _>(command_id.as_uuid())
        .get_result::<Recorded>(&mut conn)
        .await
        .ok()
        .and_then(|row| row.rejection)
}

fn refused(reply: &CommandReply) -> RejectionKind {
    match reply {
        CommandReply::Rejected { kind, .. } => *kind,
        other => panic!("not refused: {other:?}"),
    }
}

async fn status(db: &TestDb, image: ImageId) -> String {
    let mut conn = db.conn().await.expect("connection");
    document::image_by_id(&mut conn, image.as_uuid())
        .await
        .expect("read")
        .expect("the image")
        .status
        .as_str()
        .to_owned()
}

/// Messages waiting in `queue` (ready, not taken by a consumer).
async fn depth(bus: &TestBus, queue: &str) -> usize {
    let connection = connect(bus.url(), "refusals-depth")
        .await
        .expect("connection");
    let channel = connection.create_channel().await.expect("channel");
    let depth = dlq::waiting(&channel, queue).await.expect("depth");
    connection.close(0, "done".into()).await.expect("close");
    depth
}

#[tokio::test(flavor = "multi_thread")]
async fn user_errors_are_answered_acked_and_recorded_not_dead_lettered() {
    let db = TestDb::new().await.expect("test database");
    let bus = TestBus::new().await.expect("test bus");
    let worker = TestWorker::start(&db, &bus, "refusals-worker");
    let mut probe = BusProbe::new(&bus).await;
    let image = ImageId::generate();
    let reply = probe
        .send(&envelope(owner(), create(image, "refusals")))
        .await;
    assert!(matches!(reply, CommandReply::Accepted { .. }), "{reply:?}");

    let missing_tag = envelope(owner(), remove_tag(image, "absent"));
    let queued_deactivation = envelope(owner(), Command::DeactivateImage(image_ref(image)));
    let missing_image = envelope(owner(), add_tag(ImageId::generate(), "x"));
    let cases = [
        (&missing_tag, RejectionKind::NotFound),
        (&queued_deactivation, RejectionKind::Forbidden),
        (&missing_image, RejectionKind::NotFound),
    ];
    for (command, kind) in cases {
        assert_eq!(refused(&probe.send(command).await), kind);
        let stored = recorded_refusal(&db, command.command_id)
            .await
            .expect("the refusal is recorded");
        assert_eq!(
            stored["kind"],
            serde_json::to_value(kind).expect("json"),
            "{stored}"
        );
    }
    assert_eq!(
        count(&db, "events").await,
        1,
        "only the creation wrote events"
    );
    // Dead letters are confirmed before the reply goes out: none came.
    let dead = bus.topology().dead_letter_queue(WorkQueue::Commands);
    assert_eq!(
        depth(&bus, &dead).await,
        0,
        "no user error is dead-lettered"
    );
    probe.close().await;
    worker.stop().await;
    // The worker is gone: an unacked delivery would be back in the queue now.
    let commands = bus.topology().queue(WorkQueue::Commands);
    assert_eq!(depth(&bus, &commands).await, 0, "every refusal was acked");
    let retries: usize = {
        let mut total = 0;
        for step in 0..bus.topology().retry_delays().len() {
            total += depth(
                &bus,
                &bus.topology()
                    .shard_retry_queue(WorkQueue::Commands.into(), step),
            )
            .await;
        }
        total
    };
    assert_eq!(retries, 0, "nor retried");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_refused_command_redelivered_or_replayed_later_is_refused_again_though_it_would_now_succeed()
 {
    let db = TestDb::new().await.expect("test database");
    let bus = TestBus::new().await.expect("test bus");
    let worker = TestWorker::start(&db, &bus, "refusals-replay");
    let mut probe = BusProbe::new(&bus).await;
    let image = ImageId::generate();
    let reply = probe
        .send(&envelope(owner(), create(image, "replayed")))
        .await;
    assert!(matches!(reply, CommandReply::Accepted { .. }), "{reply:?}");
    // Deactivating a queued image is refused (403); once the image is active, the same
    // command would be accepted if it were decided again.
    let deactivate = envelope(owner(), Command::DeactivateImage(image_ref(image)));
    assert_eq!(
        refused(&probe.send(&deactivate).await),
        RejectionKind::Forbidden
    );
    // Uploads are completed by the service (the gateway's upload path), not a user.
    for (actor, command) in [
        (owner(), begin_upload(image)),
        (Actor::service(), complete_upload(image, 5)),
    ] {
        let reply = probe.send(&envelope(actor, command)).await;
        assert!(matches!(reply, CommandReply::Accepted { .. }), "{reply:?}");
    }
    assert_eq!(status(&db, image).await, "active");
    let events = count(&db, "events").await;

    // A redelivery: the same message again, answered from the record.
    assert_eq!(
        refused(&probe.send(&deactivate).await),
        RejectionKind::Forbidden
    );
    assert_eq!(status(&db, image).await, "active");

    // A replay by an operator: the message as a dead-letter queue would hold it (an
    // earlier version dead-lettered refusals), moved back by `dlq replay` while no
    // worker runs, then taken by a new worker.
    probe.close().await;
    worker.stop().await;
    let connection = connect(bus.url(), "refusals-operator")
        .await
        .expect("connection");
    let channel = connection.create_channel().await.expect("channel");
    channel
        .confirm_select(ConfirmSelectOptions::default())
        .await
        .expect("confirm mode");
    let topology = bus.topology();
    let properties: BasicProperties = bus::client::properties(&deactivate, &login_of(bus.url()));
    channel
        .basic_publish(
            topology.dead_letter_exchange().into(),
            topology.dead_letter_queue(WorkQueue::Commands).into(),
            BasicPublishOptions::default(),
            &serde_json::to_vec(&deactivate).expect("json"),
            properties,
        )
        .await
        .expect("published")
        .await
        .expect("confirmed");
    let moved = dlq::replay(
        &channel,
        topology,
        &login_of(bus.url()),
        WorkQueue::Commands,
        None,
        None,
        &mut Progress::new("replaying", Vec::new()),
    )
    .await
    .expect("replayed");
    assert_eq!(moved, 1);
    let commands = topology.queue(WorkQueue::Commands);
    // A graceful stop settles what is in flight, and gives back a delivery the worker
    // had taken from the queue but not started yet (under load a stop can fall between
    // the two): afterwards the queue is empty only if the replayed command was
    // processed and acked. A worker that gave it back is followed by another.
    for round in 1.. {
        let worker = TestWorker::start(&db, &bus, "refusals-replay-2");
        wait_until(
            DEADLINE,
            "the worker takes the replayed command",
            async || dlq::waiting(&channel, &commands).await.unwrap_or(1) == 0,
        )
        .await
        .expect("taken");
        worker.stop().await;
        if dlq::waiting(&channel, &commands).await.expect("depth") == 0 {
            break;
        }
        assert!(
            round < 5,
            "five workers in turn gave the command back unprocessed"
        );
    }
    let dead = topology.dead_letter_queue(WorkQueue::Commands);
    assert_eq!(dlq::waiting(&channel, &dead).await.expect("depth"), 0);
    connection.close(0, "done".into()).await.expect("close");
    assert_eq!(status(&db, image).await, "active", "never deactivated");
    assert_eq!(count(&db, "events").await, events, "nothing applied");
}
