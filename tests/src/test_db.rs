//! `TestDb`: a throw-away database per test. The first test of a process creates (or
//! finds) a template database migrated with the current migration set; every test then
//! clones it with `CREATE DATABASE ... TEMPLATE`, which takes a fraction of the time of
//! migrating, and drops its clone when the `TestDb` is dropped.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::Context as _;
use db::migrate::{
    MAINTENANCE_DATABASE, MIGRATIONS_FINGERPRINT, database_exists, quote_identifier, run_migrations,
};
use db::url::with_database;
use db::{PgPool, PoolOptions, build_pool};
use diesel_async::pooled_connection::deadpool::Object;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use tokio::sync::OnceCell;

/// Environment variable naming the server tests use (any database on it).
pub const BASE_URL_ENV: &str = "IMAGEFLEET_TEST_DATABASE_URL";

const DEFAULT_BASE_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// Prefix of per-test databases: `test_<unix seconds>_<random hex>`.
const TEST_PREFIX: &str = "test_";

/// Prefix of template databases: `imagefleet_tmpl_<migrations fingerprint>`.
const TEMPLATE_PREFIX: &str = "imagefleet_tmpl_";

/// A test database older than this is a leftover of a killed test process (a test
/// that takes an hour has failed anyway), so the next process drops it.
const LEFTOVER_AGE: Duration = Duration::from_secs(3600);

/// Advisory lock key ("imgftmpl") that serialises template work across processes.
const TEMPLATE_LOCK: i64 = 0x696d_6766_746d_706c;

/// The template's name once this process has made sure it exists. Each
/// `#[tokio::test]` has its own runtime; a tokio `OnceCell` still works across them.
static TEMPLATE: OnceCell<String> = OnceCell::const_new();

/// The server URL tests use: `IMAGEFLEET_TEST_DATABASE_URL`, or the local Postgres.
pub fn base_url() -> String {
    std::env::var(BASE_URL_ENV).unwrap_or_else(|_| DEFAULT_BASE_URL.to_owned())
}

/// A database that exists for one test and is dropped with this value.
pub struct TestDb {
    name: String,
    url: String,
    maintenance_url: String,
    pool: PgPool,
    /// The test's image store directory: the data that goes with the rows.
    data_dir: std::path::PathBuf,
}

impl TestDb {
    /// A fresh database with every migration applied (a copy of the template).
    pub async fn new() -> anyhow::Result<Self> {
        let base = base_url();
        let template = TEMPLATE
            .get_or_try_init(|| prepare_template(&base))
            .await?
            .clone();
        let db = Self::reserve().await?;
        let mut conn = maintenance(&db.maintenance_url).await?;
        let create = format!(
            "CREATE DATABASE {} TEMPLATE {}",
            quote_identifier(&db.name),
            quote_identifier(&template)
        );
        diesel::sql_query(create)
            .execute(&mut conn)
            .await
            .with_context(|| format!("creating {} from {template}", db.name))?;
        Ok(db)
    }

    /// A name, URL and pool for a database that does not exist yet (for tests of
    /// database creation); whatever is created under the name is dropped with it.
    pub async fn reserve() -> anyhow::Result<Self> {
        let base = base_url();
        let secs = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs();
        let name = format!("{TEST_PREFIX}{secs}_{:016x}", rand::random::<u64>());
        let url = with_database(&base, &name)?;
        // The pool connects lazily, so it can exist before its database does.
        let pool = build_pool(
            &url,
            PoolOptions {
                max_size: 8,
                wait_timeout: Duration::from_secs(10),
                create_timeout: Duration::from_secs(10),
            },
        )?;
        Ok(Self {
            maintenance_url: with_database(&base, MAINTENANCE_DATABASE)?,
            data_dir: std::env::temp_dir().join(format!("imagefleet-{name}")),
            name,
            url,
            pool,
        })
    }

    /// The test's image store (a directory of its own, removed with the database).
    pub fn store(&self) -> store::ImageStore {
        store::ImageStore::local(&self.data_dir).expect("the test's data directory opens")
    }

    /// The test's single store, as a deployment that names no stores has it.
    pub fn stores(&self) -> store::Stores {
        let kind = store::StoreKind::File {
            dir: self.data_dir.clone(),
        };
        store::Stores::single(self.store(), kind)
    }

    /// Named stores (multi-store mode), one directory each under the test's data
    /// directory, the first being the default.
    pub fn named_stores(&self, ids: &[&str]) -> store::Stores {
        let entries = ids
            .iter()
            .map(|id| {
                let dir = self.data_dir.join(id);
                store::NamedStore {
                    id: (*id).to_owned(),
                    description: None,
                    store: store::ImageStore::local(&dir)
                        .expect("the test's store directory opens"),
                    kind: store::StoreKind::File { dir },
                }
            })
            .collect();
        store::Stores::named(entries, 0)
    }

    /// The test's image store directory, for services started with `--data-dir`.
    pub fn data_dir(&self) -> &std::path::Path {
        &self.data_dir
    }

    /// Every file in the test's image store, partial writes included: what a test
    /// checks to prove no data was left behind.
    pub fn data_files(&self) -> Vec<std::path::PathBuf> {
        fn walk(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
            for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
                let path = entry.path();
                if path.is_dir() {
                    walk(&path, out);
                } else {
                    out.push(path);
                }
            }
        }
        let mut out = Vec::new();
        walk(&self.data_dir, &mut out);
        out
    }

    /// The database's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// A URL reaching the database.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// A pool of connections to the database.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// One connection from [`TestDb::pool`].
    pub async fn conn(&self) -> anyhow::Result<Object<AsyncPgConnection>> {
        Ok(self.pool.get().await?)
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.data_dir);
        self.pool.close();
        let maintenance_url = self.maintenance_url.clone();
        let name = self.name.clone();
        // Drop cannot await, and the test's runtime may be shutting down or be a
        // current-thread one blocked right here; a thread with its own small runtime
        // works in every case. FORCE ends the pool's connections still closing.
        let outcome = std::thread::spawn(move || -> anyhow::Result<()> {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            runtime.block_on(async {
                let mut conn = maintenance(&maintenance_url).await?;
                drop_database(&mut conn, &name, true).await
            })
        })
        .join();
        match outcome {
            Ok(Ok(())) => {}
            // A leftover is swept by a later run; failing the test here would hide
            // the test's own outcome.
            Ok(Err(error)) => eprintln!("could not drop test database {}: {error:#}", self.name),
            Err(_) => eprintln!("dropping test database {} panicked", self.name),
        }
    }
}

async fn maintenance(url: &str) -> anyhow::Result<AsyncPgConnection> {
    AsyncPgConnection::establish(url)
        .await
        .with_context(|| format!("connecting to the test server (set {BASE_URL_ENV})"))
}

async fn drop_database(
    conn: &mut AsyncPgConnection,
    name: &str,
    force: bool,
) -> anyhow::Result<()> {
    let force = if force { " WITH (FORCE)" } else { "" };
    let sql = format!("DROP DATABASE IF EXISTS {}{force}", quote_identifier(name));
    diesel::sql_query(sql).execute(conn).await?;
    Ok(())
}

/// Makes sure the template for the current migrations exists and returns its name.
async fn prepare_template(base: &str) -> anyhow::Result<String> {
    let template = format!("{TEMPLATE_PREFIX}{MIGRATIONS_FINGERPRINT}");
    let mut conn = maintenance(&with_database(base, MAINTENANCE_DATABASE)?).await?;
    // Several test processes (nextest runs one per test) start at once; the lock lets
    // exactly one of them sweep and build while the others wait, then find it built.
    // Session-level, so a crashed holder releases it by disconnecting.
    diesel::sql_query(format!("SELECT pg_advisory_lock({TEMPLATE_LOCK})"))
        .execute(&mut conn)
        .await?;
    let outcome = async {
        sweep(&mut conn, &template).await?;
        if !database_exists(&mut conn, &template).await? {
            build_template(&mut conn, base, &template).await?;
        }
        anyhow::Ok(())
    }
    .await;
    diesel::sql_query(format!("SELECT pg_advisory_unlock({TEMPLATE_LOCK})"))
        .execute(&mut conn)
        .await?;
    outcome.map(|()| template)
}

/// Migrates under a temporary name and renames at the end, so a template that exists
/// is always complete, even if an earlier builder died half-way.
async fn build_template(
    conn: &mut AsyncPgConnection,
    base: &str,
    template: &str,
) -> anyhow::Result<()> {
    let building = format!("{template}_building");
    run_migrations(&with_database(base, &building)?)
        .await
        .with_context(|| format!("migrating template {building}"))?;
    // CREATE ... TEMPLATE refuses a source with open sessions. The migration
    // connection is closed, but its backend may still be exiting.
    diesel::sql_query(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE datname = $1 AND pid <> pg_backend_pid()",
    )
    .bind::<diesel::sql_types::Text, _>(&building)
    .execute(conn)
    .await?;
    let rename = format!(
        "ALTER DATABASE {} RENAME TO {}",
        quote_identifier(&building),
        quote_identifier(template)
    );
    diesel::sql_query(rename).execute(conn).await?;
    Ok(())
}

#[derive(diesel::QueryableByName)]
struct Datname {
    #[diesel(sql_type = diesel::sql_types::Text)]
    datname: String,
}

/// Drops test databases of killed processes and templates of other migration sets.
async fn sweep(conn: &mut AsyncPgConnection, template: &str) -> anyhow::Result<()> {
    let names: Vec<Datname> = diesel::sql_query("SELECT datname FROM pg_database")
        .load(conn)
        .await?;
    let cutoff = SystemTime::now()
        .checked_sub(LEFTOVER_AGE)
        .and_then(|at| at.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |since| since.as_secs());
    for Datname { datname } in names {
        if test_db_created_at(&datname).is_some_and(|secs| secs < cutoff) {
            drop_database(conn, &datname, true).await?;
        } else if datname.starts_with(TEMPLATE_PREFIX) && datname != template {
            if datname.ends_with("_building") {
                // Builders hold the lock we hold now: this one's builder died.
                drop_database(conn, &datname, true).await?;
            } else if let Err(error) = drop_database(conn, &datname, false).await {
                // Another migration set (an older build). Without FORCE, so a process
                // still cloning it keeps it; the next sweep tries again.
                eprintln!("left stale template {datname}: {error:#}");
            }
        }
    }
    Ok(())
}

/// The creation time embedded in a test database's name; `None` for any other name,
/// so databases that merely start with `test_` are never touched.
fn test_db_created_at(name: &str) -> Option<u64> {
    let (secs, random) = name.strip_prefix(TEST_PREFIX)?.split_once('_')?;
    let valid = !secs.is_empty()
        && secs.bytes().all(|b| b.is_ascii_digit())
        && random.len() == 16
        && random.bytes().all(|b| b.is_ascii_hexdigit());
    if valid { secs.parse().ok() } else { None }
}
