//! The S3-compatible store (the `s3` feature): opened from `s3://bucket[/prefix]` and
//! the `AWS_*` variables, with a handle on the multipart uploads under its prefix
//! (see `s3_uploads`), which object_store's writes start but cannot list.

use std::sync::Arc;
use std::time::Duration;

use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey};
use object_store::prefix::PrefixStore;
use object_store::{ClientConfigKey, ObjectStore, RetryConfig};

use super::s3_uploads::Uploads;
use super::{ImageStore, StoreError};

/// The smallest part S3 accepts (the last one aside): the part size of writes.
const S3_PART_SIZE: usize = 5 << 20;

/// The region object_store signs for when none is configured.
const DEFAULT_REGION: &str = "us-east-1";

impl ImageStore {
    /// The bucket of `url` (`s3://bucket[/prefix]`), configured by the `AWS_*`
    /// variables and then by `settings` (object_store's keys, such as `aws_endpoint` or
    /// `aws_allow_http`); a failing request, a download's resumptions included, is
    /// retried for up to `retry_timeout`.
    pub fn s3(
        url: &str,
        settings: &[(&str, &str)],
        retry_timeout: Duration,
    ) -> Result<Self, StoreError> {
        let Some(location) = url.strip_prefix("s3://") else {
            return Err(StoreError::Open(format!(
                "unsupported store URL '{url}': use s3://bucket[/prefix], or IMAGEFLEET_DATA_DIR for a local directory"
            )));
        };
        let (bucket, prefix) = location.split_once('/').unwrap_or((location, ""));
        let prefix = prefix.trim_matches('/');
        let mut builder = AmazonS3Builder::from_env()
            .with_bucket_name(bucket)
            .with_retry(RetryConfig {
                retry_timeout,
                ..RetryConfig::default()
            });
        for (key, value) in settings {
            let key: AmazonS3ConfigKey = key
                .parse()
                .map_err(|e: object_store::Error| StoreError::Open(e.to_string()))?;
            builder = builder.with_config(key, *value);
        }
        let setting = |key: AmazonS3ConfigKey| builder.get_config_value(&key);
        let region = setting(AmazonS3ConfigKey::Region).unwrap_or_else(|| DEFAULT_REGION.into());
        let enabled = |value: Option<String>| value.is_some_and(|v| v.eq_ignore_ascii_case("true"));
        let virtual_hosted = enabled(setting(AmazonS3ConfigKey::VirtualHostedStyleRequest));
        let allow_http = enabled(setting(AmazonS3ConfigKey::Client(
            ClientConfigKey::AllowHttp,
        )));
        // The bucket's URL as object_store addresses it: path style under the endpoint,
        // or the endpoint itself when it names the bucket (virtual-hosted style).
        let bucket_url = match setting(AmazonS3ConfigKey::Endpoint) {
            Some(endpoint) if virtual_hosted => endpoint.trim_end_matches('/').to_owned(),
            Some(endpoint) => format!("{}/{bucket}", endpoint.trim_end_matches('/')),
            None if virtual_hosted => format!("https://{bucket}.s3.{region}.amazonaws.com"),
            None => format!("https://s3.{region}.amazonaws.com/{bucket}"),
        };
        let s3 = builder.build()?;
        let key_prefix = if prefix.is_empty() {
            String::new()
        } else {
            format!("{prefix}/")
        };
        let uploads = Uploads::new(s3.clone(), bucket_url, region, key_prefix, allow_http)?;
        let inner: Arc<dyn ObjectStore> = if prefix.is_empty() {
            Arc::new(s3)
        } else {
            Arc::new(PrefixStore::new(s3, prefix))
        };
        Ok(Self {
            uploads: Some(Arc::new(uploads)),
            ..Self::new(inner, url, S3_PART_SIZE)
        })
    }
}
