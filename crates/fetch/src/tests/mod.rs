//! Tests of the import guard: the pure URL and address checks, the settings, and the
//! fetcher's DNS pinning (with a substituted resolver and real servers on loopback).
//! The HTTP behaviour (redirects, caps, statuses) is tested end to end in
//! `tests/tests/offline/fetch.rs`.

mod config;
mod filter;
mod pinning;
mod ssrf_set;
