//! `GET /v2/images/{id}/file`: the bytes with `Content-MD5` (hex, as Glance) and
//! `Content-Length`, ranges (206, 416), 204 without data, 403 to a reader-only caller,
//! and deactivated images readable by admins only; a delete removes the data.

use super::*;
use imagefleet_tests::fixtures::{admin, other, owner, reader};

async fn active_image(app: &TestApp, data: &[u8]) -> String {
    let id = new_image(app, &owner(), "raw").await;
    let put = put_data(
        app,
        &owner(),
        &format!("/v2/images/{id}/file"),
        data.to_vec(),
    )
    .await;
    assert_eq!(put.status, StatusCode::NO_CONTENT, "{}", put.text);
    id
}

async fn get_file(app: &TestApp, actor: &Actor, id: &str, range: Option<&str>) -> TestResponse {
    let mut request = axum::http::Request::builder()
        .method(Method::GET)
        .uri(format!("/v2/images/{id}/file"))
        .header("x-project-id", &actor.project_id)
        .header("x-user-id", &actor.user_id)
        .header("x-roles", actor.roles.join(","));
    if let Some(range) = range {
        request = request.header("range", range);
    }
    app.send(request.body(axum::body::Body::empty()).expect("request"))
        .await
}

fn header<'a>(response: &'a TestResponse, name: &str) -> &'a str {
    response
        .headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_download_streams_the_bytes_with_glances_headers_and_serves_ranges() {
    let app = TestApp::start().await;
    let data = pattern(1_500_000);
    let id = active_image(&app, &data).await;
    let (md5, _) = reference_digests(&data);

    let whole = get_file(&app, &owner(), &id, None).await;
    assert_eq!(whole.status, StatusCode::OK);
    assert_eq!(whole.bytes, data);
    assert_eq!(header(&whole, "content-md5"), md5);
    assert_eq!(header(&whole, "content-length"), data.len().to_string());
    assert_eq!(header(&whole, "content-type"), "application/octet-stream");

    let part = get_file(&app, &owner(), &id, Some("bytes=1000-1999")).await;
    assert_eq!(part.status, StatusCode::PARTIAL_CONTENT);
    assert_eq!(part.bytes, data[1000..2000]);
    assert_eq!(
        header(&part, "content-range"),
        format!("bytes 1000-1999/{}", data.len())
    );
    assert_eq!(header(&part, "content-length"), "1000");
    assert_eq!(
        header(&part, "content-md5"),
        md5,
        "the whole image's md5, as Glance"
    );
    let tail = get_file(&app, &owner(), &id, Some("bytes=-10")).await;
    assert_eq!(tail.status, StatusCode::PARTIAL_CONTENT);

    let beyond = get_file(&app, &owner(), &id, Some("bytes=2000000-")).await;
    assert_eq!(
        beyond.status,
        StatusCode::RANGE_NOT_SATISFIABLE,
        "{}",
        beyond.text
    );
    assert_eq!(
        header(&beyond, "content-range"),
        format!("bytes */{}", data.len())
    );
    let hidden = get_file(&app, &other(), &id, None).await;
    assert_eq!(hidden.status, StatusCode::NOT_FOUND);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_bytes_downloaded_are_the_bytes_uploaded() {
    let app = TestApp::start().await;
    let data = pattern(2_000_003);
    let id = active_image(&app, &data).await;
    let response = get_file(&app, &owner(), &id, None).await;
    assert_eq!(reference_digests(&response.bytes), reference_digests(&data));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_reader_may_see_the_image_but_not_download_it() {
    let app = TestApp::start().await;
    let id = active_image(&app, b"member data").await;
    assert_eq!(
        app.get(&format!("/v2/images/{id}"), &reader()).await.status,
        StatusCode::OK
    );
    let refused = get_file(&app, &reader(), &id, None).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.text);
    assert_eq!(refused.json["code"], json!(403), "{}", refused.text);
    assert!(!refused.text.contains("member data"));
}

#[tokio::test(flavor = "multi_thread")]
async fn an_image_without_data_answers_204() {
    let app = TestApp::start().await;
    let id = new_image(&app, &owner(), "raw").await;
    let response = get_file(&app, &owner(), &id, None).await;
    assert_eq!(response.status, StatusCode::NO_CONTENT);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_deactivated_images_data_is_for_admins_only() {
    let app = TestApp::start().await;
    let id = active_image(&app, b"secret bytes").await;
    let member = Actor::new("member-project", "member-user", &["member", "reader"]);
    let share = app
        .post_json(
            &format!("/v2/images/{id}/members"),
            &owner(),
            json!({"member": member.project_id}),
        )
        .await;
    assert_eq!(share.status, StatusCode::OK, "{}", share.text);
    assert_eq!(
        get_file(&app, &member, &id, None).await.status,
        StatusCode::OK,
        "a member may download"
    );
    let deactivate = app
        .request(
            Method::POST,
            &format!("/v2/images/{id}/actions/deactivate"),
            Some(&owner()),
            None,
        )
        .await;
    assert_eq!(
        deactivate.status,
        StatusCode::NO_CONTENT,
        "{}",
        deactivate.text
    );
    assert_eq!(
        get_file(&app, &owner(), &id, None).await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        get_file(&app, &member, &id, None).await.status,
        StatusCode::FORBIDDEN
    );
    let by_admin = get_file(&app, &admin(), &id, None).await;
    assert_eq!(
        (by_admin.status, by_admin.text.as_str()),
        (StatusCode::OK, "secret bytes")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn deleting_an_image_removes_its_data_also_when_deactivated() {
    let app = TestApp::start().await;
    let active = active_image(&app, b"one").await;
    let deactivated = active_image(&app, b"two").await;
    let path = format!("/v2/images/{deactivated}/actions/deactivate");
    app.request(Method::POST, &path, Some(&owner()), None).await;
    assert_eq!(app.db.data_files().len(), 2);
    for id in [&active, &deactivated] {
        let deleted = app
            .request(
                Method::DELETE,
                &format!("/v2/images/{id}"),
                Some(&owner()),
                None,
            )
            .await;
        assert_eq!(deleted.status, StatusCode::NO_CONTENT, "{}", deleted.text);
    }
    wait_until(DEADLINE, "the deleted images' data is gone", async || {
        app.db.data_files().is_empty()
    })
    .await
    .expect("no data left behind");
}
