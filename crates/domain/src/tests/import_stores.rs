//! Imports in multi-store mode: the stores an import names are checked, written to
//! `os_glance_importing_to_stores` (sorted, as Glance) and taken off
//! `os_glance_failed_import` when it begins; `import_store_done` moves one store off
//! the first list, onto the second when it failed; the end sets the image's stores.
//! copy-image's own rules are in `copy_image`; the helpers here serve both.

use super::fixtures::*;
use crate::command::{
    BeginImport, Command, CompleteImport, FailImport, ImportMethod, ImportStoreDone,
};
use crate::image::{FAILED_IMPORT_PROPERTY, IMPORT_TASK_PROPERTY, IMPORTING_TO_STORES_PROPERTY};
use crate::{
    Actor, Context, Event, Image, ImageStatus, Rejection, RejectionKind, State, Task, TaskStatus,
    decide,
};

pub(super) fn begin(method: ImportMethod, stores: &[&str]) -> Command {
    Command::BeginImport(BeginImport {
        image_id: IMAGE,
        task_id: TASK,
        method,
        stores: stores.iter().map(|s| (*s).to_owned()).collect(),
        all_stores_must_succeed: true,
        lease_expires_at: now() + chrono::Duration::hours(1),
        request_id: None,
    })
}

pub(super) fn multi(actor: Actor) -> Context {
    Context {
        config: multi_store(),
        ..ctx(actor)
    }
}

/// The image and task events of an accepted command.
pub(super) fn accepted(state: &State, command: &Command, ctx: &Context) -> (Image, Option<Task>) {
    let events = decide(state, command, ctx).expect("accepted");
    let mut image = None;
    let mut task = None;
    for event in events {
        match event {
            Event::Image(e) => image = Some(e.image),
            Event::Task(e) => task = Some(e.task),
        }
    }
    (image.expect("an image event"), task)
}

pub(super) fn refused(state: &State, command: &Command, ctx: &Context) -> Rejection {
    decide(state, command, ctx).expect_err("refused")
}

pub(super) fn property<'a>(image: &'a Image, key: &str) -> Option<&'a str> {
    image.properties.get(key).map(String::as_str)
}

pub(super) fn active() -> State {
    State {
        image: Some(image_in(ImageStatus::Active)),
        task: None,
    }
}

/// The image locked by a running import of `task`.
pub(super) fn running(status: ImageStatus, task: Task) -> State {
    let mut image = image_in(status);
    image
        .properties
        .insert(IMPORT_TASK_PROPERTY.into(), TASK.to_string());
    State {
        image: Some(image),
        task: Some(task),
    }
}

#[test]
fn all_stores_may_fail_only_with_named_stores() {
    let queued = State {
        image: Some(image_in(ImageStatus::Queued)),
        task: None,
    };
    let uri = "https://example.org/cirros.img".to_owned();
    let Command::BeginImport(mut lenient) = begin(ImportMethod::WebDownload { uri }, &[]) else {
        unreachable!("begin builds a BeginImport")
    };
    lenient.all_stores_must_succeed = false;
    let lenient = Command::BeginImport(lenient);
    let single = refused(&queued, &lenient, &ctx(owner()));
    assert_eq!(single.kind, RejectionKind::BadRequest);
    let (_, task) = accepted(&queued, &lenient, &multi(owner()));
    let task = task.expect("a task");
    assert_eq!(task.input["import_req"]["all_stores_must_succeed"], false);
}

#[test]
fn an_import_lists_its_stores_sorted_and_takes_them_off_the_failed_list() {
    let mut state = State {
        image: Some(image_in(ImageStatus::Uploading)),
        task: None,
    };
    if let Some(image) = state.image.as_mut() {
        image
            .properties
            .insert(FAILED_IMPORT_PROPERTY.into(), "cold,warm".into());
    }
    let command = begin(ImportMethod::GlanceDirect, &["fast", "cold"]);
    let (image, _) = accepted(&state, &command, &multi(owner()));
    assert_eq!(image.status, ImageStatus::Importing);
    assert_eq!(
        property(&image, IMPORTING_TO_STORES_PROPERTY),
        Some("cold,fast")
    );
    assert_eq!(property(&image, FAILED_IMPORT_PROPERTY), Some("warm"));
}

#[test]
fn single_store_imports_keep_no_store_lists() {
    let state = State {
        image: Some(image_in(ImageStatus::Uploading)),
        task: None,
    };
    let (image, _) = accepted(
        &state,
        &begin(ImportMethod::GlanceDirect, &[]),
        &ctx(owner()),
    );
    assert_eq!(property(&image, IMPORTING_TO_STORES_PROPERTY), None);
    assert_eq!(property(&image, FAILED_IMPORT_PROPERTY), None);
    let named = refused(
        &state,
        &begin(ImportMethod::GlanceDirect, &["fast"]),
        &ctx(owner()),
    );
    assert_eq!(named.kind, RejectionKind::BadRequest);
}

fn store_done(succeeded: bool) -> Command {
    Command::ImportStoreDone(ImportStoreDone {
        image_id: IMAGE,
        task_id: TASK,
        store: STORE.into(),
        succeeded,
    })
}

#[test]
fn a_store_done_leaves_the_importing_list_and_a_failed_one_joins_the_failed_list() {
    let mut state = running(ImageStatus::Importing, task_in(TaskStatus::Processing));
    if let Some(image) = state.image.as_mut() {
        image
            .properties
            .insert(IMPORTING_TO_STORES_PROPERTY.into(), "cold,fast".into());
        image
            .properties
            .insert(FAILED_IMPORT_PROPERTY.into(), String::new());
    }
    let service = multi(Actor::service());
    let (done, task) = accepted(&state, &store_done(true), &service);
    assert!(task.is_none(), "the task does not change");
    assert_eq!(done.status, ImageStatus::Importing);
    assert_eq!(property(&done, IMPORTING_TO_STORES_PROPERTY), Some("fast"));
    assert_eq!(property(&done, FAILED_IMPORT_PROPERTY), Some(""));
    let (failed, _) = accepted(&state, &store_done(false), &service);
    assert_eq!(
        property(&failed, IMPORTING_TO_STORES_PROPERTY),
        Some("fast")
    );
    assert_eq!(property(&failed, FAILED_IMPORT_PROPERTY), Some(STORE));
    // Sent again (a rerun of the job), nothing more changes but the version.
    let again = State {
        image: Some(failed.clone()),
        task: state.task.clone(),
    };
    let (twice, _) = accepted(&again, &store_done(false), &service);
    assert_eq!(twice.properties, failed.properties);
    // A rerun that writes the store takes it off the failed list.
    let (rewritten, _) = accepted(&again, &store_done(true), &service);
    assert_eq!(property(&rewritten, FAILED_IMPORT_PROPERTY), Some(""));
}

#[test]
fn a_store_done_is_the_services_and_names_the_running_import() {
    let state = running(ImageStatus::Importing, task_in(TaskStatus::Processing));
    let by_owner = refused(&state, &store_done(true), &multi(owner()));
    assert_eq!(by_owner.kind, RejectionKind::Forbidden);
    let mut unlocked = state.clone();
    if let Some(image) = unlocked.image.as_mut() {
        image.properties.remove(IMPORT_TASK_PROPERTY);
    }
    let stale = refused(&unlocked, &store_done(true), &multi(Actor::service()));
    assert_eq!(stale.kind, RejectionKind::Conflict);
    let unknown = Command::ImportStoreDone(ImportStoreDone {
        image_id: IMAGE,
        task_id: TASK,
        store: "warm".into(),
        succeeded: true,
    });
    let unknown = refused(&state, &unknown, &multi(Actor::service()));
    assert_eq!(unknown.kind, RejectionKind::BadRequest);
}

pub(super) fn complete(stores: &[&str]) -> Command {
    Command::CompleteImport(CompleteImport {
        image_id: IMAGE,
        task_id: TASK,
        digest: digest(),
        stores: stores.iter().map(|s| (*s).to_owned()).collect(),
        converted_to: None,
        injected: Default::default(),
    })
}

pub(super) fn fail() -> Command {
    Command::FailImport(FailImport {
        image_id: IMAGE,
        task_id: TASK,
        message: "the store failed".into(),
    })
}

#[test]
fn an_import_ends_with_the_stores_written_and_nothing_importing() {
    let mut state = running(ImageStatus::Importing, task_in(TaskStatus::Processing));
    if let Some(image) = state.image.as_mut() {
        image
            .properties
            .insert(IMPORTING_TO_STORES_PROPERTY.into(), "fast".into());
        image
            .properties
            .insert(FAILED_IMPORT_PROPERTY.into(), STORE.into());
    }
    let service = multi(Actor::service());
    let (image, task) = accepted(&state, &complete(&["fast"]), &service);
    assert_eq!(image.status, ImageStatus::Active);
    assert_eq!(image.stores, vec!["fast"]);
    assert_eq!(property(&image, IMPORTING_TO_STORES_PROPERTY), Some(""));
    assert_eq!(property(&image, FAILED_IMPORT_PROPERTY), Some(STORE));
    assert_eq!(task.map(|t| t.status), Some(TaskStatus::Success));
    let (failed, _) = accepted(&state, &fail(), &service);
    assert_eq!(failed.status, ImageStatus::Queued);
    assert!(failed.stores.is_empty());
    assert_eq!(property(&failed, IMPORTING_TO_STORES_PROPERTY), Some(""));
    assert_eq!(property(&failed, FAILED_IMPORT_PROPERTY), Some(STORE));
}

#[test]
fn begin_import_from_an_older_producer_must_succeed_everywhere() {
    let json = serde_json::json!({
        "image_id": IMAGE,
        "task_id": TASK,
        "method": { "name": "glance-direct" },
        "lease_expires_at": now(),
    });
    let begin: BeginImport = serde_json::from_value(json).expect("parses");
    assert!(begin.all_stores_must_succeed);
}
