//! One measured run: the command mix over the images, published either all at once
//! (full speed) or at a steady rate, timed from each publish to its reply and to its
//! first event.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use anyhow::bail;
use domain::ImageId;
use imagefleet_tests::fixtures::{add_tag, create, envelope, owner, set_property};
use tokio::time::{Instant, MissedTickBehavior};
use wire::{CommandEnvelope, CommandReply, EventEnvelope};

use crate::client::{Client, next_json};
use crate::report::{Run, percentile};

/// How the commands are sent.
#[derive(Debug, Clone, Copy)]
pub enum Pace {
    /// All at once, as fast as the channel takes them.
    Flood,
    /// This many per second, evenly spaced.
    PerSecond(f64),
}

/// `count` commands of the mix over `images`: half `update_image` (a new property),
/// a quarter `add_tag` (a new tag), a quarter `create_image`. Every one is accepted
/// whatever order the fleet applies them in.
pub fn mix(images: &[ImageId], count: usize, run: usize) -> Vec<CommandEnvelope> {
    (0..count)
        .map(|n| {
            // A stride coprime with the image counts used spreads neighbours apart.
            let image = images[(n * 7919 + run) % images.len()];
            let command = match n % 4 {
                0 | 1 => set_property(image, &format!("bench_{run}_{n}"), "v"),
                2 => add_tag(image, &format!("t{run}_{n}")),
                _ => create(ImageId::generate(), "bench"),
            };
            envelope(owner(), command)
        })
        .collect()
}

/// Publishes `messages` with `pace` and measures the rate (first publish to last reply)
/// and the latency from each publish to the command's first event.
pub async fn measure(
    client: &mut Client,
    messages: &[CommandEnvelope],
    pace: Pace,
) -> anyhow::Result<Run> {
    let count = messages.len();
    let mut published: HashMap<uuid::Uuid, Instant> = HashMap::with_capacity(count);
    let mut arrived: HashMap<uuid::Uuid, Instant> = HashMap::with_capacity(count);
    let wanted: HashSet<uuid::Uuid> = messages.iter().map(|m| m.command_id.as_uuid()).collect();
    let (mut replies, mut rejected) = (0usize, 0usize);
    let mut last_reply = Instant::now();
    let mut tick = match pace {
        Pace::Flood => None,
        Pace::PerSecond(rate) => {
            let mut interval = tokio::time::interval(Duration::from_secs_f64(1.0 / rate));
            interval.set_missed_tick_behavior(MissedTickBehavior::Burst);
            Some(interval)
        }
    };
    let started = Instant::now();
    let mut next = 0usize;
    // One loop publishes on schedule and drains replies and events as they come, so
    // arrival times are taken when the message arrives, not after the publishing.
    while replies < count || arrived.len() < count {
        let due = next < count;
        tokio::select! {
            biased;
            reply = next_json::<CommandReply>(&mut client.replies, "reply"), if replies < count => {
                if let CommandReply::Rejected { .. } = reply? {
                    rejected += 1;
                }
                replies += 1;
                last_reply = Instant::now();
            }
            event = next_json::<EventEnvelope>(&mut client.events, "event"), if arrived.len() < count => {
                let event = event?;
                if wanted.contains(&event.command_id) {
                    arrived.entry(event.command_id).or_insert_with(Instant::now);
                }
            }
            () = wait_tick(&mut tick), if due => {
                let message = &messages[next];
                published.insert(message.command_id.as_uuid(), Instant::now());
                client.publish(message).await?;
                next += 1;
            }
        }
    }
    client.confirmed().await?;
    if rejected > 0 {
        bail!("{rejected} of {count} commands were rejected");
    }
    let mut latencies: Vec<f64> = published
        .iter()
        .filter_map(|(id, at)| Some((*arrived.get(id)? - *at).as_secs_f64() * 1000.0))
        .collect();
    latencies.sort_by(f64::total_cmp);
    Ok(Run {
        per_second: count as f64 / (last_reply - started).as_secs_f64(),
        p50_ms: percentile(&latencies, 50.0),
        p99_ms: percentile(&latencies, 99.0),
        p999_ms: percentile(&latencies, 99.9),
    })
}

/// Resolves at the next tick, or at once at full speed.
async fn wait_tick(tick: &mut Option<tokio::time::Interval>) {
    if let Some(interval) = tick {
        interval.tick().await;
    }
}
