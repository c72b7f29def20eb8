//! Connecting to RabbitMQ. lapin does not reconnect by itself: every long-lived user
//! (consumers, the relay, the command client) calls [`connect_with_backoff`] again when
//! its connection drops, and re-declares the topology on the new one.

use std::time::Duration;

use lapin::{Connection, ConnectionProperties};
use rand::Rng;
use tokio_util::sync::CancellationToken;

/// Longest pause between two connection attempts.
pub const MAX_BACKOFF: Duration = Duration::from_secs(10);

/// The RabbitMQ user `url` logs in as (guest when it names none): the `user_id` a
/// producer on that connection may set, since the broker checks it.
pub fn login_of(url: &str) -> String {
    url.parse::<lapin::uri::AMQPUri>()
        .map(|uri| uri.authority.userinfo.username)
        .unwrap_or_default()
}

/// Opens a connection named `name` (shown in the broker's management UI).
pub async fn connect(url: &str, name: &str) -> Result<Connection, lapin::Error> {
    let properties = ConnectionProperties::default().with_connection_name(name.into());
    Connection::connect(url, properties).await
}

/// Connects, retrying with exponential backoff and jitter until it succeeds or
/// `shutdown` is cancelled (then `None`).
pub async fn connect_with_backoff(
    url: &str,
    name: &str,
    shutdown: &CancellationToken,
) -> Option<Connection> {
    let mut backoff = Duration::from_millis(100);
    loop {
        match connect(url, name).await {
            Ok(connection) => return Some(connection),
            Err(error) => {
                tracing::warn!(%error, retry_in = ?backoff, "cannot connect to RabbitMQ");
            }
        }
        let jitter =
            Duration::from_millis(rand::rng().random_range(0..=backoff.as_millis() as u64 / 2));
        tokio::select! {
            () = shutdown.cancelled() => return None,
            () = tokio::time::sleep(backoff + jitter) => {}
        }
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}
