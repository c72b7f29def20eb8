//! Request ids (SPEC 11, 12): a client's `X-Openstack-Request-Id` is echoed, otherwise a
//! fresh `req-<uuid>` is made; either becomes the correlation id of the command the
//! request sends, which the image's history shows.

use axum::http::{Method, StatusCode};
use imagefleet_tests::TestApp;
use imagefleet_tests::fixtures::owner;

use super::{build, header_of, history};

const OWNER: [(&str, &str); 3] = [
    ("x-project-id", "p1"),
    ("x-user-id", "u1"),
    ("x-roles", "member,reader"),
];

const REQUEST_ID: &str = "x-openstack-request-id";

/// The uuid of a `req-<uuid>` id.
fn uuid_of(id: &str) -> uuid::Uuid {
    let uuid = id.strip_prefix("req-").unwrap_or_else(|| panic!("{id}"));
    uuid.parse().unwrap_or_else(|e| panic!("{id}: {e}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn a_client_request_id_is_echoed_and_becomes_the_correlation_id() {
    let app = TestApp::start().await;
    let chosen = format!("req-{}", uuid::Uuid::new_v4());
    let mut headers = OWNER.to_vec();
    headers.push((REQUEST_ID, &chosen));
    let created = app
        .send(build(Method::POST, "/v2/images", &headers, Some("{}")))
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    assert_eq!(header_of(&created, REQUEST_ID), Some(chosen.as_str()));
    let id = created.json["id"].as_str().expect("id").to_owned();

    // A later patch under another client id: each version keeps its own request's id.
    let patch_id = format!("req-{}", uuid::Uuid::new_v4());
    let mut patch = build(
        Method::PATCH,
        &format!("/v2/images/{id}"),
        &OWNER,
        Some(r#"[{"op": "add", "path": "/name", "value": "renamed"}]"#),
    );
    patch.headers_mut().insert(
        "content-type",
        "application/openstack-images-v2.1-json-patch"
            .parse()
            .expect("media type"),
    );
    patch
        .headers_mut()
        .insert(REQUEST_ID, patch_id.parse().expect("request id"));
    let patched = app.send(patch).await;
    assert_eq!(patched.status, StatusCode::OK, "{}", patched.text);
    assert_eq!(header_of(&patched, REQUEST_ID), Some(patch_id.as_str()));

    let entries = history(&app, &id, &OWNER).await;
    assert_eq!(entries.len(), 2, "{entries:?}");
    assert_eq!(entries[0]["correlation_id"], chosen.as_str(), "{entries:?}");
    assert_eq!(
        entries[1]["correlation_id"],
        patch_id.as_str(),
        "{entries:?}"
    );

    // Errors echo it too.
    let missing = format!("/v2/images/{}", uuid::Uuid::new_v4());
    let mut headers = OWNER.to_vec();
    headers.push((REQUEST_ID, "req-my-own-trace"));
    let not_found = app.send(build(Method::GET, &missing, &headers, None)).await;
    assert_eq!(not_found.status, StatusCode::NOT_FOUND);
    assert_eq!(header_of(&not_found, REQUEST_ID), Some("req-my-own-trace"));
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn without_a_client_id_each_request_gets_a_fresh_req_uuid() {
    let app = TestApp::start().await;
    let created = app
        .post_json("/v2/images", &owner(), serde_json::json!({}))
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    let made = header_of(&created, REQUEST_ID)
        .expect("request id")
        .to_owned();
    assert_eq!(created.headers.get_all(REQUEST_ID).iter().count(), 1);
    uuid_of(&made);
    let id = created.json["id"].as_str().expect("id").to_owned();
    let entries = history(&app, &id, &OWNER).await;
    assert_eq!(entries[0]["correlation_id"], made.as_str(), "{entries:?}");

    let first = app.get("/v2/images", &owner()).await;
    let second = app.get("/v2/images", &owner()).await;
    let ids = [&first, &second].map(|r| header_of(r, REQUEST_ID).expect("id").to_owned());
    assert_ne!(uuid_of(&ids[0]), uuid_of(&ids[1]));
    assert!(!ids.contains(&made));
    // Answers the router makes itself (405, unknown paths) carry one as well.
    let not_allowed = app
        .request(Method::PUT, "/v2/images", Some(&owner()), None)
        .await;
    assert_eq!(not_allowed.status, StatusCode::METHOD_NOT_ALLOWED);
    uuid_of(header_of(&not_allowed, REQUEST_ID).expect("id"));
    let unknown = app.get("/v2/nothing", &owner()).await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    uuid_of(header_of(&unknown, REQUEST_ID).expect("id"));
    app.stop().await;
}
