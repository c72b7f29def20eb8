//! Declaring (and, for tests, deleting) a [`Topology`] on the broker: idempotent, so
//! every process declares it at every start. A start only adds routes, never removes
//! one another process may rely on: see [`Topology::declare`].

use lapin::options::{
    ExchangeBindOptions, ExchangeDeclareOptions, ExchangeDeleteOptions, QueueBindOptions,
    QueueDeclareOptions, QueueDeleteOptions,
};
use lapin::protocol::{AMQPErrorKind, AMQPSoftError};
use lapin::types::{AMQPValue, FieldTable, ShortString};
use lapin::{Channel, Connection, ErrorKind, ExchangeKind};

use super::{DELIVERY_LIMIT, JOB_EVENTS, QueueShard, Topology, WorkQueue};
use crate::headers::TARGET;

/// The exchange type of RabbitMQ's `rabbitmq_consistent_hash_exchange` plugin.
const CONSISTENT_HASH: &str = "x-consistent-hash";

impl Topology {
    /// Declares everything, on a channel of its own that it closes; safe to call from
    /// every process at every start.
    ///
    /// With one command shard the commands key is bound straight to the commands queue,
    /// unless the site routes it by hash already (another process has several shards,
    /// or the count was lowered to 1 and the hash exchange left bound to shard 0): a
    /// process without the setting (an operator's `imagefleet tail`, say) must not put
    /// a second route beside the hash one. With several shards, the commands exchange
    /// routes the key to a consistent-hash exchange on [`crate::headers::TARGET`] bound
    /// to every shard, and the direct binding is then removed (the new route exists
    /// first, so no command is unroutable meanwhile). Nothing else is ever removed
    /// here: lowering the count is an operator's step (README, "Changing the command
    /// shards").
    pub async fn declare(&self, connection: &Connection) -> Result<(), lapin::Error> {
        let channel = &connection.create_channel().await?;
        let durable = ExchangeDeclareOptions {
            durable: true,
            ..Default::default()
        };
        for (name, kind) in [
            (self.commands_exchange(), ExchangeKind::Direct),
            (self.events_exchange(), ExchangeKind::Topic),
            (self.dead_letter_exchange(), ExchangeKind::Direct),
        ] {
            channel
                .exchange_declare(name.into(), kind, durable, FieldTable::default())
                .await?;
        }
        for queue in WorkQueue::ALL {
            self.declare_dead_letter_queue(channel, queue).await?;
            for shard in self.shards(queue) {
                self.declare_shard(channel, shard).await?;
            }
        }
        // Jobs start from the events that ask for them, published by the outbox in the
        // same transaction as the change: no job is lost between commit and publish.
        let jobs = self.queue(WorkQueue::Jobs);
        bind(channel, &jobs, &self.commands_exchange(), &jobs).await?;
        for key in JOB_EVENTS {
            bind(channel, &jobs, &self.events_exchange(), key).await?;
        }
        let commands = self.queue(WorkQueue::Commands);
        if self.command_shards() > 1 {
            self.route_commands_by_hash(channel).await?;
        } else if !self.routed_by_hash(connection).await? {
            bind(channel, &commands, &self.commands_exchange(), &commands).await?;
        }
        channel.close(200, "declared".into()).await
    }

    /// Whether the commands' hash exchange exists. A passive declare of a missing
    /// exchange closes its channel, so it runs on one of its own.
    async fn routed_by_hash(&self, connection: &Connection) -> Result<bool, lapin::Error> {
        let probe = connection.create_channel().await?;
        let passive = ExchangeDeclareOptions {
            passive: true,
            ..Default::default()
        };
        let kind = ExchangeKind::Custom(CONSISTENT_HASH.into());
        let hash = self.command_hash_exchange();
        match probe
            .exchange_declare(hash.as_str().into(), kind, passive, FieldTable::default())
            .await
        {
            Ok(()) => {
                probe.close(200, "checked".into()).await?;
                Ok(true)
            }
            Err(error) if is_not_found(&error) => Ok(false),
            Err(error) => Err(error),
        }
    }

    /// One queue a worker consumes, with its retry queues.
    async fn declare_shard(
        &self,
        channel: &Channel,
        shard: QueueShard,
    ) -> Result<(), lapin::Error> {
        let name = self.shard_queue(shard);
        let mut args = dead_lettering_to(
            &self.dead_letter_exchange(),
            &self.dead_letter_queue(shard.queue),
        );
        args.insert(
            "x-delivery-limit".into(),
            AMQPValue::LongLongInt(DELIVERY_LIMIT),
        );
        if shard.shard > 0 {
            // On a cluster the shards' leaders go to the least loaded nodes, not all to
            // the node the declaring process is connected to (the default). Shard 0
            // keeps the arguments it had before sharding: changing them is refused.
            args.insert("x-queue-leader-locator".into(), string("balanced"));
        }
        declare_queue(channel, &name, args).await?;
        for (step, delay) in self.retry_delays().iter().enumerate() {
            // Expired messages fall back into their shard through the default exchange.
            let mut args = dead_lettering_to("", &name);
            args.insert(
                "x-message-ttl".into(),
                AMQPValue::LongLongInt(delay.as_millis() as i64),
            );
            declare_queue(channel, &self.shard_retry_queue(shard, step), args).await?;
        }
        Ok(())
    }

    /// A work queue's dead-letter queue, one for all its shards.
    async fn declare_dead_letter_queue(
        &self,
        channel: &Channel,
        queue: WorkQueue,
    ) -> Result<(), lapin::Error> {
        // Refusing, not dropping the oldest: a dropped dead letter is a command lost
        // without a trace, a refused one stays where it was until there is room.
        let dead_letters = self.dead_letter_queue(queue);
        let mut args = quorum();
        args.insert(
            "x-max-length".into(),
            AMQPValue::LongLongInt(self.dead_letter_limit()),
        );
        args.insert("x-overflow".into(), string("reject-publish"));
        declare_queue(channel, &dead_letters, args).await?;
        bind(
            channel,
            &dead_letters,
            &self.dead_letter_exchange(),
            &dead_letters,
        )
        .await
    }

    /// Several shards: the commands key goes to the hash exchange, bound to every shard
    /// with the same weight. The new route is bound before the direct one is removed,
    /// so no command published meanwhile is unroutable (one may reach two queues: its
    /// id makes the second delivery a replay).
    async fn route_commands_by_hash(&self, channel: &Channel) -> Result<(), lapin::Error> {
        let commands = self.queue(WorkQueue::Commands);
        let (hash, unhashed) = (
            self.command_hash_exchange(),
            self.command_unhashed_exchange(),
        );
        let durable = ExchangeDeclareOptions {
            durable: true,
            ..Default::default()
        };
        channel
            .exchange_declare(
                unhashed.as_str().into(),
                ExchangeKind::Fanout,
                durable,
                FieldTable::default(),
            )
            .await?;
        bind(channel, &commands, &unhashed, "").await?;
        let mut args = FieldTable::default();
        args.insert("hash-header".into(), string(TARGET));
        args.insert("alternate-exchange".into(), string(&unhashed));
        let declared = channel
            .exchange_declare(
                hash.as_str().into(),
                ExchangeKind::Custom(CONSISTENT_HASH.into()),
                durable,
                args,
            )
            .await;
        if let Err(error) = declared {
            tracing::error!(%error, shards = self.command_shards(), "declaring the commands' hash exchange failed: several command shards need RabbitMQ's plugin (rabbitmq-plugins enable rabbitmq_consistent_hash_exchange)");
            return Err(error);
        }
        for shard in self.shards(WorkQueue::Commands) {
            // The binding key of a consistent-hash exchange is the shard's weight.
            bind(channel, &self.shard_queue(shard), &hash, "1").await?;
        }
        channel
            .exchange_bind(
                hash.as_str().into(),
                self.commands_exchange().into(),
                commands.as_str().into(),
                ExchangeBindOptions::default(),
                FieldTable::default(),
            )
            .await?;
        channel
            .queue_unbind(
                commands.as_str().into(),
                self.commands_exchange().into(),
                commands.as_str().into(),
                FieldTable::default(),
            )
            .await
    }

    /// Deletes every queue and exchange of this topology (tests clean up with it).
    pub async fn delete(&self, channel: &Channel) -> Result<(), lapin::Error> {
        for queue in self.all_queues() {
            channel
                .queue_delete(queue.into(), QueueDeleteOptions::default())
                .await?;
        }
        for exchange in self.all_exchanges() {
            channel
                .exchange_delete(exchange.into(), ExchangeDeleteOptions::default())
                .await?;
        }
        Ok(())
    }
}

fn quorum() -> FieldTable {
    let mut args = FieldTable::default();
    args.insert("x-queue-type".into(), string("quorum"));
    args
}

/// A quorum queue whose dead letters go to `exchange` with `key`, at least once: quorum
/// queues dead-letter at most once unless told otherwise, and a retry that expires out of
/// a retry queue, or a poison message past its delivery limit, must not be dropped on the
/// way. At-least-once dead-lettering needs `reject-publish` overflow.
fn dead_lettering_to(exchange: &str, key: &str) -> FieldTable {
    let mut args = quorum();
    args.insert("x-dead-letter-exchange".into(), string(exchange));
    args.insert("x-dead-letter-routing-key".into(), string(key));
    args.insert("x-dead-letter-strategy".into(), string("at-least-once"));
    args.insert("x-overflow".into(), string("reject-publish"));
    args
}

fn string(value: &str) -> AMQPValue {
    AMQPValue::LongString(value.into())
}

async fn declare_queue(
    channel: &Channel,
    name: &str,
    args: FieldTable,
) -> Result<(), lapin::Error> {
    let options = QueueDeclareOptions {
        durable: true,
        ..Default::default()
    };
    channel
        .queue_declare(ShortString::from(name), options, args)
        .await?;
    Ok(())
}

async fn bind(
    channel: &Channel,
    queue: &str,
    exchange: &str,
    key: &str,
) -> Result<(), lapin::Error> {
    channel
        .queue_bind(
            queue.into(),
            exchange.into(),
            key.into(),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await
}

fn is_not_found(error: &lapin::Error) -> bool {
    matches!(
        error.kind(),
        ErrorKind::ProtocolError(amqp)
            if amqp.kind() == &AMQPErrorKind::Soft(AMQPSoftError::NOTFOUND)
    )
}
