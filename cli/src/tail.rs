//! `imagefleet tail`: watch the events exchange. A temporary queue (server-named,
//! exclusive, auto-delete: it disappears with the connection) is bound with each
//! `--bind` key (default `#`, everything) and every event is printed as one line of
//! JSON until Ctrl-C or `--count` events. Tail only watches: it consumes its own copy
//! of the events, so other subscribers are unaffected.

use std::io::Write;
use std::process::ExitCode;

use anyhow::Context as _;
use bus::AmqpArgs;
use bus::Topology;
use bus::connection::connect;
use clap::Args;
use futures::StreamExt;
use lapin::options::{
    BasicCancelOptions, BasicConsumeOptions, QueueBindOptions, QueueDeclareOptions,
};
use lapin::types::{FieldTable, ShortString};
use lapin::{Channel, Connection, Consumer};
use tokio_util::sync::CancellationToken;

/// Arguments of `imagefleet tail`.
#[derive(Debug, Clone, Args)]
pub struct TailArgs {
    /// The broker and topology.
    #[command(flatten)]
    pub amqp: AmqpArgs,
    /// Routing key pattern to watch, e.g. `image.#` or `image.deactivated`; repeatable.
    #[arg(long = "bind", value_name = "PATTERN", default_value = "#")]
    pub binds: Vec<String>,
    /// Stop after this many events.
    #[arg(long)]
    pub count: Option<u64>,
}

/// A temporary queue bound to the events exchange, already consuming: events published
/// after [`Tail::start`] returns are seen.
pub struct Tail {
    channel: Channel,
    consumer: Consumer,
}

impl Tail {
    /// Declares the topology (so tail may start before the fleet), then the temporary
    /// queue with its bindings, and starts consuming.
    pub async fn start(
        connection: &Connection,
        channel: &Channel,
        topology: &Topology,
        binds: &[String],
    ) -> anyhow::Result<Self> {
        topology
            .declare(connection)
            .await
            .context("declaring the topology")?;
        let options = QueueDeclareOptions {
            exclusive: true,
            auto_delete: true,
            ..Default::default()
        };
        let queue = channel
            .queue_declare("".into(), options, FieldTable::default())
            .await
            .context("declaring the temporary queue")?;
        for pattern in binds {
            let key = ShortString::try_new(pattern.as_str())
                .with_context(|| format!("binding key too long: {pattern}"))?;
            channel
                .queue_bind(
                    queue.name().clone(),
                    topology.events_exchange().into(),
                    key,
                    QueueBindOptions::default(),
                    FieldTable::default(),
                )
                .await
                .with_context(|| format!("binding {pattern}"))?;
        }
        // No ack: this is a private copy, and a viewer may lose lines on a crash.
        let consumer = channel
            .basic_consume(
                queue.name().clone(),
                "imagefleet-tail".into(),
                BasicConsumeOptions {
                    no_ack: true,
                    ..Default::default()
                },
                FieldTable::default(),
            )
            .await
            .context("consuming the temporary queue")?;
        Ok(Self {
            channel: channel.clone(),
            consumer,
        })
    }

    /// Writes each event as a line to `out` until `count` events (if given), until
    /// `shutdown` is cancelled, or until the connection ends; returns how many.
    pub async fn run(
        mut self,
        count: Option<u64>,
        shutdown: &CancellationToken,
        out: &mut dyn Write,
    ) -> anyhow::Result<u64> {
        let mut seen = 0;
        while count.is_none_or(|count| seen < count) {
            let delivery = tokio::select! {
                () = shutdown.cancelled() => break,
                delivery = self.consumer.next() => delivery,
            };
            let Some(delivery) = delivery else { break };
            let delivery = delivery.context("receiving events")?;
            writeln!(out, "{}", line(&delivery.data))?;
            out.flush()?;
            seen += 1;
        }
        let tag = self.consumer.tag();
        if let Err(error) = self
            .channel
            .basic_cancel(tag, BasicCancelOptions::default())
            .await
        {
            tracing::debug!(%error, "cancelling the tail consumer");
        }
        Ok(seen)
    }
}

/// One event as a single line: compact JSON, or the text as it came if it is not JSON.
pub fn line(body: &[u8]) -> String {
    match serde_json::from_slice::<serde_json::Value>(body) {
        Ok(value) => value.to_string(),
        Err(_) => String::from_utf8_lossy(body).replace('\n', " "),
    }
}

/// Runs `imagefleet tail` until Ctrl-C, SIGTERM or `--count` events.
pub async fn run(args: TailArgs) -> anyhow::Result<ExitCode> {
    let connection = connect(&args.amqp.amqp_url, "imagefleet-cli-tail")
        .await
        .context("connecting to RabbitMQ")?;
    let channel = connection.create_channel().await?;
    let tail = Tail::start(&connection, &channel, &args.amqp.topology(), &args.binds).await?;
    let shutdown = shared::shutdown::on_signal();
    let mut stdout = std::io::stdout();
    let seen = tail.run(args.count, &shutdown, &mut stdout).await?;
    tracing::debug!(seen, "tail finished");
    // Closing the connection deletes the temporary queue.
    connection.close(200, "tail finished".into()).await?;
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::line;

    #[test]
    fn events_print_as_one_line() {
        assert_eq!(line(b"{\n  \"a\": 1\n}"), r#"{"a":1}"#);
        assert_eq!(line(b"not\njson"), "not json");
    }
}
