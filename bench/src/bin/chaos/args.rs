//! The runner's flags and the sizes of a run they settle to: `--short` or the full run,
//! each number overridable.

use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;

use crate::drive;
use crate::faults::Fault;

/// The crash-and-restart fault suite (see the binary's documentation).
#[derive(Debug, Parser)]
#[command(name = "chaos")]
pub struct Args {
    /// The test suite's size: 500 commands, 20 uploads over 20 s, each fault once.
    #[arg(long)]
    pub short: bool,
    /// `set_property` commands (a third of them through the gateway).
    #[arg(long)]
    pub commands: Option<usize>,
    /// Uploads (each of a fresh image).
    #[arg(long)]
    pub uploads: Option<usize>,
    /// Seconds the traffic is spread over.
    #[arg(long)]
    pub duration: Option<u64>,
    /// Times each of the turn-taking faults is injected.
    #[arg(long)]
    pub rounds: Option<usize>,
    /// The faults to inject, comma-separated (default: all of them).
    #[arg(long, value_enum, value_delimiter = ',')]
    pub faults: Vec<Fault>,
    /// Seconds between two worker kills.
    #[arg(long, default_value_t = 2)]
    pub worker_kill_every: u64,
    /// Seconds of an upload's lease (`IMAGEFLEET_DATA_LEASE`).
    #[arg(long, default_value_t = 5)]
    pub lease: u64,
    /// Seconds after which everything stops, checks or not.
    #[arg(long)]
    pub deadline: Option<u64>,
    /// Where `api-gateway` and `workers` are. Default: beside this binary, built
    /// first (`cargo build --workspace --bins` in this binary's profile).
    #[arg(long)]
    pub bin_dir: Option<PathBuf>,
    /// Also write the report (Markdown) to this file.
    #[arg(long)]
    pub report: Option<PathBuf>,
    /// Keep the run's directory (data, logs) instead of removing it.
    #[arg(long)]
    pub keep: bool,
}

/// The numbers of a run, after `--short` and the defaults.
pub struct Sizes {
    /// The traffic.
    pub plan: drive::Plan,
    /// Times each turn-taking fault is injected.
    pub rounds: usize,
    /// When everything stops, checks or not.
    pub deadline: Duration,
}

impl Args {
    /// The faults picked (all when none is named).
    pub fn faults(&self) -> Vec<Fault> {
        if self.faults.is_empty() {
            Fault::ALL.to_vec()
        } else {
            let mut faults = self.faults.clone();
            faults.sort();
            faults.dedup();
            faults
        }
    }

    pub fn sizes(&self) -> Sizes {
        let (commands, uploads, duration, rounds, deadline) = if self.short {
            // A cap, not a duration: a loaded machine restarts a broker slowly.
            (500, 20, 60, 1, 300)
        } else {
            (10_000, 200, 150, 4, 900)
        };
        Sizes {
            plan: drive::Plan {
                commands: self.commands.unwrap_or(commands),
                uploads: self.uploads.unwrap_or(uploads),
                duration: Duration::from_secs(self.duration.unwrap_or(duration)),
            },
            rounds: self.rounds.unwrap_or(rounds),
            deadline: Duration::from_secs(self.deadline.unwrap_or(deadline)),
        }
    }
}
