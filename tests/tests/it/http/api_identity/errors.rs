//! Error bodies negotiated like Glance (SPEC 11): the same 404 as JSON for a client that
//! asks for it, and as plain text (`404 Not Found` first) for `*/*` or no `Accept`.

use api_gateway::Settings;
use axum::http::{Method, StatusCode};
use imagefleet_tests::TestApp;
use serde_json::json;

use super::{Stack, build, header_of};

const OWNER: [(&str, &str); 3] = [
    ("x-project-id", "p1"),
    ("x-user-id", "u1"),
    ("x-roles", "member,reader"),
];

fn with_accept(accept: &str) -> Vec<(&str, &str)> {
    let mut headers = OWNER.to_vec();
    headers.push(("accept", accept));
    headers
}

#[tokio::test(flavor = "multi_thread")]
async fn a_404_is_json_when_the_client_asks_for_json() {
    let app = TestApp::start().await;
    let missing = format!("/v2/images/{}", uuid::Uuid::new_v4());
    for path in [missing.as_str(), "/v2/nothing-here"] {
        for accept in ["application/json", "application/json, text/plain;q=0.5"] {
            let response = app
                .send(build(Method::GET, path, &with_accept(accept), None))
                .await;
            assert_eq!(response.status, StatusCode::NOT_FOUND, "{path} {accept}");
            assert_eq!(
                header_of(&response, "content-type"),
                Some("application/json"),
                "{path} {accept}: {:?}",
                response.headers
            );
            let body = response.json.as_object().expect("a JSON object");
            let mut keys: Vec<&str> = body.keys().map(String::as_str).collect();
            keys.sort_unstable();
            assert_eq!(keys, ["code", "message", "title"], "{}", response.text);
            assert_eq!(body["code"], json!(404));
            assert_eq!(body["title"], json!("Not Found"));
            assert!(
                body["message"].as_str().is_some_and(|m| !m.is_empty()),
                "{}",
                response.text
            );
        }
    }
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_404_is_plain_text_for_any_other_accept() {
    let app = TestApp::start().await;
    let missing = format!("/v2/images/{}", uuid::Uuid::new_v4());
    let json = app
        .send(build(
            Method::GET,
            &missing,
            &with_accept("application/json"),
            None,
        ))
        .await;
    let message = json.json["message"].as_str().expect("message").to_owned();
    for accept in ["*/*", "text/plain", "application/json, */*", "text/html"] {
        let response = app
            .send(build(Method::GET, &missing, &with_accept(accept), None))
            .await;
        assert_eq!(response.status, StatusCode::NOT_FOUND, "{accept}");
        assert_eq!(
            header_of(&response, "content-type"),
            Some("text/plain; charset=UTF-8"),
            "{accept}"
        );
        assert!(
            response.text.starts_with("404 Not Found"),
            "{accept}: {}",
            response.text
        );
        assert!(
            response.text.contains(&message),
            "{accept}: {}",
            response.text
        );
        assert!(
            header_of(&response, "x-openstack-request-id").is_some(),
            "{accept}"
        );
    }
    app.stop().await;

    // `TestApp` adds `Accept: application/json` when none is sent: the stack's router
    // is called as the request is.
    let stack = Stack::without_worker(Settings::default()).await;
    let response = stack.call(build(Method::GET, &missing, &OWNER, None)).await;
    assert_eq!(response.status, StatusCode::NOT_FOUND);
    assert_eq!(
        header_of(&response, "content-type"),
        Some("text/plain; charset=UTF-8")
    );
    assert!(
        response.text.starts_with("404 Not Found"),
        "{}",
        response.text
    );
    assert!(response.text.contains(&message), "{}", response.text);
    let unknown_path = stack
        .call(build(Method::GET, "/v2/nothing-here", &OWNER, None))
        .await;
    assert_eq!(unknown_path.status, StatusCode::NOT_FOUND);
    assert!(
        unknown_path.text.starts_with("404 Not Found"),
        "{}",
        unknown_path.text
    );
}
