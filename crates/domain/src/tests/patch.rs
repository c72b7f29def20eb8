//! JSON-patch (`update_image`) unit tests, one per rule of SPEC 6 and the writable column
//! of SPEC 5: read-only and reserved attributes, core removal, missing extra properties,
//! value types, frozen formats, admin-only changes, the empty patch and the quota.

use super::fixtures::*;
use crate::command::{PatchOperation, UpdateImage};
use crate::image::IMPORT_TASK_PROPERTY;
use crate::status::{DiskFormat, Visibility};
use crate::{Command, Context, Event, Image, ImageStatus, RejectionKind, State, decide};
use RejectionKind::{BadRequest, Conflict, Forbidden, PayloadTooLarge};
use serde_json::{Value, json};

pub fn add(attribute: &str, value: Value) -> PatchOperation {
    PatchOperation::Add {
        attribute: attribute.into(),
        value,
    }
}

pub fn replace(attribute: &str, value: Value) -> PatchOperation {
    PatchOperation::Replace {
        attribute: attribute.into(),
        value,
    }
}

fn remove(attribute: &str) -> PatchOperation {
    PatchOperation::Remove {
        attribute: attribute.into(),
    }
}

/// Applies `operations` to `image` as `ctx`'s actor: the new image, or the refusal kind.
pub fn patch_as(
    image: Image,
    operations: Vec<PatchOperation>,
    ctx: &Context,
) -> Result<Option<Image>, RejectionKind> {
    let command = Command::UpdateImage(UpdateImage {
        image_id: IMAGE,
        operations,
        expected_version: None,
    });
    let events = decide(
        &State {
            image: Some(image),
            task: None,
        },
        &command,
        ctx,
    )
    .map_err(|r| r.kind)?;
    match events.as_slice() {
        [] => Ok(None),
        [event @ Event::Image(e)] => {
            assert_eq!(
                (e.image.version, event.routing_key().as_str()),
                (VERSION + 1, "image.updated")
            );
            Ok(Some(e.image.clone()))
        }
        other => panic!("a patch yields one image event, got {other:?}"),
    }
}

/// Applies `operations` to an active fixture image as its owner.
pub fn patch(operations: Vec<PatchOperation>) -> Result<Option<Image>, RejectionKind> {
    patch_as(image_in(ImageStatus::Active), operations, &ctx(owner()))
}

#[test]
fn read_only_attributes_are_forbidden() {
    let read_only = [
        "id",
        "status",
        "checksum",
        "os_hash_algo",
        "os_hash_value",
        "size",
        "virtual_size",
        "created_at",
        "updated_at",
        "self",
        "file",
        "schema",
        "locations",
        "direct_url",
    ];
    for attribute in read_only {
        for op in [
            add(attribute, json!("x")),
            replace(attribute, json!("x")),
            remove(attribute),
        ] {
            assert_eq!(patch(vec![op.clone()]), Err(Forbidden), "{op:?}");
        }
    }
}

#[test]
fn reserved_os_glance_properties_are_forbidden() {
    let importing = image_in(ImageStatus::Importing);
    for op in [
        add("os_glance_foo", json!("x")),
        replace(IMPORT_TASK_PROPERTY, json!("x")),
        remove(IMPORT_TASK_PROPERTY),
    ] {
        assert_eq!(
            patch_as(importing.clone(), vec![op.clone()], &ctx(owner())),
            Err(Forbidden),
            "{op:?}"
        );
    }
}

#[test]
fn core_attributes_cannot_be_removed() {
    for attribute in [
        "name",
        "visibility",
        "protected",
        "os_hidden",
        "min_disk",
        "min_ram",
        "disk_format",
        "container_format",
        "owner",
    ] {
        assert_eq!(
            patch(vec![remove(attribute)]),
            Err(Forbidden),
            "remove {attribute}"
        );
    }
}

#[test]
fn replacing_or_removing_a_missing_extra_property_conflicts() {
    assert_eq!(patch(vec![replace("missing", json!("x"))]), Err(Conflict));
    assert_eq!(patch(vec![remove("missing")]), Err(Conflict));
    let removed = patch(vec![remove("k")])
        .expect("k exists")
        .expect("a change");
    assert!(!removed.properties.contains_key("k"));
}

#[test]
fn add_on_an_existing_attribute_replaces_it() {
    let image = patch(vec![add("k", json!("new")), add("name", json!("other"))])
        .expect("accepted")
        .expect("a change");
    assert_eq!(image.properties.get("k").map(String::as_str), Some("new"));
    assert_eq!(image.name.as_deref(), Some("other"));
}

#[test]
fn extra_property_values_must_be_strings() {
    for value in [
        json!(1),
        json!(-1.5),
        json!(true),
        json!(null),
        json!(["a"]),
        json!({"a": "b"}),
    ] {
        assert_eq!(
            patch(vec![add("k2", value.clone())]),
            Err(BadRequest),
            "{value}"
        );
    }
}

#[test]
fn formats_are_frozen_once_data_exists() {
    for attribute in ["disk_format", "container_format"] {
        let value = if attribute == "disk_format" {
            json!("qcow2")
        } else {
            json!("ovf")
        };
        assert_eq!(
            patch(vec![replace(attribute, value.clone())]),
            Err(Forbidden),
            "{attribute} on active"
        );
        let queued = patch_as(
            image_in(ImageStatus::Queued),
            vec![replace(attribute, value)],
            &ctx(owner()),
        );
        assert!(
            matches!(queued, Ok(Some(_))),
            "{attribute} on queued: {queued:?}"
        );
    }
    let queued = patch_as(
        image_in(ImageStatus::Queued),
        vec![replace("disk_format", json!("qcow2"))],
        &ctx(owner()),
    );
    assert_eq!(
        queued.ok().flatten().and_then(|i| i.disk_format),
        Some(DiskFormat::Qcow2)
    );
    let unknown = patch_as(
        image_in(ImageStatus::Queued),
        vec![replace("disk_format", json!("qcow3"))],
        &ctx(owner()),
    );
    assert_eq!(unknown, Err(BadRequest));
}

#[test]
fn public_and_owner_changes_are_admin_only() {
    assert_eq!(
        patch(vec![replace("visibility", json!("public"))]),
        Err(Forbidden)
    );
    assert_eq!(patch(vec![replace("owner", json!("p9"))]), Err(Forbidden));
    let by_admin = patch_as(
        image_in(ImageStatus::Active),
        vec![
            replace("visibility", json!("public")),
            replace("owner", json!("p9")),
        ],
        &ctx(admin()),
    );
    let image = by_admin.expect("admin may").expect("a change");
    assert_eq!(
        (image.visibility, image.owner.as_str()),
        (Visibility::Public, "p9")
    );
    let community = patch(vec![replace("visibility", json!("community"))])
        .expect("owner may")
        .expect("a change");
    assert_eq!(community.visibility, Visibility::Community);
}

#[test]
fn an_empty_patch_changes_nothing() {
    assert_eq!(patch(Vec::new()), Ok(None));
}

#[test]
fn the_property_quota_is_413() {
    let mut context = ctx(owner());
    context.config.image_property_quota = 2;
    let image = || image_in(ImageStatus::Active);
    assert!(matches!(
        patch_as(image(), vec![add("k2", json!("v"))], &context),
        Ok(Some(_))
    ));
    let over = vec![add("k2", json!("v")), add("k3", json!("v"))];
    assert_eq!(patch_as(image(), over, &context), Err(PayloadTooLarge));
}
