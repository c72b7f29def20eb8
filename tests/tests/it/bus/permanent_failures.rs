//! A command the database refuses whenever it is tried (here a corrupt record of its
//! command id): dead-lettered at once as `unprocessable` and answered, not retried
//! through the retry queues and dead-lettered as `retries-exhausted`.

use bus::{FailureClass, WorkQueue};
use diesel_async::SimpleAsyncConnection;
use domain::RejectionKind;
use imagefleet_tests::fixtures::*;
use imagefleet_tests::{BusProbe, TestBus, TestDb, TestWorker};

use crate::bus::hostile_bus::{
    created_image, rejected, snapshot, still_flowing, take_dead_letters,
};

#[tokio::test(flavor = "multi_thread")]
async fn a_command_on_a_corrupt_row_is_dead_lettered_at_once_as_unprocessable() {
    let db = TestDb::new().await.expect("test database");
    let bus = TestBus::new().await.expect("test bus");
    let worker = TestWorker::start(&db, &bus, "permanent");
    let mut probe = BusProbe::new(&bus).await;
    let image = created_image(&mut probe, "corrupt").await;
    let command = envelope(owner(), set_property(image, "k", "v"));
    // A record of the command id that decodes as neither a result nor a refusal, as a
    // hand edit or schema drift leaves one: every attempt fails reading it.
    db.conn()
        .await
        .expect("connection")
        .batch_execute(&format!(
            "INSERT INTO processed_commands \
             (command_id, aggregate_id, command_type, result, created_at) \
             VALUES ('{}', '{image}', 'set_property', '{{\"bogus\": true}}', now())",
            command.command_id
        ))
        .await
        .expect("corrupt record");
    let before = snapshot(&db, image).await;

    let reply = probe.send(&command).await;
    assert_eq!(
        rejected("the command on a corrupt row", &reply).0,
        RejectionKind::Conflict
    );
    let dead = take_dead_letters(&bus, WorkQueue::Commands, 1).await;
    assert_eq!(dead.len(), 1, "{dead:?}");
    assert_eq!(dead[0].class, Some(FailureClass::Unprocessable), "{dead:?}");
    assert!(dead[0].reason.contains("does not decode"), "{dead:?}");
    assert_eq!(snapshot(&db, image).await, before, "nothing changed");
    still_flowing(&mut probe, image).await;
    probe.close().await;
    worker.stop().await;
}
