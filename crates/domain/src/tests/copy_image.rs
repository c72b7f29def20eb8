//! copy-image in the domain: it begins on an active image in multi-store mode, which
//! stays active and locked under a lease; it is refused with one store, to
//! non-admins and for a store already holding the image; its end adds its stores (the
//! copy's data must be the image's) or fails only the task.

use super::fixtures::*;
use super::import_stores::{
    accepted, active, begin, complete, fail, multi, property, refused, running,
};
use crate::command::ImportMethod;
use crate::image::{FAILED_IMPORT_PROPERTY, IMPORTING_TO_STORES_PROPERTY};
use crate::{Actor, Command, ImageStatus, RejectionKind, State, TaskStatus};

#[test]
fn copy_image_begins_on_an_active_image_which_stays_active_and_locked() {
    let command = begin(ImportMethod::CopyImage, &[STORE]);
    let (image, task) = accepted(&active(), &command, &multi(admin()));
    assert_eq!(image.status, ImageStatus::Active);
    assert_eq!(image.import_task(), Some(TASK));
    assert!(image.lease_expires_at.is_some(), "a copy holds a lease");
    assert_eq!(property(&image, IMPORTING_TO_STORES_PROPERTY), Some(STORE));
    assert_eq!(property(&image, FAILED_IMPORT_PROPERTY), Some(""));
    let task = task.expect("a task");
    assert_eq!(task.status, TaskStatus::Pending);
    assert_eq!(task.input["import_req"]["all_stores_must_succeed"], true);
    assert_eq!(task.input["backend"], serde_json::json!([STORE]));
}

#[test]
fn copy_image_is_refused_with_one_store_to_non_admins_and_to_stores_holding_it() {
    let command = begin(ImportMethod::CopyImage, &[STORE]);
    let single = refused(&active(), &command, &ctx(admin()));
    assert_eq!(single.kind, RejectionKind::Conflict, "{}", single.message);
    assert!(
        single.message.contains("single store"),
        "{}",
        single.message
    );
    let owner = refused(&active(), &command, &multi(owner()));
    assert_eq!(owner.kind, RejectionKind::Forbidden);
    let mut held = active();
    if let Some(image) = held.image.as_mut() {
        image.stores = vec![STORE.to_owned()];
    }
    let present = refused(&held, &command, &multi(admin()));
    assert_eq!(present.kind, RejectionKind::BadRequest);
    assert_eq!(present.message, "Image is already present at store 'cold'");
    let unknown = begin(ImportMethod::CopyImage, &["warm"]);
    let unknown = refused(&active(), &unknown, &multi(admin()));
    assert_eq!(unknown.kind, RejectionKind::BadRequest);
    let none = refused(
        &active(),
        &begin(ImportMethod::CopyImage, &[]),
        &multi(admin()),
    );
    assert_eq!(none.kind, RejectionKind::BadRequest);
    let queued = State {
        image: Some(image_in(ImageStatus::Queued)),
        task: None,
    };
    let not_active = refused(&queued, &command, &multi(admin()));
    assert_eq!(not_active.kind, RejectionKind::Conflict);
}

fn copying() -> State {
    let mut state = running(ImageStatus::Active, copy_task_in(TaskStatus::Processing));
    if let Some(image) = state.image.as_mut() {
        image.stores = vec!["fast".to_owned()];
        image
            .properties
            .insert(IMPORTING_TO_STORES_PROPERTY.into(), STORE.into());
    }
    state
}

#[test]
fn a_copy_adds_its_stores_and_leaves_the_image_active_with_its_data() {
    let (image, task) = accepted(&copying(), &complete(&[STORE]), &multi(Actor::service()));
    assert_eq!(image.status, ImageStatus::Active);
    assert_eq!(image.stores, vec!["fast", "cold"]);
    assert_eq!(image.import_task(), None, "the lock is released");
    assert_eq!(image.size, Some(digest().size));
    assert_eq!(property(&image, IMPORTING_TO_STORES_PROPERTY), Some(""));
    assert_eq!(task.map(|t| t.status), Some(TaskStatus::Success));
}

#[test]
fn a_copy_whose_data_differs_is_refused() {
    let Command::CompleteImport(mut other) = complete(&[STORE]) else {
        unreachable!("complete builds a CompleteImport")
    };
    other.digest.os_hash_value = "cd".repeat(64);
    let wrong = refused(
        &copying(),
        &Command::CompleteImport(other),
        &multi(Actor::service()),
    );
    assert_eq!(wrong.kind, RejectionKind::Conflict);
}

#[test]
fn a_failed_copy_leaves_the_image_active_with_its_stores_and_fails_the_task() {
    let (image, task) = accepted(&copying(), &fail(), &multi(Actor::service()));
    assert_eq!(image.status, ImageStatus::Active);
    assert_eq!(image.stores, vec!["fast"]);
    assert_eq!(image.size, Some(digest().size), "the data stays");
    assert_eq!(image.import_task(), None);
    assert_eq!(property(&image, IMPORTING_TO_STORES_PROPERTY), Some(""));
    let task = task.expect("a task event");
    assert_eq!(task.status, TaskStatus::Failure);
    assert_eq!(task.message, "the store failed");
}
