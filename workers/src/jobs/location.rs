//! The `location_import` task behind `POST /v2/images/{id}/locations`: reads the data at
//! the URL once (behind the import filter), counting, hashing and inspecting it, checks
//! it against the caller's `validation_data`, and adds the location with the digest,
//! which makes the queued image active. Nothing is stored: downloads stream from the
//! location.

use domain::command::AddLocation;
use domain::image::{DataDigest, Location};
use domain::{Command, ImageId, Task};
use serde_json::{Value, json};
use store::{DataLimits, FormatCheck, digest_stream};

use super::steps::{apply, finish, start};
use super::{JobContext, JobError, describe};

/// Runs a location import task to its end.
pub async fn run(task: &Task, ctx: &JobContext) -> Result<(), JobError> {
    let (image_id, url) = match (task.image_id, task.input["url"].as_str()) {
        (Some(image_id), Some(url)) => (image_id, url.to_owned()),
        _ => {
            return Err(JobError::Permanent(format!(
                "location task {} names no image or URL",
                task.id
            )));
        }
    };
    start(ctx, task.id).await?;
    let digest = match read(ctx, image_id, &url).await? {
        Ok(digest) => validate(digest, &task.input["validation_data"]),
        Err(message) => Err(message),
    };
    let added = match digest {
        Ok(digest) => {
            let command = Command::AddLocation(AddLocation {
                image_id,
                location: Location {
                    url,
                    metadata: json!({}),
                },
                digest: Some(digest),
            });
            apply(ctx, task.id, "add-location", command)
                .await?
                .map_err(|rejection| rejection.message)
        }
        Err(message) => Err(message),
    };
    finish(ctx, task.id, added.map(|_| image_id)).await
}

/// Size and digests of the data at `url`, or why it cannot be used.
async fn read(
    ctx: &JobContext,
    image_id: ImageId,
    url: &str,
) -> Result<Result<DataDigest, String>, JobError> {
    let Some(image) = ctx.image(image_id).await? else {
        return Ok(Err("the image no longer exists".to_owned()));
    };
    let body = match ctx.fetcher.open(url).await {
        Ok(body) => body,
        Err(e) => return Ok(Err(format!("reading the location failed: {e}"))),
    };
    let limits = DataLimits {
        max_bytes: ctx.image_size_cap,
    };
    match digest_stream(body, limits, FormatCheck::for_image(&image)).await {
        Ok(digest) => Ok(Ok(digest)),
        Err(error) => describe(error).map(Err),
    }
}

/// The digest, if it matches every value the caller gave.
fn validate(digest: DataDigest, expected: &Value) -> Result<DataDigest, String> {
    let checks = [
        ("checksum", &digest.checksum),
        ("os_hash_algo", &digest.os_hash_algo),
        ("os_hash_value", &digest.os_hash_value),
    ];
    for (key, actual) in checks {
        if let Some(wanted) = expected.get(key).and_then(Value::as_str)
            && !wanted.eq_ignore_ascii_case(actual)
        {
            return Err(format!(
                "The data at the location does not match validation_data: {key} is {actual}, not {wanted}."
            ));
        }
    }
    Ok(digest)
}
