//! The table rows' commands: for each image command (`Row`) and status, the fixture
//! image in that status, a well-formed command and the actor SPEC names for it; and a
//! one-line rendering of an outcome for mismatch reports.

use super::fixtures::*;
use crate::command::{
    Abort, AddLocation, BeginImport, CompleteImport, CreateImage, DeleteFromStore, FailImport,
    ImportMethod, ImportStoreDone, Leased, PatchOperation, RemoveLocation, StagedData, UpdateImage,
    UpdateMember, WithDigest,
};
use crate::image::IMPORT_TASK_PROPERTY;
use crate::status::MemberStatus;
use crate::{Actor, Command, Context, Event, ImageStatus, State, TaskStatus};
use chrono::Duration;

/// One image command, as a table row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Row {
    Create,
    Update,
    BeginUpload,
    CompleteUpload,
    AbortUploadRemoved,
    AbortUploadKept,
    BeginStage,
    CompleteStage,
    AbortStage,
    ImportGlanceDirect,
    ImportWebDownload,
    ImportCopyImage,
    /// copy-image with named stores.
    CopyImageMulti,
    ImportStoreDone,
    CompleteImport,
    FailImport,
    CompleteCopy,
    FailCopy,
    Deactivate,
    Reactivate,
    Delete,
    DelayedDelete,
    Restore,
    Purge,
    AddLocation,
    AddLocationMultiple,
    RemoveLocation,
    RemoveLastLocation,
    DeleteFromStore,
    AddTag,
    RemoveTag,
    AddMember,
    UpdateMember,
    RemoveMember,
}

/// A row's command in one status: the state as loaded, the command and its context.
pub struct Case {
    pub state: State,
    pub command: Command,
    pub ctx: Context,
}

/// Builds a well-formed `row` command against the fixture image in `status`, issued by
/// the actor SPEC names for it: the owner for user commands, the service for internal
/// steps, an admin for restore and copy-image, the member project for its answer.
pub fn case(row: Row, status: ImageStatus) -> Case {
    let mut image = image_in(status);
    let mut task = None;
    let mut ctx = ctx(owner());
    let lease = now() + Duration::hours(1);
    let abort = |data_removed| Abort {
        image_id: IMAGE,
        reason: "client went away".into(),
        data_removed,
    };
    let import = |method| BeginImport {
        image_id: IMAGE,
        task_id: TASK,
        method,
        stores: if row == Row::CopyImageMulti {
            vec![STORE.to_owned()]
        } else {
            Vec::new()
        },
        all_stores_must_succeed: true,
        lease_expires_at: lease,
        request_id: None,
    };
    let command = match row {
        Row::Create => Command::CreateImage(create_image()),
        Row::Update => Command::UpdateImage(UpdateImage {
            image_id: IMAGE,
            operations: vec![PatchOperation::Add {
                attribute: "k2".into(),
                value: "v2".into(),
            }],
            expected_version: None,
        }),
        Row::BeginUpload => Command::BeginUpload(Leased {
            image_id: IMAGE,
            lease_expires_at: lease,
        }),
        Row::CompleteUpload => Command::CompleteUpload(WithDigest {
            image_id: IMAGE,
            digest: digest(),
            store: None,
        }),
        Row::AbortUploadRemoved => Command::AbortUpload(abort(true)),
        Row::AbortUploadKept => Command::AbortUpload(abort(false)),
        Row::BeginStage => Command::BeginStage(Leased {
            image_id: IMAGE,
            lease_expires_at: lease,
        }),
        Row::CompleteStage => Command::CompleteStage(StagedData {
            image_id: IMAGE,
            size: Some(5),
        }),
        Row::AbortStage => Command::AbortStage(abort(true)),
        Row::ImportGlanceDirect => Command::BeginImport(import(ImportMethod::GlanceDirect)),
        Row::ImportWebDownload => Command::BeginImport(import(ImportMethod::WebDownload {
            uri: "https://example.org/cirros.img".into(),
        })),
        Row::ImportCopyImage | Row::CopyImageMulti => {
            Command::BeginImport(import(ImportMethod::CopyImage))
        }
        Row::ImportStoreDone => {
            image
                .properties
                .insert(IMPORT_TASK_PROPERTY.into(), TASK.to_string());
            task = Some(task_in(TaskStatus::Processing));
            Command::ImportStoreDone(ImportStoreDone {
                image_id: IMAGE,
                task_id: TASK,
                store: STORE.into(),
                succeeded: true,
            })
        }
        Row::CompleteImport | Row::FailImport | Row::CompleteCopy | Row::FailCopy => {
            // The command names the image's running import: the lock and a processing
            // task are in place in every status, so only the status decides.
            image
                .properties
                .insert(IMPORT_TASK_PROPERTY.into(), TASK.to_string());
            let copy = matches!(row, Row::CompleteCopy | Row::FailCopy);
            task = Some(if copy {
                copy_task_in(TaskStatus::Processing)
            } else {
                task_in(TaskStatus::Processing)
            });
            if matches!(row, Row::CompleteImport | Row::CompleteCopy) {
                Command::CompleteImport(CompleteImport {
                    image_id: IMAGE,
                    task_id: TASK,
                    digest: digest(),
                    stores: if copy {
                        vec![STORE.to_owned()]
                    } else {
                        Vec::new()
                    },
                    converted_to: None,
                    injected: Default::default(),
                })
            } else {
                Command::FailImport(FailImport {
                    image_id: IMAGE,
                    task_id: TASK,
                    message: "404 from source".into(),
                })
            }
        }
        Row::Deactivate => Command::DeactivateImage(image_ref()),
        Row::Reactivate => Command::ReactivateImage(image_ref()),
        Row::Delete | Row::DelayedDelete => Command::DeleteImage(image_ref()),
        Row::Restore => Command::RestoreImage(image_ref()),
        Row::Purge => Command::PurgeImage(image_ref()),
        Row::AddLocation | Row::AddLocationMultiple => Command::AddLocation(AddLocation {
            image_id: IMAGE,
            location: location(9),
            digest: Some(digest()),
        }),
        Row::RemoveLocation | Row::RemoveLastLocation => {
            image.locations = if row == Row::RemoveLocation {
                vec![location(1), location(2)]
            } else {
                vec![location(1)]
            };
            Command::RemoveLocation(RemoveLocation {
                image_id: IMAGE,
                url: location(1).url,
            })
        }
        Row::DeleteFromStore => {
            image.stores = vec!["fast".into(), "cold".into()];
            Command::DeleteFromStore(DeleteFromStore {
                image_id: IMAGE,
                store: "fast".into(),
            })
        }
        Row::AddTag => Command::AddTag(tag("t2")),
        Row::RemoveTag => Command::RemoveTag(tag("t1")),
        Row::AddMember => Command::AddMember(member("p9")),
        Row::UpdateMember => Command::UpdateMember(UpdateMember {
            image_id: IMAGE,
            member_id: MEMBER.into(),
            status: MemberStatus::Accepted,
        }),
        Row::RemoveMember => Command::RemoveMember(member(MEMBER)),
    };
    ctx.actor = match row {
        Row::CompleteUpload
        | Row::AbortUploadRemoved
        | Row::AbortUploadKept
        | Row::CompleteStage
        | Row::AbortStage
        | Row::CompleteImport
        | Row::FailImport
        | Row::CompleteCopy
        | Row::FailCopy
        | Row::ImportStoreDone
        | Row::Purge
        | Row::AddLocation
        | Row::AddLocationMultiple => Actor::service(),
        Row::Restore | Row::ImportCopyImage | Row::CopyImageMulti | Row::DeleteFromStore => admin(),
        Row::UpdateMember => shared_member(),
        _ => owner(),
    };
    if matches!(
        row,
        Row::CopyImageMulti | Row::ImportStoreDone | Row::CompleteCopy | Row::FailCopy
    ) {
        ctx.config = multi_store();
    }
    ctx.config.delayed_delete = row == Row::DelayedDelete;
    if row == Row::DeleteFromStore {
        ctx.config.stores = vec!["fast".into(), "cold".into()];
    }
    ctx.config.show_multiple_locations = matches!(
        row,
        Row::AddLocationMultiple | Row::RemoveLocation | Row::RemoveLastLocation
    );
    Case {
        state: State {
            image: Some(image),
            task,
        },
        command,
        ctx,
    }
}

/// A well-formed creation of the fixture image's id.
pub fn create_image() -> CreateImage {
    CreateImage {
        image_id: IMAGE,
        name: Some("cirros".into()),
        visibility: None,
        protected: None,
        os_hidden: None,
        disk_format: None,
        container_format: None,
        min_disk: None,
        min_ram: None,
        tags: vec!["t1".into()],
        properties: Default::default(),
        owner: None,
    }
}

/// `Ok(..)` or `Err(..)` as a short line for mismatch reports.
pub fn outcome(result: &Result<Vec<Event>, crate::Rejection>) -> String {
    match result {
        Err(r) => format!("{:?} ({})", r.kind, r.message),
        Ok(events) if events.is_empty() => "Ok(vec![])".into(),
        Ok(events) => {
            let list: Vec<_> = events
                .iter()
                .map(|e| {
                    format!(
                        "{} {:?}->{} v{}",
                        e.aggregate_type(),
                        e.from_status(),
                        e.to_status(),
                        e.version()
                    )
                })
                .collect();
            format!("Ok[{}]", list.join(", "))
        }
    }
}
