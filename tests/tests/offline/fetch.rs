//! The SSRF-safe fetcher against a real HTTP server on 127.0.0.1: exact bytes when the
//! loopback address and the port are allowed, refusals without the allowance and on
//! redirects to places the first URL could not name, the redirect limit, statuses, the
//! byte cap with and without `Content-Length`, and the deadline on a stalled body.
//! These tests need neither Postgres nor RabbitMQ.

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, Query};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use fetch::{AddressClass, FetchError, FetchedBody, ImportFilter, SafeFetcher, UrlRefusal};
use futures::{StreamExt, TryStreamExt, stream};
use std::collections::HashMap;
use std::convert::Infallible;
use std::time::Duration;
use tokio::net::TcpListener;

/// Size of the image the source serves.
const IMAGE_LEN: usize = 100_000;

fn image() -> Vec<u8> {
    (0..IMAGE_LEN).map(|i| (i % 251) as u8).collect()
}

/// The source: `/image`, `/big/{n}` (n bytes with Content-Length), `/stream/{n}` (n bytes
/// chunked, no Content-Length), `/stall` (one chunk, then nothing), `/chain/{n}` (n
/// relative redirects, then the image), `/redirect?to=URL`; anything else 404.
async fn start_source() -> u16 {
    let app = Router::new()
        .route("/image", get(|| async { image() }))
        .route(
            "/big/{n}",
            get(|Path(n): Path<usize>| async move { vec![7u8; n] }),
        )
        .route(
            "/stream/{n}",
            get(|Path(n): Path<usize>| async move {
                let chunks = stream::iter(
                    (0..n)
                        .step_by(100)
                        .map(move |start| Ok::<_, Infallible>(vec![7u8; (n - start).min(100)])),
                );
                Body::from_stream(chunks)
            }),
        )
        .route(
            "/stall",
            get(|| async {
                let first = stream::once(async { Ok::<_, Infallible>(vec![1u8; 10]) });
                Body::from_stream(first.chain(stream::pending()))
            }),
        )
        .route(
            "/chain/{n}",
            get(|Path(n): Path<u32>| async move {
                if n == 0 {
                    image().into_response()
                } else {
                    Redirect::temporary(&format!("../chain/{}", n - 1)).into_response()
                }
            }),
        )
        .route(
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

/// A filter that allows the test source (127.0.0.1 on its port) and nothing else.
fn allowing_source(port: u16) -> ImportFilter {
    ImportFilter::default()
        .allow_host("127.0.0.1")
        .allow_port(port)
}

fn fetcher(filter: ImportFilter, max_bytes: u64, max_redirects: usize) -> SafeFetcher {
    SafeFetcher::new(filter, max_bytes, Duration::from_secs(60), max_redirects)
}

async fn collect(body: FetchedBody) -> Result<Vec<u8>, FetchError> {
    body.map_ok(|chunk| chunk.to_vec()).try_concat().await
}

fn refusal(result: Result<FetchedBody, FetchError>) -> UrlRefusal {
    match result {
        Err(FetchError::Refused(refusal)) => refusal,
        Err(other) => panic!("expected a refusal, got {other:?}"),
        Ok(body) => panic!("expected a refusal, got a body from {}", body.url()),
    }
}

#[tokio::test]
async fn streams_the_exact_bytes_when_loopback_and_the_port_are_allowed() {
    let port = start_source().await;
    let body = fetcher(allowing_source(port), 1 << 20, 5)
        .open(&format!("http://127.0.0.1:{port}/image"))
        .await
        .expect("open");
    assert_eq!(body.content_length, Some(IMAGE_LEN as u64));
    let bytes = collect(body).await.expect("body");
    assert_eq!(bytes, image());
}

#[tokio::test]
async fn loopback_is_refused_without_the_allowance() {
    let port = start_source().await;
    let url = format!("http://127.0.0.1:{port}/image");
    let only_port = ImportFilter::default().allow_port(port);
    let refused = refusal(fetcher(only_port, 1 << 20, 5).open(&url).await);
    assert!(
        matches!(
            refused,
            UrlRefusal::Address {
                class: AddressClass::Loopback,
                ..
            }
        ),
        "{refused:?}"
    );
    // The host allowed but not the port.
    let only_host = ImportFilter::default().allow_host("127.0.0.1");
    let refused = refusal(fetcher(only_host, 1 << 20, 5).open(&url).await);
    assert_eq!(refused, UrlRefusal::Port(port));
}

#[tokio::test]
async fn every_redirect_is_checked_again() {
    let port = start_source().await;
    let fetcher = fetcher(allowing_source(port), 1 << 20, 5);
    let other_port = if port == u16::MAX { port - 1 } else { port + 1 };
    for (target, expected) in [
        (
            format!("http://127.0.0.2:{port}/image"),
            UrlRefusal::HostNotAllowed("127.0.0.2".to_owned()),
        ),
        (
            "http://169.254.169.254/latest/meta-data/".to_owned(),
            UrlRefusal::HostNotAllowed("169.254.169.254".to_owned()),
        ),
        (
            format!("http://localhost:{port}/image"),
            UrlRefusal::HostNotAllowed("localhost".to_owned()),
        ),
        (
            format!("http://127.0.0.1:{other_port}/image"),
            UrlRefusal::Port(other_port),
        ),
        (
            format!("ftp://127.0.0.1:{port}/image"),
            UrlRefusal::Scheme("ftp".to_owned()),
        ),
    ] {
        let url = format!("http://127.0.0.1:{port}/redirect?to={target}");
        assert_eq!(refusal(fetcher.open(&url).await), expected, "{target}");
    }
    // With an empty allowed list the address classes apply to redirects as to URLs
    // (checked without a request: the first hop is refused before any connection).
    let open = ImportFilter::default().allow_port(port);
    assert!(matches!(
        open.check_url("http://0xa9fea9fe/latest/meta-data/"),
        Err(UrlRefusal::Address {
            class: AddressClass::Metadata,
            ..
        })
    ));
}

#[tokio::test]
async fn redirects_are_followed_up_to_the_limit() {
    let port = start_source().await;
    let body = fetcher(allowing_source(port), 1 << 20, 3)
        .open(&format!("http://127.0.0.1:{port}/chain/3"))
        .await
        .expect("three redirects are allowed");
    assert_eq!(body.url().path(), "/chain/0");
    assert_eq!(collect(body).await.expect("body"), image());

    for (limit, chain) in [(3, 4), (0, 1)] {
        let error = fetcher(allowing_source(port), 1 << 20, limit)
            .open(&format!("http://127.0.0.1:{port}/chain/{chain}"))
            .await
            .expect_err("one redirect too many");
        assert!(
            matches!(error, FetchError::TooManyRedirects { limit: l } if l == limit),
            "{error:?}"
        );
        assert!(error.is_refusal());
    }
}

#[tokio::test]
async fn a_missing_source_is_a_status_error() {
    let port = start_source().await;
    let error = fetcher(allowing_source(port), 1 << 20, 5)
        .open(&format!("http://127.0.0.1:{port}/no-such-image"))
        .await
        .expect_err("404");
    assert!(matches!(error, FetchError::Status(404)), "{error:?}");
    assert!(!error.is_refusal());
}

#[tokio::test]
async fn a_body_over_the_cap_is_refused_with_or_without_content_length() {
    let port = start_source().await;
    let source = allowing_source(port);
    // Announced: refused before any byte is read.
    let announced = format!("http://127.0.0.1:{port}/big/2000");
    let error = fetcher(source.clone(), 1999, 5)
        .open(&announced)
        .await
        .expect_err("announced too large");
    assert!(
        matches!(error, FetchError::TooLarge { limit: 1999 }),
        "{error:?}"
    );
    let exact = fetcher(source.clone(), 2000, 5).open(&announced).await;
    assert_eq!(
        collect(exact.expect("open")).await.expect("body").len(),
        2000
    );

    // Chunked: the stream stops once more than the cap has arrived.
    let chunked = format!("http://127.0.0.1:{port}/stream/2000");
    let body = fetcher(source.clone(), 1999, 5)
        .open(&chunked)
        .await
        .expect("no length announced");
    assert_eq!(body.content_length, None);
    let error = collect(body).await.expect_err("too large while streaming");
    assert!(
        matches!(error, FetchError::TooLarge { limit: 1999 }),
        "{error:?}"
    );
    let exact = fetcher(source, 2000, 5).open(&chunked).await;
    assert_eq!(
        collect(exact.expect("open")).await.expect("body").len(),
        2000
    );
}

#[tokio::test]
async fn localhost_is_refused_unless_allowed() {
    let port = start_source().await;
    let url = format!("http://localhost:{port}/image");
    let refused = refusal(
        fetcher(ImportFilter::default().allow_port(port), 1 << 20, 5)
            .open(&url)
            .await,
    );
    assert_eq!(refused, UrlRefusal::LocalName("localhost".to_owned()));

    // Allowed by name: its loopback answers are exempt, and one of them is the source.
    let allowed = ImportFilter::default()
        .allow_host("localhost")
        .allow_port(port);
    let body = fetcher(allowed, 1 << 20, 5).open(&url).await.expect("open");
    assert_eq!(collect(body).await.expect("body"), image());
}

#[tokio::test]
async fn a_stalled_download_times_out() {
    let port = start_source().await;
    let fetcher = SafeFetcher::new(
        allowing_source(port),
        1 << 20,
        Duration::from_millis(300),
        5,
    );
    // The source never finishes, so the deadline ends it: while opening or while
    // streaming, depending on how fast the headers came.
    let outcome = match fetcher
        .open(&format!("http://127.0.0.1:{port}/stall"))
        .await
    {
        Ok(body) => collect(body).await.map(|_| ()),
        Err(error) => Err(error),
    };
    assert!(
        matches!(outcome, Err(FetchError::TimedOut(_))),
        "{outcome:?}"
    );
}

#[tokio::test]
async fn https_sets_up_tls_at_run_time() {
    // The TLS stack (rustls with reqwest's aws-lc-rs provider) must initialise without a
    // process-wide provider being installed: a plain-HTTP source then fails the handshake
    // as a transport error, not a panic.
    let port = start_source().await;
    let error = fetcher(allowing_source(port), 1 << 20, 5)
        .open(&format!("https://127.0.0.1:{port}/image"))
        .await
        .expect_err("no TLS on the source");
    assert!(matches!(error, FetchError::Transport(_)), "{error:?}");
    assert!(!error.to_string().contains("127.0.0.1"), "{error}");
}
