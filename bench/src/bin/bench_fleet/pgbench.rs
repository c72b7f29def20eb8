//! The reference figure: `pgbench` running the command transaction of `update_image`
//! (`db`: document.rs and write.rs) against the same Postgres, with SQL-built
//! stand-ins for what a worker computes in Rust.
//!
//! The transaction: BEGIN; the load SELECT of `db::document` (processed command
//! lookup and the image document with its child rows); the image UPDATE with a
//! property upsert in one statement; the processed_commands INSERT with the event INSERT
//! in one statement; COMMIT. Approximations: the UPDATE only bumps `version` and
//! `updated_at` (`AND version = version` stands in for the version check), property keys
//! cycle over 25 per image, and the result, actor and snapshot are SQL-built stand-ins.

use std::process::Command as Process;

use anyhow::{Context as _, bail};
use db::document::IMAGE_DOCUMENT;
use diesel_async::RunQueryDsl;
use imagefleet_tests::TestDb;

/// How long each pgbench run lasts.
pub const SECONDS: u32 = 10;

/// The script. The looked-up command id is an uncorrelated subquery: a bare volatile
/// `gen_random_uuid()` in the WHERE clause is evaluated per row, which turns the
/// primary-key lookup into a sequential scan of `processed_commands`.
fn script(images: usize) -> String {
    let image = "(SELECT id FROM images_bench WHERE n = :n)";
    let document = IMAGE_DOCUMENT
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    format!(
        "\\set n random(1, {images})\n\
         \\set k random(1, 25)\n\
         BEGIN;\n\
         SELECT (SELECT result FROM processed_commands WHERE command_id = (SELECT gen_random_uuid())) AS processed, \
         (SELECT {document} FROM images i WHERE i.id = {image}) AS image, \
         (SELECT to_jsonb(t) FROM tasks t WHERE t.id = NULL) AS task;\n\
         WITH written AS (UPDATE images SET version = version + 1, updated_at = now() \
         WHERE id = {image} AND version = version RETURNING id) \
         INSERT INTO image_properties (image_id, name, value) \
         SELECT w.id, 'bench_k' || :k, md5(random()::text) FROM written w \
         ON CONFLICT (image_id, name) DO UPDATE SET value = EXCLUDED.value \
         WHERE image_properties.value IS DISTINCT FROM EXCLUDED.value;\n\
         WITH processed AS (INSERT INTO processed_commands (command_id, aggregate_id, command_type, result) \
         VALUES (gen_random_uuid(), {image}, 'update_image', '{{\"events\": []}}'::jsonb) RETURNING command_id, aggregate_id) \
         INSERT INTO events (event_id, aggregate_type, aggregate_id, version, event_type, from_status, \
         to_status, routing_key, command_id, correlation_id, actor, snapshot, occurred_at) \
         SELECT gen_random_uuid(), 'image', i.id, i.version, 'image.updated', i.status, i.status, \
         'image.updated', p.command_id, NULL, '{{\"project_id\": \"p1\"}}'::jsonb, to_jsonb(i), now() \
         FROM processed p JOIN images i ON i.id = p.aggregate_id;\n\
         COMMIT;\n"
    )
}

fn binary() -> String {
    let packaged = "/usr/lib/postgresql/15/bin/pgbench";
    if std::path::Path::new(packaged).exists() {
        packaged.to_owned()
    } else {
        "pgbench".to_owned()
    }
}

/// Runs pgbench with `clients` clients on `db`, its images numbered first; returns tps.
pub async fn run(db: &TestDb, clients: usize) -> anyhow::Result<f64> {
    let mut conn = db.conn().await?;
    diesel::sql_query(
        "CREATE TABLE IF NOT EXISTS images_bench AS \
         SELECT row_number() OVER (ORDER BY id)::int AS n, id FROM images",
    )
    .execute(&mut conn)
    .await?;
    diesel::sql_query("CREATE UNIQUE INDEX IF NOT EXISTS images_bench_n ON images_bench (n)")
        .execute(&mut conn)
        .await?;
    diesel::sql_query("VACUUM ANALYZE")
        .execute(&mut conn)
        .await?;
    #[derive(diesel::QueryableByName)]
    struct Count {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let images = diesel::sql_query("SELECT count(*) AS n FROM images_bench")
        .get_result::<Count>(&mut conn)
        .await?
        .n;
    drop(conn);

    let path = std::env::temp_dir().join(format!("bench_fleet_{}.sql", std::process::id()));
    std::fs::write(&path, script(usize::try_from(images)?))?;
    let url = db.url().to_owned();
    let clients = clients.to_string();
    let script_path = path.clone();
    let output = tokio::task::spawn_blocking(move || {
        Process::new(binary())
            .args(["-n", "-c", &clients, "-j", &clients, "-T"])
            .arg(SECONDS.to_string())
            .arg("-f")
            .arg(&script_path)
            .arg(&url)
            .output()
    })
    .await?
    .context("running pgbench")?;
    let _ = std::fs::remove_file(&path);
    let stdout = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        bail!(
            "pgbench failed: {}\n{stdout}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    stdout
        .lines()
        .find_map(|line| {
            line.strip_prefix("tps = ")
                .and_then(|rest| rest.split_whitespace().next())
                .and_then(|tps| tps.parse::<f64>().ok())
        })
        .with_context(|| format!("no `tps = ` line in pgbench's output:\n{stdout}"))
}
