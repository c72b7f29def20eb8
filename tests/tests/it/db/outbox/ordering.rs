//! Every event the repository writes reaches the events exchange with its routing key,
//! envelope and AMQP properties, in version order per image, and is stamped published.

use super::*;

#[tokio::test(flavor = "multi_thread")]
async fn every_event_is_published_in_version_order_per_image() {
    let db = TestDb::new().await.expect("test database");
    let bus = TestBus::new().await.expect("test bus");
    let sink = Sink::bind(&bus).await.expect("sink");
    let repo = Repository::new(db.pool().clone(), DomainConfig::default());
    let images: Vec<ImageId> = (0..3).map(|_| ImageId::generate()).collect();

    // Written before the relay starts: its first read must find them.
    let mut expected = apply(&repo, create(images[0], "early")).await;
    expected.extend(apply(&repo, set_property(images[0], "os_distro", "cirros")).await);

    // Small batches: several reads, full ones among them.
    let mut config = config(&db, &bus);
    config.batch_size = 4;
    let relay = Running::start(config);
    for (i, id) in images.iter().enumerate().skip(1) {
        expected.extend(apply(&repo, create(*id, &format!("image-{i}"))).await);
    }
    for round in 0..3 {
        for id in &images {
            let key = format!("k{round}");
            expected.extend(apply(&repo, set_property(*id, &key, "v")).await);
            expected.extend(apply(&repo, add_tag(*id, &key)).await);
        }
    }
    wait_for_all(&db, &sink).await;
    relay.stop().await;

    let received = sink.received();
    let rows = stored(&db).await;
    assert_eq!(rows.len(), expected.len(), "one row per recorded event");
    assert!(
        rows.iter().all(|(_, published)| *published),
        "every row stamped"
    );
    let ids: HashSet<Uuid> = received.iter().map(|r| r.envelope.event_id).collect();
    assert_eq!(
        ids,
        expected.keys().copied().collect(),
        "exactly the recorded events"
    );
    assert_eq!(
        received.len(),
        ids.len(),
        "one healthy relay publishes once"
    );

    for r in &received {
        let e = &r.envelope;
        let want = &expected[&e.event_id];
        assert_eq!(r.routing_key, want.routing_key);
        let key = if e.version == 1 {
            "image.queued"
        } else {
            "image.updated"
        };
        assert_eq!(r.routing_key, key, "version {} of {}", e.version, e.id);
        assert_eq!(r.message_id, Some(e.event_id.to_string()));
        assert_eq!(r.content_type.as_deref(), Some("application/json"));
        assert_eq!(r.delivery_mode, Some(2), "persistent");
        assert_eq!(
            r.correlation_id.as_deref(),
            Some(want.correlation_id.as_str())
        );
        assert_eq!(e.schema, EVENT_SCHEMA_V1);
        assert_eq!(e.aggregate, "image");
        assert_eq!((e.id, e.version), (want.image, want.version));
        assert_eq!(e.command_id, want.command_id);
        assert_eq!(
            e.correlation_id.as_deref(),
            Some(want.correlation_id.as_str())
        );
        assert_eq!(e.actor, owner());
        assert_eq!(e.to_status, "queued");
        let from = if e.version == 1 { None } else { Some("queued") };
        assert_eq!(e.from_status.as_deref(), from);
        assert_eq!(e.snapshot["version"], serde_json::json!(e.version));
        assert_eq!(e.snapshot["id"], serde_json::json!(e.id));
    }
    let arrivals = first_arrivals(&received);
    for id in &images {
        let versions = &arrivals[&id.as_uuid()];
        let in_order: Vec<i64> = (1..=versions.len() as i64).collect();
        assert_eq!(versions, &in_order, "versions of {id:?} in order");
    }
    sink.close().await;
}
