//! Unit tests of `TaskListQuery::from_pairs` and of the order its SQL uses.

use super::*;

fn parse(query: &[(&str, &str)]) -> Result<TaskListQuery, ListError> {
    let pairs: Vec<(String, String)> = query
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    TaskListQuery::from_pairs(&pairs)
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
    assert_eq!(TaskListQuery::default().order(), vec!["created_at", "id"]);
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
    assert_eq!(q.order(), vec!["task_type", "created_at", "id"]);
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
