//! The images a run works on: up to 200 created through the fleet, the rest copies of
//! the first made in one SQL statement (creating 100,000 through the fleet would take
//! longer than the runs and measure creates, which the mix already does).

use anyhow::Context as _;
use diesel::sql_types::{Text, Uuid as SqlUuid};
use diesel_async::RunQueryDsl;
use domain::ImageId;
use imagefleet_tests::TestDb;
use imagefleet_tests::fixtures::{create, envelope, owner};

use crate::client::Client;

/// Images created through the fleet; beyond this, copies.
const THROUGH_THE_FLEET: usize = 200;

#[derive(diesel::QueryableByName)]
struct Columns {
    #[diesel(sql_type = Text)]
    names: String,
}

#[derive(diesel::QueryableByName)]
struct Id {
    #[diesel(sql_type = SqlUuid)]
    id: uuid::Uuid,
}

/// Makes `count` images and returns their ids.
pub async fn images(
    db: &TestDb,
    client: &mut Client,
    count: usize,
) -> anyhow::Result<Vec<ImageId>> {
    let made: Vec<ImageId> = (0..count.min(THROUGH_THE_FLEET))
        .map(|_| ImageId::generate())
        .collect();
    let creates: Vec<_> = made
        .iter()
        .map(|id| envelope(owner(), create(*id, "bench")))
        .collect();
    client.call_all(&creates).await?;
    let copies = count - made.len();
    if copies == 0 {
        return Ok(made);
    }
    let mut conn = db.conn().await?;
    let columns = diesel::sql_query(
        "SELECT string_agg(quote_ident(column_name), ', ' ORDER BY ordinal_position) AS names \
         FROM information_schema.columns \
         WHERE table_schema = current_schema() AND table_name = 'images' AND column_name <> 'id'",
    )
    .get_result::<Columns>(&mut conn)
    .await?
    .names;
    // Fully qualified: diesel's `RunQueryDsl::first` applies to every type.
    let template = <[ImageId]>::first(&made)
        .context("at least one image")?
        .as_uuid();
    diesel::sql_query(format!(
        "INSERT INTO images (id, {columns}) \
         SELECT gen_random_uuid(), {columns} FROM images, generate_series(1, $2) \
         WHERE id = $1"
    ))
    .bind::<SqlUuid, _>(template)
    .bind::<diesel::sql_types::Integer, _>(i32::try_from(copies)?)
    .execute(&mut conn)
    .await?;
    diesel::sql_query("ANALYZE images")
        .execute(&mut conn)
        .await?;
    let ids = diesel::sql_query("SELECT id FROM images")
        .load::<Id>(&mut conn)
        .await?;
    Ok(ids.into_iter().map(|row| ImageId::from(row.id)).collect())
}
