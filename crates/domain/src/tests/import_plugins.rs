//! What the import plugins' results do to an image at `complete_import`: a conversion
//! sets `disk_format` and `container_format` bare, injected properties are added, and an
//! injected property the service owns, or one past the property quota, is refused
//! (nothing applied); `begin_import`
//! records the requester's roles for the injection step.

use super::fixtures::*;
use crate::command::{BeginImport, Command, CompleteImport, ImportMethod};
use crate::status::{ContainerFormat, DiskFormat};
use crate::{Actor, Event, ImageStatus, RejectionKind, State, TaskStatus, decide, injection};
use std::collections::BTreeMap;

fn importing() -> State {
    let mut image = image_in(ImageStatus::Importing);
    image.container_format = Some(ContainerFormat::Ovf);
    image.disk_format = Some(DiskFormat::Qcow2);
    State {
        image: Some(image),
        task: Some(task_in(TaskStatus::Processing)),
    }
}

fn complete(injected: &[(&str, &str)]) -> Command {
    Command::CompleteImport(CompleteImport {
        image_id: IMAGE,
        task_id: TASK,
        digest: digest(),
        stores: Vec::new(),
        converted_to: Some(DiskFormat::Raw),
        injected: injected
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect::<BTreeMap<_, _>>(),
    })
}

#[test]
fn a_converted_import_takes_the_new_format_and_the_injected_properties() {
    let events = decide(
        &importing(),
        &complete(&[("hw_vendor", "acme")]),
        &ctx(Actor::service()),
    )
    .expect("the import completes");
    let Some(Event::Image(changed)) = events.first() else {
        panic!("an image event first: {events:?}");
    };
    let image = &changed.image;
    assert_eq!(image.status, ImageStatus::Active);
    assert_eq!(image.disk_format, Some(DiskFormat::Raw));
    assert_eq!(image.container_format, Some(ContainerFormat::Bare));
    assert_eq!(image.properties["hw_vendor"], "acme");
}

#[test]
fn an_injected_property_of_the_service_is_refused() {
    let refused = decide(
        &importing(),
        &complete(&[("os_glance_import_task", "x")]),
        &ctx(Actor::service()),
    )
    .expect_err("refused");
    assert_eq!(refused.kind, RejectionKind::Forbidden);
}

#[test]
fn injected_properties_past_the_property_quota_are_refused() {
    let mut context = ctx(Actor::service());
    context.config.image_property_quota = 1;
    let refused = decide(
        &importing(),
        &complete(&[("hw_vendor", "acme"), ("source", "mirror")]),
        &context,
    )
    .expect_err("refused");
    assert_eq!(refused.kind, RejectionKind::PayloadTooLarge);
}

#[test]
fn begin_import_records_the_requesters_roles() {
    let state = State {
        image: Some(image_in(ImageStatus::Queued)),
        task: None,
    };
    let begin = Command::BeginImport(BeginImport {
        image_id: IMAGE,
        task_id: TASK,
        method: ImportMethod::WebDownload {
            uri: "https://example.com/disk.img".to_owned(),
        },
        stores: Vec::new(),
        all_stores_must_succeed: true,
        lease_expires_at: now() + chrono::Duration::hours(1),
        request_id: None,
    });
    let events = decide(&state, &begin, &ctx(owner())).expect("the import begins");
    let task = events
        .iter()
        .find_map(|e| match e {
            Event::Task(t) => Some(&t.task),
            Event::Image(_) => None,
        })
        .expect("a task is created");
    assert_eq!(
        task.input[injection::REQUESTER_ROLES],
        serde_json::json!(owner().roles)
    );
}
