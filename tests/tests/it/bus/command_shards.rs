//! The commands queue split into shards (`IMAGEFLEET_COMMAND_SHARDS`): one image's
//! commands share a shard in publish order, a command without the target header still
//! reaches a shard, and a site that changes its shard count as the README says routes
//! every command once (and neither loses nor copies one when a process without the
//! setting starts).
//! Needs the broker's `rabbitmq_consistent_hash_exchange` plugin.

use std::collections::{HashMap, HashSet};

use bus::connection::connect;
use bus::{QueueShard, Topology, WorkQueue};
use domain::ImageId;
use imagefleet_tests::fixtures::*;
use imagefleet_tests::{BusProbe, TestBus};
use lapin::Channel;
use lapin::options::{BasicAckOptions, BasicGetOptions, QueueDeleteOptions};
use wire::CommandEnvelope;

/// Takes every message from each shard queue, in queue order: the command ids per shard.
async fn drain(channel: &Channel, topology: &Topology) -> Vec<Vec<String>> {
    let mut shards = Vec::new();
    for shard in topology.shards(WorkQueue::Commands) {
        let queue = topology.shard_queue(shard);
        let mut ids = Vec::new();
        while let Some(message) = channel
            .basic_get(queue.as_str().into(), BasicGetOptions::default())
            .await
            .expect("basic.get")
        {
            let id = message
                .delivery
                .properties
                .correlation_id()
                .as_ref()
                .map(|c| c.to_string())
                .unwrap_or_default();
            message
                .delivery
                .ack(BasicAckOptions::default())
                .await
                .expect("ack");
            ids.push(id);
        }
        shards.push(ids);
    }
    shards
}

/// `per_image` commands for each of `images` new images, interleaved image by image.
fn commands_for(images: usize, per_image: usize) -> (Vec<ImageId>, Vec<CommandEnvelope>) {
    let ids: Vec<ImageId> = (0..images).map(|_| ImageId::generate()).collect();
    let commands = (0..per_image)
        .flat_map(|n| {
            ids.iter()
                .map(move |&id| envelope(owner(), set_property(id, "k", &format!("v{n}"))))
        })
        .collect();
    (ids, commands)
}

#[tokio::test(flavor = "multi_thread")]
async fn each_images_commands_share_one_shard_in_the_order_they_were_published() {
    let bus = TestBus::sharded(4).await.expect("test bus");
    let probe = BusProbe::new(&bus).await;
    let (images, commands) = commands_for(24, 10);
    probe.publish_all(&commands).await;

    let connection = connect(bus.url(), "shards-test").await.expect("connection");
    let channel = connection.create_channel().await.expect("channel");
    let shards = drain(&channel, bus.topology()).await;

    let image_of: HashMap<String, ImageId> = commands
        .iter()
        .map(|c| {
            (
                c.command_id.to_string(),
                c.command.target().image().expect("image"),
            )
        })
        .collect();
    let mut shard_of: HashMap<ImageId, usize> = HashMap::new();
    for (index, ids) in shards.iter().enumerate() {
        for id in ids {
            let image = image_of[id];
            assert_eq!(
                *shard_of.entry(image).or_insert(index),
                index,
                "all of {image}'s commands are on one shard"
            );
        }
        let published: Vec<String> = commands
            .iter()
            .map(|c| c.command_id.to_string())
            .filter(|id| ids.contains(id))
            .collect();
        assert_eq!(
            ids, &published,
            "shard {index} holds its commands in publish order"
        );
    }
    assert_eq!(
        shards.iter().map(Vec::len).sum::<usize>(),
        commands.len(),
        "every command is on exactly one shard"
    );
    assert_eq!(shard_of.len(), images.len());
    let used: HashSet<usize> = shard_of.values().copied().collect();
    assert!(
        used.len() > 1,
        "24 images spread over more than one shard: {used:?}"
    );

    // A producer that sets no target header still reaches a shard.
    let bare = envelope(owner(), set_property(images[0], "k", "bare"));
    let body = serde_json::to_vec(&bare).expect("serialises");
    probe
        .publish_with(&body, probe.properties(&bare.command_id.to_string()))
        .await;
    let shards = drain(&channel, bus.topology()).await;
    assert_eq!(shards.concat(), [bare.command_id.to_string()]);
    connection.close(0, "done".into()).await.expect("close");
    probe.close().await;
}

/// Deletes shard `k` and its retry queues, as an operator lowering the count does.
async fn delete_shard(channel: &Channel, topology: &Topology, k: u16) {
    let shard = QueueShard {
        queue: WorkQueue::Commands,
        shard: k,
    };
    let mut names = vec![topology.shard_queue(shard)];
    names.extend((0..topology.retry_delays().len()).map(|s| topology.shard_retry_queue(shard, s)));
    for name in names {
        channel
            .queue_delete(name.into(), QueueDeleteOptions::default())
            .await
            .expect("delete");
    }
}

fn ids(commands: &[CommandEnvelope]) -> HashSet<String> {
    commands.iter().map(|c| c.command_id.to_string()).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn raising_and_lowering_the_shard_count_as_the_readme_says_routes_every_command_once() {
    let bus = TestBus::new().await.expect("test bus");
    let connection = connect(bus.url(), "shards-test").await.expect("connection");
    let channel = connection.create_channel().await.expect("channel");
    let probe = BusProbe::new(&bus).await;
    let four = bus.topology().clone().with_command_shards(4);
    let two = bus.topology().clone().with_command_shards(2);

    // One shard: everything on shard 0, which keeps its queue when sharding starts.
    let (_, one_shard) = commands_for(8, 2);
    probe.publish_all(&one_shard).await;
    four.declare(&connection).await.expect("four shards");
    let (_, sharded) = commands_for(8, 2);
    probe.publish_all(&sharded).await;
    let held = drain(&channel, &four).await;
    assert!(ids(&one_shard).is_subset(&held[0].iter().cloned().collect()));
    assert_eq!(held.concat().len(), 32, "every command once");
    assert!(
        held.iter().skip(1).any(|s| !s.is_empty()),
        "shards past 0 are used"
    );

    // Down to two: the emptied shards 2 and 3 are deleted, which unbinds them.
    delete_shard(&channel, &four, 3).await;
    delete_shard(&channel, &four, 2).await;
    two.declare(&connection).await.expect("two shards");
    let (_, on_two) = commands_for(16, 1);
    probe.publish_all(&on_two).await;
    let held = drain(&channel, &two).await;
    assert_eq!(held.concat().len(), 16, "none went to a deleted shard");
    assert_eq!(
        held.concat().into_iter().collect::<HashSet<_>>(),
        ids(&on_two)
    );

    // Down to one: the hash exchange stays, bound to shard 0 alone, beside the direct
    // route to the same queue; each command is queued there once.
    delete_shard(&channel, &two, 1).await;
    bus.topology()
        .declare(&connection)
        .await
        .expect("one shard");
    let (_, on_one) = commands_for(16, 1);
    probe.publish_all(&on_one).await;
    let held = drain(&channel, bus.topology()).await;
    assert_eq!(held[0].len(), 16, "each command once on shard 0");
    assert_eq!(
        held[0].iter().cloned().collect::<HashSet<_>>(),
        ids(&on_one)
    );

    // A process with count 1 on a sharded site (say `imagefleet tail` without the
    // setting) finds the hash route and adds no second one: nothing is copied.
    four.declare(&connection).await.expect("four shards again");
    bus.topology()
        .declare(&connection)
        .await
        .expect("a stray one-shard process");
    let (_, mixed) = commands_for(16, 1);
    probe.publish_all(&mixed).await;
    let held = drain(&channel, &four).await;
    assert_eq!(
        held.concat().len(),
        16,
        "each command once, no copy on shard 0"
    );
    let seen: HashSet<String> = held.concat().into_iter().collect();
    assert_eq!(seen, ids(&mixed), "no command lost");
    assert!(held.iter().skip(1).any(|s| !s.is_empty()), "still spread");

    connection.close(0, "done".into()).await.expect("close");
    probe.close().await;
    // The bus deletes its one-shard names when dropped; the sharded ones go here.
    sharded_cleanup(&bus, &four).await;
}
/// Deletes the extra shard queues the bus's own one-shard topology does not list.
async fn sharded_cleanup(bus: &TestBus, sharded: &Topology) {
    let connection = connect(bus.url(), "shards-cleanup")
        .await
        .expect("connection");
    let channel = connection.create_channel().await.expect("channel");
    sharded.delete(&channel).await.expect("delete");
    connection.close(0, "done".into()).await.expect("close");
}
