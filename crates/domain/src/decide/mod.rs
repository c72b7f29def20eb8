//! `decide`: the pure function from the current state, a command and its context to the
//! events of an accepted command or a rejection. No I/O, no clock, no randomness: the
//! repository loads the state, calls this, and persists what it returns.
//!
//! An accepted command returns one event per changed aggregate, each at version + 1 (a
//! creation at version 1); an empty list means accepted with nothing to change (for
//! instance deactivating a deactivated image), and nothing is written.
//!
//! The `match` in [`decide`] is the dispatch table: each command goes to the function of
//! the same name (`Command::AddTag` to `tags::add_tag`), in the file named after the
//! resource it acts on, as the gateway's routes are (`crate::transitions` holds the
//! status table every rule consults):
//!
//! | file | commands |
//! | --- | --- |
//! | `image_create.rs` | `CreateImage` (`POST /v2/images`) |
//! | `image_patch.rs` | `UpdateImage` (`PATCH /v2/images/{id}`) |
//! | `upload.rs` | `BeginUpload`, `CompleteUpload`, `AbortUpload` (`PUT .../file`) |
//! | `stage.rs` | `BeginStage`, `CompleteStage`, `AbortStage` (`PUT .../stage`) |
//! | `import.rs` | `BeginImport`, `CompleteImport`, `FailImport` (`POST .../import`) |
//! | `import_stores.rs` | `ImportStoreDone`, and the store lists every import keeps |
//! | `locations.rs` | `AddLocation`, `RemoveLocation` |
//! | `stores.rs` | `DeleteFromStore` (`DELETE /v2/stores/{store_id}/{image_id}`) |
//! | `actions.rs` | `DeactivateImage`, `ReactivateImage`, `RestoreImage` (`POST .../actions/{action}`) |
//! | `deletion.rs` | `DeleteImage` (`DELETE /v2/images/{id}`), `PurgeImage` (the scrubber) |
//! | `tags.rs` | `AddTag`, `RemoveTag` (`.../tags/{tag}`) |
//! | `members.rs` | `AddMember`, `UpdateMember`, `RemoveMember` (`.../members`) |
//! | `tasks.rs` | `CreateTask` (`POST /v2/tasks`), `StartTask`, `SucceedTask`, `FailTask`, `ExpireTask` |
//!
//! Two files hold no command: `common.rs` (the table lookup, access checks, next version
//! and event every image rule shares) and `data_write.rs` (the lease, abort and size
//! check that upload, stage, import and locations share).

mod actions;
mod common;
mod data_write;
mod deletion;
mod image_create;
mod image_patch;
mod import;
mod import_stores;
mod locations;
mod members;
mod stage;
mod stores;
mod tags;
mod tasks;
mod upload;

use crate::command::Command;
use crate::context::Context;
use crate::event::Event;
use crate::image::Image;
use crate::rejection::Rejection;
use crate::task::Task;

/// The aggregates a command targets, as loaded (absent when they do not exist).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct State {
    /// The target image.
    pub image: Option<Image>,
    /// The target task.
    pub task: Option<Task>,
}

/// What every rule returns: the events of an accepted command, or why it is refused.
type Decision = Result<Vec<Event>, Rejection>;

/// Decides `command` against `state`.
pub fn decide(state: &State, command: &Command, ctx: &Context) -> Decision {
    // State that is not the command's target is treated as absent: a caller that loaded
    // the wrong row gets 404, never a change to another image.
    let target = command.target();
    let image = state
        .image
        .as_ref()
        .filter(|i| Some(i.id) == target.image());
    let task = state.task.as_ref().filter(|t| Some(t.id) == target.task());
    match command {
        Command::CreateImage(c) => image_create::create_image(image, c, ctx),
        Command::UpdateImage(c) => image_patch::update_image(image, c, ctx),
        Command::BeginUpload(c) => upload::begin_upload(image, c, ctx),
        Command::CompleteUpload(c) => upload::complete_upload(image, c, ctx),
        Command::AbortUpload(c) => upload::abort_upload(image, c, ctx),
        Command::BeginStage(c) => stage::begin_stage(image, c, ctx),
        Command::CompleteStage(c) => stage::complete_stage(image, c, ctx),
        Command::AbortStage(c) => stage::abort_stage(image, c, ctx),
        Command::BeginImport(c) => import::begin_import(image, task, c, ctx),
        Command::ImportStoreDone(c) => import_stores::import_store_done(image, task, c, ctx),
        Command::CompleteImport(c) => import::complete_import(image, task, c, ctx),
        Command::FailImport(c) => import::fail_import(image, task, c, ctx),
        Command::AddLocation(c) => locations::add_location(image, c, ctx),
        Command::RemoveLocation(c) => locations::remove_location(image, c, ctx),
        Command::DeleteFromStore(c) => stores::delete_from_store(image, c, ctx),
        Command::DeactivateImage(c) => actions::deactivate_image(image, c, ctx),
        Command::ReactivateImage(c) => actions::reactivate_image(image, c, ctx),
        Command::RestoreImage(c) => actions::restore_image(image, c, ctx),
        Command::DeleteImage(c) => deletion::delete_image(image, c, ctx),
        Command::PurgeImage(c) => deletion::purge_image(image, c, ctx),
        Command::AddTag(c) => tags::add_tag(image, c, ctx),
        Command::RemoveTag(c) => tags::remove_tag(image, c, ctx),
        Command::AddMember(c) => members::add_member(image, c, ctx),
        Command::UpdateMember(c) => members::update_member(image, c, ctx),
        Command::RemoveMember(c) => members::remove_member(image, c, ctx),
        Command::CreateTask(c) => tasks::create_task(task, c, ctx),
        Command::StartTask(c) => tasks::start_task(task, c, ctx),
        Command::SucceedTask(c) => tasks::succeed_task(task, c, ctx),
        Command::FailTask(c) => tasks::fail_task(task, c, ctx),
        Command::ExpireTask(c) => tasks::expire_task(task, c, ctx),
    }
}
