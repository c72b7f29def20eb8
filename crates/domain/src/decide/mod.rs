//! `decide`: the pure function from the current state, a command and its context to the
//! events of an accepted command or a rejection. No I/O, no clock, no randomness: the
//! repository loads the state, calls this, and persists what it returns.
//!
//! An accepted command returns one event per changed aggregate, each at version + 1 (a
//! creation at version 1); an empty list means accepted with nothing to change (for
//! instance deactivating a deactivated image), and nothing is written.

mod create;
mod data;
mod lifecycle;
mod patch;
mod sharing;
mod tasks;

use super::command::Command;
use super::context::Context;
use super::event::{Event, ImageChanged, ImageEventKind};
use super::image::Image;
use super::rejection::Rejection;
use super::status::ImageStatus;
use super::task::Task;
use super::transitions::{ImageAction, Step, image_step};

/// The aggregates a command targets, as loaded (absent when they do not exist).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct State {
    /// The target image.
    pub image: Option<Image>,
    /// The target task.
    pub task: Option<Task>,
}

/// Decides `command` against `state`.
pub fn decide(state: &State, command: &Command, ctx: &Context) -> Result<Vec<Event>, Rejection> {
    // State that is not the command's target is treated as absent: a caller that loaded
    // the wrong row gets 404, never a change to another image.
    let target = command.target();
    let image = state
        .image
        .as_ref()
        .filter(|i| Some(i.id) == target.image());
    let task = state.task.as_ref().filter(|t| Some(t.id) == target.task());
    match command {
        Command::CreateImage(c) => create::create_image(image, c, ctx),
        Command::UpdateImage(c) => patch::update_image(image, c, ctx),
        Command::BeginUpload(c) => data::begin_upload(image, c, ctx),
        Command::CompleteUpload(c) => data::complete_upload(image, c, ctx),
        Command::AbortUpload(c) => data::abort_upload(image, c, ctx),
        Command::BeginStage(c) => data::begin_stage(image, c, ctx),
        Command::CompleteStage(c) => data::complete_stage(image, c, ctx),
        Command::AbortStage(c) => data::abort_stage(image, c, ctx),
        Command::BeginImport(c) => data::begin_import(image, task, c, ctx),
        Command::CompleteImport(c) => data::complete_import(image, task, c, ctx),
        Command::FailImport(c) => data::fail_import(image, task, c, ctx),
        Command::AddLocation(c) => data::add_location(image, c, ctx),
        Command::RemoveLocation(c) => data::remove_location(image, c, ctx),
        Command::DeactivateImage(c) => lifecycle::deactivate(image, c, ctx),
        Command::ReactivateImage(c) => lifecycle::reactivate(image, c, ctx),
        Command::DeleteImage(c) => lifecycle::delete(image, c, ctx),
        Command::RestoreImage(c) => lifecycle::restore(image, c, ctx),
        Command::PurgeImage(c) => lifecycle::purge(image, c, ctx),
        Command::AddTag(c) => sharing::add_tag(image, c, ctx),
        Command::RemoveTag(c) => sharing::remove_tag(image, c, ctx),
        Command::AddMember(c) => sharing::add_member(image, c, ctx),
        Command::UpdateMember(c) => sharing::update_member(image, c, ctx),
        Command::RemoveMember(c) => sharing::remove_member(image, c, ctx),
        Command::CreateTask(c) => tasks::create_task(task, c, ctx),
        Command::StartTask(c) => tasks::start_task(task, c, ctx),
        Command::SucceedTask(c) => tasks::succeed_task(task, c, ctx),
        Command::FailTask(c) => tasks::fail_task(task, c, ctx),
        Command::ExpireTask(c) => tasks::expire_task(task, c, ctx),
    }
}

/// Looks `action` up in the transition table: the status to move to, or none to stay.
fn step(image: &Image, action: ImageAction) -> Result<Option<ImageStatus>, Rejection> {
    match image_step(action, image.status) {
        Step::Move(to) => Ok(Some(to)),
        Step::Stay => Ok(None),
        Step::Refuse(kind, message) => Err(Rejection::new(kind, message)),
    }
}

/// The caller's `If-Match` version, when given, must be the current one (412).
fn check_expected_version(image: &Image, expected: Option<i64>) -> Result<(), Rejection> {
    match expected {
        Some(v) if v != image.version => Err(Rejection::new(
            super::rejection::RejectionKind::PreconditionFailed,
            format!(
                "The image is at version {}, not {v}: read it again and retry.",
                image.version
            ),
        )),
        _ => Ok(()),
    }
}

/// The image at its next version, touched now; the caller applies the change to it.
fn next_version(image: &Image, ctx: &Context) -> Image {
    let mut next = image.clone();
    next.version += 1;
    next.updated_at = ctx.now;
    next
}

/// One image event from the state before and after.
fn image_event(kind: ImageEventKind, before: &Image, after: Image) -> Event {
    Event::Image(ImageChanged {
        kind,
        from_status: Some(before.status),
        image: after,
    })
}
