//! Why a command was refused: a kind that maps onto Glance's HTTP status codes and a
//! message a person can act on.

use serde::{Deserialize, Serialize};

/// The class of a refusal; each maps to the status code Glance answers with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RejectionKind {
    /// The command is malformed or a value is invalid (400).
    BadRequest,
    /// The caller may see the image but not do this to it (403).
    Forbidden,
    /// The image or task does not exist or is hidden from the caller (404).
    NotFound,
    /// The current state does not allow it, or concurrent changes kept winning (409).
    Conflict,
    /// The caller's `If-Match` version is not the current one (412).
    PreconditionFailed,
    /// A quota or size cap would be exceeded (413).
    PayloadTooLarge,
    /// The data is not in the declared format (415).
    UnsupportedMediaType,
    /// The command's deadline passed before a worker could apply it: it was not
    /// applied, and its id is recorded so no later delivery applies it (503; never
    /// decided by the domain).
    Expired,
}

impl RejectionKind {
    /// The HTTP status code Glance answers with for this kind.
    pub const fn http_status(self) -> u16 {
        match self {
            RejectionKind::BadRequest => 400,
            RejectionKind::Forbidden => 403,
            RejectionKind::NotFound => 404,
            RejectionKind::Conflict => 409,
            RejectionKind::PreconditionFailed => 412,
            RejectionKind::PayloadTooLarge => 413,
            RejectionKind::UnsupportedMediaType => 415,
            RejectionKind::Expired => 503,
        }
    }
}

/// A refused command: nothing was changed.
#[derive(
    Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema, thiserror::Error,
)]
#[error("{kind:?}: {message}")]
pub struct Rejection {
    /// The class of refusal.
    pub kind: RejectionKind,
    /// What went wrong and, where it helps, what to do instead.
    pub message: String,
}

impl Rejection {
    /// A refusal of the given kind.
    pub fn new(kind: RejectionKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
        }
    }

    /// 400.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(RejectionKind::BadRequest, message)
    }

    /// 403.
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(RejectionKind::Forbidden, message)
    }

    /// 404.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(RejectionKind::NotFound, message)
    }

    /// 409.
    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(RejectionKind::Conflict, message)
    }

    /// The refusal of a command whose deadline passed before it was applied.
    pub fn expired(deadline: chrono::DateTime<chrono::Utc>) -> Self {
        Self::new(
            RejectionKind::Expired,
            format!(
                "the command's deadline ({}) passed before it could be applied: it was not applied and never will be",
                deadline.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
            ),
        )
    }

    /// 413.
    pub fn too_large(message: impl Into<String>) -> Self {
        Self::new(RejectionKind::PayloadTooLarge, message)
    }
}
