//! Replayed commands: an applied command sent again (even after later commands changed
//! the image, and with its payload altered under the same id) is answered from its
//! record (`accepted`, `replayed: true`, the result it had) and applies nothing; it is
//! not dead-lettered, since the idempotency contract makes a redelivery a success.

use bus::WorkQueue;
use imagefleet_tests::fixtures::*;
use imagefleet_tests::{BusProbe, TestBus, TestDb, TestWorker};
use wire::CommandReply;

use super::*;

fn accepted(reply: &CommandReply) -> (bool, i64, Vec<String>) {
    match reply {
        CommandReply::Accepted {
            replayed, result, ..
        } => {
            let image = result.image.as_ref().expect("an image result");
            (*replayed, image.version, image.tags.clone())
        }
        other => panic!("not accepted: {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_replayed_command_is_answered_from_its_record_and_applies_nothing() {
    let db = TestDb::new().await.expect("test database");
    let bus = TestBus::new().await.expect("test bus");
    let worker = TestWorker::start(&db, &bus, "hostile-replays");
    let mut probe = BusProbe::new(&bus).await;
    let image = created_image(&mut probe, "replays").await;
    let tagged = envelope(owner(), add_tag(image, "old"));
    let first = probe.send(&tagged).await;
    assert_eq!(accepted(&first), (false, 2, vec!["old".to_owned()]));
    let untagged = probe
        .send(&envelope(owner(), remove_tag(image, "old")))
        .await;
    assert_eq!(accepted(&untagged), (false, 3, vec![]));
    let before = snapshot(&db, image).await;

    // The same message again: the stored answer, the image as that command left it.
    let replay = probe.send(&tagged).await;
    match (&first, &replay) {
        (
            CommandReply::Accepted {
                command_id, result, ..
            },
            CommandReply::Accepted {
                command_id: again,
                replayed: true,
                result: stored,
            },
        ) => {
            assert_eq!(again, command_id);
            assert_eq!(stored, result, "the result it had, not the image now");
        }
        other => panic!("the replay was not answered from its record: {other:?}"),
    }
    // The same id with another payload: still the stored answer, nothing applied.
    let mut altered = tagged.clone();
    altered.command = add_tag(image, "altered");
    let altered = probe.send(&altered).await;
    assert_eq!(accepted(&altered), (true, 2, vec!["old".to_owned()]));

    assert_eq!(snapshot(&db, image).await, before, "nothing changed");
    assert!(
        take_dead_letters(&bus, WorkQueue::Commands, 0)
            .await
            .is_empty(),
        "a replay is answered, not dead-lettered"
    );
    still_flowing(&mut probe, image).await;
    probe.close().await;
    worker.stop().await;
}
