//! The run's report: one table row per fault (times injected; the commands issued while
//! it was in effect, how many were lost, applied twice, their events missing; events
//! seen out of their image's version order meanwhile; recovery time median and worst)
//! with the run's totals, then what each check found, as Markdown for RELIABILITY.md.
//! Worker kills run all along: their row counts the commands issued outside every
//! other fault.

use std::fmt::Write as _;
use std::time::Duration;

use imagefleet_tests::process;

use crate::args::Args;
use crate::checks::{Findings, Tally};
use crate::faults::{Fault, Injection};

/// At most this many examples of a failed check are listed.
const EXAMPLES: usize = 10;

fn seconds(d: Duration) -> String {
    format!("{:.1} s", d.as_secs_f64())
}

/// The recovery column of one fault: median and worst, and how many never recovered.
fn recovery(injections: &[&Injection]) -> String {
    let mut times: Vec<Duration> = injections.iter().filter_map(|i| i.recovery).collect();
    times.sort();
    let never = injections.len() - times.len();
    let mut text = match (times.get(times.len() / 2), times.last()) {
        (Some(median), Some(worst)) => {
            format!("median {}, worst {}", seconds(*median), seconds(*worst))
        }
        _ => "-".to_owned(),
    };
    if never > 0 {
        let _ = write!(text, ", {never} not recovered by the deadline");
    }
    text
}

/// Renders the report of a run of `picked` faults.
pub fn render(
    header: &str,
    picked: &[Fault],
    injections: &[Injection],
    findings: &Findings,
    refusals: &[String],
    unexpected_exits: &[String],
) -> String {
    let mut out = String::new();
    let f = findings;
    let _ = writeln!(out, "{header}\n");
    let _ = writeln!(
        out,
        "| fault | times injected | commands | lost | applied twice | events missing | order violations | duplicates | recovery time |"
    );
    let _ = writeln!(out, "|---|---|---|---|---|---|---|---|---|");
    let commands = f.commands.0 + f.commands.1;
    for fault in picked {
        let of: Vec<&Injection> = injections.iter().filter(|i| i.fault == *fault).collect();
        // Commands are the fault's while it is in effect; worker kills, always in
        // effect, get those issued outside every other fault.
        let during = (*fault != Fault::WorkerKill).then_some(*fault);
        let tally = f.by_fault.get(&during).cloned().unwrap_or_default();
        let violations = f.order_violations.get(&during).map_or(0, Vec::len);
        let Tally {
            commands,
            lost,
            applied_twice,
            events_missing,
        } = tally;
        let _ = writeln!(
            out,
            "| {} | {} | {commands} | {lost} | {applied_twice} | {events_missing} | {violations} | | {} |",
            fault.describe(),
            of.len(),
            recovery(&of)
        );
    }
    let _ = writeln!(
        out,
        "| **all, whole run** | {} | {commands} ({} bus, {} HTTP; {} sends) | {} | {} | {} of {} | {} | {} of {} deliveries | |",
        injections.len(),
        f.commands.0,
        f.commands.1,
        f.sends,
        f.lost.len(),
        f.applied_twice.len(),
        f.events_missing,
        f.events,
        f.order_violations.values().map(Vec::len).sum::<usize>(),
        f.duplicates,
        f.deliveries,
    );
    let _ = writeln!(out);
    let check = |ok: bool| if ok { "ok" } else { "FAILED" };
    let mut line = |name: &str, items: &[String], count: usize| {
        let _ = writeln!(out, "- {name}: {count} ({})", check(count == 0));
        for item in items.iter().take(EXAMPLES) {
            let _ = writeln!(out, "  - {item}");
        }
    };
    line("commands never confirmed", &[], f.unconfirmed);
    line("lost commands", &f.lost, f.lost.len());
    line(
        "commands applied twice",
        &f.applied_twice,
        f.applied_twice.len(),
    );
    line(
        "images whose version is not 1 + their commands",
        &f.version_mismatches,
        f.version_mismatches.len(),
    );
    line("events missing on the tap", &[], f.events_missing);
    let violations: Vec<String> = f.order_violations.values().flatten().cloned().collect();
    line(
        "events seen out of their image's version order",
        &violations,
        violations.len(),
    );
    line("events left unpublished", &[], f.unpublished);
    line(
        "images stuck in saving / uploading / importing after the lease",
        &f.stuck,
        f.stuck.len(),
    );
    line(
        &format!(
            "uploads not active with their exact bytes (of {})",
            f.uploads
        ),
        &f.uploads_wrong,
        f.uploads_wrong.len(),
    );
    line("orphaned data files", &f.orphans, f.orphans.len());
    line("commands refused", refusals, refusals.len());
    let _ = writeln!(
        out,
        "- processes that exited by themselves (restarted): {}",
        unexpected_exits.len()
    );
    for exit in unexpected_exits.iter().take(EXAMPLES) {
        let _ = writeln!(out, "  - {exit}");
    }
    let _ = writeln!(
        out,
        "\nverdict: {}",
        if f.passed() && refusals.is_empty() {
            "passed"
        } else {
            "FAILED"
        }
    );
    out
}

/// The report's first line: the run's sizes, the commit, the machine and its load.
pub fn header(args: &Args, took: Duration) -> String {
    let sizes = args.sizes();
    let commit = process::run(
        std::process::Command::new("git").args([
            "-C",
            env!("CARGO_MANIFEST_DIR"),
            "rev-parse",
            "--short",
            "HEAD",
        ]),
        "git",
    )
    .unwrap_or_default();
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .unwrap_or_default()
        .lines()
        .find_map(|l| {
            l.strip_prefix("model name")?
                .split_once(':')
                .map(|(_, m)| m.trim().to_owned())
        })
        .unwrap_or_default();
    let cores = std::thread::available_parallelism().map_or(0, usize::from);
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    format!(
        "chaos run: {} commands, {} uploads over {} s, {} round(s) of faults, lease {} s; \
         commit {}, {}, {cores} cores ({cpu}), load average at the end {}; took {:.0} s",
        sizes.plan.commands,
        sizes.plan.uploads,
        sizes.plan.duration.as_secs(),
        sizes.rounds,
        args.lease,
        commit.trim(),
        chrono::Utc::now().format("%Y-%m-%d %H:%M UTC"),
        load.split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" "),
        took.as_secs_f64()
    )
}
