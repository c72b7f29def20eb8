//! `bench-fleet`: throughput and command-to-event latency of the worker fleet, next to
//! what `pgbench` gets out of the same Postgres for the same transaction.
//!
//! For each image count (`--images`, default 200 and 100000), each number of in-process
//! workers (`--workers`, default 1, 2 and 4; each with 4 transactions open at once) and
//! each group-commit setting (`--batches`, default 1 and the workers' default, 8: the
//! most commands a worker commits in one transaction), on a fresh database and
//! topology: makes the images,
//! publishes `--commands N` (default 3000) commands of a mix at full speed `--runs`
//! times (default 3) for the commands/s, then once more at half that rate for the
//! command-to-event latency (p50, p99, p999), with the commands queue in `--shards N`
//! queues (default 1). `pgbench` then runs the same transaction
//! on the last run's database with as many clients as the fleet has transactions open. Prints the table and appends it to `BENCHMARKS.md` under "Fleet" (not with
//! `--no-append`, nor with fewer than 3 runs).
//!
//! Run: `cargo run --release -p imagefleet-bench --bin bench-fleet`

// A binary's root looks up modules beside it, in src/bin/; these live in a folder of
// their own so that other binaries do not see them.
#[path = "bench_fleet/client.rs"]
mod client;
#[path = "bench_fleet/drive.rs"]
mod drive;
#[path = "bench_fleet/pgbench.rs"]
mod pgbench;
#[path = "bench_fleet/report.rs"]
mod report;
#[path = "bench_fleet/seed.rs"]
mod seed;

use anyhow::{Context as _, bail};
use client::Client;
use drive::Pace;
use imagefleet_tests::{TestBus, TestDb, TestWorker};
use report::{Row, Run};

/// Commands each worker has in flight (`TestWorker`'s concurrency).
const CONCURRENCY_PER_WORKER: usize = 4;
/// The paced run lasts about this long (at least 500 commands, at most `--commands`).
const PACED_SECONDS: f64 = 10.0;
const COMMAND_LINE: &str = "cargo run --release -p imagefleet-bench --bin bench-fleet";

struct Args {
    commands: usize,
    images: Vec<usize>,
    workers: Vec<usize>,
    batches: Vec<usize>,
    runs: usize,
    append: bool,
    /// Only the full-speed runs: no half-peak run, no pgbench (for `scripts/bench-fleet-cpu`).
    throughput_only: bool,
    /// Queues the commands queue is split into (`IMAGEFLEET_COMMAND_SHARDS`).
    shards: u16,
}

const USAGE: &str = "usage: bench-fleet [--commands N] [--images N,N] [--workers N,N] \
                     [--batches N,N] [--runs N] [--shards N] [--no-append] [--throughput-only]";

fn list(value: Option<String>, name: &str) -> anyhow::Result<Vec<usize>> {
    let value = value.with_context(|| format!("{name} needs a list of numbers ({USAGE})"))?;
    let numbers = value
        .split(',')
        .map(|n| n.trim().parse::<usize>())
        .collect::<Result<Vec<_>, _>>()
        .with_context(|| format!("{name} needs a list of numbers ({USAGE})"))?;
    if numbers.is_empty() || numbers.contains(&0) {
        bail!("{name} needs numbers of at least 1");
    }
    Ok(numbers)
}

fn parse_args() -> anyhow::Result<Args> {
    let mut args = Args {
        commands: 3000,
        images: vec![200, 100_000],
        workers: vec![1, 2, 4],
        batches: vec![1, usize::from(workers::group_commit::DEFAULT_COMMIT_BATCH)],
        runs: 3,
        append: true,
        throughput_only: false,
        shards: 1,
    };
    let mut given = std::env::args().skip(1);
    while let Some(arg) = given.next() {
        match arg.as_str() {
            "--commands" => args.commands = single(list(given.next(), "--commands")?)?,
            "--runs" => args.runs = single(list(given.next(), "--runs")?)?,
            "--images" => args.images = list(given.next(), "--images")?,
            "--workers" => args.workers = list(given.next(), "--workers")?,
            "--batches" => args.batches = list(given.next(), "--batches")?,
            "--shards" => {
                let shards = single(list(given.next(), "--shards")?)?;
                args.shards = u16::try_from(shards)
                    .ok()
                    .filter(|&n| n <= bus::topology::MAX_COMMAND_SHARDS)
                    .with_context(|| {
                        format!(
                            "--shards takes at most {}",
                            bus::topology::MAX_COMMAND_SHARDS
                        )
                    })?;
            }
            "--no-append" => args.append = false,
            "--throughput-only" => {
                args.throughput_only = true;
                args.append = false;
            }
            "-h" | "--help" => {
                println!("{USAGE}");
                std::process::exit(0);
            }
            other => bail!("unknown argument {other:?} ({USAGE})"),
        }
    }
    Ok(args)
}

fn single(numbers: Vec<usize>) -> anyhow::Result<usize> {
    match numbers[..] {
        [n] => Ok(n),
        _ => bail!("expected one number ({USAGE})"),
    }
}

/// One run on a fresh database and topology; returns its figures and the database.
async fn run_once(
    shards: u16,
    images: usize,
    workers: usize,
    batch: usize,
    messages: usize,
    pace: Pace,
    run: usize,
) -> anyhow::Result<(Run, TestDb)> {
    let db = TestDb::new().await?;
    let bus = TestBus::sharded(shards).await?;
    let fleet: Vec<TestWorker> = (0..workers)
        .map(|i| TestWorker::start_batched(&db, &bus, &format!("bench-{i}"), batch))
        .collect();
    let measured = async {
        let mut client = Client::connect(&bus).await?;
        let ids = seed::images(&db, &mut client, images).await?;
        let messages = drive::mix(&ids, messages, run);
        let measured = drive::measure(&mut client, &messages, pace).await?;
        client.close().await?;
        anyhow::Ok(measured)
    }
    .await;
    for worker in fleet {
        worker.stop().await;
    }
    drop(bus);
    Ok((measured?, db))
}

async fn configuration(
    args: &Args,
    images: usize,
    workers: usize,
    batch: usize,
) -> anyhow::Result<Row> {
    let mut flood = Vec::new();
    for run in 1..=args.runs {
        let (measured, _) = run_once(
            args.shards,
            images,
            workers,
            batch,
            args.commands,
            Pace::Flood,
            run,
        )
        .await?;
        eprintln!(
            "images {images}, workers {workers}, batch {batch}, shards {}, run {run}: {:.0} commands/s",
            args.shards, measured.per_second
        );
        flood.push(measured);
    }
    let peak = report::median(flood.iter().map(|r| r.per_second).collect());
    let clients = CONCURRENCY_PER_WORKER * workers;
    if args.throughput_only {
        let none = Run {
            per_second: f64::NAN,
            p50_ms: f64::NAN,
            p99_ms: f64::NAN,
            p999_ms: f64::NAN,
        };
        return Ok(Row {
            images,
            workers,
            batch,
            flood,
            paced: none,
            paced_rate: f64::NAN,
            pgbench_tps: f64::NAN,
            pgbench_clients: clients,
        });
    }
    let paced_rate = peak / 2.0;
    let paced_commands = ((paced_rate * PACED_SECONDS) as usize).clamp(500, args.commands.max(500));
    let (paced, db) = run_once(
        args.shards,
        images,
        workers,
        batch,
        paced_commands,
        Pace::PerSecond(paced_rate),
        0,
    )
    .await?;
    eprintln!(
        "images {images}, workers {workers}, batch {batch}, at {paced_rate:.0}/s: p50 {:.1} ms, p99 {:.1} ms, p999 {:.1} ms",
        paced.p50_ms, paced.p99_ms, paced.p999_ms
    );
    let pgbench_tps = pgbench::run(&db, clients).await?;
    eprintln!("pgbench with {clients} clients: {pgbench_tps:.0} tps");
    Ok(Row {
        images,
        workers,
        batch,
        flood,
        paced,
        paced_rate,
        pgbench_tps,
        pgbench_clients: clients,
    })
}

#[tokio::main(flavor = "multi_thread")]
async fn main() -> anyhow::Result<()> {
    let args = parse_args()?;
    let load_before = report::load_now();
    let mut rows = Vec::new();
    for &images in &args.images {
        for &workers in &args.workers {
            for &batch in &args.batches {
                rows.push(configuration(&args, images, workers, batch).await?);
            }
        }
    }
    let table = report::table(&rows);
    println!("{table}");
    if args.append && args.runs >= 3 {
        let settings = format!(
            "{} full-speed runs per configuration (median shown, each run listed), {} commands each, \
             {} command shard(s); \
             the half-peak run lasts about {PACED_SECONDS} s; pgbench `-n -c C -j C -T {}`, C = \
             {CONCURRENCY_PER_WORKER} x workers.",
            args.runs,
            args.commands,
            args.shards,
            pgbench::SECONDS
        );
        let command = std::env::args().skip(1).collect::<Vec<_>>().join(" ");
        let command_line = if command.is_empty() {
            COMMAND_LINE.to_owned()
        } else {
            format!("{COMMAND_LINE} -- {command}")
        };
        report::append(&report::entry(
            &command_line,
            &settings,
            &table,
            &load_before,
        ))?;
        eprintln!("appended to BENCHMARKS.md");
    }
    Ok(())
}
