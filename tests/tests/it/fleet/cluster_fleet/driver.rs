//! The driver: producers that keep creating images and setting a property on each,
//! through the gateway's `CommandClient`, every command re-sent under its own command
//! id until a reply comes (as a real producer does), and the ledger of what they sent
//! and when each was answered.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use bus::client::CommandClient;
use domain::ImageId;
use imagefleet_tests::fixtures::{create, envelope, owner, set_property};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;
use wire::CommandReply;

/// How long one send waits for its reply before the command is sent again.
const SEND_TIMEOUT: Duration = Duration::from_secs(3);

/// Pause after a send that failed at once (no broker reachable), before the next.
const RESEND_PAUSE: Duration = Duration::from_millis(100);

/// The property every driven image gets; its value names the command.
pub const PROPERTY: &str = "cluster_probe";

/// One command of the driver.
#[derive(Debug, Clone)]
pub struct Sent {
    /// Its command id.
    pub command_id: Uuid,
    /// The image it addresses.
    pub image: Uuid,
    /// The property value it sets (None: the create).
    pub value: Option<String>,
    /// When it was first sent.
    pub issued: Instant,
    /// Sends, the first included.
    pub sends: u32,
    /// When its reply (an acceptance) came.
    pub answered: Option<Instant>,
    /// A refusal or an error no retry helps, if one came instead.
    pub failed: Option<String>,
}

/// Everything the drivers sent, shared with the test.
#[derive(Debug, Default, Clone)]
pub struct Ledger(Arc<Mutex<Vec<Sent>>>);

impl Ledger {
    /// The records, locked.
    pub fn sent(&self) -> MutexGuard<'_, Vec<Sent>> {
        // Every update is one field of one record: a panic leaves nothing half-done.
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Commands answered so far.
    pub fn answered(&self) -> usize {
        self.sent().iter().filter(|s| s.answered.is_some()).count()
    }

    /// Commands first sent at or after `since` and answered.
    pub fn answered_after(&self, since: Instant) -> usize {
        self.sent()
            .iter()
            .filter(|s| s.issued >= since && s.answered.is_some())
            .count()
    }

    /// The earliest reply to a command first sent at or after `since`.
    pub fn first_answer_after(&self, since: Instant) -> Option<Instant> {
        self.sent()
            .iter()
            .filter(|s| s.issued >= since)
            .filter_map(|s| s.answered)
            .min()
    }

    fn update(&self, index: usize, change: impl FnOnce(&mut Sent)) {
        if let Some(sent) = self.sent().get_mut(index) {
            change(sent);
        }
    }
}

/// Drives until `stop`: a new image, then a property on it, each command sent until it
/// is answered. The command in flight when `stop` comes is still seen through.
pub async fn drive(client: CommandClient, ledger: Ledger, driver: usize, stop: CancellationToken) {
    for n in 0u64.. {
        if stop.is_cancelled() {
            return;
        }
        let image = ImageId::generate();
        let name = format!("cluster-{driver}-{n}");
        if !see_through(&client, &ledger, image, create(image, &name), None).await {
            continue;
        }
        let value = format!("{driver}-{n}");
        let command = set_property(image, PROPERTY, &value);
        see_through(&client, &ledger, image, command, Some(value)).await;
    }
}

/// Sends `command` until it is answered; true when it was accepted.
async fn see_through(
    client: &CommandClient,
    ledger: &Ledger,
    image: ImageId,
    command: domain::Command,
    value: Option<String>,
) -> bool {
    let envelope = envelope(owner(), command);
    let index = {
        let mut sent = ledger.sent();
        sent.push(Sent {
            command_id: envelope.command_id.as_uuid(),
            image: image.as_uuid(),
            value,
            issued: Instant::now(),
            sends: 0,
            answered: None,
            failed: None,
        });
        sent.len() - 1
    };
    loop {
        ledger.update(index, |s| s.sends += 1);
        let started = Instant::now();
        match client.send(&envelope, SEND_TIMEOUT).await {
            Ok(CommandReply::Accepted { .. }) => {
                let now = Instant::now();
                ledger.update(index, |s| s.answered = Some(now));
                return true;
            }
            Ok(CommandReply::Rejected { kind, message, .. }) => {
                let why = format!("refused ({kind:?}): {message}");
                ledger.update(index, |s| s.failed = Some(why));
                return false;
            }
            Err(error) if error.is_retryable() => {
                // A send that failed at once (every node refused) must not spin.
                if started.elapsed() < RESEND_PAUSE {
                    tokio::time::sleep(RESEND_PAUSE).await;
                }
            }
            Err(error) => {
                let why = error.to_string();
                ledger.update(index, |s| s.failed = Some(why));
                return false;
            }
        }
    }
}
