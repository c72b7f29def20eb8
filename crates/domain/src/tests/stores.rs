//! `delete_from_store`: who may remove a store's copy of an image's data, and each of
//! Glance's refusals in its order, with ours for a running import.

use super::fixtures::*;
use crate::command::{Command, DeleteFromStore};
use crate::event::{Event, ImageEventKind};
use crate::image::IMPORT_TASK_PROPERTY;
use crate::{Actor, Context, Image, ImageStatus, RejectionKind, State, decide};

/// A context of a deployment with the stores `fast` and `cold`.
fn multi(actor: Actor) -> Context {
    let mut ctx = ctx(actor);
    ctx.config.stores = vec!["fast".into(), "cold".into()];
    ctx
}

/// The fixture image, active and held in `stores`.
fn held_in(stores: &[&str]) -> Image {
    let mut image = image_in(ImageStatus::Active);
    image.stores = stores.iter().map(|s| (*s).to_owned()).collect();
    image
}

fn delete_from(image: Image, store: &str, ctx: &Context) -> Result<Vec<Event>, crate::Rejection> {
    let state = State {
        image: Some(image),
        task: None,
    };
    let command = Command::DeleteFromStore(DeleteFromStore {
        image_id: IMAGE,
        store: store.into(),
    });
    decide(&state, &command, ctx)
}

fn refusal(result: Result<Vec<Event>, crate::Rejection>) -> (RejectionKind, String) {
    let rejection = result.expect_err("refused");
    (rejection.kind, rejection.message)
}

#[test]
fn an_admin_removes_one_store_and_the_image_keeps_the_other() {
    let events =
        delete_from(held_in(&["fast", "cold"]), "fast", &multi(admin())).expect("accepted");
    let [Event::Image(changed)] = events.as_slice() else {
        panic!("one image event: {events:?}");
    };
    assert_eq!(changed.kind, ImageEventKind::RemovedFromStore);
    assert_eq!(changed.image.stores, vec!["cold".to_owned()]);
    assert_eq!(changed.image.status, ImageStatus::Active);
    assert_eq!(changed.image.version, VERSION + 1);
    assert_eq!(
        changed.image.checksum,
        held_in(&[]).checksum,
        "the data's digests stay"
    );
}

#[test]
fn only_admins_may_remove_data_from_a_store() {
    for actor in [owner(), reader(), shared_member()] {
        let (kind, _) = refusal(delete_from(
            held_in(&["fast", "cold"]),
            "fast",
            &multi(actor),
        ));
        assert_eq!(kind, RejectionKind::Forbidden);
    }
    let (kind, _) = refusal(delete_from(
        held_in(&["fast", "cold"]),
        "fast",
        &multi(other()),
    ));
    assert_eq!(
        kind,
        RejectionKind::NotFound,
        "not visible to another project"
    );
}

#[test]
fn an_unknown_store_is_a_conflict_before_anything_else() {
    let (kind, message) = refusal(delete_from(
        held_in(&["fast", "cold"]),
        "warm",
        &multi(other()),
    ));
    assert_eq!(kind, RejectionKind::Conflict);
    assert_eq!(
        message,
        "The selected store warm is not available on this node."
    );
    let (kind, _) = refusal(delete_from(held_in(&[]), "fast", &ctx(admin())));
    assert_eq!(
        kind,
        RejectionKind::Conflict,
        "single-store mode knows no store"
    );
}

#[test]
fn only_an_active_image_gives_up_a_store() {
    for status in [
        ImageStatus::Queued,
        ImageStatus::Deactivated,
        ImageStatus::Importing,
    ] {
        let mut image = image_in(status);
        image.stores = vec!["fast".into(), "cold".into()];
        let (kind, _) = refusal(delete_from(image, "fast", &multi(admin())));
        assert_eq!(kind, RejectionKind::Conflict, "{status}");
    }
}

#[test]
fn a_running_import_blocks_the_removal() {
    let mut image = held_in(&["fast", "cold"]);
    image
        .properties
        .insert(IMPORT_TASK_PROPERTY.into(), TASK.to_string());
    let (kind, message) = refusal(delete_from(image, "cold", &multi(admin())));
    assert_eq!(kind, RejectionKind::Conflict);
    assert!(message.contains("import"), "{message}");
}

#[test]
fn the_only_store_holding_the_data_is_refused() {
    for stores in [&["fast"][..], &[][..]] {
        let (kind, message) = refusal(delete_from(held_in(stores), "fast", &multi(admin())));
        assert_eq!(kind, RejectionKind::Forbidden, "{stores:?}");
        assert!(message.starts_with("Cannot delete image data from the only store"));
    }
}

#[test]
fn a_store_not_holding_the_data_is_not_found() {
    let mut config = multi(admin());
    config.config.stores.push("warm".into());
    let (kind, message) = refusal(delete_from(held_in(&["fast", "cold"]), "warm", &config));
    assert_eq!(kind, RejectionKind::NotFound);
    assert_eq!(
        message,
        format!("Image {IMAGE} is not stored in store warm.")
    );
}
