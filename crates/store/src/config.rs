//! Where image data is: one local directory by default, one S3-compatible bucket, or
//! several named stores (`IMAGEFLEET_STORES`), parsed and checked here.

use super::stores::{NamedStore, StoreKind, Stores};
use super::{ImageStore, StoreError};
use clap::Args;
use std::path::PathBuf;
use std::time::Duration;

/// The image store's settings.
#[derive(Debug, Clone, Args)]
pub struct StoreArgs {
    /// Directory of the local store (images and staged data). Every gateway and worker
    /// of a deployment must see the same directory (a shared volume), or use
    /// `IMAGEFLEET_STORE_URL`.
    #[arg(long, env = "IMAGEFLEET_DATA_DIR", default_value = "imagefleet-data")]
    pub data_dir: PathBuf,
    /// An S3-compatible bucket instead of the local directory, e.g.
    /// `s3://images/prefix`; credentials, region and endpoint come from the usual
    /// `AWS_*` variables (`AWS_ENDPOINT` for MinIO or Ceph RGW).
    #[arg(long, env = "IMAGEFLEET_STORE_URL")]
    pub store_url: Option<String>,
    /// Several named stores instead of one (Glance's `enabled_backends`): a
    /// comma-separated list of `id=url`, each url a `file:///directory` or an
    /// `s3://bucket[/prefix]`, e.g. `fast=file:///srv/images,cold=s3://images`.
    #[arg(long, env = "IMAGEFLEET_STORES")]
    pub stores: Option<String>,
    /// The store that takes data when a request names none (default: the first of
    /// `IMAGEFLEET_STORES`); images written before stores had names are read from it.
    #[arg(long, env = "IMAGEFLEET_DEFAULT_STORE")]
    pub default_store: Option<String>,
    /// Descriptions that `GET /v2/info/stores` shows: `id=text` separated by `;`.
    #[arg(long, env = "IMAGEFLEET_STORE_DESCRIPTIONS")]
    pub store_descriptions: Option<String>,
    /// Seconds an S3 request, a download's resumptions included, is retried before
    /// the failure reaches the client (an S3 store only).
    #[arg(long, env = "IMAGEFLEET_STORE_RETRY_TIMEOUT", default_value_t = 180)]
    pub store_retry_timeout: u64,
}

/// One entry of `IMAGEFLEET_STORES`, checked but not opened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreSpec {
    /// The store's id.
    pub id: String,
    /// Where it is.
    pub location: StoreLocation,
    /// Its description, if configured.
    pub description: Option<String>,
}

/// Where a configured store is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreLocation {
    /// A local directory.
    Directory(PathBuf),
    /// An `s3://bucket[/prefix]` URL.
    S3(String),
}

impl StoreArgs {
    /// Opens the configured stores.
    pub fn open(&self) -> Result<Stores, StoreError> {
        let retry = Duration::from_secs(self.store_retry_timeout);
        let Some(list) = &self.stores else {
            if self.default_store.is_some() || self.store_descriptions.is_some() {
                return Err(StoreError::Open(
                    "IMAGEFLEET_DEFAULT_STORE and IMAGEFLEET_STORE_DESCRIPTIONS name stores of IMAGEFLEET_STORES, which is not set".into(),
                ));
            }
            return Ok(match &self.store_url {
                None => Stores::single(
                    ImageStore::local(&self.data_dir)?,
                    StoreKind::File {
                        dir: self.data_dir.clone(),
                    },
                ),
                Some(url) => Stores::single(open_url(url, retry)?, StoreKind::S3),
            });
        };
        if self.store_url.is_some() {
            return Err(StoreError::Open(
                "set IMAGEFLEET_STORES or IMAGEFLEET_STORE_URL, not both".into(),
            ));
        }
        let (specs, default) = parse_stores(
            list,
            self.default_store.as_deref(),
            self.store_descriptions.as_deref(),
        )?;
        let mut entries = Vec::with_capacity(specs.len());
        for spec in specs {
            let (store, kind) = match &spec.location {
                StoreLocation::Directory(dir) => (
                    ImageStore::local(dir)?,
                    StoreKind::File { dir: dir.clone() },
                ),
                StoreLocation::S3(url) => (open_url(url, retry)?, StoreKind::S3),
            };
            entries.push(NamedStore {
                id: spec.id,
                description: spec.description,
                kind,
                store,
            });
        }
        Ok(Stores::named(entries, default))
    }
}

/// Parses `IMAGEFLEET_STORES` (with the default's id and the descriptions): the
/// stores in order and the index of the default one.
pub fn parse_stores(
    list: &str,
    default: Option<&str>,
    descriptions: Option<&str>,
) -> Result<(Vec<StoreSpec>, usize), StoreError> {
    let bad = |message: String| StoreError::Open(format!("IMAGEFLEET_STORES: {message}"));
    let mut specs: Vec<StoreSpec> = Vec::new();
    for entry in list.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        let Some((id, url)) = entry.split_once('=') else {
            return Err(bad(format!("'{entry}' is not id=url")));
        };
        let (id, url) = (id.trim(), url.trim());
        check_id(id).map_err(bad)?;
        if specs.iter().any(|s| s.id == id) {
            return Err(bad(format!("the id '{id}' is given twice")));
        }
        let location = if let Some(path) = url.strip_prefix("file://") {
            if !path.starts_with('/') {
                return Err(bad(format!(
                    "store '{id}': '{url}' needs an absolute path, as in file:///srv/images"
                )));
            }
            StoreLocation::Directory(PathBuf::from(path))
        } else if url.starts_with("s3://") && url.len() > "s3://".len() {
            StoreLocation::S3(url.to_owned())
        } else {
            return Err(bad(format!(
                "store '{id}': '{url}' is neither file:///directory nor s3://bucket[/prefix]"
            )));
        };
        specs.push(StoreSpec {
            id: id.to_owned(),
            location,
            description: None,
        });
    }
    if specs.is_empty() {
        return Err(bad("no store is listed".into()));
    }
    for entry in descriptions
        .unwrap_or_default()
        .split(';')
        .map(str::trim)
        .filter(|e| !e.is_empty())
    {
        let (id, text) = entry.split_once('=').ok_or_else(|| {
            StoreError::Open(format!(
                "IMAGEFLEET_STORE_DESCRIPTIONS: '{entry}' is not id=text"
            ))
        })?;
        let spec = specs
            .iter_mut()
            .find(|s| s.id == id.trim())
            .ok_or_else(|| {
                StoreError::Open(format!(
                    "IMAGEFLEET_STORE_DESCRIPTIONS: '{}' is not a store of IMAGEFLEET_STORES",
                    id.trim()
                ))
            })?;
        spec.description = Some(text.trim().to_owned());
    }
    let default = match default {
        None => 0,
        Some(id) => specs.iter().position(|s| s.id == id).ok_or_else(|| {
            StoreError::Open(format!(
                "IMAGEFLEET_DEFAULT_STORE: '{id}' is not a store of IMAGEFLEET_STORES"
            ))
        })?,
    };
    Ok((specs, default))
}

/// A store id: what Glance's store identifiers look like, and not one of the names
/// Glance reserves for its own stores.
fn check_id(id: &str) -> Result<(), String> {
    if id.is_empty() || id.len() > 255 {
        return Err(format!("'{id}' is not a store id (1 to 255 characters)"));
    }
    if !id
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        return Err(format!(
            "'{id}' is not a store id: use letters, digits, '_' and '-'"
        ));
    }
    if id.starts_with("os_glance_") {
        return Err(format!(
            "'{id}': ids starting with os_glance_ are reserved, as in Glance"
        ));
    }
    Ok(())
}

#[cfg(feature = "s3")]
fn open_url(url: &str, retry_timeout: Duration) -> Result<ImageStore, StoreError> {
    ImageStore::s3(url, &[], retry_timeout)
}

#[cfg(not(feature = "s3"))]
fn open_url(url: &str, _retry_timeout: Duration) -> Result<ImageStore, StoreError> {
    Err(StoreError::Open(format!(
        "'{url}': this build has no S3 support (build with the `s3` feature)"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(list: &str, default: Option<&str>) -> Result<(Vec<String>, usize), String> {
        parse_stores(list, default, None)
            .map(|(specs, d)| (specs.into_iter().map(|s| s.id).collect(), d))
            .map_err(|e| e.to_string())
    }

    #[test]
    fn stores_are_read_in_order_and_the_first_is_the_default() {
        let (specs, default) =
            parse_stores("fast=file:///srv/fast, cold=s3://images/pre", None, None).expect("valid");
        assert_eq!(default, 0);
        assert_eq!(
            specs[0].location,
            StoreLocation::Directory(PathBuf::from("/srv/fast"))
        );
        assert_eq!(specs[1].id, "cold");
        assert_eq!(
            specs[1].location,
            StoreLocation::S3("s3://images/pre".into())
        );
    }

    #[test]
    fn a_named_default_store_is_found() {
        assert_eq!(
            ids("a=file:///a,b=file:///b", Some("b")),
            Ok((vec!["a".into(), "b".into()], 1))
        );
    }

    #[test]
    fn bad_lists_are_refused_with_the_entry_named() {
        for (list, default, expected) in [
            ("fast", None, "'fast' is not id=url"),
            ("a=file:///a,a=file:///b", None, "given twice"),
            ("a=file://relative", None, "absolute path"),
            ("a=http://x", None, "neither file"),
            ("a=s3://", None, "neither file"),
            ("os_glance_staging_store=file:///x", None, "reserved"),
            ("a b=file:///x", None, "not a store id"),
            (" , ", None, "no store"),
            ("a=file:///a", Some("b"), "'b' is not a store"),
        ] {
            let error = ids(list, default).expect_err(list);
            assert!(error.contains(expected), "{list}: {error}");
        }
    }

    #[test]
    fn descriptions_attach_to_their_store_and_unknown_ids_are_refused() {
        let (specs, _) = parse_stores(
            "a=file:///a,b=file:///b",
            None,
            Some("b=Cold, cheap storage; a = Fast"),
        )
        .expect("valid");
        assert_eq!(specs[0].description.as_deref(), Some("Fast"));
        assert_eq!(specs[1].description.as_deref(), Some("Cold, cheap storage"));
        let error = parse_stores("a=file:///a", None, Some("c=x"))
            .expect_err("unknown id")
            .to_string();
        assert!(error.contains("'c' is not a store"), "{error}");
    }
}
