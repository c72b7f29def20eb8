"""The report of scripts/bench-glance: the side-by-side table with issue 18's targets, the
facts about the machine and the build that go with it, the services' CPU and memory,
and appending the entry to BENCHMARKS.md at the end of its "Gateway" section."""

import os
import statistics
import subprocess

import glance_load as load

TICKS = os.sysconf("SC_CLK_TCK")
HEADING = "## Gateway"
PATH = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "BENCHMARKS.md")

# Issue 18, sections 1 and 3: imagefleet's ops/s over Glance's, with the same client.
# Every case also wants a p99 no higher than Glance's.
TARGETS = {"create": 8, "upload": 4, "get": 8, "download": 3, "list": 12, "delete": 8, "ka-get": 12}
LABELS = {case: label for case, _, _, label in load.CASES} | dict(load.KEEPALIVE)


def cpu_ticks(pid):
    """User plus system CPU ticks of a process and of its children, recursively (the
    uWSGI master's workers); the threads of each process are in its own figures."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        with open(f"/proc/{pid}/task/{pid}/children") as children:
            kids = [int(child) for child in children.read().split()]
    except OSError:
        return 0
    return int(fields[11]) + int(fields[12]) + sum(cpu_ticks(child) for child in kids)


def status_mib(pid, field):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) // 1024
    return 0


def shell(*command):
    done = subprocess.run(command, capture_output=True, text=True)
    return done.stdout.strip() if done.returncode == 0 else "unknown"


def load_average():
    with open("/proc/loadavg") as loadavg:
        return ", ".join(loadavg.read().split()[:3])


def machine():
    model = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo")
                  if line.startswith("model name")), "unknown CPU")
    kib = next((int(line.split()[1]) for line in open("/proc/meminfo") if line.startswith("MemTotal:")), 0)
    return f"{os.cpu_count()} cores ({model}), {kib / 1048576:.1f} GiB memory, kernel {os.uname().release}"


def commit():
    head = shell("git", "rev-parse", "--short", "HEAD")
    changed = [line for line in shell("git", "status", "--porcelain", "--untracked-files=no").splitlines()
               if not line.endswith("BENCHMARKS.md")]
    return head if not changed else f"{head}-dirty ({len(changed)} tracked files differ from it)"


def median(results, key):
    return statistics.median(result[key] for result in results)


def table(results):
    """A row per case: medians of the runs, the ratio of the medians, the target."""
    out = ["| case | Glance ops/s | imagefleet ops/s | x Glance (each run) | target | Glance p50 / p99 ms "
           "| imagefleet p50 / p99 ms | CPU ms/op Glance / imagefleet | met |",
           "|---|---:|---:|---|---:|---:|---:|---:|---|"]
    for case, sides in results.items():
        glance, fleet = sides["glance"], sides["imagefleet"]
        ratio = median(fleet, "ops") / median(glance, "ops")
        each = ", ".join(f"{f['ops'] / g['ops']:.1f}" for g, f in zip(glance, fleet))
        target = TARGETS.get(case)
        misses = []
        if target and ratio < target:
            misses.append(f"ops/s {ratio / target:.0%} of the target")
        if median(fleet, "p99") > median(glance, "p99"):
            misses.append("p99 above Glance's")
        out.append(
            f"| {LABELS[case]} | {median(glance, 'ops'):.1f} | {median(fleet, 'ops'):.1f} | "
            f"{ratio:.1f} ({each}) | {f'{target} x' if target else 'p99 only'} | "
            f"{median(glance, 'p50'):.1f} / {median(glance, 'p99'):.1f} | "
            f"{median(fleet, 'p50'):.1f} / {median(fleet, 'p99'):.1f} | "
            f"{median(glance, 'cpu_ms'):.2f} / {median(fleet, 'cpu_ms'):.2f} | "
            f"{'no: ' + '; '.join(misses) if misses else 'yes'} |")
    return "\n".join(out) + "\n"


def entry(*, command, load_before, load_after, glance, runs, ops, seconds, fleet_rss, table, results):
    def closed(side):
        return ", ".join(f"{case[3:]} {median(results[case][side], 'closed'):.0f}" for case, _ in load.KEEPALIVE)
    return "\n".join([
        f"### {shell('date', '-u')}: beside the reference Glance (issue 18)",
        "",
        f"- Machine: {machine()}",
        f"- Load average (1, 5, 15 min): {load_before} before, {load_after} after",
        f"- Commit: {commit()} (build profile: release)",
        f"- Command: `ANCHOR_ROOT=<the reference Glance's directory> {command}`",
        f"- Glance: {glance}. imagefleet: `imagefleet up --workers 2`, its other defaults, on a database, "
        f"vhost and store of its own; peak RSS (VmHWM) {fleet_rss} MiB.",
        f"- {runs} runs, medians shown. New-connection cases (scripts/glance_load.py): {ops} requests from "
        f"{load.CLIENTS} Python threads, a new connection per request, 1 MiB images. Keep-alive cases: "
        f"wrk {' '.join(load.WRK_ARGS)} -d{seconds}s --latency. Connections the server closed during a "
        f"keep-alive case (wrk's read errors, median): Glance {closed('glance')}; imagefleet "
        f"{closed('imagefleet')}.",
        "",
        table,
    ])


def append(text):
    """Puts `text` at the end of the Gateway section (before the next `#`/`##` heading)."""
    with open(PATH) as file:
        lines = file.read().splitlines()
    if HEADING not in lines:
        raise load.BenchError(f"no {HEADING!r} section in {PATH}")
    start = lines.index(HEADING) + 1
    end = next((n for n in range(start, len(lines)) if lines[n].startswith(("# ", "## "))), len(lines))
    while end > start and not lines[end - 1].strip():
        end -= 1
    rest = lines[end:]
    while rest and not rest[0].strip():
        rest.pop(0)
    new = lines[:end] + [""] + text.rstrip("\n").splitlines() + ([""] + rest if rest else [])
    with open(PATH, "w") as file:
        file.write("\n".join(new).rstrip("\n") + "\n")
