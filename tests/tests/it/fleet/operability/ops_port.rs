//! Where a lone worker's operations port listens (issue 17, item 5): workers started
//! on one host with default settings each take a free port of their own from 9464 and
//! serve `/healthz` there; an address the operator set that is taken is an error that
//! names it and the setting.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_util::sync::CancellationToken;
use workers::ops::{OpsConfig, OpsError, OpsPort};
use workers::ops_port::{DEFAULT_PORTS, FIRST_DEFAULT_PORT, OpsBind};

use super::*;

/// What `workers run` builds from its settings, with the operations address `setting`.
fn config(db: &TestDb, bus: &TestBus, setting: Option<std::net::SocketAddr>) -> OpsConfig {
    OpsConfig {
        bind: OpsBind::from_setting(setting),
        database_url: db.url().to_owned(),
        amqp_url: bus.url().to_owned(),
        name: "ops-port-probe".to_owned(),
        progress: None,
        flow: Default::default(),
    }
}

/// `GET /healthz` over a real connection: the status line and the body.
async fn healthz(address: std::net::SocketAddr) -> String {
    let mut socket = tokio::net::TcpStream::connect(address)
        .await
        .expect("the operations port accepts connections");
    let request = "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    socket.write_all(request.as_bytes()).await.expect("sent");
    let mut answer = String::new();
    let read = socket.read_to_string(&mut answer);
    tokio::time::timeout(Duration::from_secs(10), read)
        .await
        .expect("an answer within 10 s")
        .expect("readable");
    answer
}

#[tokio::test(flavor = "multi_thread")]
async fn two_workers_with_default_settings_serve_healthz_on_ports_of_their_own() {
    let db = TestDb::new().await.expect("test database");
    let bus = TestBus::new().await.expect("test bus");
    let shutdown = CancellationToken::new();
    let mut addresses = Vec::new();
    for _ in 0..2 {
        let port = OpsPort::bind(&config(&db, &bus, None))
            .await
            .expect("a free default port");
        addresses.push(port.address().expect("bound"));
        tokio::spawn(port.serve(shutdown.clone()));
    }
    assert_ne!(addresses[0], addresses[1]);
    let range = FIRST_DEFAULT_PORT..FIRST_DEFAULT_PORT + DEFAULT_PORTS;
    for address in &addresses {
        assert!(address.ip().is_loopback(), "{address}");
        assert!(range.contains(&address.port()), "{address}");
        let answer = healthz(*address).await;
        assert!(answer.starts_with("HTTP/1.1 200"), "{address}: {answer}");
        assert!(answer.ends_with("ok"), "{address}: {answer}");
    }
    shutdown.cancel();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_taken_address_set_by_the_operator_is_a_clear_error() {
    let db = TestDb::new().await.expect("test database");
    let bus = TestBus::new().await.expect("test bus");
    let taken = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a port to hold");
    let address = taken.local_addr().expect("bound");
    let refused = OpsPort::bind(&config(&db, &bus, Some(address))).await;
    let Err(error @ OpsError::Bind(_)) = refused else {
        panic!("binding a taken address must fail");
    };
    let message = error.to_string();
    for part in [
        address.to_string().as_str(),
        "IMAGEFLEET_METRICS_BIND",
        "in use",
    ] {
        assert!(message.contains(part), "{part:?} missing in: {message}");
    }
}
