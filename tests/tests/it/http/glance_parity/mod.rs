//! Response details checked side by side against a running Glance 33 (issue 17, item
//! 4): absolute `Location` headers that follow a proxy's forwarding headers, version
//! negotiation's 300 for paths under a version not served, the 204's type, the size of
//! staged data, and the custom properties of the image schema.

mod details;
mod urls;

use axum::body::Body;
use axum::http::{Method, Request};
use domain::Actor;
use imagefleet_tests::{TestApp, TestResponse};

/// Sends `method path` as `actor` with these extra headers and an optional JSON body.
async fn send(
    app: &TestApp,
    method: Method,
    path: &str,
    actor: &Actor,
    headers: &[(&str, &str)],
    json: Option<serde_json::Value>,
) -> TestResponse {
    let mut builder = Request::builder()
        .method(method)
        .uri(path)
        .header("x-project-id", &actor.project_id)
        .header("x-user-id", &actor.user_id)
        .header("x-roles", actor.roles.join(","));
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    let body = match json {
        Some(json) => {
            builder = builder.header("content-type", "application/json");
            Body::from(json.to_string())
        }
        None => Body::empty(),
    };
    app.send(builder.body(body).expect("request")).await
}

/// A response header as text, empty when absent.
fn header<'a>(response: &'a TestResponse, name: &str) -> &'a str {
    response
        .headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
}
