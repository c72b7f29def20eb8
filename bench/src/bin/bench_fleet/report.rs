//! Medians and percentiles, the markdown table of a `bench-fleet` run, the facts about
//! the machine and the build that go with it, and appending the entry to
//! `BENCHMARKS.md` under "Fleet".

use std::fmt::Write as _;
use std::process::Command;

use anyhow::Context as _;

/// The section of `BENCHMARKS.md` this benchmark writes to.
pub const HEADING: &str = "## Fleet";

/// What the section says once, above its first entry.
const INTRO: &str = "Results of `bench-fleet` (`bench/src/bin/bench_fleet.rs`), newest last. For each image\n\
count, number of workers (run in-process, each with 4 transactions open at once) and group\n\
commit setting (`--batches`: the most commands a worker commits in one transaction), on a\n\
fresh database and topology, it creates the images (200 through the fleet; beyond that, copies\n\
of one made in SQL) and publishes a mix of commands with `reply_to`: half `update_image`\n\
(a new property each), a quarter `add_tag` (a new tag each), a quarter `create_image`.\n\
\n\
- **commands/s**: at full speed (all commands published at once): commands divided by the\n\
\x20\x20time from the first publish to the last reply; the median of the runs;\n\
- **p50 / p99 / p999 ms at half peak**: one more run that publishes at half that rate, from\n\
\x20\x20each command's publish to its first event arriving on a queue bound to the events\n\
\x20\x20exchange with `#` (so it includes the outbox relay);\n\
- **pgbench tps**: `pgbench -n -c C -j C -T 10` (C = 4 x workers, as many transactions in\n\
\x20\x20flight as the fleet has) on the last run's database, with a script of the command\n\
\x20\x20transaction of `update_image` (see `pgbench.rs`); **fleet/pgbench** is the share of it\n\
\x20\x20the fleet reaches.\n\
\n\
Everything (Postgres, RabbitMQ, the workers and the benchmark client) shares the 2 cores.\n";

/// Measurements of one run.
#[derive(Debug, Clone, Copy)]
pub struct Run {
    pub per_second: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub p999_ms: f64,
}

/// One row of the table.
pub struct Row {
    pub images: usize,
    pub workers: usize,
    pub batch: usize,
    pub flood: Vec<Run>,
    pub paced: Run,
    pub paced_rate: f64,
    pub pgbench_tps: f64,
    pub pgbench_clients: usize,
}

/// The `p`th percentile of `sorted` (nearest rank).
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = (p / 100.0 * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// The median of `values` (the upper one of an even count).
pub fn median(mut values: Vec<f64>) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

impl Row {
    /// The median commands/s of the full-speed runs.
    pub fn peak(&self) -> f64 {
        median(self.flood.iter().map(|r| r.per_second).collect())
    }
}

/// The markdown table of `rows`.
pub fn table(rows: &[Row]) -> String {
    let mut out = String::from(
        "| images | workers | batch | commands/s | runs | rate at half peak | p50 ms | p99 ms | p999 ms | pgbench tps (clients) | fleet/pgbench |\n\
         |---:|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|\n",
    );
    for row in rows {
        let runs: Vec<String> = row
            .flood
            .iter()
            .map(|r| format!("{:.0}", r.per_second))
            .collect();
        let _ = writeln!(
            out,
            "| {} | {} | {} | {:.0} | {} | {:.0}/s | {:.1} | {:.1} | {:.1} | {:.0} ({}) | {:.2} |",
            row.images,
            row.workers,
            row.batch,
            row.peak(),
            runs.join(", "),
            row.paced_rate,
            row.paced.p50_ms,
            row.paced.p99_ms,
            row.paced.p999_ms,
            row.pgbench_tps,
            row.pgbench_clients,
            row.peak() / row.pgbench_tps,
        );
    }
    out
}

fn shell(program: &str, args: &[&str]) -> String {
    Command::new(program)
        .args(args)
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_else(|| "unknown".to_owned())
}

fn memory() -> String {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find_map(|l| l.strip_prefix("MemTotal:"))
                .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok())
        })
        .map_or_else(
            || "unknown".to_owned(),
            |kib| format!("{:.1} GiB", kib / 1024.0 / 1024.0),
        )
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(", "))
        .unwrap_or_else(|_| "unknown".to_owned())
}

/// The entry for `BENCHMARKS.md`: date, machine, build, command, settings and table.
pub fn entry(command_line: &str, settings: &str, table: &str, load_before: &str) -> String {
    let profile = if cfg!(debug_assertions) {
        "debug"
    } else {
        "release"
    };
    let mut section = String::new();
    let _ = writeln!(section, "\n### {}\n", shell("date", &["-u"]));
    let _ = writeln!(
        section,
        "- Machine: {} cores, {} memory, kernel {}",
        shell("nproc", &[]),
        memory(),
        shell("uname", &["-r"])
    );
    let _ = writeln!(
        section,
        "- Load average (1, 5, 15 min): {load_before} before the runs, {} after",
        load_average()
    );
    let _ = writeln!(
        section,
        "- Commit: {} (build profile: {profile})",
        shell("git", &["rev-parse", "--short", "HEAD"])
    );
    let _ = writeln!(section, "- Command: `{command_line}`");
    let _ = writeln!(section, "- {settings}\n");
    section.push_str(table);
    section
}

/// The load average now, for the entry's "before".
pub fn load_now() -> String {
    load_average()
}

/// Appends `entry` to `BENCHMARKS.md` at the end of the "Fleet" section (created with
/// its introduction on first use).
pub fn append(entry: &str) -> anyhow::Result<()> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../BENCHMARKS.md");
    let mut contents = std::fs::read_to_string(path).unwrap_or_else(|_| "# Benchmarks\n".into());
    match contents.find(&format!("\n{HEADING}\n")) {
        Some(start) => {
            let body = start + HEADING.len() + 2;
            let end = contents[body..]
                .find("\n## ")
                .map_or(contents.len(), |i| body + i);
            contents.insert_str(end, entry);
        }
        None => {
            let _ = write!(contents, "\n{HEADING}\n\n{INTRO}{entry}");
        }
    }
    std::fs::write(path, contents).with_context(|| format!("writing {path}"))
}
