//! Summaries of the cells, the markdown table, the facts about the machine and the
//! build that go with it, and appending the entry to `BENCHMARKS.md` under "Gateway".

use std::fmt::Write as _;
use std::process::Command;

use anyhow::Context as _;

use crate::load::Op;

/// The section of `BENCHMARKS.md` this benchmark writes to.
pub const HEADING: &str = "## Gateway";

/// What the section says once, above its first entry.
const INTRO: &str = "Results of `bench-gateway` (`bench/src/bin/bench_gateway.rs`), newest last. It starts the\n\
release `imagefleet up` (gateway and 2 workers in one process, its defaults) on a fresh\n\
database, RabbitMQ vhost and image store, prepares 250 images (show, patch and the list\n\
pages) and 64 active images of 1 MiB (downloads), then for each run and each number of\n\
concurrent clients (1, 8, 64) runs every operation for a fixed time: a closed loop per\n\
client (one request at a time, reqwest over HTTP/1.1 keep-alive, no identity headers so\n\
requests act as project `default`). The images the creates make are shared out between the\n\
uploads and the deletes of the same round, each pool topped up (unmeasured) to max(100, 4\n\
x clients) queued images first; a cell that empties its pool ends early. Each request is\n\
timed from send to the last byte of its answer.\n\
\n\
- **ops/s**: requests answered divided by the time from the first send to the last answer;\n\
- **p50 / p99 ms**: latency percentiles of the requests;\n\
- **service / bench CPU ms per op**: user + system CPU time of the `imagefleet up` process\n\
\x20\x20and of the load generator per request (Postgres and RabbitMQ are neither); **machine\n\
\x20\x20busy**: the share of both cores busy during the cell, everyone's load included;\n\
- **Glance**: the reference Glance on this machine class (Postgres backend, 2 processes, 8\n\
\x20\x20concurrent clients) and **x Glance** our ops/s at 8 clients over it. The goals are 10 x\n\
\x20\x20for create, show and delete; for uploads, 0.8 x min(disk write, md5+sha512 one pass)\n\
\x20\x20(see Data).\n\
- **Peak RSS**: VmHWM of the `imagefleet up` process (gateway and workers).\n\
\n\
Figures are medians of the runs (each column separately). Everything (Postgres, RabbitMQ,\n\
the service, the load generator and the other engineers' work) shares the 2 cores.\n";

/// One cell's figures.
pub struct Sample {
    pub requests: usize,
    pub per_second: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub service_cpu_ms: f64,
    pub bench_cpu_ms: f64,
    pub busy_percent: f64,
}

/// Glance's figure for `op` at 8 clients, where the issue gives one.
fn glance(op: Op) -> Option<f64> {
    match op {
        Op::Create => Some(86.0),
        Op::Show => Some(430.0),
        Op::Upload => Some(59.0),
        Op::Delete => Some(103.0),
        _ => None,
    }
}

/// The `p`th percentile (nearest rank) of sorted values.
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    let rank = (p / 100.0 * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    if values.len().is_multiple_of(2) {
        (values[mid - 1] + values[mid]) / 2.0
    } else {
        values[mid]
    }
}

/// The table: a row per operation and concurrency, medians of `samples` (one per run).
pub fn table(rows: &[(Op, usize, Vec<Sample>)]) -> String {
    let mut out = String::from(
        "| operation | clients | requests | ops/s | p50 ms | p99 ms | service CPU ms/op | bench CPU ms/op | machine busy | Glance ops/s | x Glance |\n\
         |---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    for (op, clients, samples) in rows {
        let m = |f: fn(&Sample) -> f64| median(samples.iter().map(f).collect());
        let per_second = m(|s| s.per_second);
        let (reference, ratio) = match glance(*op).filter(|_| *clients == 8) {
            Some(g) => (format!("{g:.0}"), format!("{:.1}", per_second / g)),
            None => (String::new(), String::new()),
        };
        let _ = writeln!(
            out,
            "| {} | {clients} | {:.0} | {per_second:.0} | {:.1} | {:.1} | {:.2} | {:.2} | {:.0} % | {reference} | {ratio} |",
            op.label(),
            m(|s| s.requests as f64),
            m(|s| s.p50_ms),
            m(|s| s.p99_ms),
            m(|s| s.service_cpu_ms),
            m(|s| s.bench_cpu_ms),
            m(|s| s.busy_percent),
        );
    }
    out
}

/// Output of a command, trimmed, or "unknown".
pub fn shell(program: &str, args: &[&str]) -> String {
    Command::new(program)
        .args(args)
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_else(|| "unknown".to_owned())
}

/// The commit, with `-dirty` when a tracked file other than `BENCHMARKS.md` differs.
pub fn commit() -> String {
    let head = shell("git", &["rev-parse", "--short", "HEAD"]);
    let changed = shell("git", &["status", "--porcelain", "--untracked-files=no"]);
    let dirty = changed
        .lines()
        .filter(|line| !line.ends_with("BENCHMARKS.md"))
        .count();
    if dirty == 0 || changed == "unknown" {
        head
    } else {
        format!("{head}-dirty ({dirty} tracked files differ from it)")
    }
}

/// The 1, 5 and 15 minute load averages.
pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(", "))
        .unwrap_or_else(|_| "unknown".to_owned())
}

/// Cores, CPU model, memory and kernel.
pub fn machine() -> String {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name")?.split_once(':'))
        .map_or("unknown CPU", |(_, name)| name.trim());
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let memory = meminfo
        .lines()
        .find_map(|l| {
            l.strip_prefix("MemTotal:")?
                .split_whitespace()
                .next()?
                .parse::<f64>()
                .ok()
        })
        .map_or("unknown".to_owned(), |kib| {
            format!("{:.1} GiB", kib / 1048576.0)
        });
    format!(
        "{} cores ({model}), {memory} memory, kernel {}",
        shell("nproc", &[]),
        shell("uname", &["-r"])
    )
}

/// Busy and total jiffies of all CPUs together, from the first line of `/proc/stat`.
pub fn machine_jiffies() -> anyhow::Result<(u64, u64)> {
    let stat = std::fs::read_to_string("/proc/stat")?;
    let values: Vec<u64> = stat
        .lines()
        .next()
        .and_then(|l| l.strip_prefix("cpu "))
        .context("a cpu line")?
        .split_whitespace()
        .map(str::parse)
        .collect::<Result<_, _>>()?;
    let total: u64 = values.iter().sum();
    // idle and iowait are the 4th and 5th values.
    let idle = values.get(3).copied().unwrap_or(0) + values.get(4).copied().unwrap_or(0);
    Ok((total - idle, total))
}

/// Appends `entry` at the end of the Gateway section (made, with its intro, if absent).
pub fn append(entry: &str) -> anyhow::Result<()> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../BENCHMARKS.md");
    let mut contents = std::fs::read_to_string(path).unwrap_or_else(|_| "# Benchmarks\n".into());
    match contents.lines().position(|l| l == HEADING) {
        None => {
            let _ = write!(contents, "\n{HEADING}\n\n{INTRO}{entry}");
        }
        Some(at) => {
            // Before the next `#` or `##` heading after ours, or at the end.
            let lines: Vec<&str> = contents.lines().collect();
            let end = lines[at + 1..]
                .iter()
                .position(|l| l.starts_with("# ") || l.starts_with("## "))
                .map_or(lines.len(), |n| at + 1 + n);
            let mut out = lines[..end].join("\n");
            out.push('\n');
            out.push_str(entry);
            if end < lines.len() {
                out.push('\n');
                out.push_str(&lines[end..].join("\n"));
                out.push('\n');
            }
            contents = out;
        }
    }
    std::fs::write(path, contents).with_context(|| format!("writing {path}"))
}
