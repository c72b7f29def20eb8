//! Glance notifications for existing listeners (SPEC 10): besides our own events, the
//! outbox relay publishes what Glance's notifier would have sent, in oslo.messaging's
//! v2 envelope, on a topic exchange (`glance`) with routing key `notifications.info`
//! (`notifications.error` for errors), so ceilometer and other oslo listeners work
//! unchanged. The relay publishes them in the same confirmed batch as the event they
//! come from, so they are delivered at least once, like the events.
//!
//! - [`mapping`]: which notifications an event yields, with their payloads (pure).
//! - [`envelope`]: the oslo envelope and AMQP properties.

pub mod envelope;
pub mod mapping;

use clap::Args;
use lapin::options::ExchangeDeclareOptions;
use lapin::types::FieldTable;
use lapin::{Connection, ExchangeKind};

pub use mapping::{
    EventFacts, MappingError, Notification, Priority, needs_previous, notifications,
};

/// Where and as whom notifications are sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotificationConfig {
    /// The topic exchange (Glance's control exchange, `glance`).
    pub exchange: String,
    /// The notification topic; routing keys are `<topic>.info` and `<topic>.error`.
    pub topic: String,
    /// The `publisher_id` of every message.
    pub publisher_id: String,
}

impl Default for NotificationConfig {
    /// Glance's defaults: exchange `glance`, topic `notifications`, `image.localhost`.
    fn default() -> Self {
        Self {
            exchange: "glance".to_owned(),
            topic: "notifications".to_owned(),
            publisher_id: "image.localhost".to_owned(),
        }
    }
}

impl NotificationConfig {
    /// Declares the exchange (topic, durable), on a channel of its own: if it exists
    /// already with other settings (oslo listeners declare it non-durable unless
    /// `amqp_durable_queues` is set), the broker refuses the declaration and closes
    /// that channel; publishing to the existing exchange works all the same, so that
    /// refusal is logged and otherwise ignored, as oslo's own publisher does.
    pub async fn declare(&self, connection: &Connection) -> Result<(), lapin::Error> {
        let channel = connection.create_channel().await?;
        let options = ExchangeDeclareOptions {
            durable: true,
            ..Default::default()
        };
        let declared = channel
            .exchange_declare(
                self.exchange.as_str().into(),
                ExchangeKind::Topic,
                options,
                FieldTable::default(),
            )
            .await;
        match declared {
            Ok(()) => channel.close(200, "declared".into()).await,
            Err(error) => {
                tracing::warn!(
                    exchange = %self.exchange,
                    %error,
                    "could not declare the notifications exchange as durable; \
                     publishing to it as it is"
                );
                Ok(())
            }
        }
    }
}

/// Notification settings of the outbox relay (workers) and of the gateway, which sends
/// `image.send` after downloads itself.
#[derive(Debug, Clone, Args)]
pub struct NotificationsArgs {
    /// Publish Glance notifications (oslo.messaging v2 envelope) besides our events.
    #[arg(
        long = "notifications",
        env = "IMAGEFLEET_NOTIFICATIONS",
        default_value_t = true,
        action = clap::ArgAction::Set
    )]
    pub notifications: bool,
    /// The topic exchange notifications go to.
    #[arg(
        long,
        env = "IMAGEFLEET_NOTIFICATIONS_EXCHANGE",
        default_value = "glance"
    )]
    pub notifications_exchange: String,
    /// The notification topic: routing keys `<topic>.info` and `<topic>.error`.
    #[arg(
        long,
        env = "IMAGEFLEET_NOTIFICATIONS_TOPIC",
        default_value = "notifications"
    )]
    pub notifications_topic: String,
    /// The `publisher_id` of every notification.
    #[arg(
        long,
        env = "IMAGEFLEET_NOTIFICATIONS_PUBLISHER_ID",
        default_value = "image.localhost"
    )]
    pub notifications_publisher_id: String,
}

impl NotificationsArgs {
    /// The relay's setting: None when notifications are off.
    pub fn to_config(&self) -> Option<NotificationConfig> {
        self.notifications.then(|| NotificationConfig {
            exchange: self.notifications_exchange.clone(),
            topic: self.notifications_topic.clone(),
            publisher_id: self.notifications_publisher_id.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::{CommandFactory, FromArgMatches, Parser};

    #[derive(Parser)]
    struct Probe {
        #[command(flatten)]
        notifications: NotificationsArgs,
    }

    /// Parses `argv` with every argument's environment variable removed: the defaults
    /// checked are the built-in ones, whatever `IMAGEFLEET_*` the shell running the
    /// tests has set.
    fn parse(argv: &[&str]) -> Result<Probe, clap::Error> {
        let command = Probe::command().mut_args(|arg| arg.env(None::<&str>));
        Probe::from_arg_matches(&command.try_get_matches_from(argv)?)
    }

    #[test]
    fn on_by_default_with_glances_names() {
        let probe = parse(&["probe"]).expect("defaults parse");
        assert_eq!(
            probe.notifications.to_config(),
            Some(NotificationConfig::default())
        );
    }

    #[test]
    fn can_be_turned_off_and_renamed() {
        let off = parse(&["probe", "--notifications", "false"]).expect("parses");
        assert_eq!(off.notifications.to_config(), None);
        let renamed = parse(&["probe", "--notifications-exchange", "x.glance"]).expect("parses");
        let config = renamed.notifications.to_config().expect("on");
        assert_eq!(config.exchange, "x.glance");
    }
}
