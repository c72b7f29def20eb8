//! Header identity (SPEC 11): `X-Project-Id` or `X-Tenant-Id`, `X-User-Id`, `X-Roles`
//! comma-separated; no identity is a Glance-shaped 401 unless a default identity is
//! configured, which such a request then acts as.

use api_gateway::Settings;
use api_gateway::identity::AuthMode;
use axum::http::{Method, StatusCode};
use domain::{Actor, DomainConfig};
use imagefleet_tests::TestApp;
use imagefleet_tests::fixtures::{admin, owner};

use super::{assert_json_error, build, history, listed, owner_of};

const JSON: (&str, &str) = ("accept", "application/json");

#[tokio::test(flavor = "multi_thread")]
async fn project_user_and_roles_come_from_the_headers() {
    let app = TestApp::start().await;
    let create = |headers: &[(&str, &str)]| {
        let request = build(Method::POST, "/v2/images", headers, Some("{}"));
        app.send(request)
    };

    let by_project = create(&[
        ("x-project-id", "p1"),
        ("x-user-id", "alice"),
        ("x-roles", "member, reader"),
    ])
    .await;
    assert_eq!(
        by_project.status,
        StatusCode::CREATED,
        "{}",
        by_project.text
    );
    assert_eq!(owner_of(&by_project), "p1");
    let id = by_project.json["id"].as_str().expect("id").to_owned();
    let entries = history(&app, &id, &[("x-project-id", "p1"), ("x-roles", "reader")]).await;
    assert_eq!(entries[0]["actor"]["user_id"], "alice", "{entries:?}");
    assert_eq!(entries[0]["actor"]["project_id"], "p1", "{entries:?}");

    let by_tenant = create(&[
        ("x-tenant-id", "p7"),
        ("x-user-id", "bob"),
        ("x-roles", "member"),
    ])
    .await;
    assert_eq!(by_tenant.status, StatusCode::CREATED, "{}", by_tenant.text);
    assert_eq!(owner_of(&by_tenant), "p7");
    let id = by_tenant.json["id"].as_str().expect("id").to_owned();
    let entries = history(&app, &id, &[("x-tenant-id", "p7"), ("x-roles", "reader")]).await;
    assert_eq!(entries[0]["actor"]["user_id"], "bob", "{entries:?}");

    // Both given: X-Project-Id is the project.
    let both = create(&[
        ("x-project-id", "p1"),
        ("x-tenant-id", "p7"),
        ("x-user-id", "carol"),
        ("x-roles", "member,reader"),
    ])
    .await;
    assert_eq!(both.status, StatusCode::CREATED, "{}", both.text);
    assert_eq!(owner_of(&both), "p1");

    // Roles are taken literally: reader alone, or none, may not create.
    for roles in [Some("reader"), Some(""), None] {
        let mut headers = vec![("x-project-id", "p1"), ("x-user-id", "dave"), JSON];
        if let Some(roles) = roles {
            headers.push(("x-roles", roles));
        }
        let refused = create(&headers).await;
        assert_json_error(&refused, StatusCode::FORBIDDEN);
    }
    // The admin role from the header lists every project's images.
    let all = app.get("/v2/images", &admin()).await;
    assert_eq!(listed(&all), 3, "{}", all.text);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn no_identity_is_401_without_a_default_identity() {
    let app = TestApp::start().await;
    for (method, path, body) in [
        (
            Method::POST,
            "/v2/images",
            Some("{\"name\": \"anonymous\"}"),
        ),
        (Method::GET, "/v2/images", None),
    ] {
        let response = app.send(build(method, path, &[JSON], body)).await;
        assert_json_error(&response, StatusCode::UNAUTHORIZED);
        let challenge = response
            .headers
            .get("www-authenticate")
            .and_then(|v| v.to_str().ok());
        assert_eq!(
            challenge,
            Some("X-Auth-Token realm=\"imagefleet\""),
            "HTTP requires a challenge on 401"
        );
    }
    // A project header with nothing in it is no identity either.
    let blank = build(
        Method::GET,
        "/v2/images",
        &[("x-project-id", " "), ("x-roles", "admin"), JSON],
        None,
    );
    assert_json_error(&app.send(blank).await, StatusCode::UNAUTHORIZED);
    // Roles and user without a project are no identity.
    let no_project = build(
        Method::GET,
        "/v2/images",
        &[("x-user-id", "u1"), ("x-roles", "admin"), JSON],
        None,
    );
    assert_json_error(&app.send(no_project).await, StatusCode::UNAUTHORIZED);
    // Plain text for a client that does not ask for JSON.
    let text = app
        .send(build(Method::GET, "/v2/images", &[("accept", "*/*")], None))
        .await;
    assert_eq!(text.status, StatusCode::UNAUTHORIZED);
    assert!(text.text.starts_with("401 Unauthorized"), "{}", text.text);
    let nothing = app.get("/v2/images", &admin()).await;
    assert_eq!(listed(&nothing), 0, "{}", nothing.text);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn no_identity_acts_as_the_default_identity() {
    let default = Actor::new("dev", "dev-user", &["member", "reader"]);
    let app = TestApp::start_with(
        DomainConfig::default(),
        Settings::default(),
        AuthMode::Headers,
        Some(default.clone()),
    )
    .await;
    let created = app
        .send(build(
            Method::POST,
            "/v2/images",
            &[],
            Some("{\"name\": \"anonymous\"}"),
        ))
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    assert_eq!(owner_of(&created), "dev");
    let id = created.json["id"].as_str().expect("id").to_owned();
    let entries = history(&app, &id, &[]).await;
    assert_eq!(entries[0]["actor"]["user_id"], "dev-user", "{entries:?}");

    let shown = app
        .send(build(Method::GET, &format!("/v2/images/{id}"), &[], None))
        .await;
    assert_eq!(shown.status, StatusCode::OK, "{}", shown.text);
    let list = app.send(build(Method::GET, "/v2/images", &[], None)).await;
    assert_eq!(listed(&list), 1, "{}", list.text);

    // Identity headers still win over the default.
    let by_owner = app
        .post_json("/v2/images", &owner(), serde_json::json!({}))
        .await;
    assert_eq!(by_owner.status, StatusCode::CREATED, "{}", by_owner.text);
    assert_eq!(owner_of(&by_owner), "p1");
    app.stop().await;
}
