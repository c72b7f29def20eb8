//! Absolute URLs as Glance's WebOb builds them (scheme and host of the request, or of
//! a proxy's `Forwarded` / `X-Forwarded-*` headers when `IMAGEFLEET_PROXY_HEADERS` is
//! on), and version negotiation.

use api_gateway::Settings;
use api_gateway::identity::AuthMode;
use axum::http::{Method, StatusCode};
use domain::DomainConfig;
use imagefleet_tests::TestApp;
use imagefleet_tests::fixtures::owner;
use serde_json::json;

use super::{header, send};

/// A stack that reads the proxy's headers (`IMAGEFLEET_PROXY_HEADERS` on).
async fn behind_a_proxy() -> TestApp {
    let settings = Settings {
        proxy_headers: true,
        ..Settings::default()
    };
    TestApp::start_with(DomainConfig::default(), settings, AuthMode::Headers, None).await
}

/// The `Location` of an image created with these request headers, without its id.
async fn created_location_origin(app: &TestApp, headers: &[(&str, &str)]) -> String {
    let created = send(
        app,
        Method::POST,
        "/v2/images",
        &owner(),
        headers,
        Some(json!({})),
    )
    .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    let id = created.json["id"].as_str().expect("an id");
    let location = header(&created, "location");
    location
        .strip_suffix(&format!("/v2/images/{id}"))
        .unwrap_or_else(|| panic!("{location} ends with the image's path"))
        .to_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_created_images_location_is_absolute_and_follows_the_proxy() {
    let app = behind_a_proxy().await;
    let cases: [(&[(&str, &str)], &str); 4] = [
        (
            &[("host", "glance.example:9292")],
            "http://glance.example:9292",
        ),
        (
            &[
                ("host", "10.0.0.5:9292"),
                ("x-forwarded-proto", "https"),
                ("x-forwarded-host", "images.example"),
            ],
            "https://images.example",
        ),
        (
            &[
                ("host", "10.0.0.5:9292"),
                (
                    "forwarded",
                    "for=192.0.2.1;proto=https;host=\"cloud.example\"",
                ),
            ],
            "https://cloud.example",
        ),
        (&[("x-forwarded-proto", "https")], "https://localhost"),
    ];
    for (headers, origin) in cases {
        let created = send(
            &app,
            Method::POST,
            "/v2/images",
            &owner(),
            headers,
            Some(json!({})),
        )
        .await;
        assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
        let id = created.json["id"].as_str().expect("an id");
        assert_eq!(
            header(&created, "location"),
            format!("{origin}/v2/images/{id}"),
            "{headers:?}"
        );
        // The documents keep Glance's relative links.
        assert_eq!(created.json["self"], json!(format!("/v2/images/{id}")));
    }
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_path_under_an_unknown_version_answers_300_with_the_versions() {
    let app = behind_a_proxy().await;
    let proxied = [("host", "10.0.0.5:9292"), ("x-forwarded-proto", "https")];
    for method in [Method::GET, Method::POST, Method::DELETE] {
        for path in ["/v9/images", "/v1/images", "/images", "/"] {
            let answer = send(&app, method.clone(), path, &owner(), &proxied, None).await;
            assert_eq!(
                answer.status,
                StatusCode::MULTIPLE_CHOICES,
                "{method} {path}"
            );
            assert_eq!(header(&answer, "content-type"), "application/json");
            // Served without identity, with links from the request: never cached.
            assert_eq!(header(&answer, "cache-control"), "no-store");
            let versions = answer.json["versions"].as_array().expect("versions");
            let current: Vec<_> = versions
                .iter()
                .filter(|v| v["status"] == "CURRENT")
                .map(|v| v["id"].clone())
                .collect();
            assert_eq!(current, [json!("v2.17")], "{}", answer.text);
            assert_eq!(
                versions[0]["links"],
                json!([{"rel": "self", "href": "https://10.0.0.5:9292/v2/"}])
            );
        }
    }
    let listed = send(&app, Method::GET, "/versions", &owner(), &proxied, None).await;
    assert_eq!(listed.status, StatusCode::OK);
    assert_eq!(header(&listed, "cache-control"), "no-store");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn with_proxy_headers_off_the_forwarded_headers_are_ignored() {
    let app = TestApp::start().await;
    let headers = [
        ("host", "10.0.0.5:9292"),
        ("x-forwarded-proto", "https"),
        ("x-forwarded-host", "evil.example"),
        ("x-forwarded-prefix", "/evil"),
    ];
    assert_eq!(
        created_location_origin(&app, &headers).await,
        "http://10.0.0.5:9292"
    );
    let forwarded = [
        ("host", "10.0.0.5:9292"),
        ("forwarded", "proto=https;host=evil.example"),
    ];
    assert_eq!(
        created_location_origin(&app, &forwarded).await,
        "http://10.0.0.5:9292"
    );
    let choices = send(&app, Method::GET, "/", &owner(), &headers, None).await;
    assert_eq!(
        choices.json["versions"][0]["links"],
        json!([{"rel": "self", "href": "http://10.0.0.5:9292/v2/"}])
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn with_proxy_headers_on_a_host_or_scheme_that_is_no_plain_one_is_refused() {
    let app = behind_a_proxy().await;
    let cases: [(&[(&str, &str)], &str); 5] = [
        (
            &[
                ("host", "10.0.0.5:9292"),
                ("x-forwarded-host", "evil.example/x"),
            ],
            "http://10.0.0.5:9292",
        ),
        (
            &[("host", "10.0.0.5:9292"), ("x-forwarded-host", "a@b")],
            "http://10.0.0.5:9292",
        ),
        (
            &[("host", "10.0.0.5:9292"), ("forwarded", "proto=javascript")],
            "http://10.0.0.5:9292",
        ),
        (
            &[
                ("host", "10.0.0.5:9292"),
                (
                    "forwarded",
                    "proto=\"https://evil.example#\";host=a.example",
                ),
            ],
            "http://a.example",
        ),
        (&[("host", "a@evil.example")], "http://localhost"),
    ];
    for (headers, origin) in cases {
        assert_eq!(
            created_location_origin(&app, headers).await,
            origin,
            "{headers:?}"
        );
    }
    let prefixed = [("host", "10.0.0.5:9292"), ("x-forwarded-prefix", "/a?b#")];
    let choices = send(&app, Method::GET, "/", &owner(), &prefixed, None).await;
    assert_eq!(
        choices.json["versions"][0]["links"],
        json!([{"rel": "self", "href": "http://10.0.0.5:9292/v2/"}])
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_served_minor_version_routes_to_v2() {
    let app = TestApp::start().await;
    for path in [
        "/v2.1/images",
        "/v2.17/images?limit=1",
        "/v2.0/schemas/image",
    ] {
        let answer = send(&app, Method::GET, path, &owner(), &[], None).await;
        assert_eq!(answer.status, StatusCode::OK, "{path}: {}", answer.text);
    }
    // Glance's media-type versioning: the version comes from `Accept` and the whole
    // path follows it.
    let accept = [("accept", "application/vnd.openstack.images-v2.1")];
    let listed = send(&app, Method::GET, "/images", &owner(), &accept, None).await;
    assert_eq!(listed.status, StatusCode::OK, "{}", listed.text);
    assert!(listed.json["images"].is_array());
    let unknown = [("accept", "application/vnd.openstack.images-v9")];
    let refused = send(&app, Method::GET, "/images", &owner(), &unknown, None).await;
    assert_eq!(refused.status, StatusCode::MULTIPLE_CHOICES);
    // A path under v2 that names nothing stays Glance's 404.
    let missing = send(&app, Method::GET, "/v2/widgets", &owner(), &[], None).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    app.stop().await;
}
