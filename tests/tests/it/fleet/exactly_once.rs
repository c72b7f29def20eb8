//! The fleet: three workers with their own connections apply 10,000 commands over 200
//! images, a tenth of them delivered twice, in random order. Every command has its
//! effect once, each image's state is the replay of its accepted commands, and
//! subscribers see one event per transition, gapless and in order per image; the same
//! holds with the commands queue split into four shards.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Instant;

use db::document;
use diesel::QueryableByName;
use diesel::sql_types::{BigInt, Jsonb, Timestamptz, Uuid as SqlUuid};
use diesel_async::RunQueryDsl;
use domain::{Actor, Command, Context, DomainConfig, Event, ImageId, State, decide};
use imagefleet_tests::fixtures::*;
use imagefleet_tests::{BusProbe, TestBus, TestDb, TestWorker};
use rand::seq::{IndexedRandom, SliceRandom};
use rand::{Rng, SeedableRng};
use wire::{CommandEnvelope, CommandReply};

const WORKERS: usize = 3;
const COMMANDS: usize = 10_000;
const IMAGES: usize = 200;

fn random_command(rng: &mut impl Rng, n: usize, image: ImageId) -> (Actor, Command) {
    match rng.random_range(0..100) {
        0..35 => (
            owner(),
            set_property(image, &format!("k{}", n % 50), &format!("v{n}")),
        ),
        35..50 => (owner(), add_tag(image, &format!("t{}", n % 20))),
        50..55 => (owner(), remove_tag(image, &format!("t{}", n % 20))),
        55..65 => (owner(), Command::DeactivateImage(image_ref(image))),
        65..75 => (owner(), Command::ReactivateImage(image_ref(image))),
        75..85 => (owner(), begin_upload(image)),
        85..93 => (
            Actor::service(),
            complete_upload(image, rng.random_range(1..1 << 30)),
        ),
        _ => (Actor::service(), abort_upload(image)),
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
    #[diesel(sql_type = Timestamptz)]
    occurred_at: chrono::DateTime<chrono::Utc>,
    #[diesel(sql_type = Jsonb)]
    snapshot: serde_json::Value,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_workers_apply_every_command_once_and_publish_every_transition_in_order() {
    let bus = TestBus::new().await.expect("test bus");
    apply_once_in_order(bus, COMMANDS).await;
}

/// The same over four command shards (each image's commands on one of them), which
/// every worker consumes.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn with_four_command_shards_three_workers_apply_every_command_once_in_order() {
    let bus = TestBus::sharded(4).await.expect("test bus");
    apply_once_in_order(bus, 3_000).await;
}

async fn apply_once_in_order(bus: TestBus, commands: usize) {
    let db = TestDb::new().await.expect("test database");
    let workers: Vec<TestWorker> = (0..WORKERS)
        .map(|i| TestWorker::start(&db, &bus, &format!("fleet-{i}")))
        .collect();
    let mut probe = BusProbe::with_events(&bus).await;

    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let images: Vec<ImageId> = (0..IMAGES).map(|_| ImageId::generate()).collect();
    let creations: Vec<CommandEnvelope> = images
        .iter()
        .map(|id| envelope(owner(), create(*id, "fleet")))
        .collect();
    let count = commands;
    let commands: Vec<CommandEnvelope> = (0..count)
        .map(|n| {
            let image = *images.choose(&mut rng).expect("images");
            let (actor, command) = random_command(&mut rng, n, image);
            envelope(actor, command)
        })
        .collect();
    let mut deliveries: Vec<CommandEnvelope> = commands.clone();
    deliveries.extend(commands.choose_multiple(&mut rng, count / 10).cloned());
    deliveries.shuffle(&mut rng);
    let started = Instant::now();
    // Creations first and awaited: a command racing ahead of its image's creation
    // would be refused (404), which is right but not what this test is about.
    probe.publish_all(&creations).await;
    for _ in 0..creations.len() {
        probe.reply().await;
    }
    probe.publish_all(&deliveries).await;
    let mut accepted_now = 0;
    for _ in 0..deliveries.len() {
        if let CommandReply::Accepted {
            replayed: false,
            result,
            ..
        } = probe.reply().await.reply
        {
            accepted_now += usize::from(!result.events.is_empty());
        }
    }
    let applied_in = started.elapsed();

    let mut conn = db.conn().await.expect("connection");
    let rows: Vec<EventRow> = diesel::sql_query(
        "SELECT aggregate_id, version, command_id, occurred_at, snapshot FROM events ORDER BY aggregate_id, version",
    )
    .load(&mut conn)
    .await
    .expect("events");
    assert_eq!(
        rows.len(),
        IMAGES + accepted_now,
        "one event per creation and per command applied now"
    );
    let commands_with_events: HashSet<uuid::Uuid> = rows.iter().map(|r| r.command_id).collect();
    assert_eq!(
        commands_with_events.len(),
        rows.len(),
        "no command was applied twice"
    );

    // Each image's state is the replay of its accepted commands in version order.
    let by_id: HashMap<uuid::Uuid, &CommandEnvelope> = creations
        .iter()
        .chain(commands.iter())
        .map(|c| (c.command_id.as_uuid(), c))
        .collect();
    let mut per_image: BTreeMap<uuid::Uuid, Vec<&EventRow>> = BTreeMap::new();
    for row in &rows {
        per_image.entry(row.aggregate_id).or_default().push(row);
    }
    for id in &images {
        let history = &per_image[&id.as_uuid()];
        let mut state = State::default();
        for (row, version) in history.iter().zip(1..) {
            assert_eq!(row.version, version, "gapless versions");
            let command = by_id[&row.command_id];
            let ctx = Context {
                actor: command.actor.clone(),
                now: row.occurred_at,
                config: DomainConfig::default(),
            };
            let events =
                decide(&state, &command.command, &ctx).expect("replayed command is accepted again");
            let [Event::Image(changed)] = events.as_slice() else {
                panic!("one image event")
            };
            assert_eq!(
                events[0].snapshot(),
                row.snapshot,
                "snapshot at version {version}"
            );
            state.image = Some(changed.image.clone());
        }
        let stored = document::image_by_id(&mut conn, id.as_uuid())
            .await
            .expect("read")
            .expect("exists");
        assert_eq!(
            state.image.as_ref(),
            Some(&stored),
            "final state of {id} is the replay"
        );
    }

    // Subscribers see every event, deduplicated by id, in version order per image.
    let mut seen = HashSet::new();
    let mut last_version: HashMap<uuid::Uuid, i64> = HashMap::new();
    let mut duplicates = 0;
    while seen.len() < rows.len() {
        let event = probe.event().await.event;
        if !seen.insert(event.event_id) {
            duplicates += 1;
            continue;
        }
        let last = last_version.entry(event.id).or_insert(0);
        assert_eq!(
            event.version,
            *last + 1,
            "event of {} in order and without gaps",
            event.id
        );
        *last = event.version;
    }
    println!(
        "fleet: {} commands ({} deliveries with {} duplicates) over {IMAGES} images by {WORKERS} workers on {} command shard(s): {} applied, {} events received ({} duplicate deliveries dropped), gaps 0, applied twice 0; applied in {:.2?}",
        count,
        deliveries.len(),
        deliveries.len() - count,
        bus.topology().command_shards(),
        accepted_now,
        seen.len(),
        duplicates,
        applied_in
    );
    probe.close().await;
    for worker in workers {
        worker.stop().await;
    }
}
