//! Tags, members, actions and history over HTTP (SPEC 2, 4, 7, 12): each endpoint with
//! the owner, a reader, another project, a shared member and an admin, and the error
//! paths Glance answers with. Images are made through the repository, as the service
//! makes them, so these tests do not depend on the image endpoints. This file holds the
//! helpers and the tag tests; members and actions have modules of their own.

mod actions;
mod members;

use apply::Repository;
use axum::http::Method as M;
use db::document;
use domain::command::MemberRef;
use domain::status::Visibility;
use domain::{Actor, Command, DomainConfig, Image, ImageId};
use imagefleet_tests::fixtures::{
    admin, begin_upload, complete_upload, create, envelope, other, owner, reader,
};
use imagefleet_tests::{TestApp, TestResponse};
use serde_json::Value;

/// A repository over the test's database.
pub(crate) fn repo(app: &TestApp, config: DomainConfig) -> Repository {
    Repository::new(app.db.pool().clone(), config)
}

/// Applies `command` as `actor`, which must be accepted.
pub(crate) async fn apply(repo: &Repository, actor: Actor, command: Command) {
    let name = command.type_name();
    if let Err(e) = repo.apply(&envelope(actor, command)).await {
        panic!("{name} refused: {e}");
    }
}

/// A raw/bare queued image of `actor`'s project with this visibility.
pub(crate) async fn image(repo: &Repository, actor: &Actor, visibility: Visibility) -> ImageId {
    let id = ImageId::generate();
    let mut command = create(id, "img");
    if let Command::CreateImage(c) = &mut command {
        c.visibility = Some(visibility);
    }
    apply(repo, actor.clone(), command).await;
    id
}

/// Takes a queued image to active with `size` bytes, as an upload does (started by an
/// admin, who may upload to any project's image).
pub(crate) async fn activate(repo: &Repository, id: ImageId, size: i64) {
    apply(repo, admin(), begin_upload(id)).await;
    apply(repo, Actor::service(), complete_upload(id, size)).await;
}

/// Shares `id` with project `member` (as its owner `p1`).
pub(crate) async fn share(repo: &Repository, id: ImageId, member: &str) {
    let member_id = member.to_owned();
    let command = Command::AddMember(MemberRef {
        image_id: id,
        member_id,
    });
    apply(repo, owner(), command).await;
}

/// The image as stored.
pub(crate) async fn stored(app: &TestApp, id: ImageId) -> Image {
    let mut conn = app.db.conn().await.expect("connection");
    let found = document::image_by_id(&mut conn, id.as_uuid()).await;
    found.expect("read").expect("image exists")
}

/// One request and the status it must get: method, path, caller, JSON body, status.
pub(crate) type Case = (M, String, Actor, Option<Value>, u16);

/// Sends `method path` as `actor` with extra headers and an optional JSON body.
pub(crate) async fn call(app: &TestApp, case: &Case, headers: &[(&str, &str)]) -> TestResponse {
    let (method, path, actor, body, _) = case;
    let mut builder = axum::http::Request::builder()
        .method(method.clone())
        .uri(path.as_str())
        .header("x-project-id", &actor.project_id)
        .header("x-user-id", &actor.user_id)
        .header("x-roles", actor.roles.join(","));
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    let body = match body {
        Some(json) => {
            builder = builder.header("content-type", "application/json");
            axum::body::Body::from(json.to_string())
        }
        None => axum::body::Body::empty(),
    };
    app.send(builder.body(body).expect("request")).await
}

/// Checks a response against its case: the status; for errors a Glance-shaped JSON body
/// with the same code; for 204 an empty body.
#[track_caller]
pub(crate) fn check(case: &Case, response: &TestResponse) {
    let (method, path, actor, _, status) = case;
    let what = format!("{method} {path} as {}/{}", actor.project_id, actor.user_id);
    assert_eq!(
        response.status.as_u16(),
        *status,
        "{what}: {}",
        response.text
    );
    if *status >= 400 {
        assert_eq!(response.json["code"], *status, "{what}: {}", response.text);
        assert!(
            response.json["message"].is_string(),
            "{what}: {}",
            response.text
        );
    } else if *status == 204 {
        assert_eq!(response.text, "", "{what}");
    }
}

/// Runs every case, in order.
pub(crate) async fn expect_all(app: &TestApp, cases: Vec<Case>) {
    for case in &cases {
        check(case, &call(app, case, &[]).await);
    }
}

/// A member of `p3`, a project images are not shared with unless a test says so.
pub(crate) fn third() -> Actor {
    Actor::new("p3", "u4", &["member", "reader"])
}

#[tokio::test(flavor = "multi_thread")]
async fn tags_are_added_idempotently_and_removed() {
    let app = TestApp::start().await;
    let repo = repo(&app, DomainConfig::default());
    let id = image(&repo, &owner(), Visibility::Shared).await;
    share(&repo, id, "p2").await;
    let tag = |t: &str| format!("/v2/images/{id}/tags/{t}");
    let long = "x".repeat(255);
    let cases = vec![
        (M::PUT, tag("gold"), owner(), None, 204),
        (M::PUT, tag("gold"), owner(), None, 204),
        (M::PUT, tag(&"x".repeat(256)), owner(), None, 400),
        (M::PUT, tag(&long), owner(), None, 204),
        (M::PUT, tag("blue"), reader(), None, 403),
        (M::PUT, tag("blue"), other(), None, 403),
        (M::PUT, tag("blue"), third(), None, 404),
        (
            M::PUT,
            "/v2/images/not-a-uuid/tags/blue".into(),
            owner(),
            None,
            404,
        ),
        (M::DELETE, tag("gold"), reader(), None, 403),
        (M::DELETE, tag("gold"), other(), None, 403),
        (M::DELETE, tag("gold"), third(), None, 404),
        (M::DELETE, tag("gold"), owner(), None, 204),
        (M::DELETE, tag("gold"), owner(), None, 404),
        (M::PUT, tag("admins"), admin(), None, 204),
        (M::GET, tag("admins"), owner(), None, 405),
    ];
    expect_all(&app, cases).await;
    let image = stored(&app, id).await;
    assert_eq!(image.tags, vec!["admins".to_owned(), long]);
    // create, member, gold, long, -gold, admins: the repeated PUT changed nothing.
    assert_eq!(image.version, 6);
    app.stop().await;
}
