//! Regression tests for rules the domain once broke: deleted images answer 404 before
//! any lock check, an import task never ends without its image, and read-only names are
//! refused at creation as they are in a patch, and an owner with a NUL character is bad
//! input rather than a database error.

use super::cases::{Row, case, create_image, outcome};
use super::fixtures::*;
use crate::command::{Command, FailTask, SucceedTask};
use crate::image::IMPORT_TASK_PROPERTY;
use crate::{Actor, Event, ImageStatus, RejectionKind, State, TaskStatus, decide};

/// Design decision: deleted images answer NotFound to everything, and pending_delete is
/// hidden (404) except to restore and purge. The import steps check the import lock
/// before the status, so on a deleted image without the lock they answer 409.
#[test]
fn import_steps_on_deleted_images_are_not_found_even_without_the_lock() {
    let mut mismatches = Vec::new();
    for status in [ImageStatus::Deleted, ImageStatus::PendingDelete] {
        for row in [Row::CompleteImport, Row::FailImport] {
            let mut case = case(row, status);
            if let Some(image) = case.state.image.as_mut() {
                image.properties.remove(IMPORT_TASK_PROPERTY);
            }
            let got = decide(&case.state, &case.command, &case.ctx);
            if got.as_ref().err().map(|r| r.kind) != Some(RejectionKind::NotFound) {
                mismatches.push(format!(
                    "{status} x {row:?} (no lock): expected NotFound, got {}",
                    outcome(&got)
                ));
            }
        }
    }
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
}

/// SPEC 2 and 9: when the import task fails the image goes back to queued (and when it
/// succeeds the image is active). Finishing the task through `fail_task` or
/// `succeed_task` instead leaves the image importing, locked by a finished task: both
/// import steps then answer 409 and only a delete frees the image. Either the task step
/// must be refused for a running import's task, or the import step must still apply.
#[test]
fn a_finished_import_task_never_leaves_its_image_importing() {
    let service = ctx(Actor::service());
    let finish = [
        Command::FailTask(FailTask {
            task_id: TASK,
            message: "worker crashed".into(),
        }),
        Command::SucceedTask(SucceedTask {
            task_id: TASK,
            result: serde_json::json!({}),
        }),
    ];
    for task_step in finish {
        let mut state = State {
            image: Some(image_in(ImageStatus::Importing)),
            task: Some(task_in(TaskStatus::Processing)),
        };
        let Ok(events) = decide(&state, &task_step, &service) else {
            continue;
        };
        for event in events {
            if let Event::Task(e) = event {
                state.task = Some(e.task);
            }
        }
        let recovered = [Row::FailImport, Row::CompleteImport]
            .into_iter()
            .any(|row| {
                let command = case(row, ImageStatus::Importing).command;
                decide(&state, &command, &service).is_ok()
            });
        assert!(
            recovered,
            "after {}: the image stays importing and no import step is accepted",
            task_step.type_name()
        );
    }
}

/// SPEC 5: read-only attributes at create answer 403 (JSON-patch refuses them; a create
/// that carries them among its extra properties is accepted).
#[test]
fn create_refuses_read_only_attributes_among_extra_properties() {
    for key in [
        "status",
        "size",
        "checksum",
        "locations",
        "direct_url",
        "created_at",
    ] {
        let mut create = create_image();
        create.properties.insert(key.into(), "x".into());
        let got = decide(
            &State::default(),
            &Command::CreateImage(create),
            &ctx(owner()),
        );
        assert_eq!(
            got.as_ref().err().map(|r| r.kind),
            Some(RejectionKind::Forbidden),
            "{key}: {}",
            outcome(&got)
        );
    }
}

/// A glance-direct import asked while `PUT /stage` still streams (the image is uploading
/// and holds the stage's lease) is refused: the job would find no staged data and fail,
/// and the stage would then end in a conflict.
#[test]
fn glance_direct_waits_until_the_stage_is_complete() {
    let mut staging = case(Row::ImportGlanceDirect, ImageStatus::Uploading);
    if let Some(image) = staging.state.image.as_mut() {
        image.lease_expires_at = Some(now() + chrono::Duration::hours(1));
    }
    let got = decide(&staging.state, &staging.command, &staging.ctx);
    assert_eq!(got.err().map(|r| r.kind), Some(RejectionKind::Conflict));
    let staged = case(Row::ImportGlanceDirect, ImageStatus::Uploading);
    assert!(decide(&staged.state, &staged.command, &staged.ctx).is_ok());
}

/// An owner with a NUL character (schemathesis, POST /v2/images as admin) reached
/// Postgres, which cannot store it: the command was never answered and the gateway gave
/// 503 after its timeout. It is bad input, refused like a name with one.
#[test]
fn create_refuses_an_owner_with_a_nul_character() {
    let mut create = create_image();
    create.owner = Some("a\0b".into());
    let got = decide(
        &State::default(),
        &Command::CreateImage(create),
        &ctx(admin()),
    );
    assert_eq!(
        got.as_ref().err().map(|r| r.kind),
        Some(RejectionKind::BadRequest),
        "{}",
        outcome(&got)
    );
}
