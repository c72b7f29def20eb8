//! Connecting to RabbitMQ. `IMAGEFLEET_AMQP_URL` may name one node or a comma-separated
//! list of a cluster's nodes: [`connect`] tries them in order and keeps the first that
//! answers, so every client (gateway, workers' consumers and publishers, relay, CLI)
//! moves on to the next node when one is down. lapin does not reconnect by itself:
//! every long-lived user calls [`connect_with_backoff`] again when its connection drops,
//! and re-declares the topology on the new one.

use std::sync::Arc;
use std::time::Duration;

use lapin::{Connection, ConnectionProperties};
use rand::Rng;
use tokio_util::sync::CancellationToken;

/// Longest pause between two rounds of connection attempts.
pub const MAX_BACKOFF: Duration = Duration::from_secs(10);

/// Longest one node may take to accept a connection before the next is tried: a node
/// whose host vanished answers nothing, and TCP alone would wait minutes.
pub const NODE_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// The node URLs of a comma-separated list, in order, blanks left out.
pub fn node_urls(urls: &str) -> Vec<&str> {
    urls.split(',')
        .map(str::trim)
        .filter(|url| !url.is_empty())
        .collect()
}

/// The RabbitMQ user the (first) node URL logs in as (guest when it names none): the
/// `user_id` a producer on that connection may set, since the broker checks it. A
/// cluster's nodes share their users.
pub fn login_of(urls: &str) -> String {
    node_urls(urls)
        .first()
        .and_then(|url| url.parse::<lapin::uri::AMQPUri>().ok())
        .map(|uri| uri.authority.userinfo.username)
        .unwrap_or_default()
}

/// Where a node URL points, without its credentials, for logs.
fn node_label(url: &str) -> String {
    url.parse::<lapin::uri::AMQPUri>()
        .map(|uri| format!("{}:{}", uri.authority.host, uri.authority.port))
        .unwrap_or_else(|_| "an unreadable URL".to_owned())
}

/// Opens a connection named `name` (shown in the broker's management UI) to the first
/// node of `urls` that answers within [`NODE_CONNECT_TIMEOUT`]; the error is the last
/// node's when none does.
pub async fn connect(urls: &str, name: &str) -> Result<Connection, lapin::Error> {
    let properties = ConnectionProperties::default().with_connection_name(name.into());
    let nodes = node_urls(urls);
    if nodes.is_empty() {
        // lapin's own parse error says what is wrong with the (empty) URL.
        return Connection::connect(urls, properties).await;
    }
    let mut last_error = None;
    for node in nodes {
        let attempt = Connection::connect(node, properties.clone());
        let error = match tokio::time::timeout(NODE_CONNECT_TIMEOUT, attempt).await {
            Ok(Ok(connection)) => return Ok(connection),
            Ok(Err(error)) => error,
            Err(_) => lapin::ErrorKind::IOError(Arc::new(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                format!("no answer within {NODE_CONNECT_TIMEOUT:?}"),
            )))
            .into(),
        };
        tracing::debug!(node = %node_label(node), %error, "RabbitMQ node does not answer; trying the next");
        last_error = Some(error);
    }
    Err(last_error.unwrap_or_else(|| {
        lapin::ErrorKind::InvalidConnectionState(lapin::ConnectionState::Closed).into()
    }))
}

/// Connects, retrying every node in turn with exponential backoff and jitter between
/// rounds, until it succeeds or `shutdown` is cancelled (then `None`).
pub async fn connect_with_backoff(
    urls: &str,
    name: &str,
    shutdown: &CancellationToken,
) -> Option<Connection> {
    let mut backoff = Duration::from_millis(100);
    loop {
        let attempt = tokio::select! {
            () = shutdown.cancelled() => return None,
            attempt = connect(urls, name) => attempt,
        };
        match attempt {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_list_of_nodes_is_split_in_order_without_blanks() {
        assert_eq!(
            node_urls(" amqp://a:5672/%2f , ,amqp://b:5673/%2f,"),
            ["amqp://a:5672/%2f", "amqp://b:5673/%2f"]
        );
        assert_eq!(node_urls("amqp://a"), ["amqp://a"]);
    }

    #[test]
    fn the_login_is_the_first_nodes_user() {
        assert_eq!(
            login_of("amqp://ops:secret@a:5672/%2f,amqp://other:x@b:5672/%2f"),
            "ops"
        );
    }

    #[test]
    fn a_node_label_hides_credentials() {
        assert_eq!(node_label("amqp://ops:secret@a:5673/%2f"), "a:5673");
    }
}
