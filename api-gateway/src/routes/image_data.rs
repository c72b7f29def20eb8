//! `PUT /v2/images/{id}/file` (upload) and `PUT /v2/images/{id}/stage` (staging for an
//! interoperable import). Both take the image with a leased command (queued -> saving or
//! uploading), stream the body into the store while size, md5 and sha512 are computed
//! in the same pass, then finish with a command (-> active, or staged) or, on any
//! failure, give the image back (-> queued) with the partial data removed. A gateway
//! that dies mid-stream leaves the lease to expire: the janitor then does the same.

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use chrono::Utc;
use domain::command::{Abort, Leased, StagedData, WithDigest};
use domain::{Actor, Command, Image, ImageId};
use store::{Area, DataLimits, FormatCheck, NamedStore, WriteError, WrittenData};

use super::common::{image_id, no_content};
use crate::byte_count;
use crate::command::{RequestContext, execute, execute_for_image};
use crate::error::ApiError;
use crate::identity::Caller;
use crate::openapi::{CommandErrors, Gone, ImagePath, TooLarge, UnsupportedMediaType};
use crate::quota::data_limits;
use crate::state::AppState;

/// The only media type image data is accepted as.
const OCTET_STREAM: &str = "application/octet-stream";

/// The header naming the store an upload goes to (Glance's multi-store API).
pub const STORE_HEADER: &str = "x-image-meta-store";

/// `PUT /v2/images/{id}/file`.
#[utoipa::path(
    put, path = "/v2/images/{id}/file", operation_id = "uploadImage", tag = "image data",
    params(ImagePath),
    request_body(content = ref("#/components/schemas/Binary"), content_type = "application/octet-stream", description = "The image data, streamed"),
    responses(
        (status = 204, description = "Stored; the image is active"),
        CommandErrors, Gone, TooLarge, UnsupportedMediaType,
    )
)]
pub async fn upload(
    State(state): State<AppState>,
    Caller(actor): Caller,
    request: RequestContext,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    receive(&state, &request, actor, &id, &headers, body, Area::Images).await
}

/// `PUT /v2/images/{id}/stage`.
#[utoipa::path(
    put, path = "/v2/images/{id}/stage", operation_id = "stageImage", tag = "image data",
    params(ImagePath),
    request_body(content = ref("#/components/schemas/Binary"), content_type = "application/octet-stream", description = "The image data, streamed"),
    responses(
        (status = 204, description = "Staged for a glance-direct import"),
        CommandErrors, Gone, TooLarge, UnsupportedMediaType,
    )
)]
pub async fn stage(
    State(state): State<AppState>,
    Caller(actor): Caller,
    request: RequestContext,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    receive(&state, &request, actor, &id, &headers, body, Area::Staging).await
}

/// The commands that begin, finish and abandon a write to one area.
fn begin(area: Area, image_id: ImageId, lease: chrono::Duration) -> Command {
    let leased = Leased {
        image_id,
        lease_expires_at: Utc::now() + lease,
    };
    match area {
        Area::Images => Command::BeginUpload(leased),
        Area::Staging => Command::BeginStage(leased),
    }
}

fn complete(area: Area, image_id: ImageId, written: WrittenData, store: Option<String>) -> Command {
    match area {
        Area::Images => Command::CompleteUpload(WithDigest {
            image_id,
            digest: written.digest,
            store,
        }),
        Area::Staging => Command::CompleteStage(StagedData {
            image_id,
            size: Some(written.digest.size),
        }),
    }
}

fn abort(area: Area, image_id: ImageId, reason: String, data_removed: bool) -> Command {
    let abort = Abort {
        image_id,
        reason,
        data_removed,
    };
    match area {
        Area::Images => Command::AbortUpload(abort),
        Area::Staging => Command::AbortStage(abort),
    }
}

async fn receive(
    state: &AppState,
    request: &RequestContext,
    actor: Actor,
    id: &str,
    headers: &HeaderMap,
    body: Body,
    area: Area,
) -> Result<Response, ApiError> {
    require_octet_stream(headers)?;
    let image_id = image_id(id)?;
    let target = target_store(state, headers, area)?;
    let command = begin(area, image_id, state.settings.data_lease);
    let image = execute_for_image(state, request, actor, command).await?;
    let limits = data_limits(state, &image).await?;
    let data = byte_count::uploaded(body.into_data_stream());
    let written = match area {
        Area::Images => {
            let check = FormatCheck::for_image(&image);
            target
                .store
                .write(area, image_id, data, limits, check)
                .await
        }
        // Staged data is inspected when the import copies it into place.
        Area::Staging => {
            let check = store::NoCheck;
            target
                .store
                .write(area, image_id, data, limits, check)
                .await
        }
    };
    let store = state.stores.is_multi().then(|| target.id.clone());
    match written {
        Ok(written) => finish(state, request, area, &image, written, target, store).await,
        Err(error) => Err(give_back(state, request, target, area, image_id, limits, error).await),
    }
}

/// The store a write goes to: for an upload, the one `X-Image-Meta-Store` names (multi
/// store only, as in Glance: a single store ignores the header) or the default; staged
/// data waits in the default store's staging area whatever the header says, as Glance
/// stages to its own staging store, and the import names the stores it goes to.
fn target_store<'a>(
    state: &'a AppState,
    headers: &HeaderMap,
    area: Area,
) -> Result<&'a NamedStore, ApiError> {
    let named = match (area, headers.get(STORE_HEADER)) {
        (Area::Images, Some(value)) if state.stores.is_multi() => Some(
            value
                .to_str()
                .map_err(|_| ApiError::bad_request("X-Image-Meta-Store is not a store id."))?,
        ),
        _ => None,
    };
    // glance_store's words for an unknown store, which Glance answers with.
    state.stores.for_write(named).ok_or_else(|| {
        ApiError::bad_request(format!(
            "Unknown scheme '{}' found in URI",
            named.unwrap_or_default()
        ))
    })
}

/// Records the written data; if the image was deleted meanwhile, its data goes too.
async fn finish(
    state: &AppState,
    request: &RequestContext,
    area: Area,
    image: &Image,
    written: WrittenData,
    target: &NamedStore,
    store: Option<String>,
) -> Result<Response, ApiError> {
    let finished = execute(
        state,
        request,
        Actor::service(),
        complete(area, image.id, written, store),
    )
    .await;
    match finished {
        Ok(_) => Ok(no_content()),
        // Unanswered is not refused: the completion may still be applied, so the data
        // must stay. If it never is, the lease expires and the janitor removes it.
        Err(error) if error.status.is_server_error() => Err(error),
        Err(error) if error.status == StatusCode::NOT_FOUND => {
            // The image was deleted while the data streamed: the bytes belong to no one
            // (SPEC 2: 410 and the data removed).
            if let Err(e) = target.store.delete(area, image.id).await {
                tracing::error!(%e, image.id = %image.id, "could not remove data of a deleted image");
            }
            Err(ApiError::new(
                StatusCode::GONE,
                format!(
                    "Image {} was deleted while its data was being uploaded.",
                    image.id
                ),
            ))
        }
        // Any other refusal means the image moved on (its lease given back, another
        // upload started): its key may hold that writer's data now, so nothing is
        // removed here; a leftover is overwritten by the next write or goes with the
        // image.
        Err(error) => Err(error),
    }
}

/// Returns the image to queued after a failed write and says why the write failed.
async fn give_back(
    state: &AppState,
    request: &RequestContext,
    target: &NamedStore,
    area: Area,
    image_id: ImageId,
    limits: DataLimits,
    error: WriteError<axum::Error>,
) -> ApiError {
    let answer = match &error {
        WriteError::Source(e) => ApiError::bad_request(format!(
            "The upload was interrupted before all data arrived: {e}"
        )),
        WriteError::TooLarge { .. } => ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "The image data exceeds the {} bytes this image may hold (image size cap or storage quota).",
                limits.max_bytes
            ),
        ),
        WriteError::Refused(refused) if refused.harmful => {
            ApiError::bad_request(format!("The image data was refused: {refused}"))
        }
        WriteError::Refused(refused) => {
            ApiError::unsupported_media_type(format!("The image data was refused: {refused}"))
        }
        WriteError::Store(e) => ApiError::unavailable(format!(
            "The image store failed; the image is back to queued and the upload can be retried: {e}"
        )),
    };
    // The write itself left nothing under the key. The image is given back before
    // anything else is removed, and only if this request still held it: a refused abort
    // means another writer holds the image now, and its data must stay.
    let command = abort(area, image_id, error.to_string(), true);
    match execute(state, request, Actor::service(), command).await {
        Ok(_) => {
            if let Err(e) = target.store.delete(area, image_id).await {
                tracing::error!(%e, image.id = %image_id, "could not remove partial data");
            }
        }
        // Unanswered: the lease still expires and the janitor gives the image back.
        Err(e) => {
            tracing::warn!(error = %e.message, image.id = %image_id, "could not abort a failed write")
        }
    }
    answer
}

/// 415 unless the body is `application/octet-stream` (parameters allowed).
fn require_octet_stream(headers: &HeaderMap) -> Result<(), ApiError> {
    let given = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let essence = given.split(';').next().unwrap_or_default().trim();
    if essence.eq_ignore_ascii_case(OCTET_STREAM) {
        Ok(())
    } else {
        Err(ApiError::unsupported_media_type(format!(
            "Image data must be sent as {OCTET_STREAM}, not '{given}'."
        )))
    }
}
