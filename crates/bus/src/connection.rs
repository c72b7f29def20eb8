//! Connecting to RabbitMQ. `IMAGEFLEET_AMQP_URL` may name one node or a comma-separated
//! list of a cluster's nodes: [`connect`] tries them in order and keeps the first that
//! answers, so every client (gateway, workers' consumers and publishers, relay, CLI)
//! moves on to the next node when one is down. lapin does not reconnect by itself:
//! every long-lived user calls [`connect_with_backoff`] again when its connection drops,
//! and re-declares the topology on the new one.
//!
//! Every connection asks for an AMQP heartbeat of [`DEFAULT_HEARTBEAT`] seconds unless
//! its URL names one (`?heartbeat=N`). A peer that went silent without closing (a lost
//! host, a partition) is then noticed within two heartbeats on both sides: lapin closes
//! a connection that read nothing for two intervals, and the broker closes one whose
//! heartbeats stopped, requeuing its unacknowledged deliveries. Without it lapin takes
//! the broker's suggestion (60 s on RabbitMQ), and a hung connection goes unnoticed for
//! two minutes, its deliveries held and its callers waiting.

use std::sync::Arc;
use std::time::Duration;

use lapin::uri::AMQPUri;
use lapin::{Connection, ConnectionProperties};

use crate::backoff::Backoff;
use tokio_util::sync::CancellationToken;

/// Longest pause between two rounds of connection attempts.
pub const MAX_BACKOFF: Duration = Duration::from_secs(10);

/// Longest one node may take to accept a connection before the next is tried: a node
/// whose host vanished answers nothing, and TCP alone would wait minutes.
pub const NODE_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// The AMQP heartbeat, in seconds, a connection asks for when its URL names none: short
/// enough that a hung connection is dropped (and its deliveries requeued) within about
/// 20 s, long enough that a busy or paused process does not miss two in a row. The
/// broker and lapin settle on the lower of the two sides' values.
pub const DEFAULT_HEARTBEAT: u16 = 10;

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
        let attempt = open(node, properties.clone());
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

/// Connects to one node, with [`DEFAULT_HEARTBEAT`] unless its URL names a heartbeat.
async fn open(node: &str, properties: ConnectionProperties) -> Result<Connection, lapin::Error> {
    match node.parse::<AMQPUri>() {
        Ok(uri) => Connection::connect_uri(with_heartbeat(uri), properties).await,
        // lapin's own parse error says what is wrong with the URL.
        Err(_) => Connection::connect(node, properties).await,
    }
}

/// `uri` asking for [`DEFAULT_HEARTBEAT`] when it names no heartbeat of its own.
fn with_heartbeat(mut uri: AMQPUri) -> AMQPUri {
    uri.query.heartbeat.get_or_insert(DEFAULT_HEARTBEAT);
    uri
}

/// Connects, retrying every node in turn with a [`Backoff`] between rounds, until it succeeds or `shutdown` is cancelled (then `None`).
pub async fn connect_with_backoff(
    urls: &str,
    name: &str,
    shutdown: &CancellationToken,
) -> Option<Connection> {
    let mut backoff = Backoff::new();
    loop {
        let attempt = tokio::select! {
            () = shutdown.cancelled() => return None,
            attempt = connect(urls, name) => attempt,
        };
        let error = match attempt {
            Ok(connection) => return Some(connection),
            Err(error) => error,
        };
        let pause = backoff.next_pause();
        tracing::warn!(%error, retry_in = ?pause, "cannot connect to RabbitMQ");
        tokio::select! {
            () = shutdown.cancelled() => return None,
            () = tokio::time::sleep(pause) => {}
        }
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
    fn a_url_without_a_heartbeat_gets_the_default_and_one_with_keeps_its_own() {
        let parse = |url: &str| url.parse::<AMQPUri>().expect("a valid URL");
        let default = with_heartbeat(parse("amqp://a:5672/%2f"));
        assert_eq!(default.query.heartbeat, Some(DEFAULT_HEARTBEAT));
        let own = with_heartbeat(parse("amqp://a:5672/%2f?heartbeat=30"));
        assert_eq!(own.query.heartbeat, Some(30));
        let disabled = with_heartbeat(parse("amqp://a:5672/%2f?heartbeat=0"));
        assert_eq!(disabled.query.heartbeat, Some(0));
    }

    #[test]
    fn a_node_label_hides_credentials() {
        assert_eq!(node_label("amqp://ops:secret@a:5673/%2f"), "a:5673");
    }
}
