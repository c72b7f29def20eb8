//! Sorting and keyset pagination: every page after a marker continues exactly where the
//! previous one stopped, through ties and NULLs, in both sort syntaxes; and the 400s of
//! a list request (bad, unknown or invisible marker, bad parameters).

use std::cmp::Ordering;

use api_gateway::list_query::{ListError, parse_image_list};
use db::list::ListReadError;
use domain::{Actor, ImageId};
use imagefleet_tests::TestDb;
use imagefleet_tests::fixtures::{admin, other, owner};

use super::seed::{Seed, list};

/// An image as the expected order sees it.
#[derive(Clone)]
struct Row {
    id: ImageId,
    name: Option<&'static str>,
    minutes: i64,
    size: Option<i64>,
}

/// Eight images with equal creation times, equal and NULL names, and NULL sizes.
async fn seed(db: &TestDb) -> Vec<Row> {
    let rows = [
        (Some("a"), 0, Some(3)),
        (Some("b"), 0, None),
        (Some("c"), 5, Some(3)),
        (None, 5, Some(1)),
        (None, 5, None),
        (Some("c"), 10, None),
        (Some("d"), 10, Some(2)),
        (None, 0, Some(2)),
    ];
    let mut out = Vec::new();
    for (name, minutes, size) in rows {
        let mut seed = Seed::new(name).at(minutes);
        if let Some(size) = size {
            seed = seed.size(size);
        }
        out.push(Row {
            id: seed.insert(db).await,
            name,
            minutes,
            size,
        });
    }
    out
}

/// Postgres' order: NULL is larger than any value.
fn nulls_last<T: Ord>(a: &Option<T>, b: &Option<T>) -> Ordering {
    match (a, b) {
        (None, None) => Ordering::Equal,
        (None, Some(_)) => Ordering::Greater,
        (Some(_), None) => Ordering::Less,
        (Some(a), Some(b)) => a.cmp(b),
    }
}

fn expected(rows: &[Row], cmp: impl Fn(&Row, &Row) -> Ordering) -> Vec<ImageId> {
    let mut rows = rows.to_vec();
    rows.sort_by(cmp);
    rows.into_iter().map(|r| r.id).collect()
}

/// Walks every page of `limit` and checks the pages against each other.
async fn walk(db: &TestDb, actor: &Actor, pairs: &[(&str, &str)], limit: usize) -> Vec<ImageId> {
    let limit_text = limit.to_string();
    let mut ids = Vec::new();
    let mut marker: Option<String> = None;
    loop {
        let mut query: Vec<(&str, &str)> = pairs.to_vec();
        query.push(("limit", &limit_text));
        if let Some(marker) = &marker {
            query.push(("marker", marker));
        }
        let page = list(db, actor, &query).await.expect("a page");
        assert!(page.images.len() <= limit);
        ids.extend(page.images.iter().map(|i| i.id));
        match page.next_marker() {
            Some(next) => {
                assert_eq!(page.images.len(), limit, "only a full page has a next");
                marker = Some(next.to_string());
            }
            None => return ids,
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn pages_follow_each_sort_order_through_ties_and_nulls() {
    let db = TestDb::new().await.expect("test database");
    let rows = seed(&db).await;
    let by_time = |a: &Row, b: &Row| a.minutes.cmp(&b.minutes).then(a.id.cmp(&b.id));
    type Case = (Vec<(&'static str, &'static str)>, Vec<ImageId>);
    let cases: Vec<Case> = vec![
        (vec![], expected(&rows, |a, b| by_time(b, a))),
        (
            vec![("sort", "name:asc")],
            expected(&rows, |a, b| {
                nulls_last(&a.name, &b.name).then(by_time(a, b))
            }),
        ),
        (
            vec![("sort_key", "name"), ("sort_dir", "desc")],
            expected(&rows, |a, b| {
                nulls_last(&b.name, &a.name).then(by_time(b, a))
            }),
        ),
        (
            vec![("sort", "size:asc,name:desc")],
            expected(&rows, |a, b| {
                nulls_last(&a.size, &b.size)
                    .then(nulls_last(&b.name, &a.name))
                    .then(by_time(b, a))
            }),
        ),
        (
            vec![
                ("sort_key", "size"),
                ("sort_key", "name"),
                ("sort_dir", "asc"),
                ("sort_dir", "asc"),
            ],
            expected(&rows, |a, b| {
                nulls_last(&a.size, &b.size)
                    .then(nulls_last(&a.name, &b.name))
                    .then(by_time(a, b))
            }),
        ),
        (
            vec![("sort_key", "created_at"), ("sort_dir", "asc")],
            expected(&rows, by_time),
        ),
        (
            vec![("sort", "disk_format")],
            expected(&rows, |a, b| by_time(b, a)),
        ),
        (
            vec![("sort", "id:asc")],
            expected(&rows, |a, b| a.id.cmp(&b.id)),
        ),
    ];
    for (pairs, want) in cases {
        let everything = walk(&db, &owner(), &pairs, 1000).await;
        assert_eq!(everything, want, "one page, {pairs:?}");
        for limit in [1, 2, 3, 8] {
            assert_eq!(
                walk(&db, &owner(), &pairs, limit).await,
                want,
                "limit {limit}, {pairs:?}"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn limit_zero_gives_an_empty_page() {
    let db = TestDb::new().await.expect("test database");
    let page = list(&db, &owner(), &[("limit", "0")])
        .await
        .expect("a page");
    assert!(page.images.is_empty() && !page.has_more);
    seed(&db).await;
    let page = list(&db, &owner(), &[("limit", "0")])
        .await
        .expect("a page");
    assert!(page.images.is_empty());
    assert!(page.has_more, "images exist beyond the empty page");
    assert_eq!(
        page.next_marker(),
        None,
        "but there is no marker to continue from"
    );
    let page = list(&db, &owner(), &[("limit", "8")])
        .await
        .expect("a page");
    assert_eq!((page.images.len(), page.has_more), (8, false));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_visible_image_outside_the_list_is_still_a_marker() {
    let db = TestDb::new().await.expect("test database");
    Seed::named("old").at(0).insert(&db).await;
    let community = Seed::named("theirs")
        .at(5)
        .owner("p2")
        .visibility("community");
    let community = community.insert(&db).await.to_string();
    Seed::named("new").at(10).insert(&db).await;
    // p1's default list omits p2's community image, but p1 may GET it, so it marks a
    // position in the order.
    let page = list(&db, &owner(), &[("marker", &community)])
        .await
        .expect("a page");
    assert_eq!(super::seed::names_of(&page), vec!["old".to_owned()]);
}

fn invalid_marker(outcome: Result<db::image_list::ImagePage, ListReadError>) -> bool {
    matches!(
        outcome,
        Err(ListReadError::MarkerNotFound { what: "image", .. })
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn unknown_invisible_and_deleted_markers_are_refused() {
    let db = TestDb::new().await.expect("test database");
    let theirs = Seed::named("theirs")
        .owner("p2")
        .visibility("private")
        .insert(&db)
        .await;
    let pending = Seed::named("p")
        .owner("p2")
        .member("p1", "pending")
        .insert(&db)
        .await;
    let gone = Seed::named("gone")
        .status("pending_delete")
        .insert(&db)
        .await;
    let unknown = uuid::Uuid::new_v4().to_string();
    assert!(invalid_marker(
        list(&db, &owner(), &[("marker", &unknown)]).await
    ));
    assert!(invalid_marker(
        list(&db, &admin(), &[("marker", &unknown)]).await
    ));
    let theirs = theirs.to_string();
    assert!(invalid_marker(
        list(&db, &owner(), &[("marker", &theirs)]).await
    ));
    assert!(list(&db, &other(), &[("marker", &theirs)]).await.is_ok());
    assert!(list(&db, &admin(), &[("marker", &theirs)]).await.is_ok());
    // A pending member may GET the image, so it may page from it.
    let pending = pending.to_string();
    assert!(list(&db, &owner(), &[("marker", &pending)]).await.is_ok());
    let gone = gone.to_string();
    assert!(invalid_marker(
        list(&db, &admin(), &[("marker", &gone)]).await
    ));
    let message = list(&db, &owner(), &[("marker", &unknown)])
        .await
        .expect_err("refused")
        .to_string();
    assert!(
        message.contains(&unknown) && message.contains("marker"),
        "{message}"
    );
}

#[test]
fn malformed_requests_are_refused_before_any_query() {
    let cases: &[(&str, &str)] = &[
        ("marker", "not-a-uuid"),
        ("sort_key", "checksum"),
        ("sort_dir", "sideways"),
        ("sort", "name:sideways"),
        ("limit", "-1"),
        ("limit", "many"),
        ("visibility", "everyone"),
        ("created_at", "after:2024-01-01T00:00:00Z"),
        ("updated_at", "gt:not-a-time"),
        ("size_min", "-5"),
        ("protected", "maybe"),
    ];
    for (key, value) in cases {
        let pairs = [((*key).to_owned(), (*value).to_owned())];
        let error = parse_image_list(&pairs).expect_err("a 400");
        assert!(
            matches!(error, ListError::InvalidValue { .. }),
            "{key}={value}: {error}"
        );
    }
    let both = [
        ("sort".to_owned(), "name".to_owned()),
        ("sort_key".to_owned(), "id".to_owned()),
    ];
    assert!(matches!(
        parse_image_list(&both),
        Err(ListError::Conflict(_))
    ));
}
