//! The benchmark's own AMQP client: one confirmed channel that publishes commands with
//! `reply_to`, an exclusive reply queue and an exclusive queue bound to the events
//! exchange with `#`, both consumed without acks.

use std::time::Duration;

use anyhow::{Context as _, bail};
use bus::WorkQueue;
use bus::client;
use bus::connection::{connect, login_of};
use futures::StreamExt;
use imagefleet_tests::TestBus;
use lapin::options::{
    BasicConsumeOptions, BasicPublishOptions, ConfirmSelectOptions, QueueBindOptions,
    QueueDeclareOptions,
};
use lapin::types::FieldTable;
use lapin::{Channel, Connection, Consumer};
use wire::{CommandEnvelope, CommandReply};

/// The longest wait for any one reply or event.
pub const DEADLINE: Duration = Duration::from_secs(600);

/// A connection to the bench's topology.
pub struct Client {
    connection: Connection,
    channel: Channel,
    exchange: String,
    routing_key: String,
    reply_to: String,
    user: String,
    /// Replies to the commands published.
    pub replies: Consumer,
    /// Every event the relay publishes.
    pub events: Consumer,
}

impl Client {
    /// Connects, declares the two queues and starts consuming them.
    pub async fn connect(bus: &TestBus) -> anyhow::Result<Self> {
        let connection = connect(bus.url(), "bench-fleet").await?;
        let channel = connection.create_channel().await?;
        channel
            .confirm_select(ConfirmSelectOptions::default())
            .await?;
        let exclusive = QueueDeclareOptions {
            exclusive: true,
            ..Default::default()
        };
        let replies = channel
            .queue_declare("".into(), exclusive, FieldTable::default())
            .await?;
        let events = channel
            .queue_declare("".into(), exclusive, FieldTable::default())
            .await?;
        channel
            .queue_bind(
                events.name().clone(),
                bus.topology().events_exchange().into(),
                "#".into(),
                QueueBindOptions::default(),
                FieldTable::default(),
            )
            .await?;
        let no_ack = BasicConsumeOptions {
            no_ack: true,
            ..Default::default()
        };
        let reply_stream = channel
            .basic_consume(
                replies.name().clone(),
                "replies".into(),
                no_ack,
                FieldTable::default(),
            )
            .await?;
        let event_stream = channel
            .basic_consume(
                events.name().clone(),
                "events".into(),
                no_ack,
                FieldTable::default(),
            )
            .await?;
        Ok(Self {
            connection,
            channel,
            exchange: bus.topology().commands_exchange().to_owned(),
            routing_key: bus.topology().queue(WorkQueue::Commands).to_owned(),
            reply_to: replies.name().as_str().to_owned(),
            user: login_of(bus.url()),
            replies: reply_stream,
            events: event_stream,
        })
    }

    /// Publishes `message` persistently with `reply_to` (the confirm is awaited later,
    /// by [`Client::confirmed`]).
    pub async fn publish(&self, message: &CommandEnvelope) -> anyhow::Result<()> {
        let body = serde_json::to_vec(message)?;
        // Signed with the connection's user, as every producer's commands must be.
        let properties =
            client::properties(message, &self.user).with_reply_to(self.reply_to.as_str().into());
        self.channel
            .basic_publish(
                self.exchange.as_str().into(),
                self.routing_key.as_str().into(),
                BasicPublishOptions::default(),
                &body,
                properties,
            )
            .await?;
        Ok(())
    }

    /// Waits for the broker's confirms of everything published so far.
    pub async fn confirmed(&self) -> anyhow::Result<()> {
        if !self.channel.wait_for_confirms().await?.is_empty() {
            bail!("the broker returned commands");
        }
        Ok(())
    }

    /// Publishes `messages` and waits until each is accepted.
    pub async fn call_all(&mut self, messages: &[CommandEnvelope]) -> anyhow::Result<()> {
        for message in messages {
            self.publish(message).await?;
        }
        self.confirmed().await?;
        for _ in messages {
            if let CommandReply::Rejected { message, .. } =
                next_json::<CommandReply>(&mut self.replies, "reply").await?
            {
                bail!("a preparatory command was rejected: {message}");
            }
        }
        Ok(())
    }

    /// Closes the connection.
    pub async fn close(self) -> anyhow::Result<()> {
        self.connection.close(0, "done".into()).await?;
        Ok(())
    }
}

/// The next message of `consumer`, read as JSON.
pub async fn next_json<T: serde::de::DeserializeOwned>(
    consumer: &mut Consumer,
    what: &str,
) -> anyhow::Result<T> {
    let delivery = tokio::time::timeout(DEADLINE, consumer.next())
        .await
        .with_context(|| format!("no {what} within {DEADLINE:?}"))?
        .with_context(|| format!("the {what} stream ended"))??;
    Ok(serde_json::from_slice(&delivery.data)?)
}
