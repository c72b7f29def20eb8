//! Test data for the image list: [`Seed`] inserts an image row (with tags, properties and
//! members) by plain SQL, so a test controls timestamps, statuses and NULLs exactly; the
//! list helpers parse query pairs as the gateway will and run `list_images`.

use api_gateway::list_query::parse_image_list;
use chrono::{DateTime, Duration, TimeZone, Utc};
use db::image_list::{ImagePage, list_images};
use db::list::ListReadError;
use diesel::sql_types::{BigInt, Bool, Nullable, Text, Timestamptz, Uuid as SqlUuid};
use diesel_async::RunQueryDsl;
use domain::{Actor, ImageId};
use imagefleet_tests::TestDb;

/// 2024-01-01T00:00:00Z: seeds are created this many minutes after it.
pub fn epoch() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0)
        .single()
        .expect("a valid time")
}

/// An image row to insert: owner `p1`, shared, active, raw/bare, created at the epoch.
#[derive(Clone)]
pub struct Seed {
    /// The id it will have.
    pub id: ImageId,
    name: Option<String>,
    owner: String,
    visibility: &'static str,
    status: &'static str,
    protected: bool,
    os_hidden: bool,
    size: Option<i64>,
    checksum: Option<String>,
    disk_format: Option<&'static str>,
    container_format: Option<&'static str>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    tags: Vec<String>,
    properties: Vec<(String, String)>,
    members: Vec<(String, &'static str)>,
}

impl Seed {
    /// A seed with the given name (`None` for a NULL name).
    pub fn new(name: Option<&str>) -> Self {
        Self {
            id: ImageId::generate(),
            name: name.map(str::to_owned),
            owner: "p1".to_owned(),
            visibility: "shared",
            status: "active",
            protected: false,
            os_hidden: false,
            size: None,
            checksum: None,
            disk_format: Some("raw"),
            container_format: Some("bare"),
            created_at: epoch(),
            updated_at: epoch(),
            tags: Vec::new(),
            properties: Vec::new(),
            members: Vec::new(),
        }
    }

    /// A named seed.
    pub fn named(name: &str) -> Self {
        Self::new(Some(name))
    }

    /// Owned by `project`.
    pub fn owner(mut self, project: &str) -> Self {
        self.owner = project.to_owned();
        self
    }

    /// With this visibility.
    pub fn visibility(mut self, visibility: &'static str) -> Self {
        self.visibility = visibility;
        self
    }

    /// In this status.
    pub fn status(mut self, status: &'static str) -> Self {
        self.status = status;
        self
    }

    /// Created `minutes` after the epoch and updated an hour later.
    pub fn at(mut self, minutes: i64) -> Self {
        self.created_at = epoch() + Duration::minutes(minutes);
        self.updated_at = self.created_at + Duration::hours(1);
        self
    }

    /// With this size (and a checksum derived from it).
    pub fn size(mut self, size: i64) -> Self {
        self.size = Some(size);
        self.checksum = Some(format!("{size:032x}"));
        self
    }

    /// With these formats.
    pub fn formats(mut self, disk: Option<&'static str>, container: Option<&'static str>) -> Self {
        self.disk_format = disk;
        self.container_format = container;
        self
    }

    /// Protected.
    pub fn protected(mut self) -> Self {
        self.protected = true;
        self
    }

    /// Hidden from default lists.
    pub fn hidden(mut self) -> Self {
        self.os_hidden = true;
        self
    }

    /// With a tag.
    pub fn tag(mut self, tag: &str) -> Self {
        self.tags.push(tag.to_owned());
        self
    }

    /// With an extra property.
    pub fn property(mut self, key: &str, value: &str) -> Self {
        self.properties.push((key.to_owned(), value.to_owned()));
        self
    }

    /// Shared with `project`, which answered `status`.
    pub fn member(mut self, project: &str, status: &'static str) -> Self {
        self.members.push((project.to_owned(), status));
        self
    }

    /// Inserts the rows and returns the image id.
    pub async fn insert(self, db: &TestDb) -> ImageId {
        let mut conn = db.conn().await.expect("connection");
        let id = self.id.as_uuid();
        diesel::sql_query(
            "INSERT INTO images (id, version, status, name, visibility, protected, os_hidden, \
             owner, size, checksum, min_disk, min_ram, disk_format, container_format, \
             created_at, updated_at) \
             VALUES ($1, 1, $2, $3, $4, $5, $6, $7, $8, $9, 0, 0, $10, $11, $12, $13)",
        )
        .bind::<SqlUuid, _>(id)
        .bind::<Text, _>(self.status)
        .bind::<Nullable<Text>, _>(self.name)
        .bind::<Text, _>(self.visibility)
        .bind::<Bool, _>(self.protected)
        .bind::<Bool, _>(self.os_hidden)
        .bind::<Text, _>(self.owner)
        .bind::<Nullable<BigInt>, _>(self.size)
        .bind::<Nullable<Text>, _>(self.checksum)
        .bind::<Nullable<Text>, _>(self.disk_format)
        .bind::<Nullable<Text>, _>(self.container_format)
        .bind::<Timestamptz, _>(self.created_at)
        .bind::<Timestamptz, _>(self.updated_at)
        .execute(&mut conn)
        .await
        .expect("insert image");
        for tag in self.tags {
            diesel::sql_query("INSERT INTO image_tags (image_id, tag) VALUES ($1, $2)")
                .bind::<SqlUuid, _>(id)
                .bind::<Text, _>(tag)
                .execute(&mut conn)
                .await
                .expect("insert tag");
        }
        for (name, value) in self.properties {
            diesel::sql_query(
                "INSERT INTO image_properties (image_id, name, value) VALUES ($1, $2, $3)",
            )
            .bind::<SqlUuid, _>(id)
            .bind::<Text, _>(name)
            .bind::<Text, _>(value)
            .execute(&mut conn)
            .await
            .expect("insert property");
        }
        for (member, status) in self.members {
            diesel::sql_query(
                "INSERT INTO image_members (image_id, member, status, created_at, updated_at) \
                 VALUES ($1, $2, $3, now(), now())",
            )
            .bind::<SqlUuid, _>(id)
            .bind::<Text, _>(member)
            .bind::<Text, _>(status)
            .execute(&mut conn)
            .await
            .expect("insert member");
        }
        self.id
    }
}

/// Parses `pairs` as the gateway will and lists as `actor`.
pub async fn list(
    db: &TestDb,
    actor: &Actor,
    pairs: &[(&str, &str)],
) -> Result<ImagePage, ListReadError> {
    let pairs: Vec<(String, String)> = pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    let query = parse_image_list(&pairs).expect("the query parses");
    let mut conn = db.conn().await.expect("connection");
    list_images(&mut conn, actor, &query).await
}

/// The names on one page (`<null>` for a NULL name), in order.
pub fn names_of(page: &ImagePage) -> Vec<String> {
    page.images
        .iter()
        .map(|i| i.name.clone().unwrap_or_else(|| "<null>".to_owned()))
        .collect()
}

/// The names `actor` lists with `pairs`, in order.
pub async fn names(db: &TestDb, actor: &Actor, pairs: &[(&str, &str)]) -> Vec<String> {
    let page = list(db, actor, pairs).await.expect("the list succeeds");
    names_of(&page)
}

/// The same, sorted, for comparisons that do not depend on order.
pub async fn name_set(db: &TestDb, actor: &Actor, pairs: &[(&str, &str)]) -> Vec<String> {
    let mut names = names(db, actor, pairs).await;
    names.sort();
    names
}

/// Sorted owned strings, for expectations.
pub fn set(names: &[&str]) -> Vec<String> {
    let mut names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
    names.sort();
    names
}
