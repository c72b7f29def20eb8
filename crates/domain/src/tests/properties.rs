//! Property tests (proptest) over random histories: commands of every type from random
//! actors under random settings, folded into a world of images and tasks the way the
//! repository persists them (an event's snapshot is the new state). Checked after every
//! step: deleted images and finished tasks are terminal, every accepted transition is in
//! the tables, versions rise by exactly one, and replays or odd inputs never panic.

use super::commands::{Kind, build};
use super::fixtures::{image_in, now, task_in};
use super::histories::{Step, actor, history, step};
use crate::event::{ImageChanged, TaskChanged};
use crate::transitions::{ImageAction, Step as TableStep, TaskAction, image_step, task_step};
use crate::{
    Command, Context, DomainConfig, Event, Image, ImageId, ImageStatus, State, Task, TaskId, decide,
};
use chrono::{DateTime, Duration, Utc};
use proptest::prelude::*;
use std::collections::BTreeMap;

/// Images and tasks as the repository would hold them, and the clock.
struct World {
    images: BTreeMap<ImageId, Image>,
    tasks: BTreeMap<TaskId, Task>,
    now: DateTime<Utc>,
}

impl World {
    /// What the repository loads for `command`.
    fn state_for(&self, command: &Command) -> State {
        let target = command.target();
        State {
            image: target.image().and_then(|id| self.images.get(&id).cloned()),
            task: target.task().and_then(|id| self.tasks.get(&id).cloned()),
        }
    }

    /// Persists accepted events: each snapshot replaces its aggregate.
    fn apply(&mut self, events: &[Event]) {
        for event in events {
            match event {
                Event::Image(e) => {
                    self.images.insert(e.image.id, e.image.clone());
                }
                Event::Task(e) => {
                    self.tasks.insert(e.task.id, e.task.clone());
                }
            }
        }
    }
}

fn context(step: &Step, command: &Command, now: DateTime<Utc>) -> Context {
    // Copy-image histories (method 2) run with named stores, the others without.
    let stores = if step.params.method == 2 {
        super::fixtures::multi_store().stores
    } else {
        Vec::new()
    };
    let config = DomainConfig {
        stores,
        delayed_delete: step.delayed_delete,
        show_multiple_locations: step.multiple_locations,
        scrub_time: Duration::hours(1),
        task_time_to_live: Duration::hours(2),
        ..DomainConfig::default()
    };
    Context {
        actor: actor(step.who, command),
        now,
        config,
    }
}

/// (b) and (c) for one image event.
fn check_image(
    before: Option<&Image>,
    e: &ImageChanged,
    command: &Command,
) -> Result<(), TestCaseError> {
    prop_assert_eq!(
        Some(e.image.id),
        command.target().image(),
        "the event is about the target image"
    );
    let Some(before) = before else {
        prop_assert_eq!(
            (e.from_status, e.image.status, e.image.version),
            (None, ImageStatus::Queued, 1)
        );
        return Ok(());
    };
    prop_assert_eq!(e.from_status, Some(before.status));
    prop_assert_eq!(
        e.image.version,
        before.version + 1,
        "one version per accepted command"
    );
    let (from, to) = (before.status, e.image.status);
    if from != to {
        let in_table = ImageAction::ALL
            .iter()
            .any(|a| image_step(*a, from) == TableStep::Move(to));
        prop_assert!(
            in_table,
            "{} -> {} by {} is in no table row",
            from,
            to,
            command.type_name()
        );
    }
    Ok(())
}

/// (a), (b) and (c) for one task event.
fn check_task(
    before: Option<&Task>,
    e: &TaskChanged,
    command: &Command,
) -> Result<(), TestCaseError> {
    prop_assert_eq!(
        Some(e.task.id),
        command.target().task(),
        "the event is about the target task"
    );
    let Some(before) = before else {
        prop_assert_eq!((e.from_status, e.task.version), (None, 1));
        return Ok(());
    };
    prop_assert!(!before.deleted, "an expired task never changes");
    prop_assert_eq!(e.from_status, Some(before.status));
    prop_assert_eq!(
        e.task.version,
        before.version + 1,
        "one version per accepted command"
    );
    let (from, to) = (before.status, e.task.status);
    if from.is_terminal() {
        prop_assert_eq!(from, to, "a finished task never changes status");
    }
    if from != to {
        let in_table = TaskAction::ALL
            .iter()
            .any(|a| task_step(*a, from) == TableStep::Move(to));
        prop_assert!(
            in_table,
            "task {} -> {} by {} is in no table row",
            from,
            to,
            command.type_name()
        );
    }
    Ok(())
}

/// Runs a history, checking every property after every step.
fn run(steps: &[Step]) -> Result<(), TestCaseError> {
    let mut world = World {
        images: BTreeMap::new(),
        tasks: BTreeMap::new(),
        now: now(),
    };
    for step in steps {
        world.now += Duration::minutes(step.advance);
        let command = build(step.kind, &step.params, world.now);
        let ctx = context(step, &command, world.now);
        let before = world.state_for(&command);
        let result = decide(&before, &command, &ctx);
        // (a) A deleted image refuses everything, so its state never changes.
        if before
            .image
            .as_ref()
            .is_some_and(|i| i.status == ImageStatus::Deleted)
        {
            prop_assert!(
                result.is_err(),
                "{} accepted on a deleted image: {:?}",
                command.type_name(),
                result
            );
        }
        let Ok(events) = result else { continue };
        // (c) At most one event per aggregate; an empty list changes nothing.
        let images = events
            .iter()
            .filter(|e| matches!(e, Event::Image(_)))
            .count();
        prop_assert!(images <= 1 && events.len() - images <= 1, "{:?}", events);
        for event in &events {
            match event {
                Event::Image(e) => check_image(before.image.as_ref(), e, &command)?,
                Event::Task(e) => check_task(before.task.as_ref(), e, &command)?,
            }
        }
        world.apply(&events);
        // (d) Replaying the command against the new state is decided, never a panic.
        let _ = decide(&world.state_for(&command), &command, &ctx);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// Random histories keep every invariant of the domain.
    #[test]
    fn random_histories_keep_the_invariants(steps in history()) {
        run(&steps)?;
    }

    /// Any single command against an image and a task in any status, from anyone: a
    /// decision, never a panic (arbitrary patch values, huge strings, any integers).
    #[test]
    fn decide_never_panics(
        step in step(),
        image_status in proptest::sample::select(super::fixtures::IMAGE_STATUSES.to_vec()),
        task_status in proptest::sample::select(super::fixtures::TASK_STATUSES.to_vec()),
        visibility in proptest::sample::select(crate::status::Visibility::ALL),
        present in (any::<bool>(), any::<bool>()),
    ) {
        let command = build(step.kind, &step.params, now());
        // The repository loads the command's own aggregates: ids always match.
        let target = command.target();
        let image = target.image().filter(|_| present.0).map(|id| Image { id, visibility, ..image_in(image_status) });
        let task = target.task().filter(|_| present.1).map(|id| Task { id, ..task_in(task_status) });
        let state = State { image, task };
        let ctx = context(&step, &command, now());
        if let Ok(events) = decide(&state, &command, &ctx) {
            prop_assert!(events.len() <= 2);
            if step.kind == Kind::CreateImage {
                prop_assert!(state.image.is_none());
            }
        }
    }
}
