//! Counting image data as it flows: the data routes wrap their body streams here, so
//! `imagefleet_bytes_uploaded_total` and `imagefleet_bytes_downloaded_total` rise chunk
//! by chunk while a transfer runs (a long upload shows on the dashboard as it happens,
//! and an interrupted one still counts the bytes that did pass).

use axum::body::Bytes;
use futures::{Stream, StreamExt};
use shared::metrics::{BYTES_DOWNLOADED, BYTES_UPLOADED};

/// `data`, adding each chunk received from a client to `imagefleet_bytes_uploaded_total`.
pub fn uploaded<E>(
    data: impl Stream<Item = Result<Bytes, E>>,
) -> impl Stream<Item = Result<Bytes, E>> {
    counted(data, metrics::counter!(BYTES_UPLOADED))
}

/// `data`, adding each chunk sent to a client to `imagefleet_bytes_downloaded_total`.
/// Counted when the body pulls the chunk, i.e. as it is written to the connection.
pub fn downloaded<E>(
    data: impl Stream<Item = Result<Bytes, E>>,
) -> impl Stream<Item = Result<Bytes, E>> {
    counted(data, metrics::counter!(BYTES_DOWNLOADED))
}

fn counted<E>(
    data: impl Stream<Item = Result<Bytes, E>>,
    counter: metrics::Counter,
) -> impl Stream<Item = Result<Bytes, E>> {
    data.inspect(move |chunk| {
        if let Ok(bytes) = chunk {
            counter.increment(u64::try_from(bytes.len()).unwrap_or(u64::MAX));
        }
    })
}
