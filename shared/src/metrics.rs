//! imagefleet's metrics: the names of every family (all `imagefleet_*`, with their unit
//! in the name), the Prometheus recorder installed once per process, and the few
//! recording helpers more than one crate needs. Code records through the `metrics`
//! macros with these constants; the gateway's `/metrics` and a lone worker's metrics
//! port render the one process-wide handle, so under `imagefleet up` a single scrape
//! covers the gateway and its workers.

use std::sync::OnceLock;
use std::time::Duration;

use chrono::{DateTime, Utc};
use metrics::{Unit, describe_counter, describe_gauge, describe_histogram};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use bus::WorkQueue;

/// Gateway: requests answered, by `route` (the matched route template), `method`, `status`.
pub const HTTP_REQUESTS: &str = "imagefleet_http_requests_total";
/// Gateway: time to the response head, by `route` and `method` (histogram).
pub const HTTP_REQUEST_DURATION: &str = "imagefleet_http_request_duration_seconds";
/// Gateway: image data bytes received (upload and stage), counted as chunks arrive.
pub const BYTES_UPLOADED: &str = "imagefleet_bytes_uploaded_total";
/// Gateway: image data bytes sent, counted as chunks leave.
pub const BYTES_DOWNLOADED: &str = "imagefleet_bytes_downloaded_total";
/// Workers: commands processed, by `type` and `outcome` (the outcome's label).
pub const COMMANDS: &str = "imagefleet_commands_total";
/// Workers: time to process a command up to its settling, by `type` (histogram).
pub const COMMAND_DURATION: &str = "imagefleet_command_duration_seconds";
/// Workers: deliveries sent to a retry queue, by `queue`.
pub const COMMAND_RETRIES: &str = "imagefleet_command_retries_total";
/// Workers: deliveries dead-lettered, by `queue` and `reason`.
pub const DEAD_LETTERED: &str = "imagefleet_dead_lettered_total";
/// Workers: jobs (event-started work) run, by `kind` (the event type) and `outcome`.
pub const JOBS: &str = "imagefleet_jobs_total";
/// Workers: commands committed together in one transaction (group commit), per
/// transaction (histogram).
pub const COMMIT_GROUP_SIZE: &str = "imagefleet_commit_group_size";
/// Relay leader: age of the oldest unpublished outbox row at the last read (0 if none,
/// and 0 on a process whose relay does not lead).
pub const OUTBOX_LAG: &str = "imagefleet_outbox_lag_seconds";
/// Relay leader: age of the oldest unpublished outbox row, held back or not (0 if none,
/// and 0 on a process whose relay does not lead).
pub const OUTBOX_OLDEST_UNPUBLISHED: &str = "imagefleet_outbox_oldest_unpublished_seconds";
/// Relay leader: outbox rows quarantined (they and their aggregates' later events wait
/// for `imagefleet outbox retry`); 0 on a process whose relay does not lead.
pub const OUTBOX_QUARANTINED: &str = "imagefleet_outbox_quarantined_rows";
/// 1 while a relay of this process holds the outbox leader lock, else 0.
pub const RELAY_LEADER: &str = "imagefleet_relay_leader";

/// The `Content-Type` of the Prometheus text exposition format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4";

/// Histogram buckets for the `_duration_seconds` families: requests and commands take
/// milliseconds, uploads and imports may take minutes.
pub const DURATION_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
];

/// Buckets of [`COMMIT_GROUP_SIZE`]: commands per transaction.
pub const GROUP_SIZE_BUCKETS: &[f64] = &[1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0];

/// How often histogram samples are folded into their buckets when nobody scrapes (a
/// scrape does it too); keeps memory flat in a process that is never scraped.
const UPKEEP_INTERVAL: Duration = Duration::from_secs(5);

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// Installs the Prometheus recorder as this process's global recorder, once, and returns
/// its handle; later calls return the same handle. Idempotent so that the gateway, every
/// worker started in the process (`imagefleet up`, tests) and `main` may all call it.
///
/// If another recorder was installed first (a host application's), ours cannot become
/// global: the handle then renders an empty page and the failure is logged.
pub fn install() -> &'static PrometheusHandle {
    HANDLE.get_or_init(|| {
        let builder = PrometheusBuilder::new()
            .set_buckets_for_metric(
                Matcher::Suffix("_duration_seconds".to_owned()),
                DURATION_BUCKETS,
            )
            .and_then(|builder| {
                builder.set_buckets_for_metric(
                    Matcher::Full(COMMIT_GROUP_SIZE.to_owned()),
                    GROUP_SIZE_BUCKETS,
                )
            })
            // The slices are non-empty constants: the only error `set_buckets_*` has.
            .unwrap_or_else(|_| PrometheusBuilder::new());
        let recorder = builder.build_recorder();
        let handle = recorder.handle();
        if let Err(error) = metrics::set_global_recorder(recorder) {
            tracing::error!(%error, "a metrics recorder was already installed; /metrics stays empty");
        }
        describe();
        // Shown as 0 from the start, also in a process whose relay never leads.
        metrics::gauge!(RELAY_LEADER).increment(0.0);
        let upkeep = handle.clone();
        let spawned = std::thread::Builder::new()
            .name("metrics-upkeep".to_owned())
            .spawn(move || {
                loop {
                    std::thread::sleep(UPKEEP_INTERVAL);
                    upkeep.run_upkeep();
                }
            });
        if let Err(error) = spawned {
            tracing::warn!(%error, "no metrics upkeep thread; scrapes still fold histograms");
        }
        handle
    })
}

/// Help texts and units, shown as `# HELP` lines.
fn describe() {
    describe_counter!(HTTP_REQUESTS, "HTTP requests answered by the gateway");
    describe_histogram!(
        HTTP_REQUEST_DURATION,
        Unit::Seconds,
        "Time from a request's arrival to its response head"
    );
    describe_counter!(BYTES_UPLOADED, Unit::Bytes, "Image data bytes received");
    describe_counter!(BYTES_DOWNLOADED, Unit::Bytes, "Image data bytes sent");
    describe_counter!(COMMANDS, "Commands processed by the workers, by outcome");
    describe_histogram!(
        COMMAND_DURATION,
        Unit::Seconds,
        "Time to decide and commit a command"
    );
    describe_histogram!(
        COMMIT_GROUP_SIZE,
        "Commands committed together in one transaction (group commit)"
    );
    describe_counter!(COMMAND_RETRIES, "Deliveries sent to a retry queue");
    describe_counter!(DEAD_LETTERED, "Deliveries moved to a dead-letter queue");
    describe_counter!(JOBS, "Jobs (imports, data removal) run by the workers");
    describe_gauge!(
        OUTBOX_LAG,
        Unit::Seconds,
        "Age of the oldest unpublished outbox event at the relay's last read"
    );
    describe_gauge!(
        OUTBOX_OLDEST_UNPUBLISHED,
        Unit::Seconds,
        "Age of the oldest unpublished outbox event, held back or quarantined ones included"
    );
    describe_gauge!(
        OUTBOX_QUARANTINED,
        "Outbox events quarantined after failed publishes, waiting for an operator"
    );
    describe_gauge!(
        RELAY_LEADER,
        "1 while this process's outbox relay holds the leader lock"
    );
}

/// The `queue` label of a work queue: its logical name, the same in every deployment.
pub fn queue_label(queue: WorkQueue) -> &'static str {
    match queue {
        WorkQueue::Commands => "commands",
        WorkQueue::Jobs => "jobs",
    }
}

/// Sets [`OUTBOX_LAG`] from the oldest unpublished row the relay just read (`None`: the
/// outbox is empty). Never negative, should the clocks that stamped and read it differ.
pub fn record_outbox_lag(oldest: Option<DateTime<Utc>>, now: DateTime<Utc>) {
    let lag = oldest
        .map(|at| (now - at).to_std().unwrap_or_default())
        .unwrap_or_default();
    metrics::gauge!(OUTBOX_LAG).set(lag.as_secs_f64());
}

/// Sets [`OUTBOX_QUARANTINED`] and [`OUTBOX_OLDEST_UNPUBLISHED`] (`None`: every row is
/// published; a negative age, from a clock ahead of the database's, reads 0).
pub fn record_outbox_health(quarantined: i64, oldest_age_seconds: Option<f64>) {
    metrics::gauge!(OUTBOX_QUARANTINED).set(quarantined as f64);
    let age = oldest_age_seconds.unwrap_or_default().max(0.0);
    metrics::gauge!(OUTBOX_OLDEST_UNPUBLISHED).set(age);
}

/// Moves [`RELAY_LEADER`] when a relay of this process gains (`true`) or loses the lock.
/// Counted up and down rather than set, so a follower in the same process (tests and
/// `imagefleet up` start several) cannot overwrite the leader's 1. A relay that stops
/// leading also zeroes [`OUTBOX_LAG`] and the outbox's health gauges: only the leader
/// measures them, so a stale value left on a former leader would mislead a `max` over
/// the fleet.
pub fn record_relay_leadership(leading: bool) {
    let gauge = metrics::gauge!(RELAY_LEADER);
    if leading {
        gauge.increment(1.0);
    } else {
        gauge.decrement(1.0);
        metrics::gauge!(OUTBOX_LAG).set(0.0);
        record_outbox_health(0, None);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn install_twice_returns_one_handle() {
        let first: *const PrometheusHandle = install();
        let second: *const PrometheusHandle = install();
        assert_eq!(first, second);
    }

    #[test]
    fn families_carry_the_prefix_and_a_unit_or_total() {
        for name in [
            HTTP_REQUESTS,
            HTTP_REQUEST_DURATION,
            BYTES_UPLOADED,
            BYTES_DOWNLOADED,
            COMMANDS,
            COMMAND_DURATION,
            COMMAND_RETRIES,
            DEAD_LETTERED,
            JOBS,
            OUTBOX_LAG,
            OUTBOX_OLDEST_UNPUBLISHED,
            OUTBOX_QUARANTINED,
            RELAY_LEADER,
        ] {
            assert!(name.starts_with("imagefleet_"), "{name}");
        }
        assert!(DURATION_BUCKETS.windows(2).all(|w| w[0] < w[1]));
    }
}
