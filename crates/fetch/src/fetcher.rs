//! [`SafeFetcher`]: opens a user-supplied URL without letting it reach what the service
//! can reach. Each hop (the URL, then each redirect) is checked in full by the
//! [`ImportFilter`], its host resolved once, every answer checked, and the connection made
//! only to those checked addresses; redirects are followed by hand, up to a limit; one
//! deadline covers the whole download and a byte cap covers the body.

use super::body::FetchedBody;
use super::filter::{ImportFilter, UrlRefusal};
use super::resolve::{Resolve, SystemResolver};
use std::fmt;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;
use url::{Host, Url};

/// Why a download could not be opened or did not finish.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// The URL, a redirect, or an address a host resolved to is not allowed.
    #[error(transparent)]
    Refused(#[from] UrlRefusal),
    /// The source redirected more often than allowed.
    #[error("the URL redirected more than {limit} times")]
    TooManyRedirects {
        /// The configured limit.
        limit: usize,
    },
    /// A redirect without a usable `Location`.
    #[error("the server answered {status} without a valid Location to redirect to")]
    BadRedirect {
        /// The redirect's status code.
        status: u16,
    },
    /// The final answer was not a 2xx (404: the source does not exist).
    #[error("the server answered {0}")]
    Status(u16),
    /// The body is (or was announced to be) larger than the cap.
    #[error("the data is larger than {limit} bytes")]
    TooLarge {
        /// The cap in bytes.
        limit: u64,
    },
    /// The whole download (redirects and body included) took longer than allowed.
    #[error("the download did not finish within {} seconds", .0.as_secs())]
    TimedOut(Duration),
    /// The host name could not be resolved (or resolved to nothing).
    #[error("the host '{host}' could not be resolved: {source}")]
    Resolve {
        /// The host name.
        host: String,
        /// The resolver's error.
        #[source]
        source: io::Error,
    },
    /// Connecting, TLS, or reading failed. The error carries no URL: URLs may hold
    /// credentials (userinfo, presigned query strings) that must not reach logs.
    #[error("the download failed: {0}")]
    Transport(#[source] reqwest::Error),
}

impl FetchError {
    /// Whether the URL itself is at fault (refused by policy, or redirecting too often):
    /// a 400 where it is answered synchronously, a permanent failure otherwise.
    pub fn is_refusal(&self) -> bool {
        matches!(self, Self::Refused(_) | Self::TooManyRedirects { .. })
    }

    pub(super) fn transport(error: reqwest::Error) -> Self {
        Self::Transport(error.without_url())
    }
}

/// Opens image downloads from user-supplied URLs under an [`ImportFilter`], a byte cap, a
/// whole-download timeout and a redirect limit. Cheap to clone; holds no connections.
#[derive(Clone)]
pub struct SafeFetcher {
    filter: ImportFilter,
    max_bytes: u64,
    timeout: Duration,
    max_redirects: usize,
    resolver: Arc<dyn Resolve>,
}

impl fmt::Debug for SafeFetcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SafeFetcher")
            .field("filter", &self.filter)
            .field("max_bytes", &self.max_bytes)
            .field("timeout", &self.timeout)
            .field("max_redirects", &self.max_redirects)
            .finish_non_exhaustive()
    }
}

impl SafeFetcher {
    /// A fetcher that refuses bodies over `max_bytes`, gives up after `timeout` (whole
    /// download), and follows at most `max_redirects` redirects; names are resolved by the
    /// system resolver.
    pub fn new(
        filter: ImportFilter,
        max_bytes: u64,
        timeout: Duration,
        max_redirects: usize,
    ) -> Self {
        Self {
            filter,
            max_bytes,
            timeout,
            max_redirects,
            resolver: Arc::new(SystemResolver),
        }
    }

    /// The same fetcher resolving names with `resolver` (tests, or a caching resolver).
    pub fn with_resolver(mut self, resolver: Arc<dyn Resolve>) -> Self {
        self.resolver = resolver;
        self
    }

    /// The URL policy this fetcher applies (the gateway checks URLs with it before 202).
    pub fn filter(&self) -> &ImportFilter {
        &self.filter
    }

    /// Checks `url`, follows its redirects (each checked again), and returns the body of
    /// the final 2xx answer as a capped stream. Refused hops, a non-2xx answer, an
    /// announced `Content-Length` over the cap, and the deadline all fail here.
    pub async fn open(&self, url: &str) -> Result<FetchedBody, FetchError> {
        // One deadline for everything: the hops here, then the body stream.
        let deadline = Instant::now() + self.timeout;
        match tokio::time::timeout_at(deadline, self.follow(url, deadline)).await {
            Ok(result) => result,
            Err(_) => Err(FetchError::TimedOut(self.timeout)),
        }
    }

    async fn follow(&self, raw: &str, deadline: Instant) -> Result<FetchedBody, FetchError> {
        let mut url = self.filter.check_url(raw)?;
        let mut redirects = 0;
        loop {
            let response = self.hop(&url).await?;
            let status = response.status();
            if matches!(status.as_u16(), 301 | 302 | 303 | 307 | 308) {
                if redirects == self.max_redirects {
                    return Err(FetchError::TooManyRedirects {
                        limit: self.max_redirects,
                    });
                }
                redirects += 1;
                // Relative locations resolve against the current hop, then the result is
                // checked exactly like a URL the user sent (scheme, port, host, address).
                let next = response
                    .headers()
                    .get(reqwest::header::LOCATION)
                    .and_then(|value| value.to_str().ok())
                    .and_then(|location| url.join(location).ok())
                    .ok_or(FetchError::BadRedirect {
                        status: status.as_u16(),
                    })?;
                url = self.filter.check_url(next.as_str())?;
                continue;
            }
            if !status.is_success() {
                return Err(FetchError::Status(status.as_u16()));
            }
            if let Some(length) = response.content_length()
                && length > self.max_bytes
            {
                return Err(FetchError::TooLarge {
                    limit: self.max_bytes,
                });
            }
            return Ok(FetchedBody::new(
                response,
                self.max_bytes,
                deadline,
                self.timeout,
            ));
        }
    }

    /// One request to an already checked URL: resolve a name once, check every answer,
    /// and pin the connection to those addresses.
    async fn hop(&self, url: &Url) -> Result<reqwest::Response, FetchError> {
        let port = url.port_or_known_default().ok_or(UrlRefusal::NoHost)?;
        let mut builder = reqwest::Client::builder()
            // Redirects are followed by hand so each one is checked; a proxy would do its
            // own DNS and defeat the pinning; the Referer would leak the URL onwards.
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .referer(false)
            .user_agent(concat!("imagefleet/", env!("CARGO_PKG_VERSION")))
            // Names are only ever connected through the pinned answers below; anything
            // else fails instead of reaching the system resolver.
            .dns_resolver(Arc::new(PinnedOnly));
        if let Some(Host::Domain(name)) = url.host() {
            let addrs: Vec<SocketAddr> = self
                .resolve_checked(name)
                .await?
                .into_iter()
                .map(|ip| SocketAddr::new(ip, port))
                .collect();
            // A client per hop, so the pin is exactly this hop's checked answer. The URL
            // keeps the name: Host header, SNI and certificate checks still use it.
            builder = builder.resolve_to_addrs(name, &addrs);
        }
        let client = builder.build().map_err(FetchError::transport)?;
        client
            .get(url.clone())
            .send()
            .await
            .map_err(FetchError::transport)
    }

    /// Resolves `host` once and checks every answer. One refused answer refuses the whole
    /// URL rather than picking an allowed one: a name that mixes public and internal
    /// addresses is a rebinding attempt or a misconfiguration, and the outcome should not
    /// depend on the order a resolver happens to return.
    async fn resolve_checked(&self, host: &str) -> Result<Vec<IpAddr>, FetchError> {
        let resolve_error = |source| FetchError::Resolve {
            host: host.to_owned(),
            source,
        };
        let ips = self
            .resolver
            .lookup(host.to_owned())
            .await
            .map_err(resolve_error)?;
        if ips.is_empty() {
            return Err(resolve_error(io::Error::new(
                io::ErrorKind::NotFound,
                "no addresses",
            )));
        }
        for ip in &ips {
            self.filter.check_address(host, *ip)?;
        }
        Ok(ips)
    }
}

/// reqwest's resolver for names that were not pinned: there should be none, and if there
/// were, failing is the safe answer.
struct PinnedOnly;

impl reqwest::dns::Resolve for PinnedOnly {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let message = format!("'{}' was not resolved by the import guard", name.as_str());
        Box::pin(async move { Err(message.into()) })
    }
}
