//! The faults and how long the service took to recover from each. A worker is killed
//! (`kill -9`) and restarted every few seconds throughout; the others take turns: the
//! relay's leader killed while events wait in the outbox, RabbitMQ stopped and started
//! (`stop_app` / `start_app`), Postgres crashed and started (`pg_ctl -m immediate`),
//! the gateway killed while an upload streams through it, and the faults of the fault
//! harness (see `harness_faults.rs`). Recovery is measured from the fault until a probe
//! command went all the way through (accepted, and its event arrived on the tap), or
//! for a worker until it is ready again; a fault that lasts a while (a blackhole, a
//! held lock, an alarm) is probed while it lasts. `--faults` picks which run.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt as _;
use rand::Rng as _;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::bus::{self, Outcome};
use crate::fleet::{Role, ready, relay_leader};
use crate::harness_faults;
use crate::http::Gateway;
use crate::ledger::Upload;
use crate::stage::Stage;

/// A kind of fault (its `--faults` name in kebab case).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, clap::ValueEnum)]
pub enum Fault {
    /// `kill -9` of a random worker, restarted at once.
    WorkerKill,
    /// `kill -9` of the worker leading the outbox relay, while events are unpublished.
    RelayLeaderKill,
    /// `rabbitmqctl stop_app`, a pause, `start_app`.
    RabbitRestart,
    /// `pg_ctl -m immediate stop`, a pause, start.
    PostgresRestart,
    /// `kill -9` of the gateway while an upload streams through it.
    GatewayKill,
    /// The fleet's Postgres connections blackholed by the fault proxy for a while.
    PostgresBlackhole,
    /// A foreign session holds a busy image's row lock for a while.
    RowLock,
    /// A foreign session holds the relay's advisory lock for a while.
    RelayLock,
    /// The broker's memory alarm raised for a while (publishers blocked).
    MemoryAlarm,
}

impl Fault {
    /// Every fault, in report order.
    pub const ALL: [Fault; 9] = [
        Fault::WorkerKill,
        Fault::RelayLeaderKill,
        Fault::RabbitRestart,
        Fault::PostgresRestart,
        Fault::GatewayKill,
        Fault::PostgresBlackhole,
        Fault::RowLock,
        Fault::RelayLock,
        Fault::MemoryAlarm,
    ];

    /// How the report names it.
    pub fn describe(self) -> &'static str {
        match self {
            Fault::WorkerKill => "kill -9 a random worker (restarted)",
            Fault::RelayLeaderKill => "kill -9 the relay leader mid-batch",
            Fault::RabbitRestart => "RabbitMQ stop_app / start_app",
            Fault::PostgresRestart => "Postgres immediate stop / start",
            Fault::GatewayKill => "kill -9 the gateway mid-upload",
            Fault::PostgresBlackhole => "Postgres connections blackholed",
            Fault::RowLock => "a busy image's row lock held",
            Fault::RelayLock => "the relay's advisory lock held by a foreign session",
            Fault::MemoryAlarm => "RabbitMQ memory alarm (publishers blocked)",
        }
    }
}

/// One injection: the fault and the time to recover (None: not within the deadline).
#[derive(Debug, Clone)]
pub struct Injection {
    /// What.
    pub fault: Fault,
    /// Until the probe went through (or the worker was ready).
    pub recovery: Option<Duration>,
}

/// Every injection so far.
pub type FaultLog = Arc<Mutex<Vec<Injection>>>;

/// How long the broker and Postgres stay down in a restart.
const DOWN_TIME: Duration = Duration::from_secs(2);
/// How long after a fault's start its probe may take: past it the fault counts as not
/// recovered and the run goes on (a fleet that never recovers would hold it otherwise).
const RECOVERY_LIMIT: Duration = Duration::from_secs(90);

fn record(log: &FaultLog, fault: Fault, recovery: Option<Duration>) {
    log.lock()
        .unwrap_or_else(|e| e.into_inner())
        .push(Injection { fault, recovery });
}

/// Kills and restarts a random worker every `every` until `stop` (or the deadline);
/// restarts any process that exited by itself (the stage notes it).
pub async fn worker_kills(
    stage: Arc<Stage>,
    every: Duration,
    stop: CancellationToken,
    log: FaultLog,
) {
    while Instant::now() + every < stage.deadline {
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(every) => {}
        }
        stage.restart_exited().await;
        let role = Role::Worker(rand::rng().random_range(0..stage.workers));
        let killed = Instant::now();
        if let Err(error) = stage.fleet.lock().await.restart(role) {
            eprintln!("chaos: restarting {role:?} failed: {error:#}");
            continue;
        }
        let url = stage.ops_url(role).await;
        let recovered = wait(stage.deadline, || ready(&stage.gateway.client, &url)).await;
        record(&log, Fault::WorkerKill, recovered.then(|| killed.elapsed()));
    }
}

/// The faults of `turns` in turn, `rounds` times each, the n-th at `n + 1` times
/// `interval` from now, or at once when the one before it outlasted its slot (so that
/// the faults meet the traffic however long each lasts).
pub async fn turns(
    stage: Arc<Stage>,
    turns: Vec<Fault>,
    interval: Duration,
    rounds: usize,
    log: FaultLog,
) {
    let start = Instant::now();
    for n in 0..rounds * turns.len() {
        let slot = start + interval * (n as u32 + 1);
        if slot.max(Instant::now()) >= stage.deadline {
            return;
        }
        tokio::time::sleep_until(slot).await;
        inject(&stage, turns[n % turns.len()], n, &log).await;
    }
}

/// Polls `check` every 100 ms until it holds (true) or `until` (false).
async fn wait<F: Future<Output = bool>>(until: Instant, mut check: impl FnMut() -> F) -> bool {
    while Instant::now() < until {
        if check().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

/// Injects `fault`, measures the recovery and records it; the commands issued
/// meanwhile are the fault's.
async fn inject(stage: &Arc<Stage>, fault: Fault, n: usize, log: &FaultLog) {
    stage.ledger.set_phase(Some(fault));
    let started = Instant::now();
    let until = (started + RECOVERY_LIMIT).min(stage.deadline);
    let lasting = match fault {
        // Worker kills run in their own loop.
        Fault::WorkerKill => Ok(None),
        Fault::RelayLeaderKill => kill_relay_leader(stage).await.map(|()| None),
        Fault::RabbitRestart => restart_rabbit(stage).await.map(|()| None),
        Fault::PostgresRestart => restart_postgres(stage).await.map(|()| None),
        Fault::GatewayKill => kill_gateway_mid_upload(stage).await.map(|()| None),
        Fault::PostgresBlackhole => harness_faults::postgres_blackhole(stage).map(Some),
        Fault::RowLock => harness_faults::row_lock(stage).await.map(Some),
        Fault::RelayLock => harness_faults::relay_lock(stage).await.map(Some),
        Fault::MemoryAlarm => harness_faults::memory_alarm(stage).await.map(Some),
    };
    match lasting {
        Err(error) => eprintln!("chaos: injecting {fault:?} failed: {error:#}"),
        Ok(healing) => {
            let recovered = probe(stage, fault, n, until).await;
            record(log, fault, recovered.then(|| started.elapsed()));
            if let Some(healing) = healing
                && let Ok(Err(error)) = healing.await
            {
                eprintln!("chaos: ending {fault:?} failed: {error:#}");
            }
        }
    }
    stage.ledger.set_phase(None);
}

/// Restarts the worker leading the relay, once it is found (and events wait, if they
/// come within a few seconds).
pub async fn kill_relay_leader(stage: &Arc<Stage>) -> anyhow::Result<()> {
    let until = Instant::now() + Duration::from_secs(10);
    // Mid-batch: wait (a little) for events waiting to be published.
    wait(until, || async { stage.unpublished().unwrap_or(0) > 0 }).await;
    let ops = stage.fleet.lock().await.ops_urls();
    let leader = loop {
        if let Some(leader) = relay_leader(&stage.gateway.client, &ops).await {
            break leader;
        }
        if Instant::now() >= until {
            anyhow::bail!("no worker leads the relay");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    stage.fleet.lock().await.restart(leader)
}

async fn restart_rabbit(stage: &Arc<Stage>) -> anyhow::Result<()> {
    let rabbit = stage.rabbit.clone();
    tokio::task::spawn_blocking(move || {
        let mut rabbit = rabbit.lock().unwrap_or_else(|e| e.into_inner());
        rabbit.stop_app()?;
        std::thread::sleep(DOWN_TIME);
        rabbit.start_app()
    })
    .await?
}

async fn restart_postgres(stage: &Arc<Stage>) -> anyhow::Result<()> {
    let postgres = stage.postgres.clone();
    tokio::task::spawn_blocking(move || {
        postgres.crash()?;
        std::thread::sleep(DOWN_TIME);
        postgres.start_again()
    })
    .await?
}

/// Streams the first quarter of an upload and holds the rest back, kills the gateway
/// once the image is `saving`, restarts it, then finishes the upload in the background
/// as a client would (after the janitor gave the image back).
async fn kill_gateway_mid_upload(stage: &Arc<Stage>) -> anyhow::Result<()> {
    let deadline = stage.deadline;
    let upload = Upload {
        image: Uuid::new_v4(),
        size: 1 << 20,
        seed: rand::rng().random(),
        sends: 1,
        confirmed: false,
    };
    stage
        .ledger
        .book()
        .uploads
        .insert(upload.image, upload.clone());
    if !stage
        .gateway
        .create_image(upload.image, "chaos-victim", deadline)
        .await
    {
        anyhow::bail!("could not create the victim image");
    }
    let first = Bytes::from(crate::ledger::upload_bytes(upload.seed, upload.size / 4));
    let body = futures::stream::once(async move { Ok::<_, std::io::Error>(first) })
        .chain(futures::stream::pending());
    let gateway: Gateway = stage.gateway.clone();
    let image = upload.image;
    let streaming = tokio::spawn(async move {
        gateway
            .put_file(image, reqwest::Body::wrap_stream(body))
            .await
    });
    let until = Instant::now() + Duration::from_secs(20);
    let saving = wait(until, || async {
        stage.image_status(image).is_some_and(|s| s == "saving")
    })
    .await;
    stage.fleet.lock().await.restart(Role::Gateway)?;
    streaming.abort();
    if !saving {
        eprintln!("chaos: the victim upload never reached saving; gateway killed anyway");
    }
    // Finished in the background (the janitor needs the lease to run out first); the
    // runner waits for it before the checks.
    let owned = stage.clone();
    stage.background(tokio::spawn(async move {
        owned.gateway.upload(&owned.ledger, &upload, deadline).await;
    }));
    Ok(())
}

/// A command through the whole pipeline after a fault: over HTTP after a gateway kill
/// (the gateway must be back), on the bus otherwise; then its event on the tap.
async fn probe(stage: &Arc<Stage>, fault: Fault, n: usize, until: Instant) -> bool {
    let property = format!("chaos_probe_{n}");
    if fault == Fault::GatewayKill {
        let issued = Gateway::patch_entry(stage.probe_image, property, "p".to_owned());
        stage.ledger.issue(issued.clone());
        return matches!(
            stage.gateway.patch(&stage.ledger, &issued, until).await,
            Ok(true)
        );
    }
    let (envelope, issued) = bus::set_property(stage.probe_image, property, "p".to_owned());
    stage.ledger.issue(issued);
    let Ok(Outcome::Accepted(events)) =
        bus::send(&stage.client, &stage.ledger, &envelope, until).await
    else {
        return false;
    };
    wait(until, || async {
        let book = stage.ledger.book();
        events.iter().all(|e| book.events.contains_key(e))
    })
    .await
}
