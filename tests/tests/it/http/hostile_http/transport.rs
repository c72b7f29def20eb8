//! Hostile input only a real HTTP connection carries: headers past hyper's limits and
//! raw bytes in the request line. The gateway is served on 127.0.0.1 as `serve` does
//! (plain `axum::serve`), and each request is written byte for byte on a TCP socket.

use imagefleet_tests::TestApp;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Writes `request` and returns the status code of the answer's first line.
async fn status_of(address: std::net::SocketAddr, request: &[u8]) -> u16 {
    let mut socket = tokio::net::TcpStream::connect(address)
        .await
        .expect("the served gateway accepts connections");
    // The server may answer and close before it has read everything we send.
    let _ = socket.write_all(request).await;
    let mut answer = Vec::new();
    let _ = socket.read_to_end(&mut answer).await;
    let line = String::from_utf8_lossy(&answer);
    line.split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| {
            panic!(
                "an HTTP status line, got {:?}",
                &line[..line.len().min(200)]
            )
        })
}

#[tokio::test(flavor = "multi_thread")]
async fn oversized_headers_and_raw_bytes_in_the_request_line_are_4xx() {
    let app = TestApp::start().await;
    let address = app.serve().await;

    let huge = format!(
        "GET /v2/images HTTP/1.1\r\nHost: x\r\nX-Roles: {}\r\nConnection: close\r\n\r\n",
        "r".repeat(1 << 20)
    );
    let many: String = (0..500).map(|n| format!("X-Filler-{n}: v\r\n")).collect();
    let many = format!("GET /v2/images HTTP/1.1\r\nHost: x\r\n{many}Connection: close\r\n\r\n");
    let cases: [(&str, &[u8]); 4] = [
        ("a 1 MiB header", huge.as_bytes()),
        ("500 headers", many.as_bytes()),
        (
            "invalid UTF-8 in the path",
            b"GET /v2/images/\xff\xfe HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        ),
        (
            "a NUL in a header",
            b"GET /v2/images HTTP/1.1\r\nHost: x\r\nX-Roles: a\x00b\r\nConnection: close\r\n\r\n",
        ),
    ];
    for (name, request) in cases {
        let status = status_of(address, request).await;
        assert!((400..500).contains(&status), "{name}: got {status}");
    }
    app.stop().await;
}
