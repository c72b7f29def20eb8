//! Every filter of `GET /v2/images` against seeded rows: each narrows the list to what
//! Glance would answer, and filters combine with AND.

use imagefleet_tests::TestDb;
use imagefleet_tests::fixtures::owner;

use super::seed::{Seed, name_set, set};

/// Five images of `p1` (shared, so the owner lists all of them) that differ in every
/// filtered attribute.
async fn seed(db: &TestDb) -> Vec<String> {
    let seeds = [
        Seed::named("alpha")
            .at(0)
            .size(10)
            .tag("a")
            .tag("b")
            .property("os_distro", "ubuntu"),
        Seed::named("beta")
            .at(10)
            .size(100)
            .tag("a")
            .property("os_distro", "debian")
            .protected(),
        Seed::named("gamma")
            .at(20)
            .status("queued")
            .formats(Some("qcow2"), Some("ovf"))
            .property("os_distro", "ubuntu")
            .property("hw_rng", "yes"),
        Seed::named("delta")
            .at(30)
            .size(1000)
            .owner("p1")
            .visibility("private"),
        Seed::named("hidden").at(40).size(5).hidden().tag("a"),
    ];
    let mut ids = Vec::new();
    for seed in seeds {
        ids.push(seed.insert(db).await.to_string());
    }
    ids
}

async fn check(db: &TestDb, pairs: &[(&str, &str)], expected: &[&str]) {
    assert_eq!(
        name_set(db, &owner(), pairs).await,
        set(expected),
        "{pairs:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn core_attribute_filters() {
    let db = TestDb::new().await.expect("test database");
    seed(&db).await;
    check(&db, &[], &["alpha", "beta", "gamma", "delta"]).await;
    check(&db, &[("name", "beta")], &["beta"]).await;
    check(&db, &[("name", "Beta")], &[]).await;
    check(&db, &[("status", "queued")], &["gamma"]).await;
    check(&db, &[("status", "no-such-status")], &[]).await;
    check(
        &db,
        &[("owner", "p1")],
        &["alpha", "beta", "gamma", "delta"],
    )
    .await;
    check(&db, &[("owner", "p2")], &[]).await;
    check(&db, &[("protected", "true")], &["beta"]).await;
    check(&db, &[("protected", "false")], &["alpha", "gamma", "delta"]).await;
    check(&db, &[("disk_format", "qcow2")], &["gamma"]).await;
    check(
        &db,
        &[("container_format", "bare")],
        &["alpha", "beta", "delta"],
    )
    .await;
    check(&db, &[("disk_format", "qcow3")], &[]).await;
    check(&db, &[("checksum", &format!("{:032x}", 100))], &["beta"]).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn hidden_images_list_only_when_asked_for() {
    let db = TestDb::new().await.expect("test database");
    seed(&db).await;
    check(&db, &[("os_hidden", "true")], &["hidden"]).await;
    check(
        &db,
        &[("os_hidden", "false")],
        &["alpha", "beta", "gamma", "delta"],
    )
    .await;
    check(&db, &[("os_hidden", "true"), ("tag", "a")], &["hidden"]).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn size_ranges_exclude_images_without_data() {
    let db = TestDb::new().await.expect("test database");
    seed(&db).await;
    check(&db, &[("size_min", "100")], &["beta", "delta"]).await;
    check(&db, &[("size_max", "100")], &["alpha", "beta"]).await;
    check(&db, &[("size_min", "11"), ("size_max", "999")], &["beta"]).await;
    check(&db, &[("size_min", "0")], &["alpha", "beta", "delta"]).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn tags_and_properties_must_all_match() {
    let db = TestDb::new().await.expect("test database");
    seed(&db).await;
    check(&db, &[("tag", "a")], &["alpha", "beta"]).await;
    check(&db, &[("tag", "a"), ("tag", "b")], &["alpha"]).await;
    check(&db, &[("tag", "a"), ("tag", "c")], &[]).await;
    check(&db, &[("os_distro", "ubuntu")], &["alpha", "gamma"]).await;
    check(
        &db,
        &[("os_distro", "ubuntu"), ("hw_rng", "yes")],
        &["gamma"],
    )
    .await;
    check(&db, &[("os_distro", "fedora")], &[]).await;
    check(&db, &[("os_distro", "ubuntu"), ("tag", "b")], &["alpha"]).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn ids_and_times() {
    let db = TestDb::new().await.expect("test database");
    let ids = seed(&db).await;
    let two = format!("in:{},{}", ids[0], ids[2]);
    check(&db, &[("id", &two)], &["alpha", "gamma"]).await;
    let unknown = format!("in:{}", uuid::Uuid::new_v4());
    check(&db, &[("id", &unknown)], &[]).await;
    // alpha..delta were created at +0, +10, +20 and +30 minutes, updated an hour later.
    let created = |op: &str| [("created_at", format!("{op}:2024-01-01T00:10:00Z"))];
    let cases: [(&str, &[&str]); 6] = [
        ("gt", &["gamma", "delta"]),
        ("gte", &["beta", "gamma", "delta"]),
        ("lt", &["alpha"]),
        ("lte", &["alpha", "beta"]),
        ("eq", &["beta"]),
        ("neq", &["alpha", "gamma", "delta"]),
    ];
    for (op, expected) in cases {
        let pairs = created(op);
        let pairs: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (*k, v.as_str())).collect();
        check(&db, &pairs, expected).await;
    }
    let window = [
        ("updated_at", "gte:2024-01-01T01:10:00+00:00"),
        ("updated_at", "lt:2024-01-01T02:30:00"),
    ];
    check(&db, &window, &["beta", "gamma", "delta"]).await;
}
