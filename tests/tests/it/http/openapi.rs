//! The gateway's OpenAPI document (issue #7): what `GET /openapi.json` serves, without
//! identity, must equal the checked-in snapshot `api-gateway/openapi.json`, so every API
//! change shows in review; and it must document exactly the routes the router serves,
//! with exactly the methods each path answers (any other is 405), and only references
//! that resolve.
//!
//! Refresh the snapshot after an intended change with
//! `IMAGEFLEET_UPDATE_SNAPSHOTS=1 cargo nextest run --workspace -E 'test(openapi)'`.

use std::collections::BTreeSet;
use std::path::PathBuf;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use imagefleet_tests::TestApp;
use serde_json::Value;

/// Set (to anything but empty or `0`) to rewrite the snapshot instead of comparing.
const UPDATE_ENV: &str = "IMAGEFLEET_UPDATE_SNAPSHOTS";

/// The command that refreshes the snapshot.
const REFRESH: &str =
    "IMAGEFLEET_UPDATE_SNAPSHOTS=1 cargo nextest run --workspace -E 'test(openapi)'";

/// The gateway crate's directory.
fn gateway_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("api-gateway")
}

fn updating() -> bool {
    std::env::var(UPDATE_ENV).is_ok_and(|v| !v.is_empty() && v != "0")
}

/// `GET /openapi.json` without identity: 200, JSON.
async fn served(app: &TestApp) -> (String, Value) {
    let response = app
        .request(Method::GET, api_gateway::openapi::PATH, None, None)
        .await;
    assert_eq!(response.status, StatusCode::OK, "{}", response.text);
    assert_eq!(response.headers[header::CONTENT_TYPE], "application/json");
    assert!(response.json.is_object(), "not JSON: {}", response.text);
    (response.text, response.json)
}

#[tokio::test(flavor = "multi_thread")]
async fn openapi_document_matches_the_snapshot() {
    let app = TestApp::start().await;
    let (text, document) = served(&app).await;
    assert_eq!(document["openapi"], "3.1.0");
    let path = gateway_dir().join("openapi.json");
    if updating() {
        std::fs::write(&path, &text).expect("write the snapshot");
        return;
    }
    let snapshot = std::fs::read_to_string(&path).unwrap_or_default();
    if snapshot != text {
        let first = snapshot
            .lines()
            .zip(text.lines())
            .position(|(a, b)| a != b)
            .unwrap_or(snapshot.lines().count().min(text.lines().count()));
        panic!(
            "the served OpenAPI document differs from {} from line {} on (snapshot: {:?}, \
             served: {:?}). If the change is intended, refresh the snapshot with\n  {REFRESH}\n\
             and review its diff.",
            path.display(),
            first + 1,
            snapshot.lines().nth(first).unwrap_or("<end>"),
            text.lines().nth(first).unwrap_or("<end>"),
        );
    }
}

/// The route templates registered in the gateway's sources: every `.route("...")` of
/// the API and operations routers, and the document's own path.
fn registered_paths() -> BTreeSet<String> {
    let mut paths = BTreeSet::from([api_gateway::openapi::PATH.to_owned()]);
    for file in ["src/routes/mod.rs", "src/routes/ops.rs"] {
        let source = std::fs::read_to_string(gateway_dir().join(file)).expect("router source");
        for part in source.split(".route(").skip(1) {
            let template = part
                .trim_start()
                .strip_prefix('"')
                .and_then(|rest| rest.split_once('"'))
                .map(|(template, _)| template.to_owned())
                .unwrap_or_else(|| panic!("{file}: a route that is not a literal: {part:.40}"));
            paths.insert(template);
        }
    }
    paths
}

/// A concrete path for a template; ids are UUIDs, other segments valid names.
fn concrete(template: &str) -> String {
    template
        .replace("{id}", "7f3c2a9e-5b1d-4e8f-9a6c-3d2b1e0f4a5c")
        .replace("{tag}", "a-tag")
        .replace("{member}", "a-project")
        .replace("{action}", "deactivate")
        .replace("{name}", "image")
}

/// Every `$ref` anywhere under `value`.
fn references<'a>(value: &'a Value, found: &mut Vec<&'a str>) {
    match value {
        Value::Object(map) => {
            if let Some(Value::String(target)) = map.get("$ref") {
                found.push(target);
            }
            map.values().for_each(|v| references(v, found));
        }
        Value::Array(items) => items.iter().for_each(|v| references(v, found)),
        _ => {}
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn openapi_documents_every_route_and_method() {
    let app = TestApp::start().await;
    let (_, document) = served(&app).await;
    let paths = document["paths"].as_object().expect("paths");
    let documented: BTreeSet<String> = paths.keys().cloned().collect();
    assert_eq!(
        documented,
        registered_paths(),
        "the document's paths and the router's routes differ"
    );

    // Every method on every path, without identity: the API answers 401 before it
    // reads anything, and a method the path does not serve is 405.
    let probed = [
        Method::GET,
        Method::PUT,
        Method::POST,
        Method::DELETE,
        Method::PATCH,
    ];
    for (template, item) in paths {
        let mut served = BTreeSet::new();
        for method in &probed {
            let request = Request::builder()
                .method(method.clone())
                .uri(concrete(template))
                .body(Body::empty())
                .expect("request");
            let response = app.call_raw(request).await;
            if response.status() != StatusCode::METHOD_NOT_ALLOWED {
                served.insert(method.as_str().to_ascii_lowercase());
            }
        }
        let methods: BTreeSet<String> = item
            .as_object()
            .expect("path item")
            .keys()
            .filter(|k| *k != "parameters")
            .cloned()
            .collect();
        assert_eq!(
            methods, served,
            "documented and served methods of {template}"
        );
    }

    let mut found = Vec::new();
    references(&document, &mut found);
    assert!(!found.is_empty());
    for target in found {
        let pointer = target.strip_prefix('#').expect("a local reference");
        assert!(
            document.pointer(pointer).is_some(),
            "{target} does not resolve"
        );
    }
}
