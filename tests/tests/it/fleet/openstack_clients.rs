//! The existing OpenStack clients against the service as `imagefleet up` runs it:
//! `tests/clients/test_clients.py` drives python-glanceclient's `glance` command and
//! openstacksdk (from PyPI) over HTTP, with no identity headers, as an operator would;
//! `test_copy_image.py` copies images between two named stores with both.
//! The service runs in-process through the library behind `imagefleet up`, parsed from
//! the same flags, on a database it creates and migrates itself and a RabbitMQ vhost
//! of its own (so it declares its default topology, as a fresh site does).

use std::process::Stdio;
use std::time::Duration;

use clap::Parser;
use imagefleet_cli::up::{DEVELOPMENT_PROJECT, UpArgs, run_until};
use imagefleet_tests::python::{client_script, python};
use imagefleet_tests::wait::wait_until;
use imagefleet_tests::{TestDb, TestVhost};
use tokio_util::sync::CancellationToken;

/// The token the client scripts send for an admin's requests (copy-image is admin-only).
const ADMIN_TOKEN: &str = "admin-token";

/// `imagefleet up`'s flags, as the binary parses them.
#[derive(Parser)]
struct Up {
    #[command(flatten)]
    args: UpArgs,
}

/// A port nobody listens on now (the service binds it a moment later).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free local port")
        .port()
}

#[tokio::test(flavor = "multi_thread")]
async fn glance_and_openstacksdk_drive_imagefleet_up() {
    run_clients("test_clients.py", &[]).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn glance_and_openstacksdk_use_named_stores() {
    run_clients("test_stores.py", &["fast", "cold"]).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn glance_and_openstacksdk_copy_an_image_between_stores() {
    run_clients("test_copy_image.py", &["fast", "cold"]).await;
}

/// Runs `tests/clients/<script>` against `imagefleet up`, with one local directory as
/// its store, or with a named store per id of `stores` (`--stores`, the first the
/// default), each a directory of the test's data directory.
async fn run_clients(script: &str, stores: &[&str]) {
    let python = python().await;
    let db = TestDb::reserve().await.expect("a database name");
    let vhost = TestVhost::new(db.name()).expect("a vhost of the test's own");
    let bind = format!("127.0.0.1:{}", free_port());
    let data_dir = db.data_dir().display().to_string();
    let amqp = vhost.url();
    let named = stores
        .iter()
        .map(|id| format!("{id}=file://{data_dir}/{id}"))
        .collect::<Vec<_>>()
        .join(",");
    let mut flags = vec![
        "up",
        "--database-url",
        db.url(),
        "--amqp-url",
        &amqp,
        "--bind",
        &bind,
        "--data-dir",
        &data_dir,
    ];
    if !stores.is_empty() {
        flags.extend(["--stores", &named]);
    }
    // Tokens for the clients: the ones sent without a real identity (the `glance`
    // runs' "unused", keystoneauth's no-auth "notused") act as `imagefleet up`'s
    // default identity, as a request without a token does; and an admin's.
    let token_file = db.data_dir().join("tokens.json");
    std::fs::create_dir_all(db.data_dir()).expect("the test's data directory");
    let member = serde_json::json!({
        "project_id": DEVELOPMENT_PROJECT,
        "user_id": format!("{DEVELOPMENT_PROJECT}-user"),
        "roles": ["member", "reader"],
    });
    let tokens = serde_json::json!({"tokens": {
        "unused": member,
        "notused": member,
        ADMIN_TOKEN: {"project_id": DEVELOPMENT_PROJECT, "user_id": "admin-user", "roles": ["admin", "member", "reader"]},
    }});
    std::fs::write(&token_file, tokens.to_string()).expect("the token file is written");
    let token_file = token_file.display().to_string();
    flags.extend(["--auth", "token-file", "--token-file", &token_file]);
    let up = imagefleet_tests::flags::parse_without_env::<Up>(flags)
        .expect("imagefleet up's flags parse");
    let shutdown = CancellationToken::new();
    let service = tokio::spawn(run_until(up.args, shutdown.clone()));

    // The gateway binds once the migrations ran and the workers started.
    wait_until(Duration::from_secs(60), "the gateway listens", async || {
        service.is_finished() || tokio::net::TcpStream::connect(&bind).await.is_ok()
    })
    .await
    .expect("imagefleet up starts");
    assert!(!service.is_finished(), "imagefleet up exited at start");

    let url = format!("http://{bind}");
    let script = client_script(script);
    let output = tokio::task::spawn_blocking(move || {
        std::process::Command::new(python)
            .arg(script)
            .arg(url)
            .stdin(Stdio::null())
            .output()
    })
    .await
    .expect("the client run finished")
    .expect("the client tests start");

    shutdown.cancel();
    let stopped = service.await.expect("the service task ends");
    assert!(
        output.status.success(),
        "the client tests failed:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    stopped.expect("imagefleet up stops cleanly on shutdown");
    drop(vhost);
}
