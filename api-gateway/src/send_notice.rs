//! Glance's `image.send` notification (SPEC 10), the one notification no state change
//! yields: a download changes nothing, so it never reaches the outbox and the relay.
//! The gateway sends it itself when a download's body ends: after the last byte at
//! priority INFO, or, when the client went away first, at ERROR with the bytes that did
//! go out (SPEC 10). Best effort, like Glance's notifier: a broker problem is logged
//! and never fails or delays the download.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::body::Bytes;
use bus::connection::connect;
use futures::{Stream, StreamExt};
use lapin::options::BasicPublishOptions;
use lapin::{Channel, Connection};
use notifications::{NotificationConfig, Priority, envelope};
use serde_json::json;
use tokio::sync::Mutex;

/// The broker connection name of the gateway's notifier.
const CONNECTION_NAME: &str = "imagefleet-gateway-notifications";

/// Publishes `image.send` notifications on a connection of its own (opened on first
/// use and reopened when it drops), so a refused publish never touches commands.
pub struct SendNotifier {
    url: String,
    config: NotificationConfig,
    link: Mutex<Option<(Connection, Channel)>>,
}

/// Who downloaded which image, for the payload.
#[derive(Debug, Clone)]
pub struct Download {
    /// The image.
    pub image_id: uuid::Uuid,
    /// Its owner.
    pub owner_id: String,
    /// The downloader's project.
    pub receiver_tenant_id: String,
    /// The downloader.
    pub receiver_user_id: String,
    /// The client's address, when the server knows it.
    pub destination_ip: Option<String>,
    /// The bytes the answer should carry.
    pub expected_bytes: u64,
}

impl SendNotifier {
    /// A notifier for the broker at `url`; nothing connects until the first download.
    pub fn new(url: &str, config: NotificationConfig) -> Self {
        Self {
            url: url.to_owned(),
            config,
            link: Mutex::new(None),
        }
    }

    /// The open channel, or a new one (declaring the exchange first: publishing to a
    /// missing exchange would close the channel).
    async fn channel(&self) -> Result<Channel, lapin::Error> {
        let mut link = self.link.lock().await;
        if let Some((connection, channel)) = link.as_ref()
            && connection.status().connected()
            && channel.status().connected()
        {
            return Ok(channel.clone());
        }
        let connection = connect(&self.url, CONNECTION_NAME).await?;
        self.config.declare(&connection).await?;
        let channel = connection.create_channel().await?;
        *link = Some((connection, channel.clone()));
        Ok(channel)
    }

    /// Publishes `image.send` for `download` after `bytes_sent` bytes went out.
    pub async fn send(&self, download: &Download, bytes_sent: u64) {
        let priority = if bytes_sent < download.expected_bytes {
            Priority::Error
        } else {
            Priority::Info
        };
        let notification = notifications::Notification {
            event_type: "image.send",
            priority,
            payload: json!({
                "bytes_sent": bytes_sent,
                "image_id": download.image_id,
                "owner_id": download.owner_id,
                "receiver_tenant_id": download.receiver_tenant_id,
                "receiver_user_id": download.receiver_user_id,
                "destination_ip": download.destination_ip,
            }),
        };
        let id = uuid::Uuid::new_v4();
        let published = async {
            let body = envelope::body(&self.config, &notification, id, &chrono::Utc::now())
                .map_err(|e| e.to_string())?;
            let channel = self.channel().await.map_err(|e| e.to_string())?;
            channel
                .basic_publish(
                    self.config.exchange.as_str().into(),
                    envelope::routing_key(&self.config, priority)
                        .as_str()
                        .into(),
                    BasicPublishOptions::default(),
                    &body,
                    envelope::properties(id),
                )
                .await
                .map(drop)
                .map_err(|e| e.to_string())
        };
        if let Err(error) = published.await {
            tracing::warn!(%error, image_id = %download.image_id, "image.send not published");
        }
    }
}

/// `data`, sending `image.send` through `notifier` when the body is dropped: after its
/// last chunk, or early when the client went away.
pub fn notify_when_done<E>(
    data: impl Stream<Item = Result<Bytes, E>>,
    notifier: Arc<SendNotifier>,
    download: Download,
) -> impl Stream<Item = Result<Bytes, E>> {
    let sent = Arc::new(AtomicU64::new(0));
    let guard = SendOnDrop {
        notifier,
        download,
        sent: Arc::clone(&sent),
    };
    data.inspect(move |chunk| {
        // The guard lives as long as the body: it is dropped with this closure.
        let _body = &guard;
        if let Ok(bytes) = chunk {
            sent.fetch_add(
                u64::try_from(bytes.len()).unwrap_or(u64::MAX),
                Ordering::Relaxed,
            );
        }
    })
}

/// Sends the notification when the download's body goes away.
struct SendOnDrop {
    notifier: Arc<SendNotifier>,
    download: Download,
    sent: Arc<AtomicU64>,
}

impl Drop for SendOnDrop {
    fn drop(&mut self) {
        let bytes_sent = self.sent.load(Ordering::Relaxed);
        let (notifier, download) = (Arc::clone(&self.notifier), self.download.clone());
        // Drop cannot await; a body is dropped on the runtime that served it.
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move { notifier.send(&download, bytes_sent).await });
        }
    }
}
