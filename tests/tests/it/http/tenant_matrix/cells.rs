//! The image endpoints of the matrix (SPEC 4 and the extension of SPEC 12): the request
//! each sends and the state its image must be in. Reading endpoints share one image per
//! visibility; every changing endpoint gets a fresh image per cell, so a permitted cell
//! finds the state it needs and a refused one can be checked to have changed nothing.

use axum::http::Method;
use serde_json::json;

use super::actors::{ACCEPTED_PROJECT, PENDING_PROJECT};

/// One image endpoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Endpoint {
    /// `GET /v2/images/{id}`.
    Show,
    /// `GET /v2/images/{id}/file` of an active image.
    Download,
    /// `GET /v2/images/{id}/file` of a deactivated image.
    DownloadDeactivated,
    /// `GET /v2/images/{id}/history` (extension).
    History,
    /// `GET /v2/images/{id}/members`.
    MembersList,
    /// `GET /v2/images/{id}/members/p-accepted`.
    MemberShow,
    /// `GET /v2/images/{id}/tasks`.
    ImageTasks,
    /// `GET /v2/images/{id}/locations`.
    LocationsList,
    /// `PATCH /v2/images/{id}` renaming it.
    Patch,
    /// `DELETE /v2/images/{id}`.
    Delete,
    /// `PUT /v2/images/{id}/file`.
    Upload,
    /// `PUT /v2/images/{id}/stage`.
    Stage,
    /// `POST /v2/images/{id}/import` glance-direct of a staged image.
    Import,
    /// `POST /v2/images/{id}/actions/deactivate` of an active image.
    Deactivate,
    /// `POST /v2/images/{id}/actions/reactivate` of a deactivated image.
    Reactivate,
    /// `PUT /v2/images/{id}/tags/blue`.
    TagAdd,
    /// `DELETE /v2/images/{id}/tags/gold` of an image tagged gold.
    TagRemove,
    /// `POST /v2/images/{id}/members` adding `p-new`.
    MemberAdd,
    /// `PUT /v2/images/{id}/members/p-pending` accepting.
    MemberUpdate,
    /// `DELETE /v2/images/{id}/members/p-pending`.
    MemberDelete,
    /// `POST /v2/images/{id}/locations` on an active image.
    LocationAdd,
}

/// The state an endpoint's image is in before the request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    /// One shared active image per visibility, with real data and an import task.
    ReadActive,
    /// One shared deactivated image per visibility, with real data.
    ReadDeactivated,
    /// A fresh queued raw/bare image.
    Queued,
    /// A fresh queued image tagged `gold`.
    Tagged,
    /// A fresh image with data staged (uploading).
    Staged,
    /// A fresh active image.
    Active,
    /// A fresh deactivated image.
    Deactivated,
}

/// A request body: content type and bytes.
pub type Body = Option<(&'static str, Vec<u8>)>;

/// The bytes the matrix uploads and stages.
pub const DATA: &[u8] = b"tenant-matrix image data: only those allowed may read these bytes";

impl Endpoint {
    /// Every image endpoint, reads first.
    pub const ALL: [Endpoint; 21] = [
        Endpoint::Show,
        Endpoint::Download,
        Endpoint::DownloadDeactivated,
        Endpoint::History,
        Endpoint::MembersList,
        Endpoint::MemberShow,
        Endpoint::ImageTasks,
        Endpoint::LocationsList,
        Endpoint::Patch,
        Endpoint::Delete,
        Endpoint::Upload,
        Endpoint::Stage,
        Endpoint::Import,
        Endpoint::Deactivate,
        Endpoint::Reactivate,
        Endpoint::TagAdd,
        Endpoint::TagRemove,
        Endpoint::MemberAdd,
        Endpoint::MemberUpdate,
        Endpoint::MemberDelete,
        Endpoint::LocationAdd,
    ];

    /// The image state the request needs.
    pub fn state(self) -> State {
        match self {
            Endpoint::Show
            | Endpoint::Download
            | Endpoint::History
            | Endpoint::MembersList
            | Endpoint::MemberShow
            | Endpoint::ImageTasks
            | Endpoint::LocationsList => State::ReadActive,
            Endpoint::DownloadDeactivated => State::ReadDeactivated,
            Endpoint::Patch
            | Endpoint::Delete
            | Endpoint::Upload
            | Endpoint::Stage
            | Endpoint::TagAdd
            | Endpoint::MemberAdd
            | Endpoint::MemberUpdate
            | Endpoint::MemberDelete => State::Queued,
            Endpoint::TagRemove => State::Tagged,
            Endpoint::Import => State::Staged,
            Endpoint::Deactivate | Endpoint::LocationAdd => State::Active,
            Endpoint::Reactivate => State::Deactivated,
        }
    }

    /// Whether the request may change the image (it then gets a fresh one per cell).
    pub fn changes(self) -> bool {
        !matches!(self.state(), State::ReadActive | State::ReadDeactivated)
    }

    /// Method, path below `/v2/images/{id}` and body.
    pub fn request(self) -> (Method, String, Body) {
        let json = |value: serde_json::Value| Some(("application/json", value.to_string().into()));
        let octets = || Some(("application/octet-stream", DATA.to_vec()));
        let patch = json!([{"op": "replace", "path": "/name", "value": "renamed"}]);
        let patch_type = "application/openstack-images-v2.1-json-patch";
        match self {
            Endpoint::Show | Endpoint::Download | Endpoint::DownloadDeactivated => {
                let path = if self == Endpoint::Show { "" } else { "/file" };
                (Method::GET, path.into(), None)
            }
            Endpoint::History => (Method::GET, "/history".into(), None),
            Endpoint::MembersList => (Method::GET, "/members".into(), None),
            Endpoint::MemberShow => (Method::GET, format!("/members/{ACCEPTED_PROJECT}"), None),
            Endpoint::ImageTasks => (Method::GET, "/tasks".into(), None),
            Endpoint::LocationsList => (Method::GET, "/locations".into(), None),
            Endpoint::Patch => (
                Method::PATCH,
                String::new(),
                Some((patch_type, patch.to_string().into())),
            ),
            Endpoint::Delete => (Method::DELETE, String::new(), None),
            Endpoint::Upload => (Method::PUT, "/file".into(), octets()),
            Endpoint::Stage => (Method::PUT, "/stage".into(), octets()),
            Endpoint::Import => (
                Method::POST,
                "/import".into(),
                json(json!({"method": {"name": "glance-direct"}})),
            ),
            Endpoint::Deactivate => (Method::POST, "/actions/deactivate".into(), None),
            Endpoint::Reactivate => (Method::POST, "/actions/reactivate".into(), None),
            Endpoint::TagAdd => (Method::PUT, "/tags/blue".into(), None),
            Endpoint::TagRemove => (Method::DELETE, "/tags/gold".into(), None),
            Endpoint::MemberAdd => (
                Method::POST,
                "/members".into(),
                json(json!({"member": "p-new"})),
            ),
            Endpoint::MemberUpdate => (
                Method::PUT,
                format!("/members/{PENDING_PROJECT}"),
                json(json!({"status": "accepted"})),
            ),
            Endpoint::MemberDelete => (Method::DELETE, format!("/members/{PENDING_PROJECT}"), None),
            Endpoint::LocationAdd => (
                Method::POST,
                "/locations".into(),
                json(json!({"url": "https://images.example.com/matrix.img"})),
            ),
        }
    }

    /// `METHOD /path` for reports, with `{id}` for the image.
    pub fn label(self) -> String {
        let (method, path, _) = self.request();
        let state = match self {
            Endpoint::DownloadDeactivated => " (deactivated)",
            Endpoint::Import => " (staged)",
            Endpoint::Deactivate | Endpoint::LocationAdd => " (active)",
            Endpoint::Reactivate => " (deactivated)",
            _ => "",
        };
        format!("{method} /v2/images/{{id}}{path}{state}")
    }
}
