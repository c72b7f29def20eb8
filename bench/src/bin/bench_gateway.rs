//! `bench-gateway`: requests per second and latency of the Glance v2 gateway under
//! `imagefleet up`, next to the reference Glance's figures on this machine class.
//!
//! Builds and starts the release `imagefleet up` on a database, RabbitMQ vhost and
//! image store of its own (removed afterwards), then measures create, show, list
//! (limit 25 and 200), patch, upload 1 MiB, download 1 MiB and delete at 1, 8 and 64
//! concurrent clients with a Rust load generator (reqwest, closed loop per client),
//! `--seconds S` per operation (default 3), `--runs N` times (default 3): ops/s, p50
//! and p99 latency, CPU per request of the service and of the load generator, and the
//! service's peak RSS. Prints the table (medians of the runs) and appends it to
//! `BENCHMARKS.md` under "Gateway" unless `--no-append` or fewer than 3 runs.
//! `--service-binary PATH` measures a prebuilt `imagefleet` (say, an earlier commit's,
//! for before/after figures) and never appends.
//!
//! Run: `cargo run --release -p imagefleet-bench --bin bench-gateway`
//!
//! Beside the reference Glance (issue 18: the same Python client for both, a new
//! connection per request, plus keep-alive cases with wrk, `imagefleet up --workers 2`
//! against Glance 33 with Postgres and 2 uWSGI processes), in one command:
//! `ANCHOR_ROOT=<its directory> scripts/bench-glance` (see its header).
//! Needs the local Postgres and RabbitMQ, and `rabbitmqctl` on PATH.

// A binary's root looks up modules beside it, in src/bin/; these live in a folder of
// their own so that other binaries do not see them.
#[path = "bench_gateway/load.rs"]
mod load;
#[path = "bench_gateway/report.rs"]
mod report;
#[path = "bench_gateway/service.rs"]
mod service;

use std::fmt::Write as _;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use bytes::Bytes;
use futures::{StreamExt as _, TryStreamExt as _};
use load::{Op, Target};
use rand::RngCore as _;
use report::Sample;
use service::Service;

const CONCURRENCIES: [usize; 3] = [1, 8, 64];
/// Images for show and patch, and for the list pages (more than the 200 of the largest).
const EXISTING: usize = 250;
/// Active images downloads spread over.
const ACTIVE: usize = 64;
const DATA_BYTES: usize = 1 << 20;
/// The fewest queued images an upload or delete cell starts with.
const MIN_POOL: usize = 100;
/// A pause after each cell: the outbox relay publishes the events of a cell's commands
/// after their answers, and that work belongs to the cell, not to the next one.
const SETTLE: Duration = Duration::from_millis(500);

struct Args {
    seconds: u64,
    runs: usize,
    append: bool,
    /// A prebuilt `imagefleet` to measure instead of this tree's (an earlier commit's,
    /// for before/after figures); such runs are never appended.
    service_binary: Option<std::path::PathBuf>,
}

fn parse_args() -> anyhow::Result<Args> {
    let usage =
        "usage: bench-gateway [--seconds S] [--runs N] [--no-append] [--service-binary PATH]";
    let mut args = Args {
        seconds: 3,
        runs: 3,
        append: true,
        service_binary: None,
    };
    let mut given = std::env::args().skip(1);
    while let Some(arg) = given.next() {
        let mut number = |name: &str| -> anyhow::Result<u64> {
            let value = given
                .next()
                .with_context(|| format!("{name} needs a number"))?;
            let n: u64 = value
                .parse()
                .with_context(|| format!("{name} needs a number"))?;
            if n == 0 {
                bail!("{name} must be at least 1");
            }
            Ok(n)
        };
        match arg.as_str() {
            "--seconds" => args.seconds = number("--seconds")?,
            "--runs" => args.runs = usize::try_from(number("--runs")?)?,
            "--no-append" => args.append = false,
            "--service-binary" => {
                let path = given.next().context("--service-binary needs a path")?;
                args.service_binary = Some(path.into());
                args.append = false;
            }
            "-h" | "--help" => {
                println!("{usage}");
                std::process::exit(0);
            }
            other => bail!("unknown argument {other:?} ({usage})"),
        }
    }
    Ok(args)
}

/// Builds the release `imagefleet` binary as `scripts/bench-data` does (the same
/// command, so the two share its artifacts) and returns its path.
fn build_service() -> anyhow::Result<std::path::PathBuf> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let status = Command::new(cargo)
        .args(["build", "--release", "-p", "imagefleet-cli"])
        .args(["--bin", "imagefleet"])
        .status()
        .context("running cargo build")?;
    if !status.success() {
        bail!("building the release imagefleet binary failed");
    }
    let target = std::env::var("CARGO_TARGET_DIR")
        .unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/../target").to_owned());
    Ok(std::path::Path::new(&target).join("release/imagefleet"))
}

/// Sends `count` requests of `op`, 8 at a time (preparation, not measured).
async fn prepare(
    target: &Target,
    op: Op,
    images: &[String],
    count: usize,
) -> anyhow::Result<Vec<String>> {
    futures::stream::iter(0..count)
        .map(|n| {
            let image = images.get(n).map_or("", String::as_str);
            load::request(target, op, image, n)
        })
        .buffer_unordered(8)
        .try_filter_map(|id| async move { Ok(id) })
        .try_collect()
        .await
}

/// Images an upload or delete cell takes, one each.
type Pool = Arc<Mutex<Vec<String>>>;

/// Fills `pool` (unmeasured) to [`MIN_POOL`] images or 4 per client, whichever is more,
/// so that 64 clients each have images to work on and a cell seldom runs out early.
async fn top_up(target: &Target, pool: &Pool, clients: usize) -> anyhow::Result<()> {
    let have = pool.lock().expect("pool").len();
    let missing = MIN_POOL.max(4 * clients).saturating_sub(have);
    let created = prepare(target, Op::Create, &[], missing).await?;
    pool.lock().expect("pool").extend(created);
    Ok(())
}

/// Runs one cell and turns it into a sample, with the CPU each side spent on it.
async fn measure(
    target: &Arc<Target>,
    service: &Service,
    op: Op,
    clients: usize,
    duration: Duration,
    pool: &Pool,
    pools: &[Pool; 2],
) -> anyhow::Result<Sample> {
    let ticks_per_ms = report::shell("getconf", &["CLK_TCK"])
        .parse::<f64>()
        .unwrap_or(100.0)
        / 1000.0;
    let (service_before, bench_before) =
        (service.cpu_ticks()?, service::cpu_ticks("/proc/self/stat")?);
    let (busy_before, total_before) = report::machine_jiffies()?;
    let cell = load::run_cell(target, op, clients, duration, pool).await?;
    let (service_after, bench_after) =
        (service.cpu_ticks()?, service::cpu_ticks("/proc/self/stat")?);
    let (busy_after, total_after) = report::machine_jiffies()?;
    // Created images are shared out between the upload and the delete pools.
    for (n, image) in cell.created.into_iter().enumerate() {
        pools[n % 2].lock().expect("pool").push(image);
    }
    let requests = cell.latencies_ms.len();
    let per_op = |ticks: u64| ticks as f64 / ticks_per_ms / requests as f64;
    Ok(Sample {
        requests,
        per_second: requests as f64 / cell.elapsed.as_secs_f64(),
        p50_ms: report::percentile(&cell.latencies_ms, 50.0),
        p99_ms: report::percentile(&cell.latencies_ms, 99.0),
        service_cpu_ms: per_op(service_after - service_before),
        bench_cpu_ms: per_op(bench_after - bench_before),
        busy_percent: 100.0 * (busy_after - busy_before) as f64
            / (total_after - total_before).max(1) as f64,
    })
}

#[tokio::main(flavor = "multi_thread")]
async fn main() -> anyhow::Result<()> {
    let args = parse_args()?;
    let binary = match &args.service_binary {
        Some(path) => path.clone(),
        None => build_service()?,
    };
    let load_before = report::load_average();
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()?;
    let service = Service::start(&binary, &client).await?;
    let outcome = bench(&args, &service, client).await;
    if outcome.is_err() {
        eprintln!("the service's last lines:\n{}", service.log_tail());
    }
    service.stop().await?;
    let (rows, memory) = outcome?;
    let table = report::table(&rows);
    println!("{table}\n{memory}");

    if !args.append || args.runs < 3 {
        eprintln!(
            "not appended to BENCHMARKS.md (--no-append, --service-binary, or fewer than 3 runs)"
        );
        return Ok(());
    }
    let mut command = String::from("cargo run --release -p imagefleet-bench --bin bench-gateway");
    for arg in std::env::args().skip(1) {
        let _ = write!(command, " {arg}");
    }
    let mut entry = String::new();
    writeln!(entry, "\n### {}\n", report::shell("date", &["-u"]))?;
    writeln!(entry, "- Machine: {}", report::machine())?;
    writeln!(
        entry,
        "- Load average (1, 5, 15 min): {load_before} before, {} after",
        report::load_average()
    )?;
    writeln!(
        entry,
        "- Commit: {} (build profile: release)",
        report::commit()
    )?;
    writeln!(entry, "- Command: `{command}`")?;
    writeln!(
        entry,
        "- {} runs of {} s per operation and concurrency, medians shown; {EXISTING} images for show, patch and lists; {ACTIVE} active 1 MiB images for downloads.",
        args.runs, args.seconds
    )?;
    writeln!(entry, "- {memory}\n")?;
    entry.push_str(&table);
    report::append(&entry)?;
    eprintln!("appended to BENCHMARKS.md under \"{}\"", report::HEADING);
    Ok(())
}

type Rows = Vec<(Op, usize, Vec<Sample>)>;

/// Prepares the images, runs every cell `args.runs` times, and returns the samples by
/// operation and concurrency with a line about the service's memory.
async fn bench(
    args: &Args,
    service: &Service,
    client: reqwest::Client,
) -> anyhow::Result<(Rows, String)> {
    let mut data = vec![0u8; DATA_BYTES];
    rand::rng().fill_bytes(&mut data);
    let mut target = Target {
        client,
        base: service.base().to_owned(),
        existing: Vec::new(),
        active: Vec::new(),
        data: Bytes::from(data),
    };
    target.existing = prepare(&target, Op::Create, &[], EXISTING).await?;
    let active = prepare(&target, Op::Create, &[], ACTIVE).await?;
    prepare(&target, Op::Upload, &active, ACTIVE).await?;
    target.active = active;
    let target = Arc::new(target);
    let idle_rss = service.status_kib("VmRSS")? / 1024;
    let mut peak_below_64 = 0;

    let duration = Duration::from_secs(args.seconds);
    let mut rows: Rows = CONCURRENCIES
        .iter()
        .flat_map(|&c| Op::ALL.map(|op| (op, c, Vec::new())))
        .collect();
    let started = Instant::now();
    for run in 1..=args.runs {
        for clients in CONCURRENCIES {
            if clients == 64 && run == 1 {
                peak_below_64 = service.status_kib("VmHWM")? / 1024;
            }
            // Creates fill them; uploads take the first, deletes the second.
            let pools: [Pool; 2] = Default::default();
            for op in Op::ALL {
                let pool = match op {
                    Op::Upload => &pools[0],
                    _ => &pools[1],
                };
                if matches!(op, Op::Upload | Op::Delete) {
                    top_up(&target, pool, clients).await?;
                }
                let sample = measure(&target, service, op, clients, duration, pool, &pools).await?;
                eprintln!(
                    "run {run}, {clients:>2} clients, {op:?}: {} requests, {:.0}/s, p50 {:.1} ms, p99 {:.1} ms",
                    sample.requests, sample.per_second, sample.p50_ms, sample.p99_ms
                );
                let row = rows
                    .iter_mut()
                    .find(|(o, c, _)| *o == op && *c == clients)
                    .context("a row")?;
                row.2.push(sample);
                tokio::time::sleep(SETTLE).await;
            }
        }
    }
    let peak = service.status_kib("VmHWM")? / 1024;
    let memory = format!(
        "Service RSS: {idle_rss} MiB after preparation; peak (VmHWM) {peak_below_64} MiB before the first 64-client round, {peak} MiB after all rounds (the peak at 64 clients). Measuring took {:.0} s.",
        started.elapsed().as_secs_f64()
    );
    Ok((rows, memory))
}
