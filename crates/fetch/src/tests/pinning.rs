//! The fetcher connects only to the addresses it checked: its one lookup per hop goes
//! through a substitutable resolver, here one whose answer changes after the first call
//! (DNS rebinding), with real HTTP servers on 127.0.0.1 and 127.0.0.2.

use crate::{AddressClass, FetchError, ImportFilter, Resolve, SafeFetcher, UrlRefusal};
use futures::TryStreamExt;
use futures::future::BoxFuture;
use std::io;
use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::mpsc;

/// Answers call `n` with `answers[n]` (the last one once they run out) and counts calls.
pub(super) struct ScriptedResolver {
    answers: Vec<Vec<IpAddr>>,
    calls: AtomicUsize,
}

impl ScriptedResolver {
    pub(super) fn new(answers: Vec<Vec<IpAddr>>) -> Arc<Self> {
        Arc::new(Self {
            answers,
            calls: AtomicUsize::new(0),
        })
    }

    pub(super) fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }
}

impl Resolve for ScriptedResolver {
    fn lookup(&self, _host: String) -> BoxFuture<'static, io::Result<Vec<IpAddr>>> {
        let call = self.calls.fetch_add(1, Ordering::SeqCst);
        let answer = self
            .answers
            .get(call)
            .or(self.answers.last())
            .cloned()
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "no such host"));
        Box::pin(async move { answer })
    }
}

/// Serves `body` to every connection on `listener` and reports each request head.
fn serve(listener: TcpListener, body: &'static [u8]) -> mpsc::UnboundedReceiver<String> {
    let (heads, seen) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let heads = heads.clone();
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut buf = [0u8; 1024];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match socket.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                let _ = heads.send(String::from_utf8_lossy(&head).to_lowercase());
                let status = format!(
                    "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                );
                let _ = socket.write_all(status.as_bytes()).await;
                let _ = socket.write_all(body).await;
                let _ = socket.shutdown().await;
            });
        }
    });
    seen
}

fn fetcher(filter: ImportFilter, resolver: Arc<ScriptedResolver>) -> SafeFetcher {
    SafeFetcher::new(filter, 1 << 20, Duration::from_secs(60), 5).with_resolver(resolver)
}

#[tokio::test]
async fn a_dns_answer_that_changes_after_the_check_is_never_connected_to() {
    let checked = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = checked.local_addr().expect("addr").port();
    // The same port on another loopback address: where a second lookup would lead.
    let rebound = TcpListener::bind(("127.0.0.2", port))
        .await
        .expect("bind 127.0.0.2");
    let mut checked_heads = serve(checked, b"from the checked address");
    let mut rebound_heads = serve(rebound, b"from the rebound address");
    let resolver = ScriptedResolver::new(vec![
        vec![[127, 0, 0, 1].into()],
        vec![[127, 0, 0, 2].into()],
    ]);
    let filter = ImportFilter::default()
        .allow_host("images.test")
        .allow_port(port);

    let body = fetcher(filter, resolver.clone())
        .open(&format!("http://images.test:{port}/image"))
        .await
        .expect("open");
    let bytes: Vec<u8> = body
        .map_ok(|chunk| chunk.to_vec())
        .try_concat()
        .await
        .expect("body");

    assert_eq!(bytes, b"from the checked address");
    assert_eq!(resolver.calls(), 1, "one lookup per hop");
    // The request still named the host (Host header; SNI and certificates likewise).
    let head = checked_heads
        .recv()
        .await
        .expect("a request reached 127.0.0.1");
    assert!(
        head.contains(&format!("host: images.test:{port}")),
        "{head}"
    );
    assert!(rebound_heads.try_recv().is_err(), "127.0.0.2 was contacted");
}

#[tokio::test]
async fn one_refused_answer_refuses_the_whole_name() {
    let resolver =
        ScriptedResolver::new(vec![vec![[93, 184, 216, 34].into(), [10, 0, 0, 1].into()]]);
    let error = fetcher(ImportFilter::default(), resolver.clone())
        .open("http://mixed.test/image")
        .await
        .expect_err("refused");
    assert!(error.is_refusal(), "{error:?}");
    match error {
        FetchError::Refused(UrlRefusal::ResolvedAddress { host, ip, class }) => {
            assert_eq!(host, "mixed.test");
            assert_eq!(ip, IpAddr::from([10, 0, 0, 1]));
            assert_eq!(class, AddressClass::Private);
        }
        other => panic!("expected a resolved-address refusal, got {other:?}"),
    }
}

#[tokio::test]
async fn a_name_resolving_to_the_metadata_service_is_refused() {
    let resolver = ScriptedResolver::new(vec![vec!["fd00:ec2::254".parse().expect("ip")]]);
    let error = fetcher(ImportFilter::default(), resolver)
        .open("http://metadata.test/latest/")
        .await
        .expect_err("refused");
    assert!(
        matches!(
            error,
            FetchError::Refused(UrlRefusal::ResolvedAddress {
                class: AddressClass::Metadata,
                ..
            })
        ),
        "{error:?}"
    );
}

#[tokio::test]
async fn lookup_failures_and_empty_answers_are_not_refusals() {
    for answers in [vec![], vec![vec![]]] {
        let error = fetcher(ImportFilter::default(), ScriptedResolver::new(answers))
            .open("http://nowhere.test/")
            .await
            .expect_err("unresolvable");
        assert!(matches!(error, FetchError::Resolve { .. }), "{error:?}");
        assert!(!error.is_refusal());
    }
}

#[tokio::test]
async fn literal_addresses_are_not_looked_up() {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let _heads = serve(listener, b"literal");
    let resolver = ScriptedResolver::new(vec![vec![[127, 0, 0, 2].into()]]);
    let filter = ImportFilter::default()
        .allow_host("127.0.0.1")
        .allow_port(port);
    let body = fetcher(filter, resolver.clone())
        .open(&format!("http://127.0.0.1:{port}/"))
        .await
        .expect("open");
    assert_eq!(body.content_length, Some(7));
    assert_eq!(resolver.calls(), 0);
}
