//! `/v2/images/{id}/members` (SPEC 4, 7): sharing, the member's own answer, removal, and
//! who sees which members: the owning project and admins all, a member only itself.

use axum::http::Method as M;
use domain::status::Visibility;
use domain::{Actor, DomainConfig};
use imagefleet_tests::TestApp;
use imagefleet_tests::fixtures::{admin, other, owner, reader};
use serde_json::{Value, json};

use super::{call, check, expect_all, image, repo, third};

#[tokio::test(flavor = "multi_thread")]
async fn members_are_shared_answered_and_removed() {
    let app = TestApp::start().await;
    let repo = repo(&app, DomainConfig::default());
    let id = image(&repo, &owner(), Visibility::Shared).await;
    let private = image(&repo, &owner(), Visibility::Private).await;
    let all = format!("/v2/images/{id}/members");
    let one = |p: &str| format!("{all}/{p}");
    let add = |p: &str| Some(json!({ "member": p }));
    let answer = |s: &str| Some(json!({ "status": s }));
    let members = format!("/v2/images/{private}/members");
    let cases = vec![
        (M::GET, all.clone(), other(), None, 404),
        (M::POST, all.clone(), owner(), add("p2"), 200),
        (M::POST, all.clone(), owner(), add("p2"), 409),
        (M::POST, all.clone(), owner(), add("p3"), 200),
        (M::POST, all.clone(), owner(), Some(json!({})), 400),
        (M::POST, all.clone(), owner(), add(""), 400),
        (
            M::POST,
            all.clone(),
            owner(),
            Some(json!({"member": 7})),
            400,
        ),
        (M::POST, all.clone(), owner(), Some(json!(["p4"])), 400),
        (M::POST, all.clone(), owner(), None, 400),
        (M::POST, all.clone(), reader(), add("p4"), 403),
        (M::POST, all.clone(), other(), add("p4"), 403),
        (M::POST, members.clone(), owner(), add("p2"), 403),
        (M::GET, members, other(), None, 404),
        (M::GET, one("p3"), owner(), None, 200),
        (M::GET, one("p2"), other(), None, 200),
        (M::GET, one("p3"), other(), None, 404),
        (M::GET, one("p9"), owner(), None, 404),
        // Only the member answers, with one of the three statuses.
        (M::PUT, one("p2"), owner(), answer("accepted"), 403),
        (M::PUT, one("p2"), third(), answer("accepted"), 403),
        (M::PUT, one("p2"), other(), answer("maybe"), 400),
        (
            M::PUT,
            one("p2"),
            other(),
            Some(json!({"status": true})),
            400,
        ),
        (M::PUT, one("p2"), other(), Some(json!({})), 400),
        (M::PUT, one("p9"), other(), answer("accepted"), 404),
        (M::PUT, one("p2"), other(), answer("rejected"), 200),
        (M::PUT, one("p2"), other(), answer("accepted"), 200),
    ];
    expect_all(&app, cases).await;
    // The owner, its reader and admins see every member; a member sees only itself.
    let listed = |actor: Actor| async {
        let case = (M::GET, all.clone(), actor, None, 200);
        let response = call(&app, &case, &[]).await;
        check(&case, &response);
        assert_eq!(response.json["schema"], "/v2/schemas/members");
        let members = response.json["members"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let fields = ["member_id", "image_id", "status", "schema"];
        let shown = |m: &Value| json!(fields.map(|f| m[f].clone()));
        members.iter().map(shown).collect::<Vec<_>>()
    };
    let p2 = json!(["p2", id.to_string(), "accepted", "/v2/schemas/member"]);
    let p3 = json!(["p3", id.to_string(), "pending", "/v2/schemas/member"]);
    for actor in [owner(), reader(), admin()] {
        assert_eq!(listed(actor).await, [p2.clone(), p3.clone()]);
    }
    assert_eq!(listed(other()).await, std::slice::from_ref(&p2));
    // A member may not remove members, itself included; the owner may.
    let cases = vec![
        (M::DELETE, one("p2"), other(), None, 403),
        (M::DELETE, one("p3"), reader(), None, 403),
        (M::DELETE, one("p3"), owner(), None, 204),
        (M::DELETE, one("p3"), owner(), None, 404),
        (M::GET, all.clone(), third(), None, 404),
    ];
    expect_all(&app, cases).await;
    assert_eq!(listed(owner()).await, [p2]);
    app.stop().await;
}
