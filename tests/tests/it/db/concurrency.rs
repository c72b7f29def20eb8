//! Many writers on few images through the repository: every accepted command is applied
//! exactly once, versions rise without gaps, and no update is lost.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Instant;

use apply::{ApplyError, Repository};
use db::document;
use diesel::QueryableByName;
use diesel::sql_types::{BigInt, Jsonb, Uuid as SqlUuid};
use diesel_async::RunQueryDsl;
use domain::{Actor, Command, CommandId, DomainConfig, ImageId, RejectionKind};
use imagefleet_tests::TestDb;
use imagefleet_tests::fixtures::*;
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};
use tokio::sync::Barrier;
use wire::CommandEnvelope;

const WRITERS: usize = 8;
const COMMANDS_PER_WRITER: usize = 500;
const IMAGES: usize = 20;

/// What one command was meant to leave behind, to check it against the final state.
#[derive(Debug, Clone)]
enum Effect {
    Property(String, String),
    Tag(String),
    Other,
}

#[derive(Debug)]
struct Outcome {
    command_id: CommandId,
    image: ImageId,
    effect: Effect,
    changed: bool,
    attempts: u32,
    rejected: Option<RejectionKind>,
}

fn random_command(
    rng: &mut impl Rng,
    writer: usize,
    n: usize,
    image: ImageId,
) -> (Actor, Command, Effect) {
    let roll = rng.random_range(0..100);
    match roll {
        0..40 => {
            let (key, value) = (
                format!("k_{writer}_{n}"),
                format!("v{}", rng.random::<u32>()),
            );
            (
                owner(),
                set_property(image, &key, &value),
                Effect::Property(key, value),
            )
        }
        40..60 => {
            let tag = format!("t_{writer}_{n}");
            (owner(), add_tag(image, &tag), Effect::Tag(tag))
        }
        60..70 => (
            owner(),
            Command::DeactivateImage(image_ref(image)),
            Effect::Other,
        ),
        70..80 => (
            owner(),
            Command::ReactivateImage(image_ref(image)),
            Effect::Other,
        ),
        80..87 => (owner(), begin_upload(image), Effect::Other),
        87..94 => (
            Actor::service(),
            complete_upload(image, rng.random_range(1..1 << 20)),
            Effect::Other,
        ),
        _ => (Actor::service(), abort_upload(image), Effect::Other),
    }
}

#[derive(QueryableByName)]
struct EventRow {
    #[diesel(sql_type = SqlUuid)]
    aggregate_id: uuid::Uuid,
    #[diesel(sql_type = BigInt)]
    version: i64,
    #[diesel(sql_type = SqlUuid)]
    command_id: uuid::Uuid,
    #[diesel(sql_type = Jsonb)]
    snapshot: serde_json::Value,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn eight_writers_lose_no_update_and_leave_gapless_versions() {
    let db = TestDb::new().await.expect("test database");
    let repo = Repository::new(db.pool().clone(), DomainConfig::default());
    let images: Vec<ImageId> = (0..IMAGES).map(|_| ImageId::generate()).collect();
    for (i, id) in images.iter().enumerate() {
        repo.apply(&envelope(owner(), create(*id, &format!("img{i}"))))
            .await
            .expect("created");
    }
    let images = Arc::new(images);
    let barrier = Arc::new(Barrier::new(WRITERS));
    let started = Instant::now();
    let writers: Vec<_> = (0..WRITERS)
        .map(|writer| {
            let (repo, images, barrier) = (repo.clone(), images.clone(), barrier.clone());
            tokio::spawn(async move {
                let mut rng = rand::rngs::StdRng::seed_from_u64(writer as u64);
                barrier.wait().await;
                let mut outcomes = Vec::with_capacity(COMMANDS_PER_WRITER);
                for n in 0..COMMANDS_PER_WRITER {
                    let image = *images.choose(&mut rng).expect("images");
                    let (actor, command, effect) = random_command(&mut rng, writer, n, image);
                    let envelope = CommandEnvelope::new(actor, command);
                    let outcome = match repo.apply(&envelope).await {
                        Ok(applied) => Outcome {
                            command_id: envelope.command_id,
                            image,
                            effect,
                            changed: !applied.result.events.is_empty(),
                            attempts: applied.attempts,
                            rejected: None,
                        },
                        Err(ApplyError::Rejected(r)) => Outcome {
                            command_id: envelope.command_id,
                            image,
                            effect,
                            changed: false,
                            attempts: 1,
                            rejected: Some(r.kind),
                        },
                        Err(ApplyError::Contended { .. }) => Outcome {
                            command_id: envelope.command_id,
                            image,
                            effect,
                            changed: false,
                            attempts: apply::repository::MAX_ATTEMPTS,
                            rejected: Some(RejectionKind::Conflict),
                        },
                        Err(e) => panic!("database failure: {e}"),
                    };
                    outcomes.push(outcome);
                }
                outcomes
            })
        })
        .collect();
    let mut outcomes = Vec::new();
    for writer in writers {
        outcomes.extend(writer.await.expect("writer finished"));
    }
    let wall = started.elapsed();

    let accepted: Vec<&Outcome> = outcomes.iter().filter(|o| o.changed).collect();
    let retried: u32 = outcomes.iter().map(|o| o.attempts - 1).sum();
    let conflicts_exhausted = outcomes
        .iter()
        .filter(|o| {
            o.rejected == Some(RejectionKind::Conflict)
                && matches!(o.effect, Effect::Property(..) | Effect::Tag(_))
        })
        .count();
    println!(
        "concurrency: {} commands, {} accepted with changes, {} rejected, {} retries after lost races, {} metadata commands out of retries, wall {:.2?}",
        outcomes.len(),
        accepted.len(),
        outcomes.iter().filter(|o| o.rejected.is_some()).count(),
        retried,
        conflicts_exhausted,
        wall
    );

    // The event log: exactly one row per accepted command, versions 1..n per image.
    let mut conn = db.conn().await.expect("connection");
    let events: Vec<EventRow> = diesel::sql_query(
        "SELECT aggregate_id, version, command_id, snapshot FROM events ORDER BY aggregate_id, version",
    )
    .load(&mut conn)
    .await
    .expect("events");
    let by_command: HashMap<uuid::Uuid, &EventRow> =
        events.iter().map(|e| (e.command_id, e)).collect();
    assert_eq!(
        events.len(),
        IMAGES + accepted.len(),
        "one event per creation and per accepted command"
    );
    assert_eq!(by_command.len(), events.len(), "no command has two events");
    let mut versions: BTreeMap<uuid::Uuid, Vec<i64>> = BTreeMap::new();
    for e in &events {
        versions.entry(e.aggregate_id).or_default().push(e.version);
    }
    let mut accepted_per_image: HashMap<ImageId, i64> = HashMap::new();
    for o in &accepted {
        *accepted_per_image.entry(o.image).or_default() += 1;
    }
    for id in images.iter() {
        let image = document::image_by_id(&mut conn, id.as_uuid())
            .await
            .expect("read")
            .expect("exists");
        let expected = 1 + accepted_per_image.get(id).copied().unwrap_or(0);
        assert_eq!(
            image.version, expected,
            "version counts the accepted commands of {id}"
        );
        let seen = &versions[&id.as_uuid()];
        assert_eq!(
            seen,
            &(1..=expected).collect::<Vec<_>>(),
            "gapless versions for {id}"
        );
        // No lost update: every accepted metadata write is in the final state, and its
        // event's snapshot shows it at that version.
        for o in accepted.iter().filter(|o| o.image == *id) {
            let event = by_command
                .get(&o.command_id.as_uuid())
                .expect("an event per accepted command");
            match &o.effect {
                Effect::Property(k, v) => {
                    assert_eq!(image.properties.get(k), Some(v), "property {k} survived");
                    assert_eq!(event.snapshot["properties"][k], serde_json::json!(v));
                }
                Effect::Tag(t) => {
                    assert!(image.tags.contains(t), "tag {t} survived");
                    assert!(
                        event.snapshot["tags"]
                            .as_array()
                            .is_some_and(|a| a.contains(&t.as_str().into()))
                    );
                }
                Effect::Other => {}
            }
        }
    }
    assert!(
        retried > 0,
        "the writers raced: some commands lost and were decided again"
    );
    // Metadata commands never legitimately fail here, and a retry reads under the
    // image's row lock, so none runs out of races either: every one is applied.
    assert_eq!(
        conflicts_exhausted, 0,
        "no metadata command ran out of races"
    );
    for o in outcomes
        .iter()
        .filter(|o| matches!(o.effect, Effect::Property(..) | Effect::Tag(_)))
    {
        assert!(o.changed, "{o:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_same_command_ten_times_at_once_has_its_effect_once() {
    let db = TestDb::new().await.expect("test database");
    let repo = Repository::new(db.pool().clone(), DomainConfig::default());
    let id = ImageId::generate();
    repo.apply(&envelope(owner(), create(id, "once")))
        .await
        .expect("created");
    let command = envelope(owner(), set_property(id, "os_distro", "debian"));
    let barrier = Arc::new(Barrier::new(10));
    let callers: Vec<_> = (0..10)
        .map(|_| {
            let (repo, command, barrier) = (repo.clone(), command.clone(), barrier.clone());
            tokio::spawn(async move {
                barrier.wait().await;
                repo.apply(&command).await
            })
        })
        .collect();
    let mut results = Vec::new();
    for caller in callers {
        results.push(caller.await.expect("caller finished").expect("accepted"));
    }
    let first = &results[0].result;
    assert!(
        results.iter().all(|r| &r.result == first),
        "all ten callers get the same result"
    );
    assert_eq!(
        results.iter().filter(|r| !r.replayed).count(),
        1,
        "exactly one caller applied it"
    );
    assert_eq!(first.image.as_ref().map(|i| i.version), Some(2));
    assert_eq!(
        super::repository::count(&db, "events").await,
        2,
        "create + one update"
    );
    assert_eq!(super::repository::count(&db, "processed_commands").await, 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_redelivered_no_op_is_not_decided_again_later() {
    let db = TestDb::new().await.expect("test database");
    let repo = Repository::new(db.pool().clone(), DomainConfig::default());
    let id = ImageId::generate();
    for command in [create(id, "noop"), begin_upload(id)] {
        repo.apply(&envelope(owner(), command))
            .await
            .expect("accepted");
    }
    repo.apply(&envelope(Actor::service(), complete_upload(id, 10)))
        .await
        .expect("active");
    // Reactivating an active image changes nothing; its redelivery after a deactivation
    // must not reactivate the image.
    let reactivate = envelope(owner(), Command::ReactivateImage(image_ref(id)));
    let first = repo.apply(&reactivate).await.expect("accepted no-op");
    assert!(first.result.events.is_empty());
    repo.apply(&envelope(owner(), Command::DeactivateImage(image_ref(id))))
        .await
        .expect("deactivated");
    let again = repo.apply(&reactivate).await.expect("replayed");
    assert!(again.replayed);
    assert_eq!(again.result, first.result);
    let mut conn = db.conn().await.expect("connection");
    let image = document::image_by_id(&mut conn, id.as_uuid())
        .await
        .expect("read")
        .expect("exists");
    assert_eq!(image.status, domain::ImageStatus::Deactivated);
}
