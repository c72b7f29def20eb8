//! Incomplete multipart uploads of an S3 store. A write is a multipart upload that
//! becomes an object only when completed (see `write`); a process killed mid-write
//! leaves its parts stored, invisible and billed, until someone aborts the upload.
//! object_store starts uploads but cannot list them, so ListMultipartUploads is sent
//! here, signed by object_store's own SigV4 signer on its own HTTP client; the abort
//! is object_store's.

use chrono::{DateTime, Utc};
use object_store::ClientOptions;
use object_store::aws::{AmazonS3, AwsAuthorizer};
use object_store::client::{HttpClient, HttpConnector, HttpRequestBody, ReqwestConnector};
use object_store::multipart::MultipartStore;
use object_store::path::Path;
use serde::Deserialize;

use super::{IncompleteUpload, StoreError};

/// Lists and aborts the multipart uploads under a store's prefix.
#[derive(Debug)]
pub(crate) struct Uploads {
    s3: AmazonS3,
    client: HttpClient,
    /// The bucket's URL (path or virtual-hosted style, as object_store addresses it).
    bucket_url: String,
    region: String,
    /// The store's key prefix with its trailing `/`, or empty.
    key_prefix: String,
}

/// One page of ListMultipartUploads' answer (the fields read here).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ListPage {
    #[serde(default)]
    upload: Vec<UploadEntry>,
    #[serde(default)]
    is_truncated: bool,
    next_key_marker: Option<String>,
    next_upload_id_marker: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct UploadEntry {
    key: String,
    upload_id: String,
    initiated: String,
}

impl Uploads {
    pub(crate) fn new(
        s3: AmazonS3,
        bucket_url: String,
        region: String,
        key_prefix: String,
        allow_http: bool,
    ) -> Result<Self, StoreError> {
        let options = ClientOptions::new().with_allow_http(allow_http);
        Ok(Self {
            s3,
            client: ReqwestConnector::default().connect(&options)?,
            bucket_url,
            region,
            key_prefix,
        })
    }

    /// Every incomplete upload whose key starts with `under` (below the store's
    /// prefix), page after page.
    pub(crate) async fn list(&self, under: &str) -> Result<Vec<IncompleteUpload>, StoreError> {
        let prefix = format!("{}{under}", self.key_prefix);
        let mut found = Vec::new();
        let mut markers: Option<(String, String)> = None;
        loop {
            let page = self.page(&prefix, markers.as_ref()).await?;
            for entry in page.upload {
                let initiated = DateTime::parse_from_rfc3339(&entry.initiated)
                    .map_err(|e| {
                        StoreError::Request(format!(
                            "ListMultipartUploads: Initiated '{}': {e}",
                            entry.initiated
                        ))
                    })?
                    .with_timezone(&Utc);
                found.push(IncompleteUpload {
                    key: entry.key,
                    upload_id: entry.upload_id,
                    initiated,
                });
            }
            let nonempty = |marker: Option<String>| marker.filter(|m| !m.is_empty());
            match (
                page.is_truncated,
                nonempty(page.next_key_marker),
                nonempty(page.next_upload_id_marker),
            ) {
                (true, Some(key), Some(upload_id)) => markers = Some((key, upload_id)),
                _ => return Ok(found),
            }
        }
    }

    async fn page(
        &self,
        prefix: &str,
        markers: Option<&(String, String)>,
    ) -> Result<ListPage, StoreError> {
        let failed = |what: String| StoreError::Request(format!("ListMultipartUploads: {what}"));
        let mut url = url::Url::parse(&self.bucket_url).map_err(|e| failed(e.to_string()))?;
        {
            let mut query = url.query_pairs_mut();
            query
                .append_pair("uploads", "")
                .append_pair("prefix", prefix);
            if let Some((key, upload_id)) = markers {
                query
                    .append_pair("key-marker", key)
                    .append_pair("upload-id-marker", upload_id);
            }
        }
        let mut request = http::Request::get(url.as_str())
            .body(HttpRequestBody::empty())
            .map_err(|e| failed(e.to_string()))?;
        let credential = self.s3.credentials().get_credential().await?;
        AwsAuthorizer::new(&credential, "s3", &self.region).try_authorize(&mut request, None)?;
        let response = self
            .client
            .execute(request)
            .await
            .map_err(|e| failed(e.to_string()))?;
        let status = response.status();
        let body = response
            .into_body()
            .bytes()
            .await
            .map_err(|e| failed(e.to_string()))?;
        if !status.is_success() {
            return Err(failed(format!(
                "{status}: {}",
                String::from_utf8_lossy(&body)
            )));
        }
        quick_xml::de::from_reader(body.as_ref()).map_err(|e| failed(e.to_string()))
    }

    /// Aborts one upload: its parts are deleted; one already gone is not an error.
    pub(crate) async fn abort(&self, upload: &IncompleteUpload) -> Result<(), StoreError> {
        let key = Path::parse(&upload.key).map_err(object_store::Error::from)?;
        match self.s3.abort_multipart(&key, &upload.upload_id).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }
}
