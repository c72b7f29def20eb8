//! Flow control: RabbitMQ blocks a connection that publishes while a resource alarm
//! (memory, disk) is raised and says so with `connection.blocked`, then
//! `connection.unblocked`. lapin records it in the connection's status and reports it
//! as an event; [`watch_blocking`] turns those events into a value a consumer can wait
//! on and into a [`PublishFlow`] entry that a process's `/readyz` reports, so a worker
//! or gateway that cannot publish says it is not ready instead of timing out silently.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use futures::StreamExt;
use lapin::{Connection, Event};
use tokio::sync::watch;

/// Name of the publishing check in readiness reports.
pub const PUBLISHING: &str = "rabbitmq_publishing";

/// Which of one process's publishing connections the broker blocks now, with its
/// reason; cheap to clone, clones share the state.
#[derive(Debug, Clone, Default)]
pub struct PublishFlow {
    /// Keyed by watch, not by name: a reconnected session reuses its name while the
    /// watch of the connection it replaced may still be winding down.
    blocked: Arc<Mutex<BTreeMap<u64, (String, String)>>>,
}

/// Tells watches apart.
static NEXT_WATCH: AtomicU64 = AtomicU64::new(0);

impl PublishFlow {
    fn update(&self, watch: u64, connection: &str, blocked: Option<String>) {
        let mut map = self.blocked.lock().unwrap_or_else(PoisonError::into_inner);
        match blocked {
            Some(reason) => map.insert(watch, (connection.to_owned(), reason)),
            None => map.remove(&watch),
        };
    }

    /// The blocked connections' names with the broker's reason.
    pub fn blocked(&self) -> Vec<(String, String)> {
        let map = self.blocked.lock().unwrap_or_else(PoisonError::into_inner);
        map.values().cloned().collect()
    }

    /// The result of the [`PUBLISHING`] readiness check: an error naming the blocked
    /// connections while any is blocked.
    pub fn publishing(&self) -> Result<(), String> {
        let blocked = self.blocked();
        if blocked.is_empty() {
            Ok(())
        } else {
            let names: Vec<String> = blocked
                .iter()
                .map(|(name, reason)| format!("{name} ({reason})"))
                .collect();
            Err(format!("blocked by the broker: {}", names.join(", ")))
        }
    }
}

/// Follows `connection`'s blocked state (true while blocked) until the connection is
/// gone or every receiver is dropped, mirroring it into `flow` under `name`.
pub fn watch_blocking(
    connection: &Connection,
    name: &str,
    flow: &PublishFlow,
) -> watch::Receiver<bool> {
    // Listen first, then read the status: a notice between the two is in both.
    let mut events = Box::pin(connection.events_listener());
    let blocked_now = connection.status().blocked();
    let (sender, receiver) = watch::channel(blocked_now);
    let (name, flow) = (name.to_owned(), flow.clone());
    let id = NEXT_WATCH.fetch_add(1, Ordering::Relaxed);
    if blocked_now {
        flow.update(id, &name, Some("blocked".to_owned()));
    }
    tokio::spawn(async move {
        loop {
            let event = tokio::select! {
                () = sender.closed() => break,
                event = events.next() => event,
            };
            let blocked = match event {
                Some(Event::ConnectionBlocked(reason)) => {
                    tracing::warn!(connection = %name, %reason, "RabbitMQ blocks publishing on this connection");
                    Some(reason)
                }
                Some(Event::ConnectionUnblocked) => {
                    tracing::info!(connection = %name, "RabbitMQ unblocked publishing");
                    None
                }
                Some(_) => continue,
                None => break,
            };
            let now = blocked.is_some();
            flow.update(id, &name, blocked);
            sender.send_replace(now);
        }
        // A connection that is gone blocks nothing; its successor reports for itself.
        flow.update(id, &name, None);
        sender.send_replace(false);
    });
    receiver
}
