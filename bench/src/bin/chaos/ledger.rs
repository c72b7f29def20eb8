//! The runner's own record of what it asked for: every command (by the key the checks
//! find it under: its command id on the bus, its request id over HTTP), the property
//! it sets, whether the service confirmed it, how often it was sent; every upload with
//! the bytes it must end with; every event delivery received. A command sent again
//! after an unconfirmed try keeps its entry: it is one command, whatever the tries.
//! Each command is tagged with the fault in effect when it was issued, and each image's
//! events are checked for version order as the tap first receives them, so that the
//! report can say what each fault did.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};

use uuid::Uuid;
use wire::EventEnvelope;

use crate::faults::Fault;

/// How a command was sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    /// Published to the commands exchange; found by `command_id`.
    Bus,
    /// `PATCH` through the gateway; found by the request id its events carry.
    Http,
}

/// One command the runner issued.
#[derive(Debug, Clone)]
pub struct Issued {
    /// The command id (bus) or the request id's UUID (HTTP).
    pub key: Uuid,
    /// How it went.
    pub via: Via,
    /// The image it changes.
    pub image: Uuid,
    /// The property it adds (unique per command) and its value.
    pub property: String,
    /// The value.
    pub value: String,
    /// Tries so far (the first included).
    pub sends: u32,
    /// The service confirmed it (an accepted reply, or a 2xx).
    pub confirmed: bool,
    /// The fault in effect when it was issued (set by [`Ledger::issue`]).
    pub during: Option<Fault>,
}

/// One upload: the image and the bytes it must hold (regenerated from the seed).
#[derive(Debug, Clone)]
pub struct Upload {
    /// The image.
    pub image: Uuid,
    /// Bytes.
    pub size: usize,
    /// The seed of the bytes (see [`upload_bytes`]).
    pub seed: u64,
    /// `PUT /file` tries so far.
    pub sends: u32,
    /// The gateway answered 204.
    pub confirmed: bool,
}

/// The bytes of an upload: cheap to make, different per seed, compared on disk later.
pub fn upload_bytes(seed: u64, size: usize) -> Vec<u8> {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..size)
        .map(|_| {
            // xorshift64: enough to tell one upload's bytes from another's.
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 24) as u8
        })
        .collect()
}

/// What the runner recorded; shared by the drivers (cheap to clone).
#[derive(Debug, Clone, Default)]
pub struct Ledger {
    inner: Arc<Mutex<Book>>,
}

/// The records themselves.
#[derive(Debug, Default, Clone)]
pub struct Book {
    /// Commands by key.
    pub commands: HashMap<Uuid, Issued>,
    /// Uploads by image.
    pub uploads: HashMap<Uuid, Upload>,
    /// Event deliveries by event id: how many times each arrived.
    pub events: HashMap<Uuid, u32>,
    /// Events received for the first time with a version below one already received
    /// for their image, by the fault in effect when they arrived.
    pub order_violations: BTreeMap<Option<Fault>, Vec<String>>,
    /// The image the latest command went to (a busy one, for the row-lock fault).
    pub last_image: Option<Uuid>,
    /// The highest version received per image.
    latest_version: HashMap<Uuid, i64>,
    /// The fault in effect now.
    phase: Option<Fault>,
}

impl Ledger {
    /// The records, locked.
    pub fn book(&self) -> MutexGuard<'_, Book> {
        // A panicking driver leaves consistent maps behind: every update is one insert.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Records a command before its first send, tagged with the fault in effect.
    pub fn issue(&self, mut issued: Issued) {
        let mut book = self.book();
        issued.during = book.phase;
        book.last_image = Some(issued.image);
        book.commands.insert(issued.key, issued);
    }

    /// Sets the fault in effect from now on (None: between faults).
    pub fn set_phase(&self, fault: Option<Fault>) {
        self.book().phase = fault;
    }

    /// Counts one more send of a command.
    pub fn sent(&self, key: Uuid) {
        if let Some(c) = self.book().commands.get_mut(&key) {
            c.sends += 1;
        }
    }

    /// Marks a command confirmed.
    pub fn confirm(&self, key: Uuid) {
        if let Some(c) = self.book().commands.get_mut(&key) {
            c.confirmed = true;
        }
    }

    /// Records an event delivery; a first delivery older than what its image already
    /// showed is an order violation (a repeat of an old event is only a duplicate).
    pub fn event(&self, event: &EventEnvelope) {
        let mut book = self.book();
        let book = &mut *book;
        let deliveries = book.events.entry(event.event_id).or_default();
        *deliveries += 1;
        if *deliveries > 1 {
            return;
        }
        let latest = book.latest_version.entry(event.id).or_default();
        if event.version < *latest {
            book.order_violations
                .entry(book.phase)
                .or_default()
                .push(format!(
                    "{} {}: version {} after {}",
                    event.aggregate, event.id, event.version, latest
                ));
        } else {
            *latest = event.version;
        }
    }
}
