//! JSON-patch checks beyond SPEC 6's list: atomicity and one version per patch, value
//! validation (names, integers, enums, tags, key lengths), who may patch, and `If-Match`.

use super::fixtures::*;
use super::patch::{add, patch, patch_as, replace};
use crate::command::{Command, UpdateImage};
use crate::status::Visibility;
use crate::{Actor, ImageStatus, RejectionKind, State, decide};
use RejectionKind::{BadRequest, Conflict, Forbidden};
use serde_json::json;

#[test]
fn a_patch_is_all_or_nothing_and_one_version() {
    assert_eq!(
        patch(vec![add("k2", json!("v")), replace("missing", json!("x"))]),
        Err(Conflict)
    );
    let image = patch(vec![
        add("k2", json!("v")),
        add("k3", json!("v")),
        replace("min_ram", json!(512)),
    ])
    .expect("accepted")
    .expect("a change");
    assert_eq!(
        (image.version, image.min_ram, image.properties.len()),
        (VERSION + 1, 512, 3)
    );
}

#[test]
fn values_are_checked() {
    assert_eq!(
        patch(vec![replace("name", json!("n".repeat(256)))]),
        Err(BadRequest)
    );
    assert!(matches!(patch(vec![replace("name", json!(null))]), Ok(Some(i)) if i.name.is_none()));
    assert_eq!(patch(vec![replace("min_disk", json!(-1))]), Err(BadRequest));
    assert_eq!(
        patch(vec![replace("min_disk", json!(i64::MAX))]),
        Err(BadRequest)
    );
    assert_eq!(
        patch(vec![replace("min_ram", json!("512"))]),
        Err(BadRequest)
    );
    assert_eq!(
        patch(vec![replace("protected", json!("yes"))]),
        Err(BadRequest)
    );
    assert_eq!(
        patch(vec![replace("visibility", json!("everyone"))]),
        Err(BadRequest)
    );
    assert_eq!(
        patch(vec![replace("tags", json!(["", "a"]))]),
        Err(BadRequest)
    );
    assert_eq!(
        patch(vec![add("k".repeat(256).as_str(), json!("v"))]),
        Err(BadRequest)
    );
}

#[test]
fn who_may_patch() {
    assert_eq!(
        patch_as(
            image_in(ImageStatus::Active),
            vec![add("k2", json!("v"))],
            &ctx(reader())
        ),
        Err(Forbidden)
    );
    let mut private = image_in(ImageStatus::Active);
    private.visibility = Visibility::Private;
    let got = patch_as(private, vec![add("k2", json!("v"))], &ctx(other()));
    assert_eq!(got, Err(RejectionKind::NotFound));
    let service = patch_as(
        image_in(ImageStatus::Active),
        vec![add("k2", json!("v"))],
        &ctx(Actor::service()),
    );
    assert!(service.is_err(), "the service is no user: {service:?}");
}

#[test]
fn a_stale_if_match_is_412() {
    let command = Command::UpdateImage(UpdateImage {
        image_id: IMAGE,
        operations: vec![add("k2", json!("v"))],
        expected_version: Some(VERSION - 1),
    });
    let state = State {
        image: Some(image_in(ImageStatus::Active)),
        task: None,
    };
    let got = decide(&state, &command, &ctx(owner()));
    assert_eq!(
        got.err().map(|r| r.kind),
        Some(RejectionKind::PreconditionFailed)
    );
}
