//! The task transition table test (SPEC 3), written by hand and checked against `decide`:
//! four statuses by start, succeed, fail and expire; plus who may drive tasks and what
//! an expired task answers.

use super::fixtures::Expect::{self, Go, Noop, Same};
use super::fixtures::*;
use crate::command::{CreateTask, FailTask, SucceedTask, TaskRef};
use crate::status::TaskType;
use crate::{Actor, Command, Event, RejectionKind, State, TaskStatus, decide};
use TaskStatus::{Failure, Processing, Success};

const CF: Expect<TaskStatus> = Expect::No(RejectionKind::Conflict);

/// One task command, as a table row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Row {
    Start,
    Succeed,
    Fail,
    Expire,
}

/// SPEC 3, by hand. Columns: pending, processing, success, failure. Terminal states
/// never change status; a finished task past `expires_at` is purged (`task.deleted`).
#[rustfmt::skip]
const TASK_TABLE: &[(Row, [Expect<TaskStatus>; 4])] = &[
    //             pending          processing       success  failure
    (Row::Start,   [Go(Processing), CF,              CF,      CF]),
    (Row::Succeed, [CF,             Go(Success),     CF,      CF]),
    (Row::Fail,    [Go(Failure),    Go(Failure),     CF,      CF]),
    (Row::Expire,  [CF,             CF,              Same,    Same]),
];

fn command(row: Row) -> Command {
    let task_id = TASK;
    match row {
        Row::Start => Command::StartTask(TaskRef { task_id }),
        Row::Succeed => Command::SucceedTask(SucceedTask {
            task_id,
            result: serde_json::json!({"image_id": IMAGE}),
        }),
        Row::Fail => Command::FailTask(FailTask {
            task_id,
            message: "source answered 404".into(),
        }),
        Row::Expire => Command::ExpireTask(TaskRef { task_id }),
    }
}

/// A tasks-API `import` task: an image's own import task ends only through the image's
/// import steps, so the plain task steps are tabled on a standalone task.
fn standalone_task_in(status: TaskStatus) -> crate::Task {
    crate::Task {
        task_type: crate::status::TaskType::Import,
        ..task_in(status)
    }
}

fn check(row: Row, status: TaskStatus, expect: Expect<TaskStatus>) -> Result<(), String> {
    let state = State {
        image: None,
        task: Some(standalone_task_in(status)),
    };
    let result = decide(&state, &command(row), &ctx(Actor::service()));
    let fail = || {
        Err(format!(
            "{status} x {row:?}: expected {expect:?}, got {}",
            super::cases::outcome(&result)
        ))
    };
    let (e, key) = match (&result, expect) {
        (Err(r), Expect::No(kind)) if r.kind == kind => return Ok(()),
        (Ok(events), Noop) if events.is_empty() => return Ok(()),
        (Ok(events), Go(_) | Same) => match events.as_slice() {
            [event @ Event::Task(e)] => (e, event.routing_key()),
            _ => return fail(),
        },
        _ => return fail(),
    };
    let (to, want_key) = match expect {
        Go(to) => (to, format!("task.{to}")),
        _ => (status, "task.deleted".to_owned()),
    };
    let expires = match row {
        // Finishing sets the expiry a time-to-live from now; other steps keep it.
        Row::Succeed | Row::Fail => Some(now() + crate::DomainConfig::default().task_time_to_live),
        Row::Start | Row::Expire => task_in(status).expires_at,
    };
    let ok = e.task.status == to
        && e.from_status == Some(status)
        && e.task.version == VERSION + 1
        && key == want_key
        && e.task.expires_at == expires
        && e.task.deleted == (row == Row::Expire);
    if ok { Ok(()) } else { fail() }
}

#[test]
fn task_table_matches_spec() {
    assert_agrees_with_spec(&table_mismatches(TASK_TABLE, &TASK_STATUSES, check));
}

#[test]
fn task_steps_need_the_service_role() {
    let state = State {
        image: None,
        task: Some(task_in(TaskStatus::Pending)),
    };
    for row in [Row::Start, Row::Fail] {
        for actor in [owner(), reader(), other()] {
            let got = decide(&state, &command(row), &ctx(actor));
            assert_eq!(
                got.err().map(|r| r.kind),
                Some(RejectionKind::Forbidden),
                "{row:?}"
            );
        }
    }
}

#[test]
fn a_task_does_not_expire_before_expires_at() {
    let mut task = task_in(Success);
    task.expires_at = Some(now() + chrono::Duration::minutes(1));
    let state = State {
        image: None,
        task: Some(task),
    };
    let got = decide(&state, &command(Row::Expire), &ctx(Actor::service()));
    assert_eq!(got.err().map(|r| r.kind), Some(RejectionKind::Conflict));
}

#[test]
fn an_expired_task_is_gone() {
    let state = State {
        image: None,
        task: Some(task_in(Failure)),
    };
    let events = decide(&state, &command(Row::Expire), &ctx(Actor::service())).expect("expires");
    let Some(Event::Task(expired)) = events.first() else {
        panic!("a task event: {events:?}")
    };
    let state = State {
        image: None,
        task: Some(expired.task.clone()),
    };
    for row in [Row::Start, Row::Succeed, Row::Fail, Row::Expire] {
        let got = decide(&state, &command(row), &ctx(Actor::service()));
        assert_eq!(
            got.err().map(|r| r.kind),
            Some(RejectionKind::NotFound),
            "{row:?} on an expired task"
        );
    }
}

#[test]
fn the_tasks_api_is_admin_only_and_checks_its_input() {
    let create = |input: serde_json::Value, task_type| {
        Command::CreateTask(CreateTask {
            task_id: TASK,
            task_type,
            input,
            request_id: None,
        })
    };
    let good = serde_json::json!({
        "import_from": "https://example.org/cirros.img",
        "import_from_format": "qcow2",
        "image_properties": {"name": "cirros"},
    });
    let kind = |actor, command: &Command| {
        decide(&State::default(), command, &ctx(actor))
            .err()
            .map(|r| r.kind)
    };
    assert_eq!(
        kind(owner(), &create(good.clone(), TaskType::Import)),
        Some(RejectionKind::Forbidden),
        "member 403"
    );
    let created = decide(
        &State::default(),
        &create(good.clone(), TaskType::Import),
        &ctx(admin()),
    )
    .expect("admin");
    assert!(matches!(created.as_slice(), [e @ Event::Task(t)]
        if t.task.status == TaskStatus::Pending && t.task.version == 1 && e.routing_key() == "task.pending"));
    let bad_request = Some(RejectionKind::BadRequest);
    assert_eq!(
        kind(admin(), &create(good.clone(), TaskType::ApiImageImport)),
        bad_request,
        "unknown type 400"
    );
    assert_eq!(
        kind(admin(), &create(serde_json::json!({}), TaskType::Import)),
        bad_request,
        "missing input 400"
    );
    let mut no_source = good.clone();
    no_source.as_object_mut().map(|o| o.remove("import_from"));
    assert_eq!(
        kind(admin(), &create(no_source, TaskType::Import)),
        bad_request,
        "missing import_from 400"
    );
    // Postgres cannot store NUL in jsonb: refused here, not retried at the database.
    for nul in [
        serde_json::json!({"import_from": "x", "import_from_format": "q\0", "image_properties": {}}),
        serde_json::json!({"import_from": "x", "import_from_format": "q", "image_properties": {"a\0": "b"}}),
        serde_json::json!({"import_from": "x", "import_from_format": "q", "image_properties": {"a": ["\0"]}}),
    ] {
        assert_eq!(
            kind(admin(), &create(nul.clone(), TaskType::Import)),
            bad_request,
            "NUL in {nul}"
        );
    }
    // Numbers near f64::MAX do not read back from jsonb (a task that answered 500 on
    // every read); smaller ones are stored as given.
    let number = |n: f64| serde_json::json!({"import_from": "x", "import_from_format": "q", "image_properties": {"a": n}});
    for huge in [-1.797_693_134_862_315_5e308, f64::MAX, 1e301] {
        assert_eq!(
            kind(admin(), &create(number(huge), TaskType::Import)),
            bad_request,
            "{huge} in the input"
        );
    }
    for fine in [1e300, -1e300, 4.45e267, 1e-300] {
        assert!(
            decide(
                &State::default(),
                &create(number(fine), TaskType::Import),
                &ctx(admin())
            )
            .is_ok(),
            "{fine} in the input"
        );
    }
    let existing = State {
        image: None,
        task: Some(task_in(TaskStatus::Pending)),
    };
    let got = decide(&existing, &create(good, TaskType::Import), &ctx(admin()));
    assert_eq!(
        got.err().map(|r| r.kind),
        Some(RejectionKind::Conflict),
        "duplicate id 409"
    );
}

#[test]
fn a_failure_message_with_nul_still_fails_the_task() {
    let state = State {
        image: None,
        task: Some(standalone_task_in(Processing)),
    };
    let fail = Command::FailTask(FailTask {
        task_id: TASK,
        message: "remote said \0 nothing".into(),
    });
    let events = decide(&state, &fail, &ctx(Actor::service())).expect("the failure lands");
    assert!(
        matches!(events.as_slice(), [Event::Task(t)]
            if t.task.status == Failure && t.task.message == "remote said \u{FFFD} nothing"),
        "{events:?}"
    );
}
