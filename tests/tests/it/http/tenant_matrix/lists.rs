//! The list cells: whether each caller finds each visibility's reading image in
//! `GET /v2/images` (by its name, so the cells' own images do not matter), by default and
//! with the visibility and member_status filters (SPEC 7). 1 is listed, 0 is not; a
//! listed image must be the one the caller could GET.

use domain::status::Visibility;

use super::actors::VISIBILITIES;
use super::setup::read_name;

/// One visibility per row (public, private, shared, community), one caller per column
/// (owner, colleague, reader, stranger, pending, accepted, rejected, admin).
pub type Presence = [[u8; 8]; 4];

/// One list query and where the reading images must show up.
pub struct ListCase {
    /// The query after `name=`, without the name.
    pub filter: &'static str,
    /// Who lists which visibility's image.
    pub presence: Presence,
}

/// The list queries of the matrix.
pub const LISTS: [ListCase; 4] = [
    // SPEC 7 "Default list for a caller: public, community images it owns, its own, and
    // shared images where it is an accepted member ... admin's default list shows every
    // project's private and shared images and public ones, but other projects'
    // community images only with visibility=community or all".
    ListCase {
        filter: "",
        presence: [
            [1, 1, 1, 1, 1, 1, 1, 1],
            [1, 1, 1, 0, 0, 0, 0, 1],
            [1, 1, 1, 0, 0, 1, 0, 1],
            [1, 1, 1, 0, 0, 0, 0, 0],
        ],
    },
    // SPEC 7 "community images are visible by id and listed only when
    // visibility=community is asked"; a shared image lists for an accepted member
    // (member_status defaults to accepted, as in Glance).
    ListCase {
        filter: "&visibility={vis}",
        presence: [
            [1, 1, 1, 1, 1, 1, 1, 1],
            [1, 1, 1, 0, 0, 0, 0, 1],
            [1, 1, 1, 0, 0, 1, 0, 1],
            [1, 1, 1, 1, 1, 1, 1, 1],
        ],
    },
    // SPEC 7 visibility `all`: everything the caller may list, community included.
    ListCase {
        filter: "&visibility=all",
        presence: [
            [1, 1, 1, 1, 1, 1, 1, 1],
            [1, 1, 1, 0, 0, 0, 0, 1],
            [1, 1, 1, 0, 0, 1, 0, 1],
            [1, 1, 1, 1, 1, 1, 1, 1],
        ],
    },
    // SPEC 7 "`member_status` (with shared)": with `all`, a member project lists the
    // image whatever it answered; the owning project and admins list it anyway.
    ListCase {
        filter: "&visibility=shared&member_status=all",
        presence: [
            [0, 0, 0, 0, 0, 0, 0, 0],
            [0, 0, 0, 0, 0, 0, 0, 0],
            [1, 1, 1, 0, 1, 1, 1, 1],
            [0, 0, 0, 0, 0, 0, 0, 0],
        ],
    },
];

impl ListCase {
    /// The list path for the reading image of `visibility`.
    pub fn path(&self, visibility: Visibility) -> String {
        let filter = self.filter.replace("{vis}", visibility.as_str());
        format!("/v2/images?name={}{filter}", read_name(visibility))
    }

    /// A label for reports.
    pub fn label(&self) -> String {
        let filter = self.filter.trim_start_matches('&');
        if filter.is_empty() {
            "GET /v2/images (default)".into()
        } else {
            format!("GET /v2/images?{filter}")
        }
    }
}

/// Each row's visibility, for iteration.
pub fn rows() -> impl Iterator<Item = (usize, Visibility)> {
    VISIBILITIES.into_iter().enumerate()
}
