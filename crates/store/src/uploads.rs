//! The janitor's view of incomplete writes: multipart uploads a killed process left
//! in an S3 store (see `s3_uploads`). Other stores have none to list (a local write
//! cut off leaves a file, removed with its image's data, see `ImageStore::delete`).

use chrono::{DateTime, Utc};

use super::{ImageStore, StoreError};

/// A multipart upload begun and never completed or aborted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncompleteUpload {
    /// The object's key in the bucket (the store's prefix included).
    pub key: String,
    /// The upload's id, as the server gave it.
    pub upload_id: String,
    /// When the upload began.
    pub initiated: DateTime<Utc>,
}

impl ImageStore {
    /// The incomplete uploads of both areas begun before `begun_before`: empty for a
    /// store without multipart uploads.
    pub async fn incomplete_uploads(
        &self,
        begun_before: DateTime<Utc>,
    ) -> Result<Vec<IncompleteUpload>, StoreError> {
        let mut found: Vec<IncompleteUpload> = Vec::new();
        #[cfg(feature = "s3")]
        if let Some(uploads) = &self.uploads {
            for area in [super::Area::Images, super::Area::Staging] {
                let under = format!("{}/", area.prefix());
                found.extend(uploads.list(&under).await?);
            }
        }
        found.retain(|upload| upload.initiated < begun_before);
        Ok(found)
    }

    /// Aborts an upload [`Self::incomplete_uploads`] listed (its parts are deleted); one
    /// already completed or aborted meanwhile is not an error.
    pub async fn abort_upload(&self, upload: &IncompleteUpload) -> Result<(), StoreError> {
        #[cfg(feature = "s3")]
        if let Some(uploads) = &self.uploads {
            return uploads.abort(upload).await;
        }
        // Without S3 support nothing is ever listed to abort.
        #[cfg(not(feature = "s3"))]
        let _ = upload;
        Ok(())
    }
}
