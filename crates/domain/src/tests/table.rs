//! The image transition table test: an expected table written by hand from SPEC 2 (and
//! the design decisions that refine it), one row per image command and one column per
//! status, checked against `decide`, not against `image_step`, so the code is checked
//! against the spec rather than against itself.

use super::cases::{Row, case, create_image, outcome};
use super::fixtures::Expect::{self, Go, Noop, Same};
use super::fixtures::*;
use crate::command::CreateImage;
use crate::{Command, Event, ImageStatus, RejectionKind, State, TaskStatus, decide};
use ImageStatus::{
    Active, Deactivated, Deleted, Importing, PendingDelete, Queued, Saving, Uploading,
};

const NF: Expect<ImageStatus> = Expect::No(RejectionKind::NotFound);
const CF: Expect<ImageStatus> = Expect::No(RejectionKind::Conflict);
const FB: Expect<ImageStatus> = Expect::No(RejectionKind::Forbidden);
const DEL: Expect<ImageStatus> = Go(Deleted);

/// SPEC 2, by hand. Columns: queued, saving, uploading, importing, active, deactivated,
/// killed, pending_delete, deleted. Deleted answers 404 to everything (create: 409 for
/// the id); pending_delete is hidden (404) except to restore and purge.
#[rustfmt::skip]
pub const IMAGE_TABLE: &[(Row, [Expect<ImageStatus>; 9])] = &[
    //                         queued        saving      uploading        importing    active           deactivated      killed  p_delete          deleted
    (Row::Create,             [CF,           CF,         CF,              CF,          CF,              CF,              CF,     CF,               CF]),
    (Row::Update,             [Same,         Same,       Same,            Same,        Same,            Same,            Same,   NF,               NF]),
    (Row::BeginUpload,        [Go(Saving),   CF,         CF,              CF,          CF,              CF,              CF,     NF,               NF]),
    (Row::CompleteUpload,     [CF,           Go(Active), CF,              CF,          CF,              CF,              CF,     NF,               NF]),
    (Row::AbortUploadRemoved, [CF,           Go(Queued), CF,              CF,          CF,              CF,              CF,     NF,               NF]),
    (Row::AbortUploadKept,    [CF,  Go(ImageStatus::Killed), CF,          CF,          CF,              CF,              CF,     NF,               NF]),
    (Row::BeginStage,         [Go(Uploading), CF,        CF,              CF,          CF,              CF,              CF,     NF,               NF]),
    (Row::CompleteStage,      [CF,           CF,         Same,            CF,          CF,              CF,              CF,     NF,               NF]),
    (Row::AbortStage,         [CF,           CF,         Go(Queued),      CF,          CF,              CF,              CF,     NF,               NF]),
    (Row::ImportGlanceDirect, [CF,           CF,         Go(Importing),   CF,          CF,              CF,              CF,     NF,               NF]),
    (Row::ImportWebDownload,  [Go(Importing), CF,        CF,              CF,          CF,              CF,              CF,     NF,               NF]),
    (Row::ImportCopyImage,    [CF,           CF,         CF,              CF,          CF,              CF,              CF,     NF,               NF]),
    (Row::CopyImageMulti,     [CF,           CF,         CF,              CF,          Same,            CF,              CF,     NF,               NF]),
    (Row::ImportStoreDone,    [CF,           CF,         CF,              Same,        Same,            Same,            CF,     NF,               NF]),
    (Row::CompleteImport,     [CF,           CF,         CF,              Go(Active),  CF,              CF,              CF,     NF,               NF]),
    (Row::FailImport,         [CF,           CF,         CF,              Go(Queued),  CF,              CF,              CF,     NF,               NF]),
    (Row::CompleteCopy,       [CF,           CF,         CF,              CF,          Same,            Same,            CF,     NF,               NF]),
    (Row::FailCopy,           [CF,           CF,         CF,              CF,          Same,            Same,            CF,     NF,               NF]),
    (Row::Deactivate,         [FB,           FB,         FB,              FB,          Go(Deactivated), Noop,            FB,     NF,               NF]),
    (Row::Reactivate,         [FB,           FB,         FB,              FB,          Noop,            Go(Active),      FB,     NF,               NF]),
    (Row::Delete,             [DEL,          DEL,        DEL,             DEL,         DEL,             DEL,             DEL,    NF,               NF]),
    (Row::DelayedDelete,      [DEL,          DEL,        DEL,             DEL,         Go(PendingDelete), Go(PendingDelete), DEL, NF,              NF]),
    (Row::Restore,            [CF,           CF,         CF,              CF,          CF,              CF,              CF,     Go(Active),       NF]),
    (Row::Purge,              [CF,           CF,         CF,              CF,          CF,              CF,              CF,     DEL,              NF]),
    (Row::AddLocation,        [Go(Active),   CF,         CF,              CF,          CF,              CF,              CF,     NF,               NF]),
    (Row::AddLocationMultiple,[Go(Active),   CF,         CF,              CF,          Same,            CF,              CF,     NF,               NF]),
    (Row::RemoveLocation,     [CF,           CF,         CF,              CF,          Same,            Same,            CF,     NF,               NF]),
    (Row::RemoveLastLocation, [CF,           CF,         CF,              CF,          Go(Queued),      CF,              CF,     NF,               NF]),
    (Row::DeleteFromStore,    [CF,           CF,         CF,              CF,          Same,            CF,              CF,     NF,               NF]),
    (Row::AddTag,             [Same,         Same,       Same,            Same,        Same,            Same,            Same,   NF,               NF]),
    (Row::RemoveTag,          [Same,         Same,       Same,            Same,        Same,            Same,            Same,   NF,               NF]),
    (Row::AddMember,          [Same,         Same,       Same,            Same,        Same,            Same,            Same,   NF,               NF]),
    (Row::UpdateMember,       [Same,         Same,       Same,            Same,        Same,            Same,            Same,   NF,               NF]),
    (Row::RemoveMember,       [Same,         Same,       Same,            Same,        Same,            Same,            Same,   NF,               NF]),
];

/// Checks one cell; the error is a line naming status, command, expected and got.
fn check(row: Row, status: ImageStatus, expect: Expect<ImageStatus>) -> Result<(), String> {
    let case = case(row, status);
    let result = decide(&case.state, &case.command, &case.ctx);
    let fail = |why: &str| {
        Err(format!(
            "{status} x {row:?}: expected {expect:?}, got {}{why}",
            outcome(&result)
        ))
    };
    let events = match (&result, expect) {
        (Err(r), Expect::No(kind)) if r.kind == kind => return Ok(()),
        (Ok(events), Expect::Noop) if events.is_empty() => return Ok(()),
        (Ok(events), Go(_) | Same) if !events.is_empty() => events,
        _ => return fail(""),
    };
    let images: Vec<_> = events
        .iter()
        .filter_map(|e| match e {
            Event::Image(i) => Some(i),
            Event::Task(_) => None,
        })
        .collect();
    let tasks: Vec<_> = events
        .iter()
        .filter_map(|e| match e {
            Event::Task(t) => Some(t),
            Event::Image(_) => None,
        })
        .collect();
    let [image] = images.as_slice() else {
        return fail(" (not exactly one image event)");
    };
    let to = match expect {
        Go(to) => to,
        _ => status,
    };
    let key = if row == Row::DeleteFromStore {
        "image.removed_from_store".to_owned()
    } else if to == status {
        "image.updated".to_owned()
    } else {
        format!("image.{to}")
    };
    if image.image.status != to || image.from_status != Some(status) {
        return fail(" (wrong status)");
    }
    if image.image.version != VERSION + 1 || events[0].routing_key() != key {
        return fail(&format!(
            " (version or routing key {} != {key})",
            events[0].routing_key()
        ));
    }
    let task_expect = match row {
        Row::ImportGlanceDirect | Row::ImportWebDownload | Row::CopyImageMulti => {
            Some((TaskStatus::Pending, 1))
        }
        Row::CompleteImport | Row::CompleteCopy => Some((TaskStatus::Success, VERSION + 1)),
        Row::FailImport | Row::FailCopy => Some((TaskStatus::Failure, VERSION + 1)),
        _ => None,
    };
    match (tasks.as_slice(), task_expect) {
        ([], None) => Ok(()),
        ([t], Some((st, v))) if t.task.status == st && t.task.version == v && t.task.id == TASK => {
            let task_key = events[1].routing_key();
            if task_key == format!("task.{st}") {
                Ok(())
            } else {
                fail(&format!(" (task routing key {task_key})"))
            }
        }
        _ => fail(" (wrong task events)"),
    }
}

#[test]
fn image_table_matches_spec() {
    assert_agrees_with_spec(&table_mismatches(IMAGE_TABLE, &IMAGE_STATUSES, check));
}

#[test]
fn the_table_covers_every_image_command() {
    let covered: std::collections::BTreeSet<_> = IMAGE_TABLE
        .iter()
        .map(|(row, _)| case(*row, Queued).command.type_name())
        .collect();
    let task_commands = [
        "create_task",
        "start_task",
        "succeed_task",
        "fail_task",
        "expire_task",
    ];
    // `type_name` is an exhaustive match: a new command shows up in this list of all of them.
    let all = super::commands::all_command_type_names();
    let missing: Vec<_> = all
        .iter()
        .filter(|t| !covered.contains(*t) && !task_commands.contains(t))
        .collect();
    assert!(
        missing.is_empty(),
        "image commands without a table row: {missing:?}"
    );
}

#[test]
fn an_image_is_created_queued_at_version_one() {
    let state = State::default();
    let created = decide(&state, &Command::CreateImage(create_image()), &ctx(owner()))
        .expect("the owner may create");
    let [Event::Image(e)] = created.as_slice() else {
        panic!("one image event: {created:?}")
    };
    assert_eq!(
        (e.from_status, e.image.status, e.image.version),
        (None, Queued, 1)
    );
    assert_eq!(
        (created[0].routing_key().as_str(), e.image.owner.as_str()),
        ("image.queued", OWNER)
    );
    let public = CreateImage {
        visibility: Some(crate::status::Visibility::Public),
        ..create_image()
    };
    let kind = |actor, c: &CreateImage| {
        decide(&state, &Command::CreateImage(c.clone()), &ctx(actor))
            .err()
            .map(|r| r.kind)
    };
    assert_eq!(
        kind(reader(), &create_image()),
        Some(RejectionKind::Forbidden),
        "reader 403"
    );
    assert_eq!(
        kind(owner(), &public),
        Some(RejectionKind::Forbidden),
        "public by non-admin 403"
    );
    assert_eq!(
        kind(admin(), &public),
        None,
        "an admin may create public images"
    );
}

#[test]
fn internal_commands_need_the_service_role() {
    let internal = [
        (Row::CompleteUpload, Saving),
        (Row::AbortUploadRemoved, Saving),
        (Row::CompleteStage, Uploading),
        (Row::AbortStage, Uploading),
        (Row::CompleteImport, Importing),
        (Row::FailImport, Importing),
        (Row::Purge, PendingDelete),
        (Row::AddLocation, Queued),
    ];
    for (row, status) in internal {
        let mut case = case(row, status);
        for actor in [owner(), reader(), other()] {
            case.ctx.actor = actor;
            let got = decide(&case.state, &case.command, &case.ctx);
            assert_eq!(
                got.as_ref().err().map(|r| r.kind),
                Some(RejectionKind::Forbidden),
                "{row:?} by {:?}",
                case.ctx.actor
            );
        }
        case.ctx.actor = admin();
        assert!(
            decide(&case.state, &case.command, &case.ctx).is_ok(),
            "{row:?} by an admin"
        );
    }
}

#[test]
fn protected_images_cannot_be_deleted_even_by_an_admin() {
    for actor in [owner(), admin()] {
        let mut case = case(Row::Delete, Active);
        if let Some(image) = case.state.image.as_mut() {
            image.protected = true;
        }
        case.ctx.actor = actor;
        let got = decide(&case.state, &case.command, &case.ctx);
        assert_eq!(got.err().map(|r| r.kind), Some(RejectionKind::Forbidden));
    }
}
