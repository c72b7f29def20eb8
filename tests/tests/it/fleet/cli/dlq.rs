//! `imagefleet dlq`: `list` shows dead letters and leaves them in place, `replay` moves
//! them back to their work queue with a clean failure record, `purge` removes exactly
//! the dead letters of the queues named (and nothing without `--yes`), each with
//! progress lines counting to the total.

use std::process::ExitCode;
use std::time::Duration;

use bus::connection::login_of;
use bus::{FailureClass, WorkQueue, headers};
use imagefleet_cli::dlq::{self, DeadLetter, DlqCommand, PurgeArgs};
use imagefleet_cli::exit;
use imagefleet_cli::progress::Progress;
use imagefleet_tests::TestBus;
use lapin::BasicProperties;
use lapin::options::BasicGetOptions;
use lapin::types::AMQPValue;

use super::{amqp_args, channel, dead_letter, dead_letter_of_class, depth, depth_soon, publish};

/// Progress that prints a line for every message, into a buffer.
fn every_message(label: &str) -> Progress<Vec<u8>> {
    Progress::new(label, Vec::new()).with_steps(1, Duration::from_secs(3600))
}

fn lines(progress: Progress<Vec<u8>>) -> Vec<String> {
    let text = String::from_utf8(progress.into_inner()).expect("UTF-8");
    text.lines().map(str::to_owned).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn dlq_list_shows_dead_letters_and_leaves_them() {
    let bus = TestBus::new().await.expect("test bus");
    let (_connection, channel) = channel(&bus).await;
    dead_letter(&bus, &channel, WorkQueue::Commands, "m-1").await;
    dead_letter(&bus, &channel, WorkQueue::Commands, "m-2").await;

    let letters = dlq::list(&channel, bus.topology(), WorkQueue::Commands, 10)
        .await
        .expect("listed");
    let ids: Vec<_> = letters.iter().map(|l| l.message_id.clone()).collect();
    assert_eq!(ids, [Some("m-1".to_owned()), Some("m-2".to_owned())]);
    let first: &DeadLetter = &letters[0];
    assert_eq!(first.attempts, Some(3));
    assert_eq!(first.class.as_deref(), Some("retryable"));
    assert!(
        first
            .reason
            .as_deref()
            .is_some_and(|r| r.contains("database down"))
    );
    assert_eq!(first.body["command_id"], "m-1");
    assert_eq!(first.to_json()["type"], "delete_image");

    // Nothing was removed, and a limit is honoured.
    let dlq_name = bus.topology().dead_letter_queue(WorkQueue::Commands);
    assert_eq!(depth_soon(&channel, &dlq_name, 2).await, 2);
    let again = dlq::list(&channel, bus.topology(), WorkQueue::Commands, 1)
        .await
        .expect("listed again");
    assert_eq!(again.len(), 1);
    assert_eq!(depth_soon(&channel, &dlq_name, 2).await, 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn dlq_replay_moves_dead_letters_back_with_a_clean_record() {
    let bus = TestBus::new().await.expect("test bus");
    let (_connection, channel) = channel(&bus).await;
    for id in ["m-1", "m-2", "m-3"] {
        dead_letter(&bus, &channel, WorkQueue::Commands, id).await;
    }
    let topology = bus.topology();
    let mut progress = every_message("replaying");
    let user = login_of(bus.url());
    let moved = dlq::replay(
        &channel,
        topology,
        &user,
        WorkQueue::Commands,
        None,
        Some(2),
        &mut progress,
    )
    .await
    .expect("replayed");
    assert_eq!(moved, 2);
    assert_eq!(lines(progress), ["replaying: 1 of 2", "replaying: 2 of 2"]);
    let dlq_name = topology.dead_letter_queue(WorkQueue::Commands);
    let commands = topology.queue(WorkQueue::Commands);
    assert_eq!(depth(&channel, &dlq_name).await, 1);
    assert_eq!(depth(&channel, &commands).await, 2);

    // Fewer messages than a step and no time-based line: the clock plays no part.
    let mut progress =
        Progress::new("replaying", Vec::new()).with_steps(1000, Duration::from_secs(3600));
    let moved = dlq::replay(
        &channel,
        topology,
        &user,
        WorkQueue::Commands,
        None,
        None,
        &mut progress,
    )
    .await
    .expect("replayed the rest");
    assert_eq!(moved, 1);
    assert!(lines(progress).is_empty(), "short work prints nothing");
    assert_eq!(depth(&channel, &dlq_name).await, 0);

    let message = channel
        .basic_get(commands.as_str().into(), BasicGetOptions { no_ack: true })
        .await
        .expect("basic.get")
        .expect("a replayed command");
    let properties = &message.delivery.properties;
    let message_id = properties.message_id().as_ref().map(|id| id.to_string());
    assert_eq!(message_id.as_deref(), Some("m-1"));
    assert_eq!(properties.delivery_mode(), &Some(2));
    let table = properties.headers().clone().unwrap_or_default();
    assert!(!table.contains_key(headers::ATTEMPTS), "attempts reset");
    assert!(!table.contains_key(headers::FAILURE_REASON));
    // Signed by the operator, and naming its unidentified producer: workers refuse it.
    let signed = properties.user_id().as_ref().map(|u| u.to_string());
    assert_eq!(signed, Some(user));
    assert_eq!(
        table.inner().get(headers::PRODUCER),
        Some(&AMQPValue::LongString("".into()))
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn dlq_replay_with_a_class_moves_only_that_class_and_keeps_the_others_in_order() {
    let bus = TestBus::new().await.expect("test bus");
    let (_connection, channel) = channel(&bus).await;
    let letters = [
        ("u-1", "unreadable"),
        ("r-1", "retries-exhausted"),
        ("f-1", "forbidden"),
        ("r-2", "retryable"),
        ("u-2", "unreadable"),
    ];
    for (id, class) in letters {
        dead_letter_of_class(&bus, &channel, WorkQueue::Commands, id, class).await;
    }
    let topology = bus.topology();
    let dlq_name = topology.dead_letter_queue(WorkQueue::Commands);
    assert_eq!(depth_soon(&channel, &dlq_name, 5).await, 5);
    let moved = dlq::replay(
        &channel,
        topology,
        &login_of(bus.url()),
        WorkQueue::Commands,
        Some(FailureClass::RetriesExhausted),
        None,
        &mut Progress::new("replaying", Vec::new()),
    )
    .await
    .expect("replayed");
    assert_eq!(
        moved, 2,
        "retries-exhausted and an earlier version's retryable"
    );
    let commands = topology.queue(WorkQueue::Commands);
    assert_eq!(depth_soon(&channel, &commands, 2).await, 2);
    assert_eq!(depth_soon(&channel, &dlq_name, 3).await, 3);
    let left = dlq::list(&channel, topology, WorkQueue::Commands, 10)
        .await
        .expect("listed");
    let ids: Vec<_> = left.iter().filter_map(|l| l.message_id.clone()).collect();
    assert_eq!(
        ids,
        ["u-1", "f-1", "u-2"],
        "the others stay, in their order"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn dlq_purge_removes_exactly_the_dead_letters_named_and_only_with_yes() {
    let bus = TestBus::new().await.expect("test bus");
    let (_connection, channel) = channel(&bus).await;
    let topology = bus.topology();
    for id in ["c-1", "c-2", "c-3"] {
        dead_letter(&bus, &channel, WorkQueue::Commands, id).await;
    }
    dead_letter(&bus, &channel, WorkQueue::Jobs, "j-1").await;
    // A command waiting in the work queue: not a dead letter, never purged.
    let commands = topology.queue(WorkQueue::Commands);
    let waiting = BasicProperties::default().with_delivery_mode(2);
    publish(
        &channel,
        &topology.commands_exchange(),
        &commands,
        b"{}",
        waiting,
    )
    .await;
    let commands_dlq = topology.dead_letter_queue(WorkQueue::Commands);
    let jobs_dlq = topology.dead_letter_queue(WorkQueue::Jobs);

    // Without --yes: refused with its own exit code, nothing removed.
    let refused = PurgeArgs {
        amqp: amqp_args(&bus),
        queues: vec![WorkQueue::Commands, WorkQueue::Jobs],
        limit: None,
        yes: false,
    };
    assert!(dlq::purge::refusal(&refused).contains("--yes"));
    let code = dlq::run(DlqCommand::Purge(refused.clone()))
        .await
        .expect("ran");
    assert_eq!(code, ExitCode::from(exit::NOT_CONFIRMED));
    assert_eq!(depth(&channel, &commands_dlq).await, 3);
    assert_eq!(depth(&channel, &jobs_dlq).await, 1);

    // The oldest one only, with progress counting to the total.
    let mut progress = every_message("purging");
    let removed = dlq::purge(
        &channel,
        topology,
        WorkQueue::Commands,
        Some(1),
        &mut progress,
    )
    .await
    .expect("purged one");
    assert_eq!(removed, 1);
    assert_eq!(lines(progress), ["purging: 1 of 1"]);
    let left = dlq::list(&channel, topology, WorkQueue::Commands, 10)
        .await
        .expect("listed");
    let ids: Vec<_> = left.iter().filter_map(|l| l.message_id.clone()).collect();
    assert_eq!(ids, ["c-2", "c-3"], "the oldest went first");
    assert_eq!(depth_soon(&channel, &commands_dlq, 2).await, 2);

    // With --yes, the commands dead letters only: the jobs DLQ and the work queue keep
    // theirs.
    let confirmed = PurgeArgs {
        queues: vec![WorkQueue::Commands],
        yes: true,
        ..refused
    };
    let code = dlq::run(DlqCommand::Purge(confirmed)).await.expect("ran");
    assert_eq!(code, ExitCode::SUCCESS);
    assert_eq!(depth(&channel, &commands_dlq).await, 0);
    assert_eq!(depth(&channel, &jobs_dlq).await, 1);
    assert_eq!(depth(&channel, &commands).await, 1);

    // An empty queue purges to nothing.
    let mut progress = every_message("purging");
    let removed = dlq::purge(&channel, topology, WorkQueue::Commands, None, &mut progress)
        .await
        .expect("purged nothing");
    assert_eq!(removed, 0);
}
