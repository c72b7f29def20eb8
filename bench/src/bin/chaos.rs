//! `chaos`: the fault suite. Starts a Postgres and a RabbitMQ of its own (it breaks
//! them, so never the shared ones), the real `api-gateway` and three `workers run`
//! processes on them (their Postgres connections through a fault proxy), drives
//! `set_property` commands (bus and HTTP) and uploads while it kills and restarts a
//! random worker every 2 s and, in turn, kills the relay leader mid-batch, restarts
//! RabbitMQ, restarts Postgres, kills the gateway mid-upload, blackholes the fleet's
//! Postgres connections, holds a busy image's row lock and the relay's advisory lock
//! from a foreign session, and raises the broker's memory alarm (`--faults` picks).
//! Then it checks its ledger against Postgres, the events it received and the image
//! store: no command lost or applied twice, no event missing (duplicates counted) or
//! seen out of its image's version order, no image stuck in a leased status, no
//! orphaned data file; the report gives these per fault. Exits 0 when every check
//! passed, 1 when one failed, 2 on an error.
//!
//! Full run: `cargo run --release -p imagefleet-bench --bin chaos` (10,000 commands,
//! 200 uploads); `--short` is the one `scripts/test` runs (500 commands, 20 uploads). The
//! binaries are built and taken from beside this one unless `--bin-dir` names them.

#[path = "chaos/args.rs"]
mod args;
#[path = "chaos/bus.rs"]
mod bus;
#[path = "chaos/checks.rs"]
mod checks;
#[path = "chaos/drive.rs"]
mod drive;
#[path = "chaos/faults.rs"]
mod faults;
#[path = "chaos/fleet.rs"]
mod fleet;
#[path = "chaos/harness_faults.rs"]
mod harness_faults;
#[path = "chaos/http.rs"]
mod http;
#[path = "chaos/ledger.rs"]
mod ledger;
#[path = "chaos/report.rs"]
mod report;
#[path = "chaos/run_dir.rs"]
mod run_dir;
#[path = "chaos/stage.rs"]
mod stage;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use ::bus::Topology;
use ::bus::client::CommandClient;
use clap::Parser;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::args::{Args, Sizes};
use crate::checks::Findings;
use crate::faults::{Fault, FaultLog};
use crate::fleet::{Fleet, FleetSettings, Role, build_binaries, ready};
use crate::http::Gateway;
use crate::ledger::Ledger;
use crate::run_dir::{RunDir, print_logs};
use crate::stage::{DATABASE, Stage};
use imagefleet_tests::{FaultProxy, PrivateBroker, PrivatePostgres};

#[tokio::main(flavor = "multi_thread")]
async fn main() -> ExitCode {
    let args = Args::parse();
    let deadline = args.sizes().deadline;
    // Before the clock starts: a build may wait for others' builds.
    let bin_dir = match &args.bin_dir {
        Some(dir) => Ok(dir.clone()),
        None => build_binaries(),
    };
    let bin_dir = match bin_dir {
        Ok(dir) => dir,
        Err(error) => {
            eprintln!("chaos: {error:#}");
            return ExitCode::from(2);
        }
    };
    // The run's own loops stop at the deadline; this is the backstop, with time to
    // tear down.
    match tokio::time::timeout(deadline + Duration::from_secs(60), run(args, bin_dir)).await {
        Ok(Ok(true)) => ExitCode::SUCCESS,
        Ok(Ok(false)) => ExitCode::from(1),
        Ok(Err(error)) => {
            eprintln!("chaos: {error:#}");
            ExitCode::from(2)
        }
        Err(_) => {
            eprintln!("chaos: the run overran its deadline");
            ExitCode::from(2)
        }
    }
}

async fn run(args: Args, bin_dir: PathBuf) -> anyhow::Result<bool> {
    let sizes = args.sizes();
    let started = Instant::now();
    let deadline = started + sizes.deadline;
    // Declared first, dropped last: the directory goes after every process in it.
    let dir = RunDir::create(args.keep)?;
    let postgres = PrivatePostgres::start(&dir.path().join("postgres"))?;
    let pg_proxy = FaultProxy::for_url(&postgres.url(DATABASE)).await?;
    let rabbit = PrivateBroker::start_in(&dir.path().join("rabbitmq"), &dir.name())?;
    eprintln!(
        "chaos: Postgres on {}, RabbitMQ at {}, in {} ({:.0} s)",
        postgres.port(),
        rabbit.url(),
        dir.path().display(),
        started.elapsed().as_secs_f64()
    );
    let log_dir = dir.path().join("logs");
    std::fs::create_dir_all(&log_dir)?;
    let data_dir = dir.path().join("data");
    let settings = FleetSettings {
        bin_dir,
        database_url: pg_proxy.url_through(&postgres.url(DATABASE))?,
        amqp_url: rabbit.url(),
        data_dir: data_dir.clone(),
        log_dir: log_dir.clone(),
        lease_seconds: args.lease,
    };
    let fleet = Fleet::start(settings, 3)?;
    let http = reqwest::Client::builder().no_proxy().build()?;
    let gateway = Gateway {
        base: fleet.gateway_url(),
        client: http.clone(),
    };
    for (role, url) in fleet.ops_urls() {
        let within = Instant::now() + Duration::from_secs(60);
        while !ready(&http, &url).await {
            if Instant::now() > within {
                anyhow::bail!(
                    "{role:?} not ready within 60 s (logs in {})",
                    log_dir.display()
                );
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    let topology = Topology::new(::bus::topology::DEFAULT_PREFIX);
    let client = CommandClient::connect_named(&rabbit.url(), topology.clone(), "chaos").await?;
    let ledger = Ledger::default();
    let stop_tap = CancellationToken::new();
    let tap = bus::start_tap(rabbit.url(), topology, ledger.clone(), stop_tap.clone()).await?;
    let probe_image = uuid::Uuid::new_v4();
    if !gateway
        .create_image(probe_image, "chaos-probe", deadline)
        .await
    {
        anyhow::bail!("could not create the probe image");
    }
    eprintln!(
        "chaos: the fleet is ready ({:.0} s)",
        started.elapsed().as_secs_f64()
    );
    let stage = Arc::new(Stage::new(
        fleet,
        rabbit,
        (pg_proxy, postgres),
        gateway,
        client,
        ledger,
        probe_image,
        data_dir,
        deadline,
    ));

    let outcome = exercise(&stage, &args, &sizes).await;
    stop_tap.cancel();
    let _ = tap.await;
    let _ = stage.client.close().await;
    let (findings, injections, refusals) = match outcome {
        Ok(done) => done,
        Err(error) => {
            print_logs(&log_dir);
            return Err(error);
        }
    };
    let exits = stage
        .unexpected_exits
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    let text = report::render(
        &report::header(&args, started.elapsed()),
        &args.faults(),
        &injections,
        &findings,
        &refusals,
        &exits,
    );
    println!("{text}");
    if let Some(path) = &args.report {
        std::fs::write(path, &text)?;
    }
    let passed = findings.passed() && refusals.is_empty();
    if !passed {
        print_logs(&log_dir);
    }
    Ok(passed)
}

/// Traffic and faults, then the settling and the checks.
async fn exercise(
    stage: &Arc<Stage>,
    args: &Args,
    sizes: &Sizes,
) -> anyhow::Result<(Findings, Vec<faults::Injection>, Vec<String>)> {
    let log = FaultLog::default();
    let refusals = drive::Refusals::default();
    let stop_kills = CancellationToken::new();
    let picked = args.faults();
    let kills = picked.contains(&Fault::WorkerKill).then(|| {
        tokio::spawn(faults::worker_kills(
            stage.clone(),
            Duration::from_secs(args.worker_kill_every),
            stop_kills.clone(),
            log.clone(),
        ))
    });
    let in_turn: Vec<Fault> = picked
        .into_iter()
        .filter(|f| *f != Fault::WorkerKill)
        .collect();
    let turns_every = sizes
        .plan
        .duration
        .div_f64((sizes.rounds * in_turn.len() + 1) as f64);
    let turns = tokio::spawn(faults::turns(
        stage.clone(),
        in_turn,
        turns_every,
        sizes.rounds,
        log.clone(),
    ));
    let traffic = drive::run(stage.clone(), sizes.plan, refusals.clone()).await;
    let _ = turns.await;
    stop_kills.cancel();
    if let Some(kills) = kills {
        let _ = kills.await;
    }
    traffic?;
    stage.settle_background().await;
    stage.restart_exited().await;
    eprintln!("chaos: traffic and faults done; settling");
    let settling = Instant::now();

    // Settling: the outbox drains to the tap, the janitor gives back what the killed
    // gateway held once the lease ran out. The last findings stand.
    let settle_until =
        (Instant::now() + Duration::from_secs(3 * args.lease + 60)).min(stage.deadline);
    let findings = loop {
        let (book_copy, data_dir) = (stage.ledger.book().clone(), stage.data_dir.clone());
        let postgres = stage.postgres.clone();
        let findings =
            tokio::task::spawn_blocking(move || checks::check(&book_copy, &postgres, &data_dir))
                .await??;
        if findings.passed() || Instant::now() >= settle_until {
            eprintln!(
                "chaos: checked after {:.0} s of settling",
                settling.elapsed().as_secs_f64()
            );
            break findings;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    };
    let injections = log.lock().unwrap_or_else(|e| e.into_inner()).clone();
    let refusals = refusals.lock().unwrap_or_else(|e| e.into_inner()).clone();
    // The processes stop before the verdict is printed (nothing of them outlives it).
    stage.fleet.lock().await.kill(Role::Gateway);
    Ok((findings, injections, refusals))
}
