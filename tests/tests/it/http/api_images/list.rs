//! `GET /v2/images` (SPEC 4, 7): the envelope and its links, filters handed to the list
//! query, `next` links that page through everything exactly once, and the 400s of bad
//! parameters.

use axum::http::StatusCode;
use imagefleet_tests::TestApp;
use imagefleet_tests::fixtures::{other, owner};
use serde_json::{Value, json};

use super::{assert_error, assert_request_id, create_image, id_of};

fn ids(response: &Value) -> Vec<String> {
    response["images"]
        .as_array()
        .expect("images")
        .iter()
        .map(id_of)
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn list_envelope_order_and_filters() {
    let app = TestApp::start().await;
    let a = create_image(&app, &owner(), json!({"name": "a", "os_distro": "debian"})).await;
    let b = create_image(&app, &owner(), json!({"name": "b", "tags": ["gold"]})).await;
    let c = create_image(
        &app,
        &owner(),
        json!({"name": "c", "visibility": "private"}),
    )
    .await;
    let theirs = create_image(
        &app,
        &other(),
        json!({"name": "a", "visibility": "private"}),
    )
    .await;
    let response = app.get("/v2/images", &owner()).await;
    assert_eq!(response.status, StatusCode::OK, "{}", response.text);
    assert_request_id(&response);
    assert_eq!(response.json["first"], "/v2/images");
    assert_eq!(response.json["schema"], "/v2/schemas/images");
    assert!(response.json.get("next").is_none(), "{}", response.json);
    // Newest first, and another project's private image is not listed.
    assert_eq!(ids(&response.json), vec![id_of(&c), id_of(&b), id_of(&a)]);
    assert_eq!(response.json["images"][2], a);
    let cases = [
        ("name=a", vec![id_of(&a)]),
        ("visibility=private", vec![id_of(&c)]),
        ("os_distro=debian", vec![id_of(&a)]),
        ("tag=gold", vec![id_of(&b)]),
        (
            "sort_key=name&sort_dir=asc",
            vec![id_of(&a), id_of(&b), id_of(&c)],
        ),
        ("sort=name:desc", vec![id_of(&c), id_of(&b), id_of(&a)]),
        ("name=no+such+image", vec![]),
        ("status=no_such_status", vec![]),
        ("limit=0", vec![]),
    ];
    for (query, expected) in cases {
        let response = app.get(&format!("/v2/images?{query}"), &owner()).await;
        assert_eq!(
            response.status,
            StatusCode::OK,
            "{query}: {}",
            response.text
        );
        assert_eq!(ids(&response.json), expected, "{query}");
    }
    let theirs_listed = app.get("/v2/images", &other()).await;
    assert!(ids(&theirs_listed.json).contains(&id_of(&theirs)));
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn next_links_page_through_every_image_once() {
    let app = TestApp::start().await;
    let mut created = Vec::new();
    for n in 0..5 {
        let body = json!({"name": format!("img {n}"), "batch": "one"});
        created.push(id_of(&create_image(&app, &owner(), body).await));
    }
    create_image(&app, &owner(), json!({"name": "not in the batch"})).await;
    let mut seen = Vec::new();
    let mut path = "/v2/images?limit=2&batch=one&sort_key=name&sort_dir=asc".to_owned();
    let mut pages = 0;
    loop {
        let response = app.get(&path, &owner()).await;
        assert_eq!(response.status, StatusCode::OK, "{path}: {}", response.text);
        let page = ids(&response.json);
        assert!(page.len() <= 2);
        seen.extend(page.clone());
        pages += 1;
        let Some(next) = response.json["next"].as_str() else {
            break;
        };
        let last = page.last().expect("a page with a next link has images");
        assert!(
            next.starts_with(&format!("/v2/images?marker={last}&")),
            "{next}"
        );
        assert_eq!(
            response.json["first"],
            "/v2/images?limit=2&batch=one&sort_key=name&sort_dir=asc"
        );
        for kept in ["limit=2", "batch=one", "sort_key=name", "sort_dir=asc"] {
            assert!(next.contains(kept), "{next} lacks {kept}");
        }
        assert_eq!(next.matches("marker=").count(), 1, "{next}");
        path = next.to_owned();
        assert!(pages < 10, "paging does not end");
    }
    // Every image once, in name order (which is creation order here), over three pages.
    assert_eq!(seen, created);
    assert_eq!(pages, 3);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_parameters_are_bad_requests() {
    let app = TestApp::start().await;
    let theirs = create_image(&app, &other(), json!({"visibility": "private"})).await;
    let hidden_marker = format!("marker={}", id_of(&theirs));
    for query in [
        "sort_key=colour",
        "sort_dir=sideways",
        "sort=name:up",
        "marker=not-a-uuid",
        "marker=6f1d2c3b-4a5e-4f60-8a7b-9c0d1e2f3a4b",
        hidden_marker.as_str(),
        "limit=-1",
        "limit=ten",
        "visibility=everyone",
        "protected=maybe",
        "size_min=big",
        "created_at=gt:yesterday",
    ] {
        let response = app.get(&format!("/v2/images?{query}"), &owner()).await;
        assert_error(&response, StatusCode::BAD_REQUEST);
    }
    app.stop().await;
}
