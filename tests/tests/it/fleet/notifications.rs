//! Glance notifications received by a real oslo.messaging listener (SPEC 10): the
//! listener of `tests/clients/notification_listener.py` (oslo.messaging from PyPI, rabbit
//! driver, threading executor) consumes the test's own notifications exchange while a
//! workload goes through the gateway, and must decode image.create, image.update,
//! image.prepare, image.upload, image.activate, image.send (sent by the gateway after a
//! download) and image.delete for the image. The virtualenv comes from
//! `scripts/client-venv` (shared with `openstack_clients`).

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use axum::http::StatusCode;
use bus::connection::connect;
use imagefleet_tests::TestApp;
use imagefleet_tests::fixtures::owner;
use imagefleet_tests::python::{client_script, python};
use serde_json::{Value, json};
use tokio::sync::mpsc;

/// Long enough for the listener to start (the interpreter imports oslo.messaging) and
/// for the relay to publish; waits end as soon as the output arrives.
const DEADLINE: Duration = Duration::from_secs(60);

/// What the workload must produce, in the order Glance sends it.
const EXPECTED: [&str; 7] = [
    "image.create",
    "image.update",
    "image.prepare",
    "image.upload",
    "image.activate",
    "image.send",
    "image.delete",
];

/// The broker URL in oslo's spelling: `rabbit://`, vhost `/` as an empty path.
fn oslo_url(amqp_url: &str) -> String {
    let url = amqp_url.replacen("amqp://", "rabbit://", 1);
    url.strip_suffix("%2f")
        .or_else(|| url.strip_suffix("%2F"))
        .map_or(url.clone(), str::to_owned)
}

/// The listener process and its output lines (read by a thread: a pipe read blocks).
struct Listener {
    child: Child,
    lines: mpsc::UnboundedReceiver<String>,
}

impl Listener {
    /// The next JSON line, or None when the listener ended; panics at the deadline.
    async fn next_line(&mut self, deadline: tokio::time::Instant) -> Option<Value> {
        let line = tokio::time::timeout_at(deadline, self.lines.recv())
            .await
            .expect("the listener prints within the deadline")?;
        Some(serde_json::from_str(&line).unwrap_or_else(|_| panic!("a JSON line: {line}")))
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        // Our own child: stop it however the test ends.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn start_listener(app: &TestApp, queue: &str) -> Listener {
    let python = python().await;
    let notifications = app.bus.notifications();
    let mut child = Command::new(python)
        .arg(client_script("notification_listener.py"))
        .args(["--url", &oslo_url(app.bus.url())])
        .args(["--exchange", &notifications.exchange])
        .args(["--topic", &notifications.topic])
        .args(["--pool", queue])
        .args(["--count", "1000"])
        .args(["--deadline", &DEADLINE.as_secs().to_string()])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("the listener starts");
    let stdout = child.stdout.take().expect("stdout is piped");
    let (sender, lines) = mpsc::unbounded_channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if sender.send(line).is_err() {
                break;
            }
        }
    });
    let mut listener = Listener { child, lines };
    let deadline = tokio::time::Instant::now() + DEADLINE;
    let ready = listener.next_line(deadline).await;
    assert_eq!(
        ready,
        Some(json!({"ready": true})),
        "the listener is consuming"
    );
    listener
}

#[tokio::test(flavor = "multi_thread")]
async fn an_oslo_listener_receives_glances_notifications_for_an_image() {
    let app = TestApp::start().await;
    let queue = format!("{}.oslo-listener", app.bus.topology().prefix());
    let mut listener = start_listener(&app, &queue).await;

    let actor = owner();
    let body = json!({"name": "notified", "disk_format": "raw", "container_format": "bare"});
    let created = app.post_json("/v2/images", &actor, body).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    let id = created.json["id"].as_str().expect("an id").to_owned();
    let path = format!("/v2/images/{id}");
    let rename = json!([{"op": "replace", "path": "/name", "value": "renamed"}]);
    let patched = app.patch(&path, &actor, rename).await;
    assert_eq!(patched.status, StatusCode::OK, "{}", patched.text);
    let data = b"notification test data".to_vec();
    let size = data.len();
    let uploaded = app
        .request(
            axum::http::Method::PUT,
            &format!("{path}/file"),
            Some(&actor),
            Some(("application/octet-stream", data)),
        )
        .await;
    assert_eq!(uploaded.status, StatusCode::NO_CONTENT, "{}", uploaded.text);
    imagefleet_tests::wait::wait_until(DEADLINE, "the image is active", async || {
        app.get(&path, &actor).await.json["status"] == "active"
    })
    .await
    .expect("the upload completes");
    let downloaded = app.get(&format!("{path}/file"), &actor).await;
    assert_eq!(downloaded.status, StatusCode::OK, "{}", downloaded.text);
    let deleted = app.delete(&path, &actor).await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT, "{}", deleted.text);

    // Wait on the listener's output until every expected notification arrived.
    let deadline = tokio::time::Instant::now() + DEADLINE;
    let mut received: BTreeMap<String, Value> = BTreeMap::new();
    while !EXPECTED.iter().all(|t| received.contains_key(*t)) {
        let Some(line) = listener.next_line(deadline).await else {
            panic!("the listener ended early; it had {:?}", received.keys());
        };
        assert_ne!(
            line.get("timeout"),
            Some(&json!(true)),
            "listener gave up: {received:?}"
        );
        if line["id"] == json!(id) {
            let event_type = line["event_type"]
                .as_str()
                .expect("an event type")
                .to_owned();
            received.insert(event_type, line);
        }
    }
    drop(listener);

    let types: BTreeSet<&str> = received.keys().map(String::as_str).collect();
    eprintln!("the listener received, for image {id}: {types:?}");
    for event_type in EXPECTED {
        let line = &received[event_type];
        assert_eq!(line["priority"], "INFO", "{event_type}");
        assert_eq!(line["publisher_id"], "image.localhost", "{event_type}");
        let payload = &line["payload"];
        let about = payload.get("id").or_else(|| payload.get("image_id"));
        assert_eq!(about, Some(&json!(id)), "{event_type}");
        assert!(
            payload.get("locations").is_none(),
            "{event_type}: {payload}"
        );
    }
    assert_eq!(received["image.create"]["payload"]["status"], "queued");
    assert_eq!(received["image.update"]["payload"]["name"], "renamed");
    assert_eq!(received["image.prepare"]["payload"]["status"], "saving");
    let upload = &received["image.upload"]["payload"];
    assert_eq!(upload["size"], json!(size));
    assert!(upload["checksum"].is_string(), "{upload}");
    assert_eq!(received["image.activate"]["payload"]["status"], "active");
    let send = &received["image.send"]["payload"];
    assert_eq!(send["bytes_sent"], json!(size), "{send}");
    assert_eq!(
        send["receiver_tenant_id"],
        json!(actor.project_id),
        "{send}"
    );
    assert_eq!(send["receiver_user_id"], json!(actor.user_id), "{send}");
    assert_eq!(send["owner_id"], json!(actor.project_id), "{send}");
    assert_eq!(received["image.delete"]["payload"]["deleted"], json!(true));

    // The listener's queue is the test's to remove (the exchange goes with the TestBus).
    let connection = connect(app.bus.url(), "notifications-test-cleanup")
        .await
        .expect("connection");
    let channel = connection.create_channel().await.expect("channel");
    channel
        .queue_delete(queue.as_str().into(), Default::default())
        .await
        .expect("the listener's queue is deleted");
    let _ = connection.close(0, "done".into()).await;
    app.stop().await;
}
