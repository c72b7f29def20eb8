//! `GET /v2/images/{id}/file`: the image's data, streamed from the store (memory does not
//! grow with the image), whole (200) or one `Range` of it (206, 416 when unsatisfiable).
//! `Content-MD5` is the hex md5 of the whole image, as Glance sends it, also on partial
//! answers. No data yet: 204. A deactivated image's data is refused to all but admins.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{Extensions, HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use domain::{Actor, Image, ImageStatus};
use futures::Stream;
use store::{Area, ByteRange, StoredData};

use super::common::{image_id, no_content, visible_image};
use crate::byte_count;
use crate::error::ApiError;
use crate::identity::Caller;
use crate::openapi::{Forbidden, ImagePath, RangeNotSatisfiable, ReadErrors};
use crate::send_notice::{self, Download, SendNotifier};
use crate::state::AppState;

/// `GET /v2/images/{id}/file`.
#[utoipa::path(
    get, path = "/v2/images/{id}/file", operation_id = "downloadImage", tag = "image data",
    params(
        ImagePath,
        ("Range" = Option<String>, Header, description = "One `bytes=a-b`, `a-` or `-n` range"),
    ),
    responses(
        (status = 200, description = "The whole image", content_type = "application/octet-stream", body = ref("#/components/schemas/Binary"),
            headers(("Content-MD5" = String, description = "Hex md5 of the whole image"), ("Content-Length" = u64))),
        (status = 204, description = "The image has no data yet"),
        (status = 206, description = "The range asked for", content_type = "application/octet-stream", body = ref("#/components/schemas/Binary"),
            headers(("Content-Range" = String), ("Content-MD5" = String))),
        ReadErrors, Forbidden, RangeNotSatisfiable,
    )
)]
pub async fn download(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
    extensions: Extensions,
) -> Result<Response, ApiError> {
    let image = visible_image(&state, &actor, image_id(&id)?).await?;
    may_download(&image, &actor)?;
    let (Some(size), true) = (
        image.size,
        image.status == ImageStatus::Active || image.status == ImageStatus::Deactivated,
    ) else {
        return Ok(no_content());
    };
    let size = u64::try_from(size).unwrap_or(0);
    let peer = extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(address)| address.ip().to_string());
    let watch = |expected_bytes| Watch {
        notifier: state.send_notices.clone(),
        download: Download {
            image_id: image.id.as_uuid(),
            owner_id: image.owner.clone(),
            receiver_tenant_id: actor.project_id.clone(),
            receiver_user_id: actor.user_id.clone(),
            destination_ip: peer.clone(),
            expected_bytes,
        },
    };
    if let Some(location) = image.locations.first() {
        return from_location(&state, &image, &location.url, watch(size)).await;
    }
    let range = match headers.get(header::RANGE) {
        None => None,
        Some(value) => Some(parse_range(value, size)?),
    };
    let data = read_first(&state, &image, range.clone()).await?;
    let mut response = Response::builder()
        .header(header::CONTENT_TYPE, "application/octet-stream")
        .header(header::ACCEPT_RANGES, "bytes");
    if let Some(checksum) = &image.checksum {
        response = response.header("content-md5", checksum.as_str());
    }
    let (status, length) = match &range {
        Some(r) => {
            response = response.header(
                header::CONTENT_RANGE,
                format!("bytes {}-{}/{size}", r.start, r.end - 1),
            );
            (StatusCode::PARTIAL_CONTENT, r.end - r.start)
        }
        None => (StatusCode::OK, data.size),
    };
    let body = watch(length).body(data.stream);
    response
        .status(status)
        .header(header::CONTENT_LENGTH, length)
        .body(body)
        .map_err(ApiError::internal)
}

/// Opens the data in the first of the image's stores that has it: a store that fails or
/// lacks it is skipped for the next, as Glance tries each location in turn. An image
/// whose every store failed is unavailable (503); one that none has is an error of
/// ours, logged (500).
async fn read_first(
    state: &AppState,
    image: &Image,
    range: Option<ByteRange>,
) -> Result<StoredData, ApiError> {
    let mut failure = None;
    for named in state.stores.holding(&image.stores) {
        match named
            .store
            .read(Area::Images, image.id, range.clone())
            .await
        {
            Ok(Some(data)) => return Ok(data),
            Ok(None) => {
                tracing::warn!(image.id = %image.id, store = %named.id, "the store lacks the data of an image that lists it");
            }
            Err(e) => {
                tracing::warn!(image.id = %image.id, store = %named.id, error = %e, "a store failed; trying the next");
                failure = Some(e);
            }
        }
    }
    Err(match failure {
        Some(e) => ApiError::unavailable(format!("The image store cannot be read: {e}")),
        None => data_missing(image),
    })
}

/// Streams an image whose data stays at its location (added by `POST /locations`).
/// Ranges are not forwarded: the whole image is sent, which RFC 9110 allows.
async fn from_location(
    state: &AppState,
    image: &Image,
    url: &str,
    watch: Watch,
) -> Result<Response, ApiError> {
    let body =
        state.fetcher.open(url).await.map_err(|e| {
            ApiError::unavailable(format!("The image's location cannot be read: {e}"))
        })?;
    let mut response = Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "application/octet-stream");
    if let Some(checksum) = &image.checksum {
        response = response.header("content-md5", checksum.as_str());
    }
    if let Some(size) = image.size {
        response = response.header(header::CONTENT_LENGTH, size);
    }
    response.body(watch.body(body)).map_err(ApiError::internal)
}

/// What a download's body reports as it goes: the byte counter, and `image.send` when
/// notifications are on.
struct Watch {
    notifier: Option<Arc<SendNotifier>>,
    download: Download,
}

impl Watch {
    fn body<E>(self, data: impl Stream<Item = Result<Bytes, E>> + Send + 'static) -> Body
    where
        E: Into<axum::BoxError> + 'static,
    {
        let counted = byte_count::downloaded(data);
        match self.notifier {
            Some(notifier) => Body::from_stream(send_notice::notify_when_done(
                counted,
                notifier,
                self.download,
            )),
            None => Body::from_stream(counted),
        }
    }
}

/// Glance's `download_image` policy: admins, and the member role on any image the
/// caller sees (its project's, shared with it, public, community); a reader-only caller
/// gets 403 (SPEC 7 "Roles"). A deactivated image only admins (SPEC 2).
fn may_download(image: &Image, actor: &Actor) -> Result<(), ApiError> {
    if !actor.is_member() {
        return Err(ApiError::forbidden(
            "You are not authorized to complete download_image action.",
        ));
    }
    if image.status == ImageStatus::Deactivated && !actor.is_admin() {
        return Err(ApiError::forbidden(
            "The requested image has been deactivated. Image data download is forbidden.",
        ));
    }
    Ok(())
}

/// An active image whose bytes are not in the store: an operator must look.
fn data_missing(image: &Image) -> ApiError {
    ApiError::internal(format!(
        "the data of active image {} is missing from the store",
        image.id
    ))
}

/// One `bytes=` range of an image of `size` bytes (`a-b`, `a-` or `-n`); 416 with
/// `Content-Range: bytes */size` when it cannot be served.
pub fn parse_range(value: &HeaderValue, size: u64) -> Result<ByteRange, ApiError> {
    let unsatisfiable = || {
        let mut error = ApiError::new(
            StatusCode::RANGE_NOT_SATISFIABLE,
            format!("The requested range cannot be served from an image of {size} bytes."),
        );
        if let Ok(value) = HeaderValue::from_str(&format!("bytes */{size}")) {
            error.headers.push((header::CONTENT_RANGE, value));
        }
        error
    };
    let spec = value
        .to_str()
        .ok()
        .and_then(|v| v.trim().strip_prefix("bytes="))
        .ok_or_else(unsatisfiable)?;
    // Glance serves one range; a list of ranges is refused rather than half-served.
    if spec.contains(',') {
        return Err(unsatisfiable());
    }
    let (first, last) = spec.split_once('-').ok_or_else(unsatisfiable)?;
    let number = |s: &str| s.trim().parse::<u64>().map_err(|_| unsatisfiable());
    let range = match (first.trim().is_empty(), last.trim().is_empty()) {
        (false, false) => number(first)?..number(last)?.saturating_add(1).min(size),
        (false, true) => number(first)?..size,
        (true, false) => size.saturating_sub(number(last)?)..size,
        (true, true) => return Err(unsatisfiable()),
    };
    if range.start >= range.end || range.start >= size {
        return Err(unsatisfiable());
    }
    Ok(range)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn range(spec: &str, size: u64) -> Result<ByteRange, StatusCode> {
        parse_range(
            &HeaderValue::from_str(spec).unwrap_or(HeaderValue::from_static("")),
            size,
        )
        .map_err(|e| e.status)
    }

    #[test]
    fn ranges_follow_rfc_9110() {
        assert_eq!(range("bytes=0-9", 100), Ok(0..10));
        assert_eq!(range("bytes=90-", 100), Ok(90..100));
        assert_eq!(range("bytes=-10", 100), Ok(90..100));
        assert_eq!(range("bytes=95-200", 100), Ok(95..100));
        assert_eq!(range("bytes=-200", 100), Ok(0..100));
    }

    #[test]
    fn unsatisfiable_ranges_are_416() {
        for spec in [
            "bytes=100-",
            "bytes=5-2",
            "bytes=-0",
            "bytes=a-b",
            "items=0-1",
            "bytes=0-1,3-4",
            "bytes=-",
        ] {
            assert_eq!(
                range(spec, 100),
                Err(StatusCode::RANGE_NOT_SATISFIABLE),
                "{spec}"
            );
        }
        assert_eq!(
            range("bytes=0-0", 0),
            Err(StatusCode::RANGE_NOT_SATISFIABLE)
        );
    }
}
