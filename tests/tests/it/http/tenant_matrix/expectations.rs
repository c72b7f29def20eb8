//! The expected status of every cell, as data: for each image endpoint a table with one
//! row per visibility (public, private, shared, community) and one column per caller
//! (owner, colleague, reader, stranger, pending, accepted, rejected, admin). Each rule
//! cites the SPEC line it comes from; where SPEC is silent, Glance's default policy
//! (glance/policies/image.py) and its member API decide, and the comment says so.
//!
//! The common rules: an image a caller may not see answers 404, not 403 (SPEC 2 "Not
//! visible"); other projects see public and community images (SPEC 7 "community images
//! are visible by id"); shared members see shared images whatever their status (SPEC 7
//! "A shared member (any status) may GET the image"); only members of the owning project
//! and admins change an image, everyone else who sees it gets 403 (SPEC 7 "Roles"; SPEC 2
//! "non-owner of a public image 403").

use super::cells::Endpoint;

/// One caller per column.
pub type Row = [u16; 8];
/// One visibility per row: public, private, shared, community.
pub type Table = [Row; 4];

const OK: u16 = 200;
const CREATED: u16 = 201;
const ACCEPTED: u16 = 202;
const DONE: u16 = 204;
const DENY: u16 = 403;
const HIDE: u16 = 404;
const CONFLICT: u16 = 409;

/// Who sees the image (SPEC 7): `code` for those who see it, 404 for the others.
const fn seen(code: u16) -> Table {
    //   owner colleague reader stranger pending accepted rejected admin
    [
        [code, code, code, code, code, code, code, code],
        [code, code, code, HIDE, HIDE, HIDE, HIDE, code],
        [code, code, code, HIDE, code, code, code, code],
        [code, code, code, code, code, code, code, code],
    ]
}

/// A change (SPEC 7 "Roles"): members of p1 and admins get `code`, the reader and
/// everyone else who sees the image 403, the rest 404.
const fn change(code: u16) -> Table {
    //   owner colleague reader stranger pending accepted rejected admin
    [
        [code, code, DENY, DENY, DENY, DENY, DENY, code],
        [code, code, DENY, HIDE, HIDE, HIDE, HIDE, code],
        [code, code, DENY, HIDE, DENY, DENY, DENY, code],
        [code, code, DENY, DENY, DENY, DENY, DENY, code],
    ]
}

/// Refused to every caller who sees the image (403), hidden from the others (404).
const SEEN_BUT_REFUSED: Table = seen(DENY);

/// Only admins, of what they see (SPEC 4 locations "non-admin 403"; SPEC 4 download
/// "non-admin on deactivated" 403).
const ADMIN_ONLY: Table = [
    [DENY, DENY, DENY, DENY, DENY, DENY, DENY, OK],
    [DENY, DENY, DENY, HIDE, HIDE, HIDE, HIDE, OK],
    [DENY, DENY, DENY, HIDE, DENY, DENY, DENY, OK],
    [DENY, DENY, DENY, DENY, DENY, DENY, DENY, OK],
];

/// The table of an image endpoint.
pub fn table(endpoint: Endpoint) -> Table {
    match endpoint {
        // SPEC 4 "GET /v2/images/{id} 200; not visible 404", visibility of SPEC 7.
        Endpoint::Show => seen(OK),
        // SPEC 7 "reader may read its project's images but not download them" (SPEC 4
        // "403 reader") and "A shared member (any status) may GET the image and
        // download it"; public and community data is every member's (Glance
        // download_image: the member role, and community or public).
        Endpoint::Download => [
            [OK, OK, DENY, OK, OK, OK, OK, OK],
            [OK, OK, DENY, HIDE, HIDE, HIDE, HIDE, OK],
            [OK, OK, DENY, HIDE, OK, OK, OK, OK],
            [OK, OK, DENY, OK, OK, OK, OK, OK],
        ],
        Endpoint::ImageTasks => seen(OK),
        // SPEC 1 deactivated "Data download refused to everyone but admins".
        Endpoint::DownloadDeactivated | Endpoint::LocationsList => ADMIN_ONLY,
        // SPEC 12 extension: the event log is the owning project's (readers included)
        // and admins'; no one else reads another tenant's events (issue 9), even of
        // an image they may see.
        Endpoint::History => [
            [OK, OK, OK, DENY, DENY, DENY, DENY, OK],
            [OK, OK, OK, HIDE, HIDE, HIDE, HIDE, OK],
            [OK, OK, OK, HIDE, DENY, DENY, DENY, OK],
            [OK, OK, OK, DENY, DENY, DENY, DENY, OK],
        ],
        // SPEC 4 "GET /members 200" for shared images; SPEC is silent on the others:
        // Glance answers 403 "Only shared images have members" to all who see them.
        Endpoint::MembersList => [
            SEEN_BUT_REFUSED[0],
            SEEN_BUT_REFUSED[1],
            seen(OK)[2],
            SEEN_BUT_REFUSED[3],
        ],
        // SPEC 4 "GET /members/{member} 200"; a member project sees only its own
        // entry (Glance's member repository: owner, admin or the member itself), so the
        // pending and rejected projects get 404 for the accepted one; no entry exists
        // on images that are not shared (404, as Glance).
        Endpoint::MemberShow => [
            [HIDE; 8],
            [HIDE; 8],
            [OK, OK, OK, HIDE, HIDE, OK, HIDE, OK],
            [HIDE; 8],
        ],
        // SPEC 7 "Roles"; SPEC 2 PUT /file, PUT /stage, DELETE "reader 403; other 404".
        Endpoint::Patch => change(OK),
        Endpoint::Delete
        | Endpoint::Upload
        | Endpoint::Stage
        | Endpoint::Deactivate
        | Endpoint::Reactivate
        | Endpoint::TagAdd
        | Endpoint::TagRemove => change(DONE),
        // SPEC 4 "POST /import 202", SPEC 2 glance-direct "owner, admin".
        Endpoint::Import => change(ACCEPTED),
        // SPEC 2 "location on active 409", after the owner-or-admin policy.
        Endpoint::LocationAdd => change(CONFLICT),
        // SPEC 4 "POST /members 200; image not shared 403".
        Endpoint::MemberAdd => [
            SEEN_BUT_REFUSED[0],
            SEEN_BUT_REFUSED[1],
            change(OK)[2],
            SEEN_BUT_REFUSED[3],
        ],
        // SPEC 4 "only the member may set its status (owner 403)"; admins may (Glance
        // modify_member: admin or the member); images that are not shared have no
        // members (Glance 403 "Only shared images have members").
        Endpoint::MemberUpdate => [
            SEEN_BUT_REFUSED[0],
            SEEN_BUT_REFUSED[1],
            [DENY, DENY, DENY, HIDE, OK, DENY, DENY, OK],
            SEEN_BUT_REFUSED[3],
        ],
        // SPEC 4 "DELETE /members/{member} 204" by owner or admin (SPEC 7: a shared
        // member may not change the image); Glance 403 on images that are not shared.
        Endpoint::MemberDelete => [
            SEEN_BUT_REFUSED[0],
            SEEN_BUT_REFUSED[1],
            change(DONE)[2],
            SEEN_BUT_REFUSED[3],
        ],
    }
}

/// SPEC 3 "Tasks API (admin only by default; member 403)": `GET /v2/tasks/{id}` of p1's
/// import task and `GET /v2/tasks`, whoever asks.
pub const TASKS_API: Row = [DENY, DENY, DENY, DENY, DENY, DENY, DENY, OK];

/// `POST /v2/images` with `owner: p1`: SPEC 2 create "owner, admin; reader 403"; naming
/// another project as owner is admin only (SPEC 5 owner "admin only"; Glance add_image
/// `project_id:%(owner)s`, which lets a member name its own project).
pub const CREATE_FOR_P1: Row = [CREATED, CREATED, DENY, DENY, DENY, DENY, DENY, CREATED];
