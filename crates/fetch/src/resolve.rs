//! The one DNS lookup the fetcher makes per hop, behind a small trait so a test can give
//! answers that change between calls and show that the connection goes only to the
//! address that was checked (what a DNS-rebinding attacker would try to change).

use futures::future::BoxFuture;
use std::io;
use std::net::IpAddr;

/// Resolves a host name to the addresses the fetcher checks and then connects to.
pub trait Resolve: Send + Sync + 'static {
    /// The addresses of `host`, a DNS name as a URL gives it (never a literal address).
    fn lookup(&self, host: String) -> BoxFuture<'static, io::Result<Vec<IpAddr>>>;
}

/// The system resolver (`getaddrinfo`, through tokio's blocking pool).
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemResolver;

impl Resolve for SystemResolver {
    fn lookup(&self, host: String) -> BoxFuture<'static, io::Result<Vec<IpAddr>>> {
        Box::pin(async move {
            // Port 0: only the addresses matter, the URL's port is put back by the caller.
            let addrs = tokio::net::lookup_host((host.as_str(), 0)).await?;
            Ok(addrs.map(|addr| addr.ip()).collect())
        })
    }
}
