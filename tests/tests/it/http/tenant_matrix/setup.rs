//! Images in the state a cell needs, made through the repository as the service makes
//! them (and through the gateway where real data must exist), and the snapshot a refused
//! request must leave unchanged: version, `updated_at` and the image's event count.

use apply::Repository;
use axum::http::{Method, StatusCode};
use db::document;
use diesel::QueryableByName;
use diesel::sql_types::{BigInt, Uuid as SqlUuid};
use diesel_async::RunQueryDsl;
use domain::command::{ImageRef, MemberRef, UpdateMember};
use domain::status::{MemberStatus, Visibility};
use domain::{Command, ImageId};
use imagefleet_tests::TestApp;
use imagefleet_tests::fixtures::{OWNER_PROJECT, add_tag, admin, create, owner};
use imagefleet_tests::wait::wait_until;
use std::time::Duration;

use super::actors::{ACCEPTED_PROJECT, PENDING_PROJECT, REJECTED_PROJECT, Who};
use super::cells::{DATA, State};
use crate::http::api_sharing::{activate, apply};

/// Long enough for a worker to apply a command and copy a small staged image.
const DEADLINE: Duration = Duration::from_secs(30);

/// What a refused request must leave as it was.
#[derive(Debug, PartialEq, Eq)]
pub struct Snapshot {
    version: i64,
    updated_at: chrono::DateTime<chrono::Utc>,
    status: String,
    events: i64,
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// The image's snapshot; `None` once the image is gone.
pub async fn snapshot(app: &TestApp, id: ImageId) -> Option<Snapshot> {
    let mut conn = app.db.conn().await.expect("connection");
    let image = document::image_by_id(&mut conn, id.as_uuid())
        .await
        .expect("read the image")?;
    let count: Count =
        diesel::sql_query("SELECT count(*) AS n FROM events WHERE aggregate_id = $1")
            .bind::<SqlUuid, _>(id.as_uuid())
            .get_result(&mut conn)
            .await
            .expect("count the events");
    Some(Snapshot {
        version: image.version,
        updated_at: image.updated_at,
        status: image.status.as_str().to_owned(),
        events: count.n,
    })
}

/// A queued raw/bare image of p1 with this visibility (public ones made by an admin for
/// p1); shared ones have the three member projects, answered pending, accepted and
/// rejected by the members themselves.
async fn queued(repo: &Repository, visibility: Visibility, name: &str) -> ImageId {
    let id = ImageId::generate();
    let mut command = create(id, name);
    let creator = if let Command::CreateImage(c) = &mut command {
        c.visibility = Some(visibility);
        if visibility == Visibility::Public {
            c.owner = Some(OWNER_PROJECT.to_owned());
            admin()
        } else {
            owner()
        }
    } else {
        owner()
    };
    apply(repo, creator, command).await;
    if visibility == Visibility::Shared {
        for member in [PENDING_PROJECT, ACCEPTED_PROJECT, REJECTED_PROJECT] {
            let add = MemberRef {
                image_id: id,
                member_id: member.to_owned(),
            };
            apply(repo, owner(), Command::AddMember(add)).await;
        }
        for (who, status) in [
            (Who::Accepted, MemberStatus::Accepted),
            (Who::Rejected, MemberStatus::Rejected),
        ] {
            let actor = who.actor();
            let answer = UpdateMember {
                image_id: id,
                member_id: actor.project_id.clone(),
                status,
            };
            apply(repo, actor, Command::UpdateMember(answer)).await;
        }
    }
    id
}

/// `PUT` the matrix's bytes to `/file` or `/stage` as the owner: 204.
async fn put_data(app: &TestApp, id: ImageId, area: &str) {
    let path = format!("/v2/images/{id}/{area}");
    let body = Some(("application/octet-stream", DATA.to_vec()));
    let response = app.request(Method::PUT, &path, Some(&owner()), body).await;
    assert_eq!(
        response.status,
        StatusCode::NO_CONTENT,
        "{path}: {}",
        response.text
    );
}

/// A fresh image of p1 in `state` (not one of the shared reading states).
pub async fn fresh(
    app: &TestApp,
    repo: &Repository,
    visibility: Visibility,
    state: State,
) -> ImageId {
    let id = queued(repo, visibility, "matrix-cell").await;
    match state {
        State::Queued | State::ReadActive | State::ReadDeactivated => {}
        State::Tagged => apply(repo, owner(), add_tag(id, "gold")).await,
        State::Staged => put_data(app, id, "stage").await,
        State::Active => activate(repo, id, 10).await,
        State::Deactivated => {
            activate(repo, id, 10).await;
            let deactivate = Command::DeactivateImage(ImageRef {
                image_id: id,
                expected_version: None,
            });
            apply(repo, owner(), deactivate).await;
        }
    }
    id
}

/// The images the reading cells share for one visibility.
#[derive(Clone, Copy, Debug)]
pub struct ReadImages {
    /// Active, with the matrix's bytes, imported by the owner (so it has a task).
    pub active: ImageId,
    /// Deactivated, with the matrix's bytes uploaded by the owner.
    pub deactivated: ImageId,
}

/// The reading images of one visibility, named `matrix-read-<visibility>` (the active
/// one) so the list cells can find them by name.
pub async fn read_images(app: &TestApp, repo: &Repository, visibility: Visibility) -> ReadImages {
    let active = queued(repo, visibility, &read_name(visibility)).await;
    put_data(app, active, "stage").await;
    let import = Some((
        "application/json",
        br#"{"method": {"name": "glance-direct"}}"#.to_vec(),
    ));
    let path = format!("/v2/images/{active}/import");
    let response = app
        .request(Method::POST, &path, Some(&owner()), import)
        .await;
    assert_eq!(
        response.status,
        StatusCode::ACCEPTED,
        "{path}: {}",
        response.text
    );
    wait_active(app, active).await;
    let deactivated = queued(repo, visibility, "matrix-read-deactivated").await;
    put_data(app, deactivated, "file").await;
    let deactivate = Command::DeactivateImage(ImageRef {
        image_id: deactivated,
        expected_version: None,
    });
    apply(repo, owner(), deactivate).await;
    ReadImages {
        active,
        deactivated,
    }
}

/// The name of the active reading image of `visibility`.
pub fn read_name(visibility: Visibility) -> String {
    format!("matrix-read-{visibility}")
}

/// Waits until an import has made the image active.
pub async fn wait_active(app: &TestApp, id: ImageId) {
    wait_until(DEADLINE, &format!("image {id} is active"), async || {
        snapshot(app, id)
            .await
            .is_some_and(|s| s.status == "active")
    })
    .await
    .expect("the import finishes");
}
