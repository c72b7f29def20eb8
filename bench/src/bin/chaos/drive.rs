//! The traffic: `set_property` commands (two thirds on the bus, one third as `PATCH`
//! through the gateway, each adding a property of its own) spread over the command
//! images, and uploads of fresh images, both paced evenly over the run so that every
//! fault meets traffic. Each command and upload is retried until confirmed or the
//! deadline; what never was stays unconfirmed in the ledger.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt as _;
use rand::Rng as _;
use tokio::time::Instant;
use uuid::Uuid;

use crate::bus::{self, Outcome};
use crate::http::Gateway;
use crate::ledger::Upload;
use crate::stage::Stage;

/// Commands in flight at once.
const COMMANDS_IN_FLIGHT: usize = 32;
/// Uploads in flight at once.
const UPLOADS_IN_FLIGHT: usize = 4;
/// Commands per command image (the property quota is raised far above it).
const COMMANDS_PER_IMAGE: usize = 100;

/// How much traffic, over how long.
#[derive(Debug, Clone, Copy)]
pub struct Plan {
    /// `set_property` commands.
    pub commands: usize,
    /// Uploads.
    pub uploads: usize,
    /// The time the traffic is spread over.
    pub duration: Duration,
}

/// Refusals the traffic met (any is a finding: none of its commands is refusable).
pub type Refusals = Arc<Mutex<Vec<String>>>;

/// Creates the command images, then sends the commands and uploads of `plan`.
pub async fn run(stage: Arc<Stage>, plan: Plan, refusals: Refusals) -> anyhow::Result<()> {
    let images: Vec<Uuid> = (0..plan.commands.div_ceil(COMMANDS_PER_IMAGE).max(2))
        .map(|_| Uuid::new_v4())
        .collect();
    for image in &images {
        if !stage
            .gateway
            .create_image(*image, "chaos-commands", stage.deadline)
            .await
        {
            anyhow::bail!("could not create the command images before the deadline");
        }
    }
    let start = Instant::now();
    let commands = commands(&stage, &images, plan, start, &refusals);
    let uploads = uploads(&stage, plan, start);
    tokio::join!(commands, uploads);
    Ok(())
}

fn slot(start: Instant, n: usize, of: usize, duration: Duration) -> Instant {
    start + duration.mul_f64(n as f64 / of.max(1) as f64)
}

async fn commands(
    stage: &Arc<Stage>,
    images: &[Uuid],
    plan: Plan,
    start: Instant,
    refusals: &Refusals,
) {
    futures::stream::iter(0..plan.commands)
        .map(|n| {
            let image = images[n % images.len()];
            let property = format!("chaos_{n}");
            let value = format!("v{n}");
            async move {
                tokio::time::sleep_until(slot(start, n, plan.commands, plan.duration)).await;
                let refused = if n % 3 == 2 {
                    let issued = Gateway::patch_entry(image, property, value);
                    stage.ledger.issue(issued.clone());
                    match stage
                        .gateway
                        .patch(&stage.ledger, &issued, stage.deadline)
                        .await
                    {
                        Err(error) => Some(format!("{error:#}")),
                        Ok(_) => None,
                    }
                } else {
                    let (envelope, issued) = bus::set_property(image, property, value);
                    stage.ledger.issue(issued);
                    match bus::send(&stage.client, &stage.ledger, &envelope, stage.deadline).await {
                        Ok(Outcome::Refused(why)) => Some(why),
                        Err(error) => Some(format!("{error:#}")),
                        Ok(_) => None,
                    }
                };
                if let Some(why) = refused {
                    refusals.lock().unwrap_or_else(|e| e.into_inner()).push(why);
                }
            }
        })
        .buffer_unordered(COMMANDS_IN_FLIGHT)
        .collect::<()>()
        .await;
}

async fn uploads(stage: &Arc<Stage>, plan: Plan, start: Instant) {
    futures::stream::iter(0..plan.uploads)
        .map(|n| async move {
            tokio::time::sleep_until(slot(start, n, plan.uploads, plan.duration)).await;
            let upload = Upload {
                image: Uuid::new_v4(),
                // 64 KiB to 1 MiB: several store parts for some, one for others.
                size: rand::rng().random_range(64 << 10..=1 << 20),
                seed: rand::rng().random(),
                sends: 0,
                confirmed: false,
            };
            stage
                .ledger
                .book()
                .uploads
                .insert(upload.image, upload.clone());
            stage
                .gateway
                .upload(&stage.ledger, &upload, stage.deadline)
                .await;
        })
        .buffer_unordered(UPLOADS_IN_FLIGHT)
        .collect::<()>()
        .await;
}
