//! The runner through the gateway: image creation (with the runner's own image ids, so
//! a retried create cannot make a second image), `PATCH` commands sent again with the
//! same `Idempotency-Key` and request id until a 2xx, and uploads: `PUT /file`, and
//! after a failed try, waiting for the image to be given back to `queued` (the
//! janitor, once the lease ran out) before the next.

use std::time::Duration;

use bytes::Bytes;
use tokio::time::Instant;
use uuid::Uuid;

use crate::ledger::{Issued, Ledger, Upload, Via, upload_bytes};

/// How long one HTTP try may take.
const TRY_TIMEOUT: Duration = Duration::from_secs(20);
/// Pause between tries.
const PAUSE: Duration = Duration::from_millis(300);

/// The gateway as the runner sees it.
#[derive(Clone)]
pub struct Gateway {
    /// `http://127.0.0.1:<port>`.
    pub base: String,
    /// The client (no proxy, bounded tries).
    pub client: reqwest::Client,
}

impl Gateway {
    /// Creates image `id` (raw/bare); an existing one (an earlier try got through) is
    /// fine. False if the deadline passed first.
    pub async fn create_image(&self, id: Uuid, name: &str, deadline: Instant) -> bool {
        let body = serde_json::json!({
            "id": id, "name": name, "disk_format": "raw", "container_format": "bare",
        });
        while Instant::now() < deadline {
            let sent = self
                .client
                .post(format!("{}/v2/images", self.base))
                .header("content-type", "application/json")
                .body(body.to_string())
                .timeout(TRY_TIMEOUT)
                .send()
                .await;
            if let Ok(response) = sent
                && (response.status().is_success() || response.status().as_u16() == 409)
            {
                return true;
            }
            tokio::time::sleep(PAUSE).await;
        }
        false
    }

    /// The image's status, if the gateway answers.
    pub async fn status(&self, id: Uuid) -> Option<String> {
        let response = self
            .client
            .get(format!("{}/v2/images/{id}", self.base))
            .timeout(TRY_TIMEOUT)
            .send()
            .await
            .ok()?;
        let body = response.bytes().await.ok()?;
        let image: serde_json::Value = serde_json::from_slice(&body).ok()?;
        image["status"].as_str().map(str::to_owned)
    }

    /// A `PATCH` adding one property, entered in the ledger under its request id.
    pub fn patch_entry(image: Uuid, property: String, value: String) -> Issued {
        Issued {
            key: Uuid::new_v4(),
            via: Via::Http,
            image,
            property,
            value,
            sends: 0,
            confirmed: false,
            during: None,
        }
    }

    /// Sends the `PATCH` until a 2xx, with the same request id and idempotency key
    /// each time. Ok(false) if the deadline passed; Err for a refusal (any 4xx).
    pub async fn patch(
        &self,
        ledger: &Ledger,
        issued: &Issued,
        deadline: Instant,
    ) -> anyhow::Result<bool> {
        let body = serde_json::json!([
            {"op": "add", "path": format!("/{}", issued.property), "value": issued.value}
        ]);
        while Instant::now() < deadline {
            ledger.sent(issued.key);
            let sent = self
                .client
                .patch(format!("{}/v2/images/{}", self.base, issued.image))
                .header(
                    "content-type",
                    "application/openstack-images-v2.1-json-patch",
                )
                .header("x-openstack-request-id", format!("req-{}", issued.key))
                .header("idempotency-key", issued.key.to_string())
                .body(body.to_string())
                .timeout(TRY_TIMEOUT)
                .send()
                .await;
            if let Ok(response) = sent {
                let status = response.status();
                if status.is_success() {
                    ledger.confirm(issued.key);
                    return Ok(true);
                }
                // Any 4xx is final (a command that lost a race is decided again under
                // the image's row lock, so not even a 409 is expected); 5xx and no
                // answer are retried with the same key.
                if status.is_client_error() {
                    let text = response.text().await.unwrap_or_default();
                    anyhow::bail!("PATCH refused with {status}: {text}");
                }
            }
            tokio::time::sleep(PAUSE).await;
        }
        Ok(false)
    }

    /// One `PUT /file` of `data`; true on 204.
    pub async fn put_file(&self, image: Uuid, data: reqwest::Body) -> bool {
        self.client
            .put(format!("{}/v2/images/{image}/file", self.base))
            .header("content-type", "application/octet-stream")
            .body(data)
            .timeout(TRY_TIMEOUT)
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
    }

    /// Uploads (creating the image first) until the image is active. A failed try is
    /// followed by waiting for `queued` again: an upload cut off leaves the image in
    /// `saving` until the janitor gives it back. False if the deadline passed first.
    pub async fn upload(&self, ledger: &Ledger, upload: &Upload, deadline: Instant) -> bool {
        if !self
            .create_image(upload.image, "chaos-upload", deadline)
            .await
        {
            return false;
        }
        let data = Bytes::from(upload_bytes(upload.seed, upload.size));
        while Instant::now() < deadline {
            match self.status(upload.image).await.as_deref() {
                Some("active") => {
                    confirm_upload(ledger, upload.image);
                    return true;
                }
                Some("queued") => {
                    count_upload(ledger, upload.image);
                    if self.put_file(upload.image, data.clone().into()).await {
                        confirm_upload(ledger, upload.image);
                        return true;
                    }
                }
                // saving (a try still running, or cut off), or no answer: wait.
                _ => {}
            }
            tokio::time::sleep(PAUSE).await;
        }
        false
    }
}

fn count_upload(ledger: &Ledger, image: Uuid) {
    if let Some(u) = ledger.book().uploads.get_mut(&image) {
        u.sends += 1;
    }
}

fn confirm_upload(ledger: &Ledger, image: Uuid) {
    if let Some(u) = ledger.book().uploads.get_mut(&image) {
        u.confirmed = true;
    }
}
