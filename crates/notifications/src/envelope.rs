//! The oslo.messaging v2 envelope Glance's notifier sends through the rabbit driver:
//! `{"oslo.version": "2.0", "oslo.message": "<JSON string>"}`, the inner message
//! carrying `message_id`, `publisher_id`, `event_type`, `priority`, `payload` and
//! `timestamp`; and the AMQP properties kombu puts on it.

use chrono::{DateTime, Utc};
use lapin::BasicProperties;
use serde_json::json;
use uuid::Uuid;

use super::NotificationConfig;
use super::mapping::{Notification, Priority};

/// The envelope version oslo.messaging writes and checks.
pub const OSLO_VERSION: &str = "2.0";

/// The notification's `message_id`: derived from our event's id and the notification's
/// type (UUIDv5), so a notification published again (the relay publishes at least
/// once) carries the same id and a listener can drop the duplicate. oslo draws a fresh
/// UUIDv4 per send; listeners only need it unique per notification, which this is.
pub fn message_id(event_id: Uuid, event_type: &str) -> Uuid {
    Uuid::new_v5(&event_id, event_type.as_bytes())
}

/// oslo's notification timestamp: `YYYY-MM-DD HH:MM:SS.ffffff`, UTC.
pub fn timestamp(at: &DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M:%S%.6f").to_string()
}

/// The routing key: `<topic>.info` or `<topic>.error`, as oslo's notifier sends to
/// `<topic>.<priority lowercased>`.
pub fn routing_key(config: &NotificationConfig, priority: Priority) -> String {
    format!(
        "{}.{}",
        config.topic,
        priority.as_str().to_ascii_lowercase()
    )
}

/// The message body. The inner message is a JSON string inside the outer object, as
/// oslo's serializer writes it. `at` is when our event happened: the notification
/// says when the change was made, not when the relay got round to sending it.
pub fn body(
    config: &NotificationConfig,
    notification: &Notification,
    message_id: Uuid,
    at: &DateTime<Utc>,
) -> Result<Vec<u8>, serde_json::Error> {
    let message = json!({
        "message_id": message_id.to_string(),
        "publisher_id": config.publisher_id,
        "event_type": notification.event_type,
        "priority": notification.priority.as_str(),
        "payload": notification.payload,
        "timestamp": timestamp(at),
    });
    serde_json::to_vec(&json!({
        "oslo.version": OSLO_VERSION,
        "oslo.message": serde_json::to_string(&message)?,
    }))
}

/// The properties kombu gives oslo's publishes: JSON in UTF-8, persistent (kombu's
/// default delivery mode when none is named, which oslo does not). The message id is
/// repeated as the AMQP `message_id` for tools that read properties only.
pub fn properties(message_id: Uuid) -> BasicProperties {
    BasicProperties::default()
        .with_content_type("application/json".into())
        .with_content_encoding("utf-8".into())
        .with_delivery_mode(2)
        .with_message_id(message_id.to_string().into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_envelope_nests_the_message_as_a_string() {
        let config = NotificationConfig::default();
        let notification = Notification {
            event_type: "image.upload",
            priority: Priority::Error,
            payload: json!("it failed"),
        };
        let at = DateTime::from_timestamp(1_735_689_600, 1_500).expect("a valid time");
        let id = message_id(Uuid::nil(), "image.upload");
        let bytes = body(&config, &notification, id, &at).expect("serialises");
        let outer: serde_json::Value = serde_json::from_slice(&bytes).expect("JSON");
        assert_eq!(outer["oslo.version"], "2.0");
        let inner: serde_json::Value =
            serde_json::from_str(outer["oslo.message"].as_str().expect("a string"))
                .expect("inner JSON");
        assert_eq!(inner["publisher_id"], "image.localhost");
        assert_eq!(inner["event_type"], "image.upload");
        assert_eq!(inner["priority"], "ERROR");
        assert_eq!(inner["payload"], "it failed");
        assert_eq!(inner["timestamp"], "2025-01-01 00:00:00.000001");
        assert_eq!(inner["message_id"], id.to_string());
        assert_eq!(routing_key(&config, Priority::Error), "notifications.error");
        assert_eq!(routing_key(&config, Priority::Info), "notifications.info");
    }

    #[test]
    fn message_ids_are_stable_per_event_and_type() {
        let event = Uuid::now_v7();
        assert_eq!(
            message_id(event, "image.upload"),
            message_id(event, "image.upload")
        );
        assert_ne!(
            message_id(event, "image.upload"),
            message_id(event, "image.activate")
        );
    }
}
