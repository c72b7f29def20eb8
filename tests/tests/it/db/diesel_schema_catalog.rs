//! `db::schema` is written by hand; these tests hold it to the database the
//! migrations build: every column diesel knows exists with the same type and
//! nullability, and the database has no column diesel does not know.

use db::schema;
use diesel::expression::Expression;
use diesel::sql_types::{self, is_nullable};
use diesel_async::RunQueryDsl;
use imagefleet_tests::TestDb;

/// The Postgres type (`udt_name`) a diesel SQL type stands for.
trait PgType {
    const NAME: &'static str;
    const NULLABLE: bool;
}

macro_rules! pg_types {
    ($($sql:ident => $name:literal),* $(,)?) => {$(
        impl PgType for sql_types::$sql {
            const NAME: &'static str = $name;
            const NULLABLE: bool = false;
        }
    )*};
}

pg_types!(
    Uuid => "uuid", BigInt => "int8", Integer => "int4", Text => "text",
    Bool => "bool", Timestamptz => "timestamptz", Jsonb => "jsonb",
);

/// Postgres names an array type after its element, with a leading underscore.
impl PgType for sql_types::Array<sql_types::Text> {
    const NAME: &'static str = "_text";
    const NULLABLE: bool = false;
}

impl<T: PgType + sql_types::SqlType<IsNull = is_nullable::NotNull>> PgType
    for sql_types::Nullable<T>
{
    const NAME: &'static str = T::NAME;
    const NULLABLE: bool = true;
}

/// (table, column, type, nullable) for each listed column, types taken from diesel.
macro_rules! declared {
    ($($table:ident: [$($column:ident),* $(,)?]),* $(,)?) => {
        vec![$($(
            (
                stringify!($table).to_owned(),
                stringify!($column).to_owned(),
                <<schema::$table::$column as Expression>::SqlType as PgType>::NAME.to_owned(),
                <<schema::$table::$column as Expression>::SqlType as PgType>::NULLABLE,
            ),
        )*)*]
    };
}

#[derive(diesel::QueryableByName)]
struct CatalogColumn {
    #[diesel(sql_type = sql_types::Text)]
    table_name: String,
    #[diesel(sql_type = sql_types::Text)]
    column_name: String,
    #[diesel(sql_type = sql_types::Text)]
    udt_name: String,
    #[diesel(sql_type = sql_types::Bool)]
    nullable: bool,
}

#[tokio::test(flavor = "multi_thread")]
async fn the_diesel_schema_matches_the_migrations() -> anyhow::Result<()> {
    // Listing a column schema.rs lacks fails to compile; omitting one the database
    // has fails the comparison below.
    let expected: Vec<(String, String, String, bool)> = declared!(
        images: [id, version, status, name, visibility, protected, os_hidden, owner,
            checksum, os_hash_algo, os_hash_value, size, virtual_size, min_disk, min_ram,
            disk_format, container_format, created_at, updated_at, deleted_at,
            lease_expires_at, stores],
        image_properties: [image_id, name, value],
        image_tags: [image_id, tag],
        image_members: [image_id, member, status, created_at, updated_at],
        image_locations: [image_id, position, url, metadata],
        tasks: [id, version, task_type, status, input, result, message, owner, image_id,
            request_id, user_id, expires_at, created_at, updated_at, deleted, deleted_at],
        processed_commands: [command_id, aggregate_id, command_type, result, created_at,
            rejection],
        events: [seq, event_id, aggregate_type, aggregate_id, version, event_type,
            from_status, to_status, routing_key, command_id, correlation_id, actor,
            snapshot, occurred_at, published_at, traceparent, publish_attempts, last_error,
            last_attempt_at, quarantined_at],
    );

    let db = TestDb::new().await?;
    let mut conn = db.conn().await?;
    let catalog: Vec<CatalogColumn> = diesel::sql_query(
        "SELECT table_name::text, column_name::text, udt_name::text, \
                is_nullable = 'YES' AS nullable \
           FROM information_schema.columns \
          WHERE table_schema = 'public' AND table_name <> '__diesel_schema_migrations'",
    )
    .load(&mut conn)
    .await?;
    let actual: Vec<_> = catalog
        .into_iter()
        .map(|c| (c.table_name, c.column_name, c.udt_name, c.nullable))
        .collect();
    // Differences only: the full lists run to seventy entries.
    let only_in_database: Vec<_> = actual.iter().filter(|c| !expected.contains(c)).collect();
    let only_in_diesel: Vec<_> = expected.iter().filter(|c| !actual.contains(c)).collect();
    assert!(
        only_in_database.is_empty() && only_in_diesel.is_empty(),
        "(table, column, type, nullable) differ\n  database: {only_in_database:?}\n  schema.rs: {only_in_diesel:?}"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn every_table_can_be_read_through_diesel() -> anyhow::Result<()> {
    use diesel::QueryDsl;
    let db = TestDb::new().await?;
    let mut conn = db.conn().await?;
    // Each names every column of its table! definition, so a column that schema.rs
    // has and the database lacks fails here, with the table's name in the error.
    macro_rules! select_all {
        ($($table:ident),*) => {$(
            schema::$table::table
                .select(schema::$table::all_columns)
                .limit(0)
                .execute(&mut conn)
                .await
                .map_err(|e| anyhow::anyhow!("{}: {e}", stringify!($table)))?;
        )*};
    }
    select_all!(
        images,
        image_properties,
        image_tags,
        image_members,
        image_locations,
        tasks,
        processed_commands,
        events
    );
    Ok(())
}
