//! The faults of the fault harness, each of which lasts a while and heals by itself:
//! the fleet's Postgres connections blackholed by the fault proxy (accepted and read,
//! never answered) and then passed again; a foreign session holding a busy image's row
//! lock (`SELECT ... FOR UPDATE` in an open transaction); a foreign session holding
//! the relay's advisory lock, taken over from the killed leader; the broker's memory
//! alarm. Each returns the task that ends the fault, so that the runner probes the
//! fleet while the fault lasts.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use db::leader::OUTBOX_LOCK_KEY;
use imagefleet_tests::{Fault as ProxyFault, HeldLock};
use tokio::task::JoinHandle;

use crate::faults::kill_relay_leader;
use crate::stage::Stage;

/// How long the Postgres connections stay blackholed.
const BLACKHOLE_TIME: Duration = Duration::from_secs(5);
/// How long a foreign session holds a lock.
const LOCK_TIME: Duration = Duration::from_secs(10);
/// How long the memory alarm stays raised.
const ALARM_TIME: Duration = Duration::from_secs(5);
/// How long the foreign session may wait for the relay's lock once its leader died.
const TAKEOVER_WAIT: Duration = Duration::from_secs(30);

/// The task that ends a fault after its time.
pub type Healing = JoinHandle<anyhow::Result<()>>;

/// Blackholes the fleet's Postgres connections (open and new) for a while.
pub fn postgres_blackhole(stage: &Arc<Stage>) -> anyhow::Result<Healing> {
    stage.pg_proxy.set(ProxyFault::Blackhole);
    let stage = stage.clone();
    Ok(tokio::spawn(async move {
        tokio::time::sleep(BLACKHOLE_TIME).await;
        stage.pg_proxy.set(ProxyFault::Pass);
        Ok(())
    }))
}

/// Locks the row of the image the latest command went to, for a while.
pub async fn row_lock(stage: &Arc<Stage>) -> anyhow::Result<Healing> {
    let image = stage
        .ledger
        .book()
        .last_image
        .context("no command issued yet")?;
    let held = HeldLock::image_row(&stage.database_url, image).await?;
    Ok(tokio::spawn(async move {
        tokio::time::sleep(LOCK_TIME).await;
        held.release().await
    }))
}

/// Queues a foreign session for the relay's advisory lock, kills the leader holding
/// it so that the foreign session gets it, and holds it for a while.
pub async fn relay_lock(stage: &Arc<Stage>) -> anyhow::Result<Healing> {
    let url = stage.database_url.clone();
    let mut taking = tokio::spawn(async move { HeldLock::advisory(&url, OUTBOX_LOCK_KEY).await });
    // No leader to kill (none took the free lock yet, or a zombie session holds it) is
    // no reason to give up: the foreign session may get the lock all the same.
    if let Err(error) = kill_relay_leader(stage).await {
        eprintln!("chaos: relay-lock: {error:#}; waiting for the lock anyway");
    }
    let held = match tokio::time::timeout(TAKEOVER_WAIT, &mut taking).await {
        Ok(held) => held??,
        Err(_) => {
            taking.abort();
            anyhow::bail!(
                "the foreign session did not get the relay's lock within {TAKEOVER_WAIT:?}"
            );
        }
    };
    Ok(tokio::spawn(async move {
        tokio::time::sleep(LOCK_TIME).await;
        held.release().await
    }))
}

/// Raises the broker's memory alarm for a while.
pub async fn memory_alarm(stage: &Arc<Stage>) -> anyhow::Result<Healing> {
    let rabbit = stage.rabbit.clone();
    let alarm = move |on: bool| {
        let rabbit = rabbit.clone();
        tokio::task::spawn_blocking(move || {
            rabbit
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .memory_alarm(on)
        })
    };
    alarm(true).await??;
    Ok(tokio::spawn(async move {
        tokio::time::sleep(ALARM_TIME).await;
        alarm(false).await?
    }))
}
