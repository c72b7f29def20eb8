//! The command client against the real RabbitMQ: confirmed persistent publishes, replies
//! over direct reply-to (many concurrent callers on one client), timeouts, unroutable
//! publishes, and recovery after the channel is lost.

use std::time::Duration;

use bus::client::{ClientError, CommandClient};
use bus::connection::connect;
use bus::{Topology, WorkQueue};
use domain::command::ImageRef;
use domain::{Actor, Command, ImageId, RejectionKind};
use futures::StreamExt;
use futures::future::join_all;
use imagefleet_tests::TestBus;
use lapin::options::{
    BasicAckOptions, BasicConsumeOptions, BasicGetOptions, BasicPublishOptions,
    ExchangeDeleteOptions, QueueDeclareOptions, QueueDeleteOptions,
};
use lapin::types::FieldTable;
use lapin::{BasicProperties, Channel, Connection};
use tokio::task::JoinHandle;
use wire::{CommandEnvelope, CommandReply};

fn deactivate() -> CommandEnvelope {
    let command = Command::DeactivateImage(ImageRef {
        image_id: ImageId::generate(),
        expected_version: None,
    });
    CommandEnvelope::new(Actor::new("p1", "u1", &["admin"]), command)
}

async fn channel(bus: &TestBus) -> (Connection, Channel) {
    let connection = connect(bus.url(), "client-test").await.expect("connection");
    let channel = connection.create_channel().await.expect("channel");
    (connection, channel)
}

async fn depth(channel: &Channel, queue: &str) -> u32 {
    let passive = QueueDeclareOptions {
        passive: true,
        ..Default::default()
    };
    channel
        .queue_declare(queue.into(), passive, FieldTable::default())
        .await
        .expect("queue exists")
        .message_count()
}

/// A stand-in worker: rejects every command with `not_found`, answering `reply_to`
/// with the request's correlation id, then acks.
async fn responder(bus: &TestBus) -> JoinHandle<()> {
    let (connection, channel) = channel(bus).await;
    let mut consumer = channel
        .basic_consume(
            bus.topology().queue(WorkQueue::Commands).into(),
            "responder".into(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await
        .expect("consume");
    tokio::spawn(async move {
        let _connection = connection;
        while let Some(Ok(delivery)) = consumer.next().await {
            let envelope: CommandEnvelope =
                serde_json::from_slice(&delivery.data).expect("an envelope");
            let reply = CommandReply::Rejected {
                command_id: Some(envelope.command_id),
                kind: RejectionKind::NotFound,
                message: format!("no command {}", envelope.command_id),
            };
            let properties = delivery.properties.clone();
            let reply_to = properties.reply_to().clone().expect("reply_to is set");
            let mut answer = BasicProperties::default();
            if let Some(id) = properties.correlation_id() {
                answer = answer.with_correlation_id(id.clone());
            }
            let body = serde_json::to_vec(&reply).expect("serialises");
            channel
                .basic_publish(
                    "".into(),
                    reply_to,
                    BasicPublishOptions::default(),
                    &body,
                    answer,
                )
                .await
                .expect("reply published");
            delivery.ack(BasicAckOptions::default()).await.expect("ack");
        }
    })
}

fn rejected_id(reply: &CommandReply) -> Option<domain::CommandId> {
    match reply {
        CommandReply::Rejected { command_id, .. } => *command_id,
        CommandReply::Accepted { .. } => None,
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn publish_lands_a_persistent_message_named_by_the_command_id() {
    let bus = TestBus::new().await.expect("test bus");
    let client = CommandClient::connect(bus.url(), bus.topology().clone())
        .await
        .expect("client");
    let envelope = deactivate();
    client
        .publish(&envelope)
        .await
        .expect("published and confirmed");

    let (_connection, channel) = channel(&bus).await;
    let message = channel
        .basic_get(
            bus.topology().queue(WorkQueue::Commands).into(),
            BasicGetOptions { no_ack: true },
        )
        .await
        .expect("basic.get")
        .expect("a message in the commands queue");
    let properties = &message.delivery.properties;
    assert_eq!(properties.delivery_mode(), &Some(2));
    let message_id = properties.message_id().as_ref().map(|id| id.to_string());
    assert_eq!(message_id, Some(envelope.command_id.to_string()));
    let kind = properties.kind().as_ref().map(|kind| kind.to_string());
    assert_eq!(kind.as_deref(), Some("deactivate_image"));
    let content_type = properties.content_type().as_ref().map(|t| t.to_string());
    assert_eq!(content_type.as_deref(), Some("application/json"));
    assert!(properties.reply_to().is_none(), "publish asks for no reply");
    let body: CommandEnvelope = serde_json::from_slice(&message.delivery.data).expect("JSON");
    assert_eq!(body, envelope);
    client.close().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_sends_each_get_their_own_reply() {
    let bus = TestBus::new().await.expect("test bus");
    let worker = responder(&bus).await;
    let client = CommandClient::connect(bus.url(), bus.topology().clone())
        .await
        .expect("client");

    let envelope = deactivate();
    let reply = client
        .send(&envelope, Duration::from_secs(10))
        .await
        .expect("a reply");
    assert_eq!(rejected_id(&reply), Some(envelope.command_id));

    let envelopes: Vec<_> = (0..50).map(|_| deactivate()).collect();
    let replies = join_all(envelopes.iter().map(|envelope| {
        let client = client.clone();
        async move { client.send(envelope, Duration::from_secs(10)).await }
    }))
    .await;
    for (envelope, reply) in envelopes.iter().zip(replies) {
        let reply = reply.expect("every send is answered");
        assert_eq!(rejected_id(&reply), Some(envelope.command_id));
    }
    client.close().await;
    worker.abort();
}

#[tokio::test(flavor = "multi_thread")]
async fn send_times_out_when_nobody_answers() {
    let bus = TestBus::new().await.expect("test bus");
    let client = CommandClient::connect(bus.url(), bus.topology().clone())
        .await
        .expect("client");
    let error = client
        .send(&deactivate(), Duration::from_millis(500))
        .await
        .expect_err("no worker runs");
    assert!(matches!(error, ClientError::Timeout(_)), "{error:?}");
    assert!(error.is_retryable());
    // The outcome is unknown, not failed: the command waits in the queue.
    let (_connection, channel) = channel(&bus).await;
    assert_eq!(
        depth(&channel, &bus.topology().queue(WorkQueue::Commands)).await,
        1
    );
    client.close().await;
    let closed = client.publish(&deactivate()).await.expect_err("closed");
    assert!(matches!(closed, ClientError::Closed), "{closed:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_publish_nobody_can_route_is_an_error() {
    let bus = TestBus::new().await.expect("test bus");
    let client = CommandClient::connect(bus.url(), bus.topology().clone())
        .await
        .expect("client");
    let (_connection, channel) = channel(&bus).await;
    channel
        .queue_delete(
            bus.topology().queue(WorkQueue::Commands).into(),
            QueueDeleteOptions::default(),
        )
        .await
        .expect("queue deleted");
    let error = client.publish(&deactivate()).await.expect_err("unroutable");
    assert!(
        matches!(error, ClientError::Unroutable { code: 312, .. }),
        "{error:?}"
    );
    assert!(!error.is_retryable());
    client.close().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_lost_channel_fails_waiting_sends_and_the_next_call_reconnects() {
    let bus = TestBus::new().await.expect("test bus");
    let topology: Topology = bus.topology().clone();
    let client = CommandClient::connect(bus.url(), topology.clone())
        .await
        .expect("client");
    let (_connection, channel) = channel(&bus).await;

    // A send waits for a reply nobody will give; wait until its command is queued.
    let waiting = tokio::spawn({
        let client = client.clone();
        async move { client.send(&deactivate(), Duration::from_secs(30)).await }
    });
    let commands = topology.queue(WorkQueue::Commands);
    imagefleet_tests::wait::wait_until(
        Duration::from_secs(30),
        "the command is queued",
        async || depth(&channel, &commands).await > 0,
    )
    .await
    .expect("queued");

    // Publishing to a missing exchange makes the broker close the client's channel.
    channel
        .exchange_delete(
            topology.commands_exchange().into(),
            ExchangeDeleteOptions::default(),
        )
        .await
        .expect("exchange deleted");
    let error = client
        .publish(&deactivate())
        .await
        .expect_err("channel lost");
    assert!(error.is_retryable(), "{error:?}");
    let pending = waiting.await.expect("joined").expect_err("connection lost");
    assert!(matches!(pending, ClientError::Disconnected), "{pending:?}");
    assert!(pending.is_retryable());

    // The next call reconnects and declares the topology (the exchange) again.
    client.publish(&deactivate()).await.expect("reconnected");
    assert_eq!(depth(&channel, &commands).await, 2);
    client.close().await;
}
