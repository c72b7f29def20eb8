//! The load generator: `clients` tasks sharing one HTTP/1.1 connection pool, each
//! sending one request at a time (a closed loop, as wrk and Glance's own figures do)
//! until the cell's time is up or its pool of images runs out, timing each request
//! from send to the last byte of the answer. Any unexpected status stops the benchmark:
//! a fast error is not a result.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use bytes::Bytes;
use reqwest::{Method, StatusCode};

/// The JSON-patch media type Glance's PATCH takes.
const JSON_PATCH: &str = "application/openstack-images-v2.1-json-patch";

/// One measured operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    Create,
    Show,
    List25,
    List200,
    Patch,
    Upload,
    Download,
    Delete,
}

impl Op {
    /// In the order they run within a round: creates fill the pool uploads and deletes
    /// take from, and deletes come last.
    pub const ALL: [Op; 8] = [
        Op::Create,
        Op::Show,
        Op::List25,
        Op::List200,
        Op::Patch,
        Op::Upload,
        Op::Download,
        Op::Delete,
    ];

    /// The row label: method, path and what varies.
    pub fn label(self) -> &'static str {
        match self {
            Op::Create => "create (POST /v2/images)",
            Op::Show => "show (GET /v2/images/{id})",
            Op::List25 => "list (GET /v2/images?limit=25)",
            Op::List200 => "list (GET /v2/images?limit=200)",
            Op::Patch => "patch (PATCH /v2/images/{id}, 1 property)",
            Op::Upload => "upload 1 MiB (PUT /v2/images/{id}/file)",
            Op::Download => "download 1 MiB (GET /v2/images/{id}/file)",
            Op::Delete => "delete (DELETE /v2/images/{id}, queued)",
        }
    }
}

/// What the requests need: the gateway, the images they act on, the data they send.
pub struct Target {
    pub client: reqwest::Client,
    pub base: String,
    /// Images for show and patch, more than the largest list page.
    pub existing: Vec<String>,
    /// Active images with [`Target::data`] for downloads.
    pub active: Vec<String>,
    /// The 1 MiB uploaded (random bytes; `Bytes` so each request shares them).
    pub data: Bytes,
}

/// What one cell (one operation at one concurrency, once) measured.
pub struct Cell {
    /// Each request's latency in milliseconds, sorted.
    pub latencies_ms: Vec<f64>,
    /// From the first request sent to the last answer read.
    pub elapsed: Duration,
    /// Images created by the cell (creates only).
    pub created: Vec<String>,
}

/// Runs `op` with `clients` concurrent clients for `duration`, taking the images that
/// uploads and deletes consume from `pool` (and stopping early if it runs out).
pub async fn run_cell(
    target: &Arc<Target>,
    op: Op,
    clients: usize,
    duration: Duration,
    pool: &Arc<Mutex<Vec<String>>>,
) -> anyhow::Result<Cell> {
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let deadline = started + duration;
    let tasks: Vec<_> = (0..clients)
        .map(|_| {
            let (target, next, pool) = (target.clone(), next.clone(), pool.clone());
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                let mut created = Vec::new();
                while Instant::now() < deadline {
                    let n = next.fetch_add(1, Ordering::Relaxed);
                    let image = match op {
                        // Consecutive numbers go to different images, so concurrent
                        // patches never race for the same image's version.
                        Op::Show | Op::Patch => target.existing[n % target.existing.len()].clone(),
                        Op::Download => target.active[n % target.active.len()].clone(),
                        Op::Upload | Op::Delete => match pool.lock().expect("pool").pop() {
                            Some(image) => image,
                            None => break,
                        },
                        Op::Create | Op::List25 | Op::List200 => String::new(),
                    };
                    let sent = Instant::now();
                    let id = request(&target, op, &image, n).await?;
                    latencies.push(sent.elapsed().as_secs_f64() * 1000.0);
                    created.extend(id);
                }
                anyhow::Ok((latencies, created, Instant::now()))
            })
        })
        .collect();
    let mut cell = Cell {
        latencies_ms: Vec::new(),
        elapsed: Duration::ZERO,
        created: Vec::new(),
    };
    for task in tasks {
        let (latencies, created, finished) = task.await??;
        cell.latencies_ms.extend(latencies);
        cell.created.extend(created);
        cell.elapsed = cell.elapsed.max(finished - started);
    }
    if cell.latencies_ms.is_empty() {
        bail!("{op:?} with {clients} clients completed no request (an empty pool?)");
    }
    cell.latencies_ms.sort_by(f64::total_cmp);
    Ok(cell)
}

/// Sends one request of `op` (on `image` where it takes one) and checks the answer.
/// Returns the new image's id for a create.
pub async fn request(
    target: &Target,
    op: Op,
    image: &str,
    n: usize,
) -> anyhow::Result<Option<String>> {
    let base = &target.base;
    let client = &target.client;
    let (builder, expected) = match op {
        Op::Create => (
            client
                .post(format!("{base}/v2/images"))
                .header("content-type", "application/json")
                .body(format!(
                    r#"{{"name":"bench-{n}","disk_format":"raw","container_format":"bare"}}"#
                )),
            StatusCode::CREATED,
        ),
        Op::Show => (
            client.get(format!("{base}/v2/images/{image}")),
            StatusCode::OK,
        ),
        Op::List25 | Op::List200 => {
            let limit = if op == Op::List25 { 25 } else { 200 };
            (
                client.get(format!("{base}/v2/images?limit={limit}")),
                StatusCode::OK,
            )
        }
        Op::Patch => (
            client
                .request(Method::PATCH, format!("{base}/v2/images/{image}"))
                .header("content-type", JSON_PATCH)
                .body(format!(
                    r#"[{{"op":"add","path":"/bench_round","value":"v{n}"}}]"#
                )),
            StatusCode::OK,
        ),
        Op::Upload => (
            client
                .put(format!("{base}/v2/images/{image}/file"))
                .header("content-type", "application/octet-stream")
                .body(target.data.clone()),
            StatusCode::NO_CONTENT,
        ),
        Op::Download => (
            client.get(format!("{base}/v2/images/{image}/file")),
            StatusCode::OK,
        ),
        Op::Delete => (
            client.delete(format!("{base}/v2/images/{image}")),
            StatusCode::NO_CONTENT,
        ),
    };
    let mut response = builder.send().await.with_context(|| format!("{op:?}"))?;
    let status = response.status();
    if status != expected {
        let body = response.text().await.unwrap_or_default();
        bail!("{op:?} {image} answered {status} (expected {expected}): {body}");
    }
    // Read every answer to its end: the latency includes the body, and the connection
    // goes back to the pool for the next request.
    let mut length = 0;
    let mut first = Vec::new();
    while let Some(chunk) = response.chunk().await? {
        length += chunk.len();
        if op == Op::Create {
            first.extend_from_slice(&chunk);
        }
    }
    match op {
        Op::Create => {
            let image: serde_json::Value = serde_json::from_slice(&first)?;
            let id = image["id"].as_str().context("a created image has an id")?;
            Ok(Some(id.to_owned()))
        }
        Op::Download if length != target.data.len() => {
            bail!(
                "download of {image} gave {length} bytes, not {}",
                target.data.len()
            )
        }
        _ => Ok(None),
    }
}
