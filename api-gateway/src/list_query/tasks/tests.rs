//! Unit tests of `parse_task_list`: what Glance accepts parses into typed values, what it
//! refuses is a `ListError` naming the parameter.

use super::*;
use db::list::SortDir;
use db::task_list::TaskSortKey;
use domain::status::{TaskStatus, TaskType};

fn parse(query: &[(&str, &str)]) -> Result<TaskListQuery, ListError> {
    let pairs: Vec<(String, String)> = query
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    parse_task_list(&pairs)
}

fn refused(query: &[(&str, &str)]) -> String {
    match parse(query) {
        Ok(q) => panic!("{query:?} should be refused, parsed as {q:?}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn no_parameters_is_newest_first() {
    assert_eq!(parse(&[]), Ok(TaskListQuery::default()));
    let q = TaskListQuery::default();
    assert_eq!(
        (q.sort_key, q.sort_dir),
        (TaskSortKey::CreatedAt, SortDir::Desc)
    );
}

#[test]
fn every_parameter_parses() {
    let marker = "6bbe7cc2-eae7-4c0f-b50d-a7160b0c6a86";
    let q = parse(&[
        ("type", "api_image_import"),
        ("status", "failure"),
        ("sort_key", "type"),
        ("sort_dir", "asc"),
        ("limit", "2000"),
        ("marker", marker),
    ])
    .expect("parses");
    assert_eq!(q.task_type, Some(TaskType::ApiImageImport));
    assert_eq!(q.status, Some(TaskStatus::Failure));
    assert_eq!((q.sort_key, q.sort_dir), (TaskSortKey::Type, SortDir::Asc));
    assert_eq!(q.limit, 1000);
    assert_eq!(q.marker.map(|m| m.to_string()), Some(marker.to_owned()));
}

#[test]
fn bad_values_are_refused_with_the_parameter_named() {
    let cases: &[(&str, &str)] = &[
        ("type", "export"),
        ("status", "done"),
        ("sort_key", "owner"),
        ("sort_dir", "sideways"),
        ("limit", "-3"),
        ("marker", "42"),
    ];
    for (param, value) in cases {
        let message = refused(&[(param, value)]);
        assert!(message.contains(&format!("'{param}'")), "{message}");
    }
    assert!(refused(&[("status", "pending"), ("status", "success")]).contains("only once"));
    assert!(refused(&[("owner", "p1")]).contains("Unknown parameter 'owner'"));
}

#[test]
fn refusals_keep_glances_messages_word_for_word() {
    assert_eq!(
        refused(&[("sort_key", "owner")]),
        "Invalid value 'owner' for 'sort_key': expected one of id, type, status, created_at, \
         updated_at."
    );
    assert_eq!(
        refused(&[("marker", "42")]),
        "Invalid value '42' for 'marker': expected the id (a UUID) of a listed item."
    );
}
