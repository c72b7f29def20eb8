//! Random histories for the property tests: one step is a command of any kind with its
//! issuer, settings and clock advance; scripts chain the steps that take one image or
//! task through its lifecycle, interleaved with single random steps.

use super::commands::Kind;
use super::fixtures::owner;
use super::strategies::{IMAGES, Params, TASKS, params, wild_params};
use crate::command::ImportMethod;
use crate::{Actor, Command};
use proptest::prelude::*;
use proptest::sample::select;

/// Who issues a step: half the time the actor SPEC names for the command, else anyone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Who {
    Natural,
    Owner,
    Admin,
    Service,
    Reader,
    Other,
}

/// The actor for `who`, given the command it issues.
pub fn actor(who: Who, command: &Command) -> Actor {
    match who {
        Who::Natural => match command {
            Command::CompleteUpload(_)
            | Command::AbortUpload(_)
            | Command::CompleteStage(_)
            | Command::AbortStage(_)
            | Command::ImportStoreDone(_)
            | Command::CompleteImport(_)
            | Command::FailImport(_)
            | Command::PurgeImage(_)
            | Command::AddLocation(_)
            | Command::StartTask(_)
            | Command::SucceedTask(_)
            | Command::FailTask(_)
            | Command::ExpireTask(_) => Actor::service(),
            Command::RestoreImage(_) | Command::CreateTask(_) | Command::DeleteFromStore(_) => {
                super::fixtures::admin()
            }
            Command::BeginImport(c) if c.method == ImportMethod::CopyImage => {
                super::fixtures::admin()
            }
            Command::UpdateMember(c) => {
                Actor::new(c.member_id.clone(), "u-member", &["member", "reader"])
            }
            _ => owner(),
        },
        Who::Owner => owner(),
        Who::Admin => super::fixtures::admin(),
        Who::Service => Actor::service(),
        Who::Reader => super::fixtures::reader(),
        Who::Other => super::fixtures::other(),
    }
}

/// One step of a random history: the command, its issuer and the settings and clock.
#[derive(Debug, Clone)]
pub struct Step {
    pub kind: Kind,
    pub params: Params,
    pub who: Who,
    pub delayed_delete: bool,
    pub multiple_locations: bool,
    /// Minutes the clock advances before this step.
    pub advance: i64,
}

/// Any step.
pub fn step() -> impl Strategy<Value = Step> {
    let who = prop_oneof![
        5 => Just(Who::Natural),
        1 => select(vec![Who::Owner, Who::Admin, Who::Service, Who::Reader, Who::Other]),
    ];
    (
        select(Kind::ALL.to_vec()),
        params(),
        who,
        any::<bool>(),
        any::<bool>(),
        0i64..180,
    )
        .prop_map(
            |(kind, params, who, delayed_delete, multiple_locations, advance)| Step {
                kind,
                params,
                who,
                delayed_delete,
                multiple_locations,
                advance,
            },
        )
}

/// Command sequences that make progress on one image and task (with the import method
/// they use): random histories alone rarely chain enough steps to reach later statuses.
#[rustfmt::skip]
const SCRIPTS: &[(u8, &[Kind])] = &[
    (0, &[Kind::CreateImage, Kind::BeginUpload, Kind::CompleteUpload, Kind::DeactivateImage, Kind::ReactivateImage, Kind::DeleteImage]),
    (0, &[Kind::CreateImage, Kind::BeginUpload, Kind::AbortUpload, Kind::BeginStage, Kind::AbortStage, Kind::DeleteImage]),
    (0, &[Kind::CreateImage, Kind::BeginStage, Kind::CompleteStage, Kind::BeginImport, Kind::StartTask, Kind::CompleteImport]),
    (1, &[Kind::CreateImage, Kind::BeginImport, Kind::StartTask, Kind::FailImport, Kind::BeginImport, Kind::StartTask]),
    (1, &[Kind::CreateImage, Kind::BeginImport, Kind::FailTask, Kind::FailImport, Kind::CompleteImport, Kind::DeleteImage]),
    (2, &[Kind::CreateImage, Kind::BeginUpload, Kind::CompleteUpload, Kind::BeginImport, Kind::StartTask, Kind::ImportStoreDone, Kind::CompleteImport]),
    (2, &[Kind::CreateImage, Kind::BeginUpload, Kind::CompleteUpload, Kind::BeginImport, Kind::StartTask, Kind::ImportStoreDone, Kind::FailImport]),
    (0, &[Kind::CreateImage, Kind::AddLocation, Kind::AddLocation, Kind::RemoveLocation, Kind::RemoveLocation, Kind::DeleteImage]),
    (0, &[Kind::DeleteImage, Kind::RestoreImage, Kind::PurgeImage, Kind::DeleteImage, Kind::PurgeImage, Kind::CreateImage]),
    (0, &[Kind::AddMember, Kind::UpdateMember, Kind::AddTag, Kind::UpdateImage, Kind::RemoveTag, Kind::RemoveMember]),
    (0, &[Kind::CreateTask, Kind::StartTask, Kind::SucceedTask, Kind::ExpireTask, Kind::FailTask, Kind::ExpireTask]),
];

/// One script on one image and task, with random issuers, settings and clock.
fn script() -> impl Strategy<Value = Vec<Step>> {
    let steps = prop::collection::vec(step(), 7);
    (
        select(SCRIPTS.to_vec()),
        0..IMAGES.len(),
        0..TASKS.len(),
        wild_params().prop_map(Params::tame),
        steps,
    )
        .prop_map(|((method, kinds), image, task, shared, steps)| {
            kinds
                .iter()
                .zip(steps)
                .map(|(kind, mut step)| {
                    step.kind = *kind;
                    step.params = Params {
                        image,
                        task,
                        method,
                        word: shared.word.clone(),
                        member: shared.member,
                        ..step.params.tame()
                    };
                    step
                })
                .collect()
        })
}

/// A history of up to 40 steps: single random steps and scripts, interleaved.
pub fn history() -> impl Strategy<Value = Vec<Step>> {
    let chunk = prop_oneof![1 => step().prop_map(|s| vec![s]), 1 => script()];
    prop::collection::vec(chunk, 1..12).prop_map(|chunks| {
        let mut steps: Vec<Step> = chunks.into_iter().flatten().collect();
        steps.truncate(40);
        steps
    })
}
