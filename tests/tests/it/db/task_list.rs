//! `list_tasks` and `image_tasks` against a real Postgres: who sees which tasks, the
//! `type` and `status` filters, every sort key in both directions with keyset pages
//! through ties, the marker's 400s, and an image's tasks newest first.

use std::cmp::Ordering;

use api_gateway::list_query::parse_task_list;
use chrono::{DateTime, Duration, TimeZone, Utc};
use db::list::ListReadError;
use db::task_list::{TaskPage, image_tasks, list_tasks};
use diesel::sql_types::{Bool, Nullable, Text, Timestamptz, Uuid as SqlUuid};
use diesel_async::RunQueryDsl;
use domain::{Actor, ImageId, TaskId};
use imagefleet_tests::TestDb;
use imagefleet_tests::fixtures::{admin, other, owner, reader};
use uuid::Uuid;

/// A task row as tests reason about it.
#[derive(Clone, Debug)]
struct Row {
    id: TaskId,
    task_type: &'static str,
    status: &'static str,
    owner: &'static str,
    minutes: i64,
    deleted: bool,
}

fn at(minutes: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0)
        .single()
        .expect("time")
        + Duration::minutes(minutes)
}

async fn insert_image(db: &TestDb) -> ImageId {
    let id = ImageId::generate();
    let mut conn = db.conn().await.expect("connection");
    diesel::sql_query(
        "INSERT INTO images (id, version, status, visibility, protected, os_hidden, owner, \
         min_disk, min_ram, created_at, updated_at) \
         VALUES ($1, 1, 'importing', 'private', false, false, 'p1', 0, 0, now(), now())",
    )
    .bind::<SqlUuid, _>(id.as_uuid())
    .execute(&mut conn)
    .await
    .expect("insert image");
    id
}

async fn insert(db: &TestDb, row: &Row, image: Option<ImageId>) {
    let mut conn = db.conn().await.expect("connection");
    // updated_at runs against created_at, so sorting by it differs from the default.
    diesel::sql_query(
        "INSERT INTO tasks (id, version, task_type, status, input, owner, image_id, \
         created_at, updated_at, deleted) VALUES ($1, 1, $2, $3, '{}', $4, $5, $6, $7, $8)",
    )
    .bind::<SqlUuid, _>(row.id.as_uuid())
    .bind::<Text, _>(row.task_type)
    .bind::<Text, _>(row.status)
    .bind::<Text, _>(row.owner)
    .bind::<Nullable<SqlUuid>, _>(image.map(|i| i.as_uuid()))
    .bind::<Timestamptz, _>(at(row.minutes))
    .bind::<Timestamptz, _>(at(100 - row.minutes))
    .bind::<Bool, _>(row.deleted)
    .execute(&mut conn)
    .await
    .expect("insert task");
}

/// Seven tasks: five of p1 (one purged), two of p2; creation times tie in pairs.
async fn seed(db: &TestDb) -> Vec<Row> {
    let specs = [
        ("import", "pending", "p1", 0, false),
        ("api_image_import", "processing", "p1", 0, false),
        ("api_image_import", "success", "p1", 5, false),
        ("import", "failure", "p1", 5, false),
        ("import", "success", "p1", 7, true),
        ("api_image_import", "failure", "p2", 7, false),
        ("import", "pending", "p2", 9, false),
    ];
    let mut rows = Vec::new();
    for (task_type, status, owner, minutes, deleted) in specs {
        let row = Row {
            id: TaskId::generate(),
            task_type,
            status,
            owner,
            minutes,
            deleted,
        };
        insert(db, &row, None).await;
        rows.push(row);
    }
    rows
}

async fn list(
    db: &TestDb,
    actor: &Actor,
    pairs: &[(&str, &str)],
) -> Result<TaskPage, ListReadError> {
    let pairs: Vec<(String, String)> = pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    let query = parse_task_list(&pairs).expect("the query parses");
    let mut conn = db.conn().await.expect("connection");
    list_tasks(&mut conn, actor, &query).await
}

async fn ids(db: &TestDb, actor: &Actor, pairs: &[(&str, &str)]) -> Vec<TaskId> {
    let page = list(db, actor, pairs).await.expect("a page");
    page.tasks.iter().map(|t| t.id).collect()
}

fn sorted(mut ids: Vec<TaskId>) -> Vec<TaskId> {
    ids.sort();
    ids
}

fn ids_where(rows: &[Row], keep: impl Fn(&Row) -> bool) -> Vec<TaskId> {
    sorted(rows.iter().filter(|r| keep(r)).map(|r| r.id).collect())
}

#[tokio::test(flavor = "multi_thread")]
async fn admins_see_every_live_task_others_their_projects() {
    let db = TestDb::new().await.expect("test database");
    let rows = seed(&db).await;
    let live = ids_where(&rows, |r| !r.deleted);
    let p1 = ids_where(&rows, |r| !r.deleted && r.owner == "p1");
    let p2 = ids_where(&rows, |r| r.owner == "p2");
    assert_eq!(sorted(ids(&db, &admin(), &[]).await), live);
    assert_eq!(sorted(ids(&db, &Actor::service(), &[]).await), live);
    assert_eq!(sorted(ids(&db, &owner(), &[]).await), p1);
    assert_eq!(sorted(ids(&db, &reader(), &[]).await), p1);
    assert_eq!(sorted(ids(&db, &other(), &[]).await), p2);
    assert!(ids(&db, &Actor::new("p1", "u9", &[]), &[]).await.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn type_and_status_filters() {
    let db = TestDb::new().await.expect("test database");
    let rows = seed(&db).await;
    let live = |keep: &dyn Fn(&Row) -> bool| ids_where(&rows, |r| !r.deleted && keep(r));
    let imports = live(&|r| r.task_type == "import");
    assert_eq!(
        sorted(ids(&db, &admin(), &[("type", "import")]).await),
        imports
    );
    let failed = live(&|r| r.status == "failure");
    assert_eq!(
        sorted(ids(&db, &admin(), &[("status", "failure")]).await),
        failed
    );
    let both = [("type", "api_image_import"), ("status", "failure")];
    let expected = live(&|r| r.task_type == "api_image_import" && r.status == "failure");
    assert_eq!(sorted(ids(&db, &admin(), &both).await), expected);
    assert!(
        ids(&db, &owner(), &both).await.is_empty(),
        "p2's task stays hidden from p1"
    );
}

/// Walks the pages of `limit` and returns the ids in order.
async fn walk(db: &TestDb, pairs: &[(&str, &str)], limit: usize) -> Vec<TaskId> {
    let limit_text = limit.to_string();
    let (mut out, mut marker) = (Vec::new(), None::<String>);
    loop {
        let mut query = pairs.to_vec();
        query.push(("limit", &limit_text));
        if let Some(marker) = &marker {
            query.push(("marker", marker));
        }
        let page = list(db, &admin(), &query).await.expect("a page");
        out.extend(page.tasks.iter().map(|t| t.id));
        match page.next_marker() {
            Some(next) => marker = Some(next.to_string()),
            None => return out,
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn every_sort_key_pages_through_ties() {
    let db = TestDb::new().await.expect("test database");
    let rows: Vec<Row> = seed(&db).await.into_iter().filter(|r| !r.deleted).collect();
    type Key = fn(&Row, &Row) -> Ordering;
    let keys: [(&str, Key); 5] = [
        ("id", |a, b| a.id.cmp(&b.id)),
        ("type", |a, b| a.task_type.cmp(b.task_type)),
        ("status", |a, b| a.status.cmp(b.status)),
        ("created_at", |a, b| a.minutes.cmp(&b.minutes)),
        ("updated_at", |a, b| b.minutes.cmp(&a.minutes)),
    ];
    for (key, cmp) in keys {
        for dir in ["asc", "desc"] {
            let mut want = rows.clone();
            want.sort_by(|a, b| {
                let order = cmp(a, b)
                    .then(a.minutes.cmp(&b.minutes))
                    .then(a.id.cmp(&b.id));
                if dir == "asc" { order } else { order.reverse() }
            });
            let want: Vec<TaskId> = want.into_iter().map(|r| r.id).collect();
            let pairs = [("sort_key", key), ("sort_dir", dir)];
            for limit in [1000, 1, 2, 4] {
                assert_eq!(
                    walk(&db, &pairs, limit).await,
                    want,
                    "{key} {dir} limit {limit}"
                );
            }
        }
    }
}

fn invalid_marker(outcome: Result<TaskPage, ListReadError>) -> bool {
    matches!(
        outcome,
        Err(ListReadError::MarkerNotFound { what: "task", .. })
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn markers_must_be_visible_live_tasks() {
    let db = TestDb::new().await.expect("test database");
    let rows = seed(&db).await;
    let unknown = Uuid::new_v4().to_string();
    assert!(invalid_marker(
        list(&db, &admin(), &[("marker", &unknown)]).await
    ));
    let p2_task = rows
        .iter()
        .find(|r| r.owner == "p2")
        .map(|r| r.id.to_string())
        .expect("p2");
    assert!(invalid_marker(
        list(&db, &owner(), &[("marker", &p2_task)]).await
    ));
    assert!(list(&db, &other(), &[("marker", &p2_task)]).await.is_ok());
    let purged = rows
        .iter()
        .find(|r| r.deleted)
        .map(|r| r.id.to_string())
        .expect("purged");
    assert!(invalid_marker(
        list(&db, &admin(), &[("marker", &purged)]).await
    ));
    let empty = list(&db, &admin(), &[("limit", "0")])
        .await
        .expect("a page");
    assert!(empty.tasks.is_empty() && empty.has_more && empty.next_marker().is_none());
    for (key, value) in [
        ("limit", "-1"),
        ("sort_key", "owner"),
        ("sort_dir", "up"),
        ("marker", "x"),
    ] {
        let pairs = [(key.to_owned(), value.to_owned())];
        assert!(parse_task_list(&pairs).is_err(), "{key}={value}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_images_tasks_come_newest_first() {
    let db = TestDb::new().await.expect("test database");
    let image = insert_image(&db).await;
    let elsewhere = insert_image(&db).await;
    let task = |minutes, deleted| Row {
        id: TaskId::generate(),
        task_type: "api_image_import",
        status: "failure",
        owner: "p1",
        minutes,
        deleted,
    };
    let (old, new, purged, foreign) = (
        task(1, false),
        task(2, false),
        task(3, true),
        task(4, false),
    );
    insert(&db, &old, Some(image)).await;
    insert(&db, &new, Some(image)).await;
    insert(&db, &purged, Some(image)).await;
    insert(&db, &foreign, Some(elsewhere)).await;
    let mut conn = db.conn().await.expect("connection");
    let tasks = image_tasks(&mut conn, image).await.expect("tasks");
    let got: Vec<TaskId> = tasks.iter().map(|t| t.id).collect();
    assert_eq!(got, vec![new.id, old.id]);
    assert!(tasks.iter().all(|t| t.image_id == Some(image)));
    let none = image_tasks(&mut conn, ImageId::generate())
        .await
        .expect("no tasks");
    assert!(none.is_empty());
}
