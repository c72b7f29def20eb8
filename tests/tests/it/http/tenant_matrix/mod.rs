//! The tenant isolation matrix (issue 9, item 4): eight callers (owner, another member
//! of the owning project, its reader, a stranger project, shared members that are
//! pending, accepted and rejected, an admin of another project) x every image endpoint
//! x the four visibilities, plus the lists, the tasks API and creating for another
//! project. The expected status of each cell is data (expectations.rs, lists.rs), each
//! rule citing SPEC; a changing request gets a fresh image per cell and, when refused,
//! must leave its version, `updated_at`, status and events as they were; the bodies are
//! checked for cross-tenant reads (checks.rs). One stack and one database for the whole
//! matrix; every disagreeing cell is reported, then the test fails.
//!
//! `cargo nextest run --workspace -E 'test(tenant_matrix)' --no-capture` prints the
//! summary per endpoint.

mod actors;
mod cells;
mod checks;
mod expectations;
mod lists;
mod setup;

use std::collections::BTreeMap;

use domain::status::Visibility;
use domain::{DomainConfig, ImageId};
use futures::StreamExt;
use imagefleet_tests::TestApp;
use serde_json::json;

use actors::{ACTORS, VISIBILITIES, Who, row};
use cells::Endpoint;
use setup::{ReadImages, fresh, read_images, snapshot, wait_active};

/// Cells in flight at once: enough to keep the worker busy, few enough for 2 cores.
const PARALLEL: usize = 8;

/// One cell's verdict.
struct Verdict {
    label: String,
    who: Who,
    visibility: Option<Visibility>,
    problems: Vec<String>,
}

impl Verdict {
    fn new(label: String, who: Who, visibility: Option<Visibility>) -> Self {
        Self {
            label,
            who,
            visibility,
            problems: Vec::new(),
        }
    }

    fn status(&mut self, expected: u16, got: u16, body: &str) {
        if expected != got {
            self.problems
                .push(format!("expected {expected}, got {got}: {body}"));
        }
    }
}

/// One image cell: the request as `who`, its status and body checked, and for a
/// changing request the image's snapshot (unchanged when refused). Imported images are
/// handed back so the test can wait for their imports.
async fn image_cell(
    app: &TestApp,
    reads: &BTreeMap<usize, ReadImages>,
    endpoint: Endpoint,
    visibility: Visibility,
    who: Who,
) -> (Verdict, Option<ImageId>) {
    let repo = crate::http::api_sharing::repo(app, DomainConfig::default());
    let id = match endpoint.state() {
        cells::State::ReadActive => reads[&row(visibility)].active,
        cells::State::ReadDeactivated => reads[&row(visibility)].deactivated,
        state => fresh(app, &repo, visibility, state).await,
    };
    let expected = expectations::table(endpoint)[row(visibility)][who.column()];
    let (method, path, body) = endpoint.request();
    let before = snapshot(app, id).await;
    let uri = format!("/v2/images/{id}{path}");
    let response = app.request(method, &uri, Some(&who.actor()), body).await;
    let mut verdict = Verdict::new(endpoint.label(), who, Some(visibility));
    verdict.status(expected, response.status.as_u16(), &response.text);
    if expected == response.status.as_u16() {
        verdict
            .problems
            .extend(checks::content(endpoint, who, id, &response));
    }
    // A refusal leaves the image as it was; an accepted change moves it on (a new
    // version, or gone).
    let after = snapshot(app, id).await;
    if response.status.is_client_error() && after != before {
        let what = format!("a refusal changed the image: {before:?} -> {after:?}");
        verdict.problems.push(what);
    }
    if response.status.is_success() && endpoint.changes() && after == before {
        verdict
            .problems
            .push("an accepted change changed nothing".into());
    }
    let imported = (endpoint == Endpoint::Import && response.status.is_success()).then_some(id);
    (verdict, imported)
}

/// A list cell: is the reading image of `visibility` listed for `who`?
async fn list_cell(
    app: &TestApp,
    case: &lists::ListCase,
    visibility: Visibility,
    who: Who,
) -> Verdict {
    let response = app.get(&case.path(visibility), &who.actor()).await;
    let mut verdict = Verdict::new(case.label(), who, Some(visibility));
    verdict.status(200, response.status.as_u16(), &response.text);
    let listed = response.json["images"].as_array().map_or(0, Vec::len);
    let expected = usize::from(case.presence[row(visibility)][who.column()]);
    if listed != expected {
        verdict.problems.push(format!(
            "listed {listed}, expected {expected}: {}",
            response.text
        ));
    }
    verdict
}

/// The cells that are not about one image: the tasks API and creating for p1.
async fn other_cells(app: &TestApp, task: &str, who: Who) -> Vec<Verdict> {
    let actor = who.actor();
    let column = who.column();
    let mut verdicts = Vec::new();
    for path in [format!("/v2/tasks/{task}"), "/v2/tasks".to_owned()] {
        let response = app.get(&path, &actor).await;
        let mut verdict = Verdict::new(format!("GET {}", path.replace(task, "{id}")), who, None);
        verdict.status(
            expectations::TASKS_API[column],
            response.status.as_u16(),
            &response.text,
        );
        verdicts.push(verdict);
    }
    let body =
        json!({"name": "matrix-created", "owner": imagefleet_tests::fixtures::OWNER_PROJECT});
    let response = app.post_json("/v2/images", &actor, body).await;
    let mut verdict = Verdict::new("POST /v2/images owner=p1".into(), who, None);
    verdict.status(
        expectations::CREATE_FOR_P1[column],
        response.status.as_u16(),
        &response.text,
    );
    verdicts.push(verdict);
    verdicts
}

#[tokio::test(flavor = "multi_thread")]
async fn tenant_matrix_matches_spec() {
    let started = std::time::Instant::now();
    let app = TestApp::start().await;
    let repo = crate::http::api_sharing::repo(&app, DomainConfig::default());
    let mut reads = BTreeMap::new();
    for visibility in VISIBILITIES {
        reads.insert(row(visibility), read_images(&app, &repo, visibility).await);
    }
    let task = task_of(&app, reads[&0].active).await;

    let image_cells = Endpoint::ALL.iter().flat_map(|e| {
        VISIBILITIES
            .iter()
            .flat_map(move |v| ACTORS.iter().map(move |w| (*e, *v, *w)))
    });
    let results: Vec<(Verdict, Option<ImageId>)> = futures::stream::iter(image_cells)
        .map(|(e, v, w)| image_cell(&app, &reads, e, v, w))
        .buffer_unordered(PARALLEL)
        .collect()
        .await;
    let mut verdicts = Vec::new();
    for (verdict, imported) in results {
        if let Some(id) = imported {
            wait_active(&app, id).await;
        }
        verdicts.push(verdict);
    }
    for case in &lists::LISTS {
        for (_, visibility) in lists::rows() {
            for who in ACTORS {
                verdicts.push(list_cell(&app, case, visibility, who).await);
            }
        }
    }
    for who in ACTORS {
        verdicts.extend(other_cells(&app, &task, who).await);
    }
    app.stop().await;
    report(&verdicts, started.elapsed());
}

/// The import task of the public reading image, as the owner sees it.
async fn task_of(app: &TestApp, image: ImageId) -> String {
    let owner = imagefleet_tests::fixtures::owner();
    let response = app.get(&format!("/v2/images/{image}/tasks"), &owner).await;
    let task = response.json["tasks"][0]["id"].as_str();
    task.expect("the import's task").to_owned()
}

/// Prints cells and passes per endpoint, then fails listing every disagreeing cell.
fn report(verdicts: &[Verdict], took: std::time::Duration) {
    let mut per_label: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    for verdict in verdicts {
        let entry = per_label.entry(verdict.label.as_str()).or_default();
        entry.0 += 1;
        entry.1 += usize::from(verdict.problems.is_empty());
    }
    let passed = verdicts.iter().filter(|v| v.problems.is_empty()).count();
    let cells = verdicts.len();
    println!("tenant matrix: {cells} cells, {passed} passed, in {took:.1?}");
    for (label, (cells, passed)) in &per_label {
        println!("  {label:<60} {cells:>4} cells {passed:>4} passed");
    }
    let failures: Vec<String> = verdicts
        .iter()
        .filter(|v| !v.problems.is_empty())
        .map(|v| {
            let visibility = v.visibility.map_or("-", Visibility::as_str);
            let (who, label) = (v.who.name(), &v.label);
            format!("{label} [{visibility}] as {who}: {}", v.problems.join("; "))
        })
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} cells disagree with SPEC:\n{}",
        failures.len(),
        verdicts.len(),
        failures.join("\n")
    );
}
