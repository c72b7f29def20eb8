//! Start-up migrations: the SQL in `migrations/` is compiled into the binary and
//! applied by whichever process starts first (gateway, worker or the `migrate` step),
//! after creating the database itself when it is missing.

use diesel::connection::SimpleConnection;
use diesel::sql_types::{Bool, Text};
use diesel::{Connection, QueryableByName};
use diesel_async::async_connection_wrapper::AsyncConnectionWrapper;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

use super::error::DbError;
use super::url::{database_name, with_database};

/// Every migration in `migrations/`, embedded at build time.
pub const MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations");

/// A hash of the names and SQL of [`MIGRATIONS`] (computed by `build.rs`): equal
/// fingerprints mean identical schemas, which lets tests reuse a migrated template.
pub const MIGRATIONS_FINGERPRINT: &str = env!("IMAGEFLEET_MIGRATIONS_FINGERPRINT");

/// The database every Postgres server has, used to create the others.
pub const MAINTENANCE_DATABASE: &str = "postgres";

/// Advisory lock key held while migrating ("imgfleet" in ASCII). Advisory locks are
/// per database, so this only serialises migrators of the same database.
const MIGRATION_LOCK: i64 = 0x696d_6766_6c65_6574;

/// Wrapper that drives diesel's synchronous migration harness over the async
/// connection; only ever used on a blocking thread.
type SyncPg = AsyncConnectionWrapper<AsyncPgConnection>;

/// Creates the database named in `database_url` if it is missing, then applies the
/// pending migrations in order and returns the names of those it applied.
///
/// Safe to call from several processes at once: a concurrent creator of the database
/// is tolerated and migrators of one database take turns on an advisory lock, so each
/// migration runs exactly once. Works on any tokio runtime flavour, because the
/// synchronous harness runs on a blocking thread.
pub async fn run_migrations(database_url: &str) -> Result<Vec<String>, DbError> {
    ensure_database(database_url).await?;
    let url = database_url.to_owned();
    let applied = tokio::task::spawn_blocking(move || -> Result<Vec<String>, DbError> {
        let mut conn = <SyncPg as Connection>::establish(&url)?;
        conn.batch_execute(&format!("SELECT pg_advisory_lock({MIGRATION_LOCK})"))?;
        // Pending is read only under the lock, so a migrator that waited sees the
        // work of the one before it and applies nothing twice.
        let pending = conn
            .pending_migrations(MIGRATIONS)
            .map_err(DbError::Migration)?;
        let mut applied = Vec::with_capacity(pending.len());
        for migration in &pending {
            conn.run_migration(migration.as_ref())
                .map_err(DbError::Migration)?;
            let name = migration.name().to_string();
            tracing::info!(migration = %name, "applied migration");
            applied.push(name);
        }
        // Dropping the connection would release the lock too; unlocking says so.
        conn.batch_execute(&format!("SELECT pg_advisory_unlock({MIGRATION_LOCK})"))?;
        Ok(applied)
    })
    .await
    .map_err(|join| DbError::Migration(join.into()))??;
    Ok(applied)
}

/// How many migrations the database at `database_url` still lacks (0 when up to
/// date), for readiness checks. Creates diesel's bookkeeping table if it is missing.
pub async fn pending_migrations(database_url: &str) -> Result<usize, DbError> {
    let url = database_url.to_owned();
    tokio::task::spawn_blocking(move || -> Result<usize, DbError> {
        let mut conn = <SyncPg as Connection>::establish(&url)?;
        let pending = conn
            .pending_migrations(MIGRATIONS)
            .map_err(DbError::Migration)?;
        Ok(pending.len())
    })
    .await
    .map_err(|join| DbError::Migration(join.into()))?
}

#[derive(QueryableByName)]
struct AppliedVersion {
    #[diesel(sql_type = Text)]
    version: String,
}

/// The names of the embedded migrations the database behind `conn` has not applied
/// (empty when current), read from diesel's bookkeeping table in one query. Unlike
/// [`pending_migrations`] it writes nothing and needs no connection of its own, so a
/// readiness check can ask it on a pooled connection as often as it likes. A database
/// that was never migrated has no bookkeeping table: that is an error here.
pub async fn unapplied_migrations(conn: &mut AsyncPgConnection) -> Result<Vec<String>, DbError> {
    use diesel::migration::MigrationSource;
    use diesel::pg::Pg;
    let applied: Vec<AppliedVersion> =
        diesel::sql_query("SELECT version FROM __diesel_schema_migrations")
            .load(conn)
            .await?;
    let applied: std::collections::HashSet<String> =
        applied.into_iter().map(|row| row.version).collect();
    let embedded = MigrationSource::<Pg>::migrations(&MIGRATIONS).map_err(DbError::Migration)?;
    Ok(embedded
        .iter()
        .filter(|m| !applied.contains(&m.name().version().to_string()))
        .map(|m| m.name().to_string())
        .collect())
}

/// Quotes `name` as an SQL identifier (for statements that take no bind parameters,
/// such as `CREATE DATABASE`).
pub fn quote_identifier(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

#[derive(QueryableByName)]
struct Found {
    #[diesel(sql_type = Bool)]
    found: bool,
}

/// Whether a database called `name` exists on the server `conn` is connected to.
pub async fn database_exists(conn: &mut AsyncPgConnection, name: &str) -> Result<bool, DbError> {
    let row: Found =
        diesel::sql_query("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1) AS found")
            .bind::<Text, _>(name)
            .get_result(conn)
            .await?;
    Ok(row.found)
}

/// Creates the database named in the URL through the maintenance database.
async fn ensure_database(database_url: &str) -> Result<(), DbError> {
    let Some(name) = database_name(database_url)? else {
        return Ok(());
    };
    if name == MAINTENANCE_DATABASE {
        return Ok(());
    }
    let maintenance_url = with_database(database_url, MAINTENANCE_DATABASE)?;
    let mut conn = match AsyncPgConnection::establish(&maintenance_url).await {
        Ok(conn) => conn,
        Err(error) => {
            // Managed servers and poolers often refuse the maintenance database.
            // Going on lets the migration connection report the real state: fine if
            // the database exists, "does not exist" if not.
            tracing::debug!(%error, "maintenance database unreachable; not creating");
            return Ok(());
        }
    };
    if database_exists(&mut conn, &name).await? {
        return Ok(());
    }
    let create = format!("CREATE DATABASE {}", quote_identifier(&name));
    match diesel::sql_query(create).execute(&mut conn).await {
        Ok(_) => {
            tracing::info!(database = %name, "created database");
            Ok(())
        }
        // A concurrent creator won the race (42P04, or a unique violation on the
        // catalogue). Checking again avoids matching on localised error messages.
        Err(error) if database_exists(&mut conn, &name).await? => {
            tracing::debug!(%error, database = %name, "database created concurrently");
            Ok(())
        }
        Err(error) => Err(error.into()),
    }
}
