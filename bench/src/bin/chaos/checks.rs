//! The verdict: the ledger against Postgres (processed commands, image properties and
//! versions, the events table), the event tap and the image store. Run after the
//! traffic and the faults ended and the service was given time to settle (outbox
//! drained, leases run out and given back).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;

use uuid::Uuid;

use crate::faults::Fault;
use crate::ledger::{Book, Via, upload_bytes};
use crate::stage::DATABASE;
use imagefleet_tests::PrivatePostgres as Postgres;

/// Statuses that hold a lease: an image left in one after the lease is stuck.
const LEASED: [&str; 3] = ["saving", "uploading", "importing"];

/// What the commands issued while one fault was in effect came to.
#[derive(Debug, Default, Clone)]
pub struct Tally {
    /// Commands issued.
    pub commands: usize,
    /// Of them, without their effect.
    pub lost: usize,
    /// Of them, applied more than once.
    pub applied_twice: usize,
    /// Events of them never delivered to the tap.
    pub events_missing: usize,
}

/// What the checks found. Every count but `duplicates` and `deliveries` must be 0.
#[derive(Debug, Default)]
pub struct Findings {
    /// Commands issued (bus, HTTP).
    pub commands: (usize, usize),
    /// Sends of them, retries included.
    pub sends: u64,
    /// Commands the service never confirmed before the deadline.
    pub unconfirmed: usize,
    /// Commands without their effect (no event, no property, or no processed record).
    pub lost: Vec<String>,
    /// Commands with more than one event.
    pub applied_twice: Vec<String>,
    /// Command images whose version is not 1 + the commands applied to them.
    pub version_mismatches: Vec<String>,
    /// Events in the outbox.
    pub events: usize,
    /// Events never delivered to the tap.
    pub events_missing: usize,
    /// Events still unpublished.
    pub unpublished: usize,
    /// Deliveries received, and how many of them were repeats.
    pub deliveries: u64,
    /// Repeats.
    pub duplicates: u64,
    /// Images in a leased status at the end.
    pub stuck: Vec<String>,
    /// Uploads, and those not active with exactly their bytes.
    pub uploads: usize,
    /// Failed uploads.
    pub uploads_wrong: Vec<String>,
    /// Files in the store no image accounts for.
    pub orphans: Vec<String>,
    /// The commands by the fault in effect when they were issued (None: between faults).
    pub by_fault: BTreeMap<Option<Fault>, Tally>,
    /// Events seen out of version order, by the fault in effect when they arrived.
    pub order_violations: BTreeMap<Option<Fault>, Vec<String>>,
}

impl Findings {
    /// True when nothing is wrong.
    pub fn passed(&self) -> bool {
        self.unconfirmed == 0
            && self.lost.is_empty()
            && self.applied_twice.is_empty()
            && self.version_mismatches.is_empty()
            && self.events_missing == 0
            && self.unpublished == 0
            && self.stuck.is_empty()
            && self.uploads_wrong.is_empty()
            && self.orphans.is_empty()
            && self.order_violations.values().all(Vec::is_empty)
    }
}

/// Compares the ledger with Postgres, the tap and the store.
pub fn check(book: &Book, postgres: &Postgres, data_dir: &Path) -> anyhow::Result<Findings> {
    let q = |sql: &str| postgres.query(DATABASE, sql);
    let processed: HashSet<String> = q("SELECT command_id FROM processed_commands")?
        .into_iter()
        .filter_map(|row| row.into_iter().next())
        .collect();
    let events = q(
        "SELECT event_id, command_id, coalesce(correlation_id, ''), \
         published_at IS NOT NULL FROM events",
    )?;
    let mut by_command: HashMap<String, usize> = HashMap::new();
    let mut by_correlation: HashMap<String, usize> = HashMap::new();
    let mut f = Findings {
        events: events.len(),
        order_violations: book.order_violations.clone(),
        ..Findings::default()
    };
    // An event's command: by command id (bus) or request id (HTTP), to its fault.
    let fault_of: HashMap<String, Option<Fault>> = book
        .commands
        .values()
        .map(|c| match c.via {
            Via::Bus => (c.key.to_string(), c.during),
            Via::Http => (format!("req-{}", c.key), c.during),
        })
        .collect();
    for row in &events {
        let [event_id, command_id, correlation, published] = &row[..] else {
            anyhow::bail!("unexpected events row {row:?}");
        };
        *by_command.entry(command_id.clone()).or_default() += 1;
        *by_correlation.entry(correlation.clone()).or_default() += 1;
        if published != "t" {
            f.unpublished += 1;
        }
        let received = event_id
            .parse::<Uuid>()
            .is_ok_and(|id| book.events.contains_key(&id));
        if !received {
            f.events_missing += 1;
            let during = fault_of
                .get(command_id)
                .or_else(|| fault_of.get(correlation))
                .copied()
                .flatten();
            f.by_fault.entry(during).or_default().events_missing += 1;
        }
    }
    f.deliveries = book.events.values().map(|&n| u64::from(n)).sum();
    f.duplicates = f.deliveries - book.events.len() as u64;

    let properties: HashSet<(String, String, String)> =
        q("SELECT image_id, name, value FROM image_properties WHERE name LIKE 'chaos%'")?
            .into_iter()
            .filter_map(|row| match &row[..] {
                [image, name, value] => Some((image.clone(), name.clone(), value.clone())),
                _ => None,
            })
            .collect();
    let mut applied_per_image: HashMap<Uuid, i64> = HashMap::new();
    for c in book.commands.values() {
        match c.via {
            Via::Bus => f.commands.0 += 1,
            Via::Http => f.commands.1 += 1,
        }
        f.sends += u64::from(c.sends);
        if !c.confirmed {
            f.unconfirmed += 1;
        }
        let key = c.key.to_string();
        let (tied, recorded) = match c.via {
            Via::Bus => (by_command.get(&key), processed.contains(&key)),
            Via::Http => (by_correlation.get(&format!("req-{key}")), true),
        };
        let tied = tied.copied().unwrap_or(0);
        let present =
            properties.contains(&(c.image.to_string(), c.property.clone(), c.value.clone()));
        let what = format!("{:?} {} {} ({} sends)", c.via, key, c.property, c.sends);
        let tally = f.by_fault.entry(c.during).or_default();
        tally.commands += 1;
        if tied == 0 || !present || !recorded {
            tally.lost += 1;
            f.lost.push(what);
        } else if tied > 1 {
            tally.applied_twice += 1;
            f.applied_twice.push(what);
        }
        *applied_per_image.entry(c.image).or_default() += 1;
    }

    let images: HashMap<String, (String, String)> = q("SELECT id, status, version FROM images")?
        .into_iter()
        .filter_map(|row| match &row[..] {
            [id, status, version] => Some((id.clone(), (status.clone(), version.clone()))),
            _ => None,
        })
        .collect();
    for (image, applied) in &applied_per_image {
        let version = images.get(&image.to_string()).map(|(_, v)| v.as_str());
        if version != Some(&(applied + 1).to_string()) {
            f.version_mismatches.push(format!(
                "{image}: version {version:?}, {applied} commands applied"
            ));
        }
    }
    for (id, (status, _)) in &images {
        if LEASED.contains(&status.as_str()) {
            f.stuck.push(format!("{id} {status}"));
        }
    }

    f.uploads = book.uploads.len();
    for upload in book.uploads.values() {
        let status = images
            .get(&upload.image.to_string())
            .map(|(s, _)| s.as_str());
        let stored = std::fs::read(data_dir.join("images").join(upload.image.to_string()));
        let intact = stored.is_ok_and(|bytes| bytes == upload_bytes(upload.seed, upload.size));
        if status != Some("active") || !intact {
            f.uploads_wrong.push(format!(
                "{} {status:?} intact {intact} ({} tries)",
                upload.image, upload.sends
            ));
        }
    }
    f.orphans = orphans(data_dir, &images)?;
    Ok(f)
}

/// Files of the store that no image accounts for: image data of an image without
/// data, staged data of an image not being staged or imported, anything else (such
/// as the temporary file of a write that never completed).
fn orphans(
    data_dir: &Path,
    images: &HashMap<String, (String, String)>,
) -> anyhow::Result<Vec<String>> {
    let mut found = Vec::new();
    let mut dirs = vec![data_dir.to_owned()];
    while let Some(dir) = dirs.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries {
            let path = entry?.path();
            if path.is_dir() {
                dirs.push(path);
                continue;
            }
            let relative = path.strip_prefix(data_dir)?.display().to_string();
            let status = |id: &str| images.get(id).map(|(s, _)| s.as_str());
            let accounted = match relative.split_once('/') {
                Some(("images", id)) => matches!(
                    status(id),
                    Some("active" | "deactivated" | "pending_delete")
                ),
                Some(("staging", id)) => matches!(status(id), Some("uploading" | "importing")),
                _ => false,
            };
            if !accounted {
                found.push(relative);
            }
        }
    }
    found.sort();
    Ok(found)
}
