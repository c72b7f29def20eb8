//! Unit tests of the order the task list's SQL uses.

use super::*;

#[test]
fn the_default_order_is_created_at_then_id() {
    assert_eq!(TaskListQuery::default().order(), vec!["created_at", "id"]);
}

#[test]
fn a_sort_key_comes_before_the_tie_breakers_by_its_column() {
    let q = TaskListQuery {
        sort_key: TaskSortKey::Type,
        sort_dir: SortDir::Asc,
        ..TaskListQuery::default()
    };
    assert_eq!(q.order(), vec!["task_type", "created_at", "id"]);
}
