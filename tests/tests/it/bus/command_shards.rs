//! The commands queue split into shards (`IMAGEFLEET_COMMAND_SHARDS`): one image's
//! commands share a shard and keep their order, a command without the target header
//! still reaches a shard, and a site that changes its shard count loses no command.
//! Needs the broker's `rabbitmq_consistent_hash_exchange` plugin.

use std::collections::{HashMap, HashSet};

use bus::connection::connect;
use bus::{Topology, WorkQueue};
use domain::ImageId;
use imagefleet_tests::fixtures::*;
use imagefleet_tests::{BusProbe, TestBus};
use lapin::Channel;
use lapin::options::{BasicAckOptions, BasicGetOptions};
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

#[tokio::test(flavor = "multi_thread")]
async fn changing_the_shard_count_leaves_every_command_on_a_queue_the_workers_consume() {
    let bus = TestBus::new().await.expect("test bus");
    let connection = connect(bus.url(), "shards-test").await.expect("connection");
    let channel = connection.create_channel().await.expect("channel");
    let probe = BusProbe::new(&bus).await;
    let sharded = bus.topology().clone().with_command_shards(4);
    let (_, before) = commands_for(8, 2);
    let (_, during) = commands_for(8, 2);
    let (_, after) = commands_for(8, 2);

    probe.publish_all(&before).await;
    sharded.declare(&channel).await.expect("sharded");
    probe.publish_all(&during).await;
    bus.topology()
        .declare(&channel)
        .await
        .expect("one shard again");
    probe.publish_all(&after).await;

    let shards = drain(&channel, &sharded).await;
    let ids = |commands: &[CommandEnvelope]| -> HashSet<String> {
        commands.iter().map(|c| c.command_id.to_string()).collect()
    };
    let first: HashSet<String> = shards[0].iter().cloned().collect();
    assert!(
        ids(&before).is_subset(&first),
        "shard 0 keeps the queue of one shard"
    );
    assert!(
        ids(&after).is_subset(&first),
        "one shard routes to shard 0 again"
    );
    let all: Vec<String> = shards.concat();
    assert_eq!(all.len(), 48, "no command lost, none routed twice");
    assert!(ids(&during).is_subset(&all.iter().cloned().collect()));
    connection.close(0, "done".into()).await.expect("close");
    probe.close().await;
    // The sharded names are deleted with the bus's own (the hash exchanges are gone).
    sharded_cleanup(&bus, &sharded).await;
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
