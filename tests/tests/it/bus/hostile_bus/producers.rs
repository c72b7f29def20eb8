//! Commands from producers the workers do not trust: an unknown RabbitMQ user claiming
//! an admin actor, a message with no `user_id`, a user forging another's `user_id`
//! (the broker refuses it), a gateway sending the fleet's own commands or pretending
//! to forward, and `dlq replay` of what was refused (refused again: a replay is judged
//! as its original producer).

use bus::connection::{connect, login_of};
use bus::intake::{IntakePolicy, ProducerClass, TrustedProducer};
use bus::{WorkQueue, headers};
use domain::{Command, RejectionKind};
use imagefleet_cli::dlq;
use imagefleet_cli::progress::Progress;
use imagefleet_tests::fixtures::*;
use imagefleet_tests::wait::wait_until;
use imagefleet_tests::{BusProbe, PROBE_DEADLINE, TestBus, TestDb, TestUser, TestWorker};
use lapin::options::{BasicPublishOptions, ConfirmSelectOptions};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{BasicProperties, Channel, Connection};
use wire::{CommandEnvelope, CommandReply};

use super::*;

/// Waits until `queue` holds exactly `count` ready messages, by [`PROBE_DEADLINE`]:
/// a quorum queue takes nacked or dead-lettered messages in through its log, so a
/// depth settles a moment after the action that changed it.
async fn until_waiting(channel: &Channel, queue: &str, count: usize, what: &str) {
    wait_until(PROBE_DEADLINE, what, async || {
        dlq::waiting(channel, queue).await.unwrap_or(0) == count
    })
    .await
    .unwrap_or_else(|e| panic!("{e}"));
}

/// A producer logged in as `user`, which may only write to the test's commands exchange.
async fn producer_connection(bus: &TestBus, user: &TestUser) -> (Connection, Channel) {
    let connection = connect(&user.url(bus.url()), "hostile-producer")
        .await
        .expect("the test user connects");
    let channel = connection.create_channel().await.expect("channel");
    channel
        .confirm_select(ConfirmSelectOptions::default())
        .await
        .expect("confirm mode");
    (connection, channel)
}

/// Publishes `command` on `channel` with `properties`, answered to `probe`; the result
/// of the broker's confirm (an error when it closed the channel instead).
async fn publish_as(
    channel: &Channel,
    bus: &TestBus,
    probe: &BusProbe,
    name: &str,
    command: &CommandEnvelope,
    properties: BasicProperties,
) -> Result<(), lapin::Error> {
    let properties = properties
        .with_content_type("application/json".into())
        .with_reply_to(probe.reply_queue().into())
        .with_correlation_id(name.into());
    let body = serde_json::to_vec(command).expect("json");
    channel
        .basic_publish(
            bus.topology().commands_exchange().into(),
            bus.topology().queue(WorkQueue::Commands).into(),
            BasicPublishOptions::default(),
            &body,
            properties,
        )
        .await?
        .await
        .map(drop)
}

/// The test user's permission: writing to this test's commands exchange only.
fn commands_only(bus: &TestBus) -> String {
    format!(
        "^{}$",
        bus.topology().commands_exchange().replace('.', "\\.")
    )
}

fn forwarding(original: &str) -> BasicProperties {
    let mut table = FieldTable::default();
    table.insert(
        headers::PRODUCER.into(),
        AMQPValue::LongString(original.into()),
    );
    BasicProperties::default().with_headers(table)
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unknown_producer_is_refused_whatever_actor_it_claims_and_replays_stay_refused() {
    let db = TestDb::new().await.expect("test database");
    let bus = TestBus::new().await.expect("test bus");
    let mallory = TestUser::new("hostile_mallory", "/", &commands_only(&bus)).expect("user");
    // The default policy: only the worker's own user (guest) is trusted.
    let worker = TestWorker::start(&db, &bus, "hostile-producers");
    let mut probe = BusProbe::new(&bus).await;
    let image = created_image(&mut probe, "producers").await;
    let before = snapshot(&db, image).await;

    let (connection, channel) = producer_connection(&bus, &mallory).await;
    let signed = BasicProperties::default().with_user_id(mallory.name().into());
    let forged_admin = harmful(image, "forged-admin");
    let delete = envelope(admin(), Command::DeleteImage(image_ref(image)));
    let cases = [
        ("forged admin", &forged_admin, signed.clone()),
        ("delete", &delete, signed),
        (
            "unsigned",
            &harmful(image, "unsigned"),
            BasicProperties::default(),
        ),
    ];
    for (name, command, properties) in &cases {
        publish_as(&channel, &bus, &probe, name, command, properties.clone())
            .await
            .expect("the broker takes what the user signs as itself");
    }
    // A reply_to naming one of the fleet's queues (a retry queue nobody consumes) would
    // have the worker write into it: the refusal is dead-lettered but not answered.
    let topology = bus.topology();
    let retry = topology.shard_retry_queue(WorkQueue::Commands.into(), 2);
    let aimed = BasicProperties::default()
        .with_user_id(mallory.name().into())
        .with_content_type("application/json".into())
        .with_reply_to(retry.as_str().into());
    let body = serde_json::to_vec(&harmful(image, "aimed")).expect("json");
    channel
        .basic_publish(
            topology.commands_exchange().into(),
            topology.queue(WorkQueue::Commands).into(),
            BasicPublishOptions::default(),
            &body,
            aimed,
        )
        .await
        .expect("published")
        .await
        .expect("confirmed");
    let letters = cases.len() + 1;
    let answers = replies(&mut probe, cases.len()).await;
    for (name, _, _) in &cases {
        let (kind, command_id) = rejected(name, &answers[*name]);
        assert_eq!(kind, RejectionKind::Forbidden, "{name}");
        assert_eq!(command_id, None, "{name}: refused before it was read");
    }
    // The broker validates user_id: signing as the trusted user is refused at the door
    // (the channel is closed), so the message never reaches a worker.
    let forged_user = BasicProperties::default().with_user_id("guest".into());
    let refused = publish_as(&channel, &bus, &probe, "forged", &forged_admin, forged_user).await;
    assert!(refused.is_err(), "the broker took a forged user_id");
    let _ = connection.close(0, "done".into()).await;

    // Dead-lettered with their reasons (listed, left in place). A worker answers after
    // dead-lettering, so once every letter is there, any reply was sent.
    let operator = connect(bus.url(), "hostile-operator")
        .await
        .expect("operator");
    let operator_channel = operator.create_channel().await.expect("channel");
    let dlq_name = topology.dead_letter_queue(WorkQueue::Commands);
    until_waiting(
        &operator_channel,
        &dlq_name,
        letters,
        "every refusal is dead-lettered",
    )
    .await;
    let in_retry = dlq::waiting(&operator_channel, &retry)
        .await
        .expect("depth");
    assert_eq!(in_retry, 0, "no reply was written into the fleet's queue");
    let listed = dlq::list(&operator_channel, topology, WorkQueue::Commands, 10)
        .await
        .expect("listed");
    let reasons: Vec<String> = listed.iter().filter_map(|d| d.reason.clone()).collect();
    assert_eq!(reasons.len(), letters, "{reasons:?}");
    assert_eq!(
        reasons
            .iter()
            .filter(|r| r.contains("is not trusted"))
            .count(),
        3,
        "{reasons:?}"
    );
    assert!(
        reasons.iter().any(|r| r.contains("no user_id")),
        "{reasons:?}"
    );
    assert_eq!(snapshot(&db, image).await, before, "nothing changed");

    // The listing handed the letters back with nack(requeue): a quorum queue takes them
    // back through its log, so they are ready again only a moment later.
    until_waiting(
        &operator_channel,
        &dlq_name,
        letters,
        "the listed letters are back in the dead-letter queue",
    )
    .await;

    // An operator replays them (as guest, a trusted operator): each is judged as the
    // producer it first came from, refused again, and changes nothing.
    let mut progress = Progress::new("replaying", Vec::new());
    let moved = dlq::replay(
        &operator_channel,
        topology,
        &login_of(bus.url()),
        WorkQueue::Commands,
        Some(bus::FailureClass::Forbidden),
        None,
        &mut progress,
    )
    .await
    .expect("replayed");
    assert_eq!(moved, letters);
    until_waiting(
        &operator_channel,
        &dlq_name,
        letters,
        "the replays are refused again",
    )
    .await;
    operator.close(0, "done".into()).await.expect("close");
    let again = take_dead_letters(&bus, WorkQueue::Commands, letters).await;
    assert!(
        again
            .iter()
            .all(|d| d.class == Some(FailureClass::Forbidden)),
        "{again:?}"
    );
    let mut producers: Vec<_> = again.iter().map(|d| d.producer.clone()).collect();
    producers.sort();
    let mallory_name = Some(mallory.name().to_owned());
    assert_eq!(
        producers,
        [
            Some(String::new()),
            mallory_name.clone(),
            mallory_name.clone(),
            mallory_name
        ]
    );
    assert!(
        again
            .iter()
            .all(|d| d.reason.contains("is not trusted")
                || d.reason.contains("unidentified producer")),
        "{again:?}"
    );
    assert_eq!(
        snapshot(&db, image).await,
        before,
        "the replays changed nothing"
    );
    still_flowing(&mut probe, image).await;
    probe.close().await;
    worker.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_gateway_sends_user_facing_commands_only_and_cannot_forward() {
    let db = TestDb::new().await.expect("test database");
    let bus = TestBus::new().await.expect("test bus");
    let gateway = TestUser::new("hostile_gateway", "/", &commands_only(&bus)).expect("user");
    let intake = IntakePolicy {
        trusted: vec![TrustedProducer {
            user: gateway.name().to_owned(),
            class: ProducerClass::Gateway,
        }],
        ..IntakePolicy::default()
    };
    let worker = TestWorker::start_trusting(&db, &bus, "hostile-gateway", intake);
    let mut probe = BusProbe::new(&bus).await;
    let (connection, channel) = producer_connection(&bus, &gateway).await;
    let signed = || BasicProperties::default().with_user_id(gateway.name().into());

    let image = domain::ImageId::generate();
    let created = envelope(owner(), create(image, "gateway"));
    publish_as(&channel, &bus, &probe, "create", &created, signed())
        .await
        .expect("published");
    let reply = probe.reply().await.reply;
    assert!(matches!(reply, CommandReply::Accepted { .. }), "{reply:?}");
    let before = snapshot(&db, image).await;

    let purge = envelope(admin(), Command::PurgeImage(image_ref(image)));
    let forwarded = harmful(image, "forwarded");
    let guest = login_of(bus.url());
    let forwarding = forwarding(&guest).with_user_id(gateway.name().into());
    publish_as(&channel, &bus, &probe, "purge", &purge, signed())
        .await
        .expect("published");
    publish_as(&channel, &bus, &probe, "forward", &forwarded, forwarding)
        .await
        .expect("published");
    let answers = replies(&mut probe, 2).await;
    let (kind, command_id) = rejected("purge", &answers["purge"]);
    assert_eq!(kind, RejectionKind::Forbidden);
    assert_eq!(command_id, Some(purge.command_id), "read, then refused");
    assert_eq!(
        rejected("forward", &answers["forward"]).0,
        RejectionKind::Forbidden
    );
    let _ = connection.close(0, "done".into()).await;

    let dead = take_dead_letters(&bus, WorkQueue::Commands, 2).await;
    assert_eq!(dead.len(), 2, "{dead:?}");
    assert!(
        dead.iter()
            .all(|d| d.class == Some(FailureClass::Forbidden)),
        "{dead:?}"
    );
    assert!(
        dead.iter()
            .any(|d| d.reason.contains("may not send purge_image"))
    );
    assert!(dead.iter().any(|d| d.reason.contains("may not forward")));
    // A gateway's claim to forward is not believed: the letter names the gateway.
    assert!(
        dead.iter()
            .all(|d| d.producer.as_deref() == Some(gateway.name())),
        "{dead:?}"
    );
    assert_eq!(snapshot(&db, image).await, before, "nothing changed");
    still_flowing(&mut probe, image).await;
    probe.close().await;
    worker.stop().await;
}
