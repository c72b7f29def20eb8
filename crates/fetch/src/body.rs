//! [`FetchedBody`]: the body of a checked download as a stream of chunks that stops with an
//! error as soon as more than the byte cap has arrived or the download's deadline passes,
//! so a caller writing it to a store never holds more than one chunk too many.

use super::fetcher::FetchError;
use bytes::Bytes;
use futures::Stream;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::time::{Instant, Sleep};
use url::Url;

type ChunkStream = Pin<Box<dyn Stream<Item = reqwest::Result<Bytes>> + Send>>;

/// The body of a download's final 2xx answer: a [`Stream`] of chunks, capped in bytes and
/// in time. After an error the stream ends.
pub struct FetchedBody {
    /// The `Content-Length` the source announced (already known to be within the cap);
    /// `None` for a chunked or close-delimited body.
    pub content_length: Option<u64>,
    url: Url,
    chunks: Option<ChunkStream>,
    deadline: Pin<Box<Sleep>>,
    timeout: Duration,
    max_bytes: u64,
    received: u64,
}

impl std::fmt::Debug for FetchedBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FetchedBody")
            .field("content_length", &self.content_length)
            .field("max_bytes", &self.max_bytes)
            .field("received", &self.received)
            .finish_non_exhaustive()
    }
}

impl FetchedBody {
    pub(super) fn new(
        response: reqwest::Response,
        max_bytes: u64,
        deadline: Instant,
        timeout: Duration,
    ) -> Self {
        Self {
            content_length: response.content_length(),
            url: response.url().clone(),
            chunks: Some(Box::pin(response.bytes_stream())),
            deadline: Box::pin(tokio::time::sleep_until(deadline)),
            timeout,
            max_bytes,
            received: 0,
        }
    }

    /// The URL the body came from, after redirects. It may hold credentials: do not log it.
    pub fn url(&self) -> &Url {
        &self.url
    }

    /// Bytes received so far.
    pub fn received(&self) -> u64 {
        self.received
    }

    /// Ends the stream with `error`, dropping the connection at once.
    fn fail(&mut self, error: FetchError) -> Poll<Option<Result<Bytes, FetchError>>> {
        self.chunks = None;
        Poll::Ready(Some(Err(error)))
    }
}

impl Stream for FetchedBody {
    type Item = Result<Bytes, FetchError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        let Some(chunks) = this.chunks.as_mut() else {
            return Poll::Ready(None);
        };
        // The deadline first: a source that always has a chunk ready (a fast endless body)
        // must still be cut off, and polling it here also arms its wake-up.
        if this.deadline.as_mut().poll(cx).is_ready() {
            return this.fail(FetchError::TimedOut(this.timeout));
        }
        match chunks.as_mut().poll_next(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(None) => {
                this.chunks = None;
                Poll::Ready(None)
            }
            Poll::Ready(Some(Err(error))) => this.fail(FetchError::transport(error)),
            Poll::Ready(Some(Ok(chunk))) => {
                this.received = this.received.saturating_add(chunk.len() as u64);
                // Checked per chunk, before the chunk is handed on: a body without (or
                // lying about) its length is stopped as soon as it passes the cap.
                if this.received > this.max_bytes {
                    return this.fail(FetchError::TooLarge {
                        limit: this.max_bytes,
                    });
                }
                Poll::Ready(Some(Ok(chunk)))
            }
        }
    }
}
