//! The command path's hand-written statements (`db::cached_sql`) are prepared
//! once per connection and reused, and bind their placeholders as plain SQL would.

use db::cached_sql::cached_sql;
use db::document;
use diesel::QueryableByName;
use diesel::sql_types::{BigInt, Integer, Text};
use diesel_async::RunQueryDsl;
use domain::command::Target;
use domain::{CommandId, ImageId};
use imagefleet_tests::TestDb;

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

#[derive(QueryableByName)]
struct Sum {
    #[diesel(sql_type = Integer)]
    sum: i32,
    #[diesel(sql_type = Text)]
    text: String,
}

#[tokio::test(flavor = "multi_thread")]
async fn the_document_load_is_prepared_once_and_reused() {
    let db = TestDb::new().await.expect("a test database");
    let mut conn = db.conn().await.expect("a connection");
    for _ in 0..3 {
        document::load(
            &mut conn,
            CommandId::generate(),
            Target::Image(ImageId::generate()),
        )
        .await
        .expect("the load runs");
    }
    // Protocol-level prepared statements of this session; unnamed ones are not listed.
    let prepared: Count = diesel::sql_query(
        "SELECT count(*) AS n FROM pg_prepared_statements \
         WHERE statement LIKE '%FROM processed_commands WHERE command_id%' \
         AND statement NOT LIKE '%pg_prepared_statements%'",
    )
    .get_result(&mut conn)
    .await
    .expect("pg_prepared_statements reads");
    assert_eq!(prepared.n, 1, "one prepared statement served three loads");
}

#[tokio::test(flavor = "multi_thread")]
async fn placeholders_bind_in_order_repeat_and_leave_other_dollars_alone() {
    let db = TestDb::new().await.expect("a test database");
    let mut conn = db.conn().await.expect("a connection");
    let row: Sum = cached_sql("SELECT $2 + $1 + $2 AS sum, '$x' || $3 AS text")
        .bind::<Integer, _>(1)
        .bind::<Integer, _>(10)
        .bind::<Text, _>("y")
        .get_result(&mut conn)
        .await
        .expect("the statement runs");
    assert_eq!((row.sum, row.text.as_str()), (21, "$xy"));

    let unbound = cached_sql("SELECT $1 + $2 AS sum, '' AS text")
        .bind::<Integer, _>(1)
        .get_result::<Sum>(&mut conn)
        .await;
    assert!(
        matches!(unbound, Err(diesel::result::Error::QueryBuilderError(ref e)) if e.to_string().contains("$2")),
        "a placeholder without a value is an error before anything is sent"
    );
}
