//! The image id path parameter every `/v2/images/{id}/...` operation names in
//! `#[utoipa::path(params(...))]`, defined once.

use utoipa::IntoParams;

/// The image in the path (`/v2/images/{id}/...`).
#[derive(IntoParams)]
#[into_params(names("id"), parameter_in = Path)]
pub struct ImagePath(
    /// The image (anything but a UUID is 404)
    pub uuid::Uuid,
);
