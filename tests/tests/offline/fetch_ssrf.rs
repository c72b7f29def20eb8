//! Issue 9's SSRF set as redirect targets: a source the import filter allows (127.0.0.1
//! on its port) redirects to every address class an import must not reach, in the
//! spellings a `Location` header can use, and the fetcher refuses each hop before
//! connecting to it. The same addresses as URLs and as DNS answers are tested in
//! `crates/fetch/src/tests/ssrf_set.rs`. Needs neither Postgres nor RabbitMQ.

use axum::Router;
use axum::body::Body;
use axum::extract::Query;
use axum::http::{StatusCode, header};
use axum::response::Response;
use axum::routing::get;
use fetch::{FetchError, ImportFilter, SafeFetcher, UrlRefusal};
use std::collections::HashMap;
use std::time::Duration;
use tokio::net::TcpListener;

/// A source on 127.0.0.1 whose `/redirect?to=X` answers 302 with `Location: X`.
async fn redirecting_source() -> u16 {
    let app = Router::new().route(
        "/redirect",
        get(|Query(query): Query<HashMap<String, String>>| async move {
            let to = query.get("to").cloned().unwrap_or_default();
            Response::builder()
                .status(StatusCode::FOUND)
                .header(header::LOCATION, to)
                .body(Body::empty())
                .expect("redirect response")
        }),
    );
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    tokio::spawn(async move { axum::serve(listener, app).await });
    port
}

/// Percent-encodes everything but letters and digits, for a query value.
fn encoded(value: &str) -> String {
    value
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// `Location` values and the absolute URL each one means from the source. Loopback
/// targets avoid 127.0.0.1 itself, which the filter allows for the test source.
const TARGETS: [(&str, &str); 24] = [
    ("http://127.0.0.2/", "http://127.0.0.2/"),
    ("http://0x7f.2/", "http://0x7f.2/"),
    ("http://2130706434/", "http://2130706434/"),
    ("http://[::1]/", "http://[::1]/"),
    ("http://localhost/", "http://localhost/"),
    ("http://images.localhost/", "http://images.localhost/"),
    ("http://10.0.0.1/", "http://10.0.0.1/"),
    ("http://172.16.0.1/", "http://172.16.0.1/"),
    ("http://192.168.1.1/", "http://192.168.1.1/"),
    ("http://100.64.0.1/", "http://100.64.0.1/"),
    ("http://[fd00::1]/", "http://[fd00::1]/"),
    ("http://169.254.0.1/", "http://169.254.0.1/"),
    (
        "http://169.254.169.254/latest/meta-data/",
        "http://169.254.169.254/latest/meta-data/",
    ),
    ("http://0xa9fea9fe/", "http://0xa9fea9fe/"),
    ("http://[fe80::1]/", "http://[fe80::1]/"),
    ("http://[fd00:ec2::254]/", "http://[fd00:ec2::254]/"),
    (
        "http://[::ffff:169.254.169.254]/",
        "http://[::ffff:169.254.169.254]/",
    ),
    (
        "http://[64:ff9b::a9fe:a9fe]/",
        "http://[64:ff9b::a9fe:a9fe]/",
    ),
    ("http://0.0.0.0/", "http://0.0.0.0/"),
    ("http://[::]/", "http://[::]/"),
    // Spellings that only a Location header can use, or that parsers disagree on.
    ("//169.254.169.254/latest", "http://169.254.169.254/latest"),
    (
        "http:\\\\169.254.169.254\\latest",
        "http://169.254.169.254/latest",
    ),
    (
        "http://127.0.0.1@169.254.169.254/",
        "http://169.254.169.254/",
    ),
    ("https://169.254.169.254/", "https://169.254.169.254/"),
];

#[tokio::test]
async fn a_redirect_to_any_address_of_the_set_is_refused_before_connecting() {
    let port = redirecting_source().await;
    let source = ImportFilter::default()
        .allow_host("127.0.0.1")
        .allow_port(port);
    let fetcher = SafeFetcher::new(source, 1 << 20, Duration::from_secs(30), 5);
    // Without the operator's allowance for the test source, every target is refused for
    // its address class on its own (ports aside: redirects may name any port).
    let classes = ImportFilter::default().with_allowed_ports([]);
    for (location, meaning) in TARGETS {
        let url = format!("http://127.0.0.1:{port}/redirect?to={}", encoded(location));
        match fetcher.open(&url).await {
            // The allowed list names only the source, so the hop is refused before any
            // lookup or connection.
            Err(FetchError::Refused(UrlRefusal::HostNotAllowed(_))) => {}
            Err(other) => panic!("{location}: expected a refused hop, got {other:?}"),
            Ok(body) => panic!("{location}: fetched {}", body.url()),
        }
        match classes.check_url(meaning) {
            Err(UrlRefusal::Address { .. } | UrlRefusal::LocalName(_)) => {}
            other => panic!("{meaning}: expected a class refusal, got {other:?}"),
        }
    }
}
