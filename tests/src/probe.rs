//! `BusProbe`: a test's own producer and listener on its topology — a confirm-mode
//! channel that publishes commands with `reply_to`, a private reply queue, and
//! optionally a private queue bound to the events exchange.

use std::time::Duration;

use bus::connection::{connect, login_of};
use bus::{Topology, WorkQueue};
use futures::StreamExt;
use lapin::options::{
    BasicConsumeOptions, BasicPublishOptions, ConfirmSelectOptions, QueueBindOptions,
    QueueDeclareOptions,
};
use lapin::types::FieldTable;
use lapin::{BasicProperties, Channel, Connection, Consumer};
use wire::{CommandEnvelope, CommandReply, EventEnvelope};

use crate::TestBus;

/// How long a probe waits for any one reply or event before the test fails.
pub const PROBE_DEADLINE: Duration = Duration::from_secs(120);

/// A producer and listener for one test.
pub struct BusProbe {
    connection: Connection,
    channel: Channel,
    topology: Topology,
    /// The probe's RabbitMQ user, which it signs commands with (`user_id`).
    user: String,
    reply_to: String,
    replies: Consumer,
    events: Option<Consumer>,
}

/// A reply with the AMQP correlation id it came back under.
pub struct Reply {
    /// The correlation id the request was published with.
    pub correlation_id: Option<String>,
    /// The worker's answer.
    pub reply: CommandReply,
}

/// An event with the routing key it was published under.
pub struct Received {
    /// The routing key.
    pub routing_key: String,
    /// The envelope.
    pub event: EventEnvelope,
}

impl BusProbe {
    /// A probe that listens for replies only.
    pub async fn new(bus: &TestBus) -> Self {
        Self::open(bus, false).await
    }

    /// A probe that also receives every event (`#`).
    pub async fn with_events(bus: &TestBus) -> Self {
        Self::open(bus, true).await
    }

    async fn open(bus: &TestBus, events: bool) -> Self {
        let connection = connect(bus.url(), "test-probe")
            .await
            .expect("probe connection");
        let channel = connection.create_channel().await.expect("probe channel");
        channel
            .confirm_select(ConfirmSelectOptions::default())
            .await
            .expect("confirm mode");
        let replies = private_queue(&channel, "probe-replies").await;
        let reply_to = replies.queue().to_string();
        let events = if events {
            let exchange = bus.topology().events_exchange();
            Some(tap(&channel, &exchange, "#", "probe-events").await)
        } else {
            None
        };
        Self {
            connection,
            channel,
            topology: bus.topology().clone(),
            user: login_of(bus.url()),
            reply_to,
            replies,
            events,
        }
    }

    /// The properties of a well-formed command from this probe: persistent JSON signed
    /// with its user, answered to its reply queue under `correlation_id`.
    pub fn properties(&self, correlation_id: &str) -> BasicProperties {
        BasicProperties::default()
            .with_content_type("application/json".into())
            .with_user_id(self.user.as_str().into())
            .with_reply_to(self.reply_to.clone().into())
            .with_correlation_id(correlation_id.into())
            .with_delivery_mode(2)
    }

    /// The queue the probe's replies arrive on (a `reply_to` for other producers).
    pub fn reply_queue(&self) -> &str {
        &self.reply_to
    }

    /// Publishes raw bytes to the commands queue as a well-formed command would be.
    pub async fn publish_bytes(&self, body: &[u8], correlation_id: &str) {
        self.publish_with(body, self.properties(correlation_id))
            .await;
    }

    /// Publishes raw bytes to the commands queue with exactly `properties`.
    pub async fn publish_with(&self, body: &[u8], properties: BasicProperties) {
        let commands = self.topology.queue(WorkQueue::Commands);
        self.publish_to(&commands, body, properties).await;
    }

    /// Publishes raw bytes through the commands exchange under `routing_key` (a work
    /// queue's name) with exactly `properties`.
    pub async fn publish_to(&self, routing_key: &str, body: &[u8], properties: BasicProperties) {
        let confirm = self
            .channel
            .basic_publish(
                self.topology.commands_exchange().into(),
                routing_key.into(),
                BasicPublishOptions::default(),
                body,
                properties,
            )
            .await
            .expect("publish");
        assert!(
            confirm.await.expect("confirm").is_ack(),
            "the broker took the command"
        );
    }

    /// Publishes a command; its correlation id is its command id.
    pub async fn publish(&self, command: &CommandEnvelope) {
        let body = serde_json::to_vec(command).expect("an envelope serialises");
        self.publish_with(&body, self.command_properties(command))
            .await;
    }

    /// A command's properties as a Rust producer sends them: with its target, the key
    /// of the commands queue's shards.
    fn command_properties(&self, command: &CommandEnvelope) -> BasicProperties {
        let properties = self.properties(&command.command_id.to_string());
        bus::headers::with_target(properties, command)
    }

    /// Publishes many commands, then waits for all their confirms at once.
    pub async fn publish_all(&self, commands: &[CommandEnvelope]) {
        for command in commands {
            let body = serde_json::to_vec(command).expect("an envelope serialises");
            let properties = self.command_properties(command);
            self.channel
                .basic_publish(
                    self.topology.commands_exchange().into(),
                    self.topology.queue(WorkQueue::Commands).into(),
                    BasicPublishOptions::default(),
                    &body,
                    properties,
                )
                .await
                .expect("publish");
        }
        let returned = self.channel.wait_for_confirms().await.expect("confirms");
        assert!(returned.is_empty(), "every command was routed");
    }

    /// The next reply.
    pub async fn reply(&mut self) -> Reply {
        let delivery = next(&mut self.replies, "reply").await;
        Reply {
            correlation_id: delivery
                .properties
                .correlation_id()
                .as_ref()
                .map(|c| c.to_string()),
            reply: serde_json::from_slice(&delivery.data).expect("a reply is JSON"),
        }
    }

    /// The next event (the probe must have been made `with_events`).
    pub async fn event(&mut self) -> Received {
        let events = self.events.as_mut().expect("a probe made with_events");
        let delivery = next(events, "event").await;
        Received {
            routing_key: delivery.routing_key.to_string(),
            event: serde_json::from_slice(&delivery.data).expect("an event is JSON"),
        }
    }

    /// Publishes a command and waits for its reply (no other command may be in flight).
    pub async fn send(&mut self, command: &CommandEnvelope) -> CommandReply {
        self.publish(command).await;
        self.reply().await.reply
    }

    /// Closes the probe's connection (its private queues go with it).
    pub async fn close(self) {
        self.connection
            .close(0, "test done".into())
            .await
            .expect("close the probe");
    }
}

async fn next(consumer: &mut Consumer, what: &str) -> lapin::message::Delivery {
    tokio::time::timeout(PROBE_DEADLINE, consumer.next())
        .await
        .unwrap_or_else(|_| panic!("a {what} within {PROBE_DEADLINE:?}"))
        .expect("the probe's queue is open")
        .expect("a delivery")
}

/// A consumer (no-ack) of a new exclusive, server-named queue on `channel`: it goes away
/// with the channel, so a test leaves nothing behind.
async fn private_queue(channel: &Channel, tag: &str) -> Consumer {
    let options = QueueDeclareOptions {
        exclusive: true,
        ..Default::default()
    };
    let queue = channel
        .queue_declare("".into(), options, FieldTable::default())
        .await
        .expect("private queue");
    let no_ack = BasicConsumeOptions {
        no_ack: true,
        ..Default::default()
    };
    channel
        .basic_consume(
            queue.name().clone(),
            tag.into(),
            no_ack,
            FieldTable::default(),
        )
        .await
        .expect("consume the private queue")
}

/// A private queue bound to `exchange` with `key`: a copy of what is published there.
pub async fn tap(channel: &Channel, exchange: &str, key: &str, tag: &str) -> Consumer {
    let consumer = private_queue(channel, tag).await;
    channel
        .queue_bind(
            consumer.queue(),
            exchange.into(),
            key.into(),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await
        .expect("bind the tap");
    consumer
}
