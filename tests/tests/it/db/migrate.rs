//! `db::migrate`: start-up migrations create the database, apply each
//! migration once however many processes start together, and report what is pending.

use db::migrate::{
    MAINTENANCE_DATABASE, MIGRATIONS, pending_migrations, quote_identifier, run_migrations,
};
use db::url::with_database;
use diesel::migration::MigrationSource;
use diesel_async::{AsyncConnection, AsyncPgConnection};
use imagefleet_tests::TestDb;

fn migration_names() -> anyhow::Result<Vec<String>> {
    let migrations =
        MigrationSource::<diesel::pg::Pg>::migrations(&MIGRATIONS).map_err(anyhow::Error::msg)?;
    let mut names: Vec<String> = migrations.iter().map(|m| m.name().to_string()).collect();
    names.sort();
    Ok(names)
}

// A current-thread runtime on purpose: services may run on either flavour, and the
// synchronous harness must not need `block_in_place`.
#[tokio::test(flavor = "current_thread")]
async fn starting_twice_at_once_creates_and_migrates_once() -> anyhow::Result<()> {
    let db = TestDb::reserve().await?;
    assert!(
        AsyncPgConnection::establish(db.url()).await.is_err(),
        "{} already exists",
        db.name()
    );

    let (first, second) = tokio::join!(run_migrations(db.url()), run_migrations(db.url()));
    let (mut first, mut second) = (first?, second?);
    // The advisory lock makes one caller do all the work and the other find none.
    if first.is_empty() {
        std::mem::swap(&mut first, &mut second);
    }
    assert_eq!(first, migration_names()?);
    assert_eq!(second, Vec::<String>::new());

    assert_eq!(pending_migrations(db.url()).await?, 0);
    assert_eq!(run_migrations(db.url()).await?, Vec::<String>::new());
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn an_empty_database_has_every_migration_pending() -> anyhow::Result<()> {
    let db = TestDb::reserve().await?;
    let maintenance_url = with_database(&imagefleet_tests::base_url(), MAINTENANCE_DATABASE)?;
    let mut maintenance = AsyncPgConnection::establish(&maintenance_url).await?;
    let create = format!("CREATE DATABASE {}", quote_identifier(db.name()));
    diesel_async::RunQueryDsl::execute(diesel::sql_query(create), &mut maintenance).await?;

    assert_eq!(
        pending_migrations(db.url()).await?,
        migration_names()?.len()
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_test_database_starts_migrated() -> anyhow::Result<()> {
    let db = TestDb::new().await?;
    assert_eq!(pending_migrations(db.url()).await?, 0);
    Ok(())
}
