//! Leader failover on host loss: a relay leader whose Postgres session goes silent
//! (blackholed through the fault proxy, so neither end's TCP sees anything wrong) loses
//! its advisory lock to the server's idle timeout, and a follower leads within 30 s,
//! publishing the events in order.

use std::time::Duration;

use apply::Repository;
use domain::{DomainConfig, ImageId};
use imagefleet_tests::fixtures::{create, envelope, owner, set_property};
use imagefleet_tests::wait::wait_until;
use imagefleet_tests::{BusProbe, Fault, FaultProxy, TestBus, TestDb};
use outbox::{Relay, RelayConfig};
use tokio_util::sync::CancellationToken;

/// What the issue asks of a follower after the leader's host is lost.
const TAKEOVER: Duration = Duration::from_secs(30);

fn relay(url: &str, bus: &TestBus, name: &str) -> Relay {
    let mut config = RelayConfig::new(url, bus.url(), bus.topology().clone());
    config.notifications = None;
    config.connection_name = name.to_owned();
    Relay::new(config).expect("relay")
}

#[tokio::test(flavor = "multi_thread")]
async fn a_blackholed_relay_leader_is_replaced_by_a_follower_within_30_s() {
    let db = TestDb::new().await.expect("test database");
    let bus = TestBus::new().await.expect("test bus");
    let proxy = FaultProxy::for_url(db.url()).await.expect("proxy");
    let mut events = BusProbe::with_events(&bus).await;
    let shutdown = CancellationToken::new();

    let stale = relay(&proxy.url_through(db.url()).expect("url"), &bus, "stale");
    let mut stale_leads = stale.leadership();
    let token = shutdown.clone();
    tokio::spawn(async move { stale.run(token).await });
    wait_until(TAKEOVER, "the relay behind the proxy leads", async || {
        *stale_leads.borrow_and_update()
    })
    .await
    .expect("a leader");
    let follower = relay(db.url(), &bus, "follower");
    let follower_leads = follower.leadership();
    let token = shutdown.clone();
    tokio::spawn(async move { follower.run(token).await });

    let repo = Repository::new(db.pool().clone(), DomainConfig::default());
    let image = ImageId::generate();
    repo.apply(&envelope(owner(), create(image, "failover")))
        .await
        .expect("created");
    assert_eq!(
        events.event().await.event.version,
        1,
        "the leader publishes"
    );

    proxy.set(Fault::Blackhole);
    for n in 0..3 {
        repo.apply(&envelope(owner(), set_property(image, "n", &n.to_string())))
            .await
            .expect("applied");
    }
    wait_until(TAKEOVER, "the follower leads", async || {
        *follower_leads.borrow()
    })
    .await
    .expect("the follower took over");
    let mut first_seen = Vec::new();
    while first_seen.len() < 3 {
        let version = events.event().await.event.version;
        if version > 1 && !first_seen.contains(&version) {
            first_seen.push(version);
        }
    }
    assert_eq!(first_seen, [2, 3, 4], "every event, in version order");
    shutdown.cancel();
}
