//! Who lists what (SPEC 7): images made through the repository, as the service makes
//! them, listed by the owner, a reader, another project, pending/rejected and accepted
//! members, a project without roles and an admin, with every `visibility` value.

use apply::Repository;
use domain::command::{Command, MemberRef, UpdateMember};
use domain::status::{MemberStatus, Visibility};
use domain::{Actor, DomainConfig, ImageId};
use imagefleet_tests::TestDb;
use imagefleet_tests::fixtures::{admin, create, envelope, other, owner, reader};

use super::seed::{Seed, name_set, set};

/// A member of `p3`, which accepts what is shared with it.
fn accepted() -> Actor {
    Actor::new("p3", "u4", &["member", "reader"])
}

/// A user of `p1` with no role at all.
fn roleless() -> Actor {
    Actor::new("p1", "u9", &[])
}

async fn make(
    repo: &Repository,
    actor: Actor,
    name: &str,
    vis: Visibility,
    owner: Option<&str>,
) -> ImageId {
    let id = ImageId::generate();
    let mut command = create(id, name);
    if let Command::CreateImage(c) = &mut command {
        c.visibility = Some(vis);
        c.owner = owner.map(str::to_owned);
    }
    repo.apply(&envelope(actor, command))
        .await
        .expect("created");
    id
}

async fn share(repo: &Repository, image_id: ImageId, member: &Actor, answer: Option<MemberStatus>) {
    let member_id = member.project_id.clone();
    let add = Command::AddMember(MemberRef {
        image_id,
        member_id: member_id.clone(),
    });
    repo.apply(&envelope(owner(), add))
        .await
        .expect("member added");
    if let Some(status) = answer {
        let update = Command::UpdateMember(UpdateMember {
            image_id,
            member_id,
            status,
        });
        repo.apply(&envelope(member.clone(), update))
            .await
            .expect("member answered");
    }
}

/// The matrix: p1 owns one image of each visibility and two shared ones; p2 owns a
/// private and a community image; the admin's project owns a community image.
async fn seed(db: &TestDb) {
    let repo = Repository::new(db.pool().clone(), DomainConfig::default());
    make(&repo, admin(), "pub1", Visibility::Public, Some("p1")).await;
    make(&repo, owner(), "priv1", Visibility::Private, None).await;
    make(&repo, owner(), "shared-none", Visibility::Shared, None).await;
    let pending = make(&repo, owner(), "shared-pending", Visibility::Shared, None).await;
    share(&repo, pending, &other(), None).await;
    let accepted_by_p3 = make(&repo, owner(), "shared-accepted", Visibility::Shared, None).await;
    share(
        &repo,
        accepted_by_p3,
        &accepted(),
        Some(MemberStatus::Accepted),
    )
    .await;
    share(
        &repo,
        accepted_by_p3,
        &other(),
        Some(MemberStatus::Rejected),
    )
    .await;
    make(&repo, owner(), "comm1", Visibility::Community, None).await;
    make(&repo, other(), "comm2", Visibility::Community, None).await;
    make(&repo, other(), "priv2", Visibility::Private, None).await;
    make(&repo, admin(), "admin-comm", Visibility::Community, None).await;
}

const P1_DEFAULT: &[&str] = &[
    "pub1",
    "priv1",
    "shared-none",
    "shared-pending",
    "shared-accepted",
    "comm1",
];

#[tokio::test(flavor = "multi_thread")]
async fn default_lists_follow_spec_7() {
    let db = TestDb::new().await.expect("test database");
    seed(&db).await;
    assert_eq!(name_set(&db, &owner(), &[]).await, set(P1_DEFAULT));
    assert_eq!(name_set(&db, &reader(), &[]).await, set(P1_DEFAULT));
    // Another project: public, its own (community included), not what is pending or
    // rejected for it.
    assert_eq!(
        name_set(&db, &other(), &[]).await,
        set(&["pub1", "comm2", "priv2"])
    );
    assert_eq!(
        name_set(&db, &accepted(), &[]).await,
        set(&["pub1", "shared-accepted"])
    );
    // Without a role, a project's private and shared images stay out; its community
    // image is still its own.
    assert_eq!(
        name_set(&db, &roleless(), &[]).await,
        set(&["pub1", "comm1"])
    );
    // The admin: everything but other projects' community images.
    let admin_default = [
        "pub1",
        "priv1",
        "shared-none",
        "shared-pending",
        "shared-accepted",
        "priv2",
        "admin-comm",
    ];
    assert_eq!(name_set(&db, &admin(), &[]).await, set(&admin_default));
}

#[tokio::test(flavor = "multi_thread")]
async fn the_visibility_filter_narrows_or_widens() {
    let db = TestDb::new().await.expect("test database");
    seed(&db).await;
    let communities = set(&["comm1", "comm2", "admin-comm"]);
    for actor in [owner(), other(), accepted(), admin()] {
        let vis = [("visibility", "community")];
        assert_eq!(name_set(&db, &actor, &vis).await, communities, "{actor:?}");
        assert_eq!(
            name_set(&db, &actor, &[("visibility", "public")]).await,
            set(&["pub1"])
        );
    }
    let shared = [("visibility", "shared")];
    let p1_shared = set(&["shared-none", "shared-pending", "shared-accepted"]);
    assert_eq!(name_set(&db, &owner(), &shared).await, p1_shared);
    assert_eq!(name_set(&db, &admin(), &shared).await, p1_shared);
    assert_eq!(
        name_set(&db, &accepted(), &shared).await,
        set(&["shared-accepted"])
    );
    assert_eq!(name_set(&db, &other(), &shared).await, set(&[]));
    let private = [("visibility", "private")];
    assert_eq!(name_set(&db, &owner(), &private).await, set(&["priv1"]));
    assert_eq!(name_set(&db, &other(), &private).await, set(&["priv2"]));
    assert_eq!(name_set(&db, &reader(), &private).await, set(&["priv1"]));
    assert_eq!(
        name_set(&db, &admin(), &private).await,
        set(&["priv1", "priv2"])
    );
    let all = [("visibility", "all")];
    let other_all = set(&["pub1", "comm1", "comm2", "admin-comm", "priv2"]);
    assert_eq!(name_set(&db, &other(), &all).await, other_all);
    assert_eq!(name_set(&db, &admin(), &all).await.len(), 9);
}

#[tokio::test(flavor = "multi_thread")]
async fn member_status_picks_which_shares_list() {
    let db = TestDb::new().await.expect("test database");
    seed(&db).await;
    let shared_as = |status: &'static str| [("visibility", "shared"), ("member_status", status)];
    let p2 = other();
    assert_eq!(
        name_set(&db, &p2, &shared_as("pending")).await,
        set(&["shared-pending"])
    );
    assert_eq!(
        name_set(&db, &p2, &shared_as("rejected")).await,
        set(&["shared-accepted"])
    );
    let both = set(&["shared-pending", "shared-accepted"]);
    assert_eq!(name_set(&db, &p2, &shared_as("all")).await, both);
    assert_eq!(name_set(&db, &p2, &shared_as("accepted")).await, set(&[]));
    // The owner lists its own shared images whatever the members answered.
    let p1_shared = set(&["shared-none", "shared-pending", "shared-accepted"]);
    assert_eq!(
        name_set(&db, &owner(), &shared_as("pending")).await,
        p1_shared
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn deleted_and_pending_delete_images_never_list() {
    let db = TestDb::new().await.expect("test database");
    Seed::named("alive").insert(&db).await;
    Seed::named("gone").status("deleted").insert(&db).await;
    Seed::named("going")
        .status("pending_delete")
        .visibility("public")
        .insert(&db)
        .await;
    for actor in [owner(), admin()] {
        let all = [("visibility", "all")];
        assert_eq!(name_set(&db, &actor, &all).await, set(&["alive"]));
        for status in ["deleted", "pending_delete"] {
            assert_eq!(name_set(&db, &actor, &[("status", status)]).await, set(&[]));
        }
    }
}
