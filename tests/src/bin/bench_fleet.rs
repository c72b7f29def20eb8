//! `bench-fleet`: throughput and command-to-event latency of the worker fleet, next to
//! what `pgbench` gets out of the same Postgres for the same transaction shape.
//!
//! For 1, 2 and 4 in-process workers (each consuming with a concurrency of 4), on a
//! fresh database and topology: creates 200 images, publishes `--commands N` (default
//! 5000) `set_property` commands with unique keys spread over them, and measures
//! commands/s (first publish to last reply) and the latency from each command's publish
//! to its event arriving on a queue bound to the events exchange with `#`. Each
//! configuration runs three times; the table gives the medians. Then `pgbench` runs a
//! script reproducing the command transaction (load, versioned update with a property
//! upsert, processed command + event) on the last run's database with 4 clients per
//! worker. The table is printed and appended to `BENCHMARKS.md` at the workspace root.
//!
//! Run: `cargo run --release -p imagefleet-tests --bin bench-fleet -- --commands 5000`

use std::collections::HashMap;
use std::fmt::Write as _;
use std::process::Command as Process;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use diesel_async::RunQueryDsl;
use futures::StreamExt;
use imagefleet_tests::fixtures::{create, envelope, owner, set_property};
use imagefleet_tests::{TestBus, TestDb, TestWorker};
use lapin::options::{
    BasicConsumeOptions, BasicPublishOptions, ConfirmSelectOptions, QueueBindOptions,
    QueueDeclareOptions,
};
use lapin::types::FieldTable;
use lapin::{BasicProperties, Channel, Consumer};
use shared::db::document::IMAGE_DOCUMENT;
use shared::domain::ImageId;
use shared::messaging::connection::connect;
use shared::messaging::{CommandEnvelope, CommandReply, EventEnvelope, WorkQueue};

const WORKER_COUNTS: [usize; 3] = [1, 2, 4];
const IMAGES: usize = 200;
const RUNS: usize = 3;
const DEFAULT_COMMANDS: usize = 5000;
/// A worker consumes each queue with this many commands in flight (`TestWorker`).
const CONCURRENCY_PER_WORKER: usize = 4;
const PGBENCH_SECONDS: u32 = 10;
const DEADLINE: Duration = Duration::from_secs(600);
const COMMAND_LINE: &str =
    "cargo run --release -p imagefleet-tests --bin bench-fleet -- --commands 5000";

/// One run's measurements.
struct Run {
    per_second: f64,
    p50_ms: f64,
    p99_ms: f64,
}

fn parse_commands() -> anyhow::Result<usize> {
    let mut args = std::env::args().skip(1);
    let mut commands = DEFAULT_COMMANDS;
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--commands" => {
                let value = args.next().context("--commands needs a number")?;
                commands = value.parse().context("--commands needs a number")?;
            }
            "-h" | "--help" => {
                println!("usage: bench-fleet [--commands N]   (default {DEFAULT_COMMANDS})");
                std::process::exit(0);
            }
            other => bail!("unknown argument {other:?} (usage: bench-fleet [--commands N])"),
        }
    }
    if commands == 0 {
        bail!("--commands must be at least 1");
    }
    Ok(commands)
}

async fn publish(
    channel: &Channel,
    bus: &TestBus,
    reply_to: &str,
    message: &CommandEnvelope,
) -> anyhow::Result<()> {
    let body = serde_json::to_vec(message)?;
    let properties = BasicProperties::default()
        .with_message_id(message.command_id.to_string().into())
        .with_reply_to(reply_to.into())
        .with_delivery_mode(2);
    channel
        .basic_publish(
            bus.topology().commands_exchange().into(),
            bus.topology().queue(WorkQueue::Commands).into(),
            BasicPublishOptions::default(),
            &body,
            properties,
        )
        .await?;
    Ok(())
}

async fn next_json<T: serde::de::DeserializeOwned>(
    consumer: &mut Consumer,
    what: &str,
) -> anyhow::Result<T> {
    let delivery = tokio::time::timeout(DEADLINE, consumer.next())
        .await
        .with_context(|| format!("no {what} within {DEADLINE:?}"))?
        .with_context(|| format!("the {what} stream ended"))??;
    Ok(serde_json::from_slice(&delivery.data)?)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let rank = (p / 100.0 * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

/// One run: a fresh database and topology, `workers` workers, `commands` commands.
/// Returns the measurements and the database (for pgbench); the topology is deleted.
async fn run_once(workers: usize, commands: usize) -> anyhow::Result<(Run, TestDb)> {
    let db = TestDb::new().await?;
    let bus = TestBus::new().await?;
    let fleet: Vec<TestWorker> = (0..workers)
        .map(|i| TestWorker::start(&db, &bus, &format!("bench-{i}")))
        .collect();
    let outcome = measure(&bus, commands).await;
    for worker in fleet {
        worker.stop().await;
    }
    drop(bus);
    Ok((outcome?, db))
}

async fn measure(bus: &TestBus, commands: usize) -> anyhow::Result<Run> {
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
    let mut reply_stream = channel
        .basic_consume(
            replies.name().clone(),
            "replies".into(),
            no_ack,
            FieldTable::default(),
        )
        .await?;
    let mut event_stream = channel
        .basic_consume(
            events.name().clone(),
            "events".into(),
            no_ack,
            FieldTable::default(),
        )
        .await?;
    let reply_to = replies.name().as_str().to_owned();

    let images: Vec<ImageId> = (0..IMAGES).map(|_| ImageId::generate()).collect();
    for id in &images {
        publish(
            &channel,
            bus,
            &reply_to,
            &envelope(owner(), create(*id, "bench")),
        )
        .await?;
    }
    for _ in 0..IMAGES {
        match next_json::<CommandReply>(&mut reply_stream, "creation reply").await? {
            CommandReply::Accepted { .. } => {}
            CommandReply::Rejected { message, .. } => bail!("a creation was rejected: {message}"),
        }
    }
    let messages: Vec<CommandEnvelope> = (0..commands)
        .map(|n| {
            let image = images[n % IMAGES];
            envelope(
                owner(),
                set_property(image, &format!("bench_{n}"), &format!("v{n}")),
            )
        })
        .collect();

    // Events of the commands, by command id: creation events also arrive and are skipped.
    let wanted: std::collections::HashSet<uuid::Uuid> =
        messages.iter().map(|m| m.command_id.as_uuid()).collect();
    let events_task = tokio::spawn(async move {
        let mut arrived: HashMap<uuid::Uuid, Instant> = HashMap::with_capacity(wanted.len());
        while arrived.len() < wanted.len() {
            let event: EventEnvelope = next_json(&mut event_stream, "event").await?;
            if wanted.contains(&event.command_id) {
                arrived.entry(event.command_id).or_insert_with(Instant::now);
            }
        }
        anyhow::Ok(arrived)
    });
    let replies_task = tokio::spawn(async move {
        let mut rejected = 0usize;
        for _ in 0..commands {
            if let CommandReply::Rejected { .. } =
                next_json::<CommandReply>(&mut reply_stream, "reply").await?
            {
                rejected += 1;
            }
        }
        anyhow::Ok((Instant::now(), rejected))
    });

    let mut published: HashMap<uuid::Uuid, Instant> = HashMap::with_capacity(commands);
    let started = Instant::now();
    for message in &messages {
        published.insert(message.command_id.as_uuid(), Instant::now());
        publish(&channel, bus, &reply_to, message).await?;
    }
    if !channel.wait_for_confirms().await?.is_empty() {
        bail!("the broker returned commands");
    }
    let (last_reply, rejected) = replies_task.await??;
    if rejected > 0 {
        bail!("{rejected} of {commands} commands were rejected");
    }
    let arrived = events_task.await??;
    connection.close(0, "done".into()).await?;

    let mut latencies: Vec<f64> = published
        .iter()
        .map(|(id, at)| (arrived[id] - *at).as_secs_f64() * 1000.0)
        .collect();
    latencies.sort_by(f64::total_cmp);
    Ok(Run {
        per_second: commands as f64 / (last_reply - started).as_secs_f64(),
        p50_ms: percentile(&latencies, 50.0),
        p99_ms: percentile(&latencies, 99.0),
    })
}

/// The pgbench script: the command transaction of `shared::db` (document.rs, write.rs)
/// with literal stand-ins for what the worker computes in Rust.
/// The looked-up command id is an uncorrelated subquery: a bare volatile
/// `gen_random_uuid()` in the WHERE clause is evaluated per row, which turns the
/// primary-key lookup into a sequential scan of `processed_commands`.
fn pgbench_script() -> String {
    let image = "(SELECT id FROM images_bench WHERE n = :n)";
    let document = IMAGE_DOCUMENT
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    format!(
        "\\set n random(1, {IMAGES})\n\
         \\set k random(1, 25)\n\
         BEGIN;\n\
         SELECT (SELECT result FROM processed_commands WHERE command_id = (SELECT gen_random_uuid())) AS processed, \
         (SELECT {document} FROM images i WHERE i.id = {image}) AS image, \
         (SELECT to_jsonb(t) FROM tasks t WHERE t.id = NULL) AS task;\n\
         WITH written AS (UPDATE images SET version = version + 1, updated_at = now() \
         WHERE id = {image} AND version = version RETURNING id) \
         INSERT INTO image_properties (image_id, name, value) \
         SELECT w.id, 'bench_k' || :k, md5(random()::text) FROM written w \
         ON CONFLICT (image_id, name) DO UPDATE SET value = EXCLUDED.value \
         WHERE image_properties.value IS DISTINCT FROM EXCLUDED.value;\n\
         WITH processed AS (INSERT INTO processed_commands (command_id, aggregate_id, command_type, result) \
         VALUES (gen_random_uuid(), {image}, 'update_image', '{{\"events\": []}}'::jsonb) RETURNING command_id, aggregate_id) \
         INSERT INTO events (event_id, aggregate_type, aggregate_id, version, event_type, from_status, \
         to_status, routing_key, command_id, correlation_id, actor, snapshot, occurred_at) \
         SELECT gen_random_uuid(), 'image', i.id, i.version, 'image.updated', i.status, i.status, \
         'image.updated', p.command_id, NULL, '{{\"project_id\": \"p1\"}}'::jsonb, to_jsonb(i), now() \
         FROM processed p JOIN images i ON i.id = p.aggregate_id;\n\
         COMMIT;\n"
    )
}

fn pgbench_binary() -> String {
    let packaged = "/usr/lib/postgresql/15/bin/pgbench";
    if std::path::Path::new(packaged).exists() {
        packaged.to_owned()
    } else {
        "pgbench".to_owned()
    }
}

/// Runs pgbench with `clients` clients on `db` (whose 200 images are numbered first).
async fn pgbench(db: &TestDb, clients: usize) -> anyhow::Result<f64> {
    let mut conn = db.conn().await?;
    diesel::sql_query(
        "CREATE TABLE IF NOT EXISTS images_bench AS \
         SELECT row_number() OVER (ORDER BY id)::int AS n, id FROM images",
    )
    .execute(&mut conn)
    .await?;
    diesel::sql_query("CREATE UNIQUE INDEX IF NOT EXISTS images_bench_n ON images_bench (n)")
        .execute(&mut conn)
        .await?;
    diesel::sql_query("VACUUM ANALYZE")
        .execute(&mut conn)
        .await?;
    drop(conn);

    let script = std::env::temp_dir().join(format!("bench_fleet_{}.sql", std::process::id()));
    std::fs::write(&script, pgbench_script())?;
    let url = db.url().to_owned();
    let clients = clients.to_string();
    let script_arg = script.clone();
    let output = tokio::task::spawn_blocking(move || {
        Process::new(pgbench_binary())
            .args(["-n", "-c", &clients, "-j", &clients, "-T"])
            .arg(PGBENCH_SECONDS.to_string())
            .arg("-f")
            .arg(&script_arg)
            .arg(&url)
            .output()
    })
    .await?
    .context("running pgbench")?;
    let _ = std::fs::remove_file(&script);
    let stdout = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        bail!(
            "pgbench failed: {}\n{stdout}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    stdout
        .lines()
        .find_map(|line| {
            line.strip_prefix("tps = ")
                .and_then(|rest| rest.split_whitespace().next())
                .and_then(|tps| tps.parse::<f64>().ok())
        })
        .with_context(|| format!("no `tps = ` line in pgbench's output:\n{stdout}"))
}

fn shell(program: &str, args: &[&str]) -> String {
    Process::new(program)
        .args(args)
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_else(|| "unknown".to_owned())
}

fn memory() -> String {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find_map(|l| l.strip_prefix("MemTotal:"))
                .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok())
        })
        .map_or_else(
            || "unknown".to_owned(),
            |kib| format!("{:.1} GiB", kib / 1024.0 / 1024.0),
        )
}

#[tokio::main(flavor = "multi_thread")]
async fn main() -> anyhow::Result<()> {
    let commands = parse_commands()?;
    let mut rows = Vec::new();
    for workers in WORKER_COUNTS {
        let mut runs = Vec::new();
        let mut last_db = None;
        for run in 1..=RUNS {
            let (measured, db) = run_once(workers, commands).await?;
            eprintln!(
                "workers {workers}, run {run}: {:.0} commands/s, p50 {:.1} ms, p99 {:.1} ms",
                measured.per_second, measured.p50_ms, measured.p99_ms
            );
            runs.push(measured);
            // Keep the last run's database for pgbench; earlier ones are dropped here.
            last_db = Some(db);
        }
        let db = last_db.context("at least one run")?;
        let clients = CONCURRENCY_PER_WORKER * workers;
        let tps = pgbench(&db, clients).await?;
        drop(db);
        eprintln!("workers {workers}: pgbench with {clients} clients: {tps:.0} tps");
        let per_second = median(runs.iter().map(|r| r.per_second).collect());
        rows.push(format!(
            "| {workers} | {commands} | {per_second:.0} | {:.1} | {:.1} | {tps:.0} ({clients} clients) | {:.2} |",
            median(runs.iter().map(|r| r.p50_ms).collect()),
            median(runs.iter().map(|r| r.p99_ms).collect()),
            per_second / tps,
        ));
    }

    let mut table = String::from(
        "| workers | commands | commands/s | p50 ms | p99 ms | pgbench tps at same concurrency | fleet/pgbench |\n\
         |---:|---:|---:|---:|---:|---:|---:|\n",
    );
    for row in &rows {
        writeln!(table, "{row}")?;
    }
    println!("{table}");

    let profile = if cfg!(debug_assertions) {
        "debug"
    } else {
        "release"
    };
    let mut section = String::new();
    writeln!(section, "\n## {}\n", shell("date", &["-u"]))?;
    writeln!(
        section,
        "- Machine: {} cores, {} memory, kernel {}",
        shell("nproc", &[]),
        memory(),
        shell("uname", &["-r"])
    )?;
    writeln!(
        section,
        "- Commit: {} (build profile: {profile})",
        shell("git", &["rev-parse", "--short", "HEAD"])
    )?;
    writeln!(section, "- Command: `{COMMAND_LINE}`")?;
    writeln!(
        section,
        "- {RUNS} runs per configuration, medians shown; {IMAGES} images, {commands} set_property \
         commands; pgbench `-n -c C -j C -T {PGBENCH_SECONDS}` with C = {CONCURRENCY_PER_WORKER} x workers \
         on the last run's database.\n"
    )?;
    section.push_str(&table);

    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../BENCHMARKS.md");
    let mut contents = std::fs::read_to_string(path).unwrap_or_else(|_| INTRO.to_owned());
    contents.push_str(&section);
    std::fs::write(path, contents).with_context(|| format!("writing {path}"))?;
    eprintln!("appended to BENCHMARKS.md");
    Ok(())
}

const INTRO: &str = "# Benchmarks\n\
\n\
Results of `bench-fleet` (`tests/src/bin/bench_fleet.rs`), newest last. For 1, 2 and 4\n\
workers run in-process (each consuming with a concurrency of 4) on a fresh database and\n\
topology, it creates 200 images and publishes set_property commands (a unique key each)\n\
spread over them with `reply_to`:\n\
\n\
- **commands/s**: commands divided by the time from the first publish to the last reply;\n\
- **p50 / p99 ms**: from each command's publish to its event arriving on a queue bound to\n\
  the events exchange with `#` (so it includes the outbox relay);\n\
- **pgbench tps**: `pgbench -n -c C -j C -T 10` (C = 4 x workers, the same number of\n\
  transactions in flight) on the last run's database, with a script of the same\n\
  transaction shape: BEGIN; the load SELECT of `shared::db::document` (processed command\n\
  lookup + image document with its child rows); the image UPDATE with a property upsert\n\
  in one statement; the processed_commands INSERT with the event INSERT in one statement;\n\
  COMMIT. Approximations: the UPDATE only bumps `version` and `updated_at` (`AND version =\n\
  version` stands in for the version check), property keys cycle over 25 per image (as\n\
  many as the fleet ends with), and the result, actor and snapshot are SQL-built stand-ins.\n\
  It measures what Postgres alone does for that shape; **fleet/pgbench** is the share of it\n\
  the fleet reaches.\n\
\n\
Everything (Postgres, RabbitMQ, the workers and the benchmark client) shares the machine.\n";
