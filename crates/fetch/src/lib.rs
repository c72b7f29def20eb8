//! Fetching image data from user-supplied URLs (web-download imports, added locations)
//! without letting the URL reach what the service itself can reach: Glance's
//! `[import_filtering_opts]` as a pure [`ImportFilter`], plus a [`SafeFetcher`] that
//! resolves each host once, checks every answer, connects only to the checked addresses,
//! follows redirects by hand (checking each hop again) and caps bytes and time.
//!
//! The pieces: `address` (which IP ranges are refused), `filter` (the URL check),
//! `config` (the `IMAGEFLEET_IMPORT_*` settings), `resolve` (the one DNS lookup per hop,
//! replaceable in tests), `fetcher` (the hops) and `body` (the capped body stream).

mod address;
mod body;
mod config;
mod fetcher;
mod filter;
mod resolve;

pub use address::{AddressClass, classify};
pub use body::FetchedBody;
pub use config::ImportFilterArgs;
pub use fetcher::{FetchError, SafeFetcher};
pub use filter::{ImportFilter, UrlRefusal};
pub use resolve::{Resolve, SystemResolver};

#[cfg(test)]
mod tests;
