//! The matrix's callers (the columns of every table) and visibilities (its rows). The
//! owning project is `p1`; the three shared members are projects of their own, made
//! members of every `shared` image the matrix creates and answering pending, accepted
//! and rejected; for the other visibilities they are simply other projects.

use domain::Actor;
use domain::status::Visibility;
use imagefleet_tests::fixtures::{self, OWNER_PROJECT};

/// The project that is a pending member of every shared image.
pub const PENDING_PROJECT: &str = "p-pending";
/// The project that accepted every shared image.
pub const ACCEPTED_PROJECT: &str = "p-accepted";
/// The project that rejected every shared image.
pub const REJECTED_PROJECT: &str = "p-rejected";

/// One caller of the matrix, in column order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Who {
    /// `u1`, member (and reader) of the owning project `p1`: SPEC 2's "owner".
    Owner,
    /// `u5`, another member of `p1`: policy is per project, so it is the owner too.
    Colleague,
    /// `u2`, reader role only in `p1`.
    Reader,
    /// A member of a project nothing is shared with.
    Stranger,
    /// A member of the project that is a pending member of shared images.
    Pending,
    /// A member of the project that accepted shared images.
    Accepted,
    /// A member of the project that rejected shared images.
    Rejected,
    /// An admin of another project (`admin-project`).
    Admin,
}

/// Every caller, in the column order of the tables.
pub const ACTORS: [Who; 8] = [
    Who::Owner,
    Who::Colleague,
    Who::Reader,
    Who::Stranger,
    Who::Pending,
    Who::Accepted,
    Who::Rejected,
    Who::Admin,
];

/// Every visibility, in the row order of the tables.
pub const VISIBILITIES: [Visibility; 4] = [
    Visibility::Public,
    Visibility::Private,
    Visibility::Shared,
    Visibility::Community,
];

impl Who {
    /// The identity the requests carry (X-Project-Id, X-User-Id, X-Roles; SPEC 11).
    pub fn actor(self) -> Actor {
        match self {
            Who::Owner => fixtures::owner(),
            Who::Colleague => Actor::new(OWNER_PROJECT, "u5", &["member", "reader"]),
            Who::Reader => fixtures::reader(),
            Who::Stranger => Actor::new("p-stranger", "u6", &["member", "reader"]),
            Who::Pending => Actor::new(PENDING_PROJECT, "u7", &["member", "reader"]),
            Who::Accepted => Actor::new(ACCEPTED_PROJECT, "u8", &["member", "reader"]),
            Who::Rejected => Actor::new(REJECTED_PROJECT, "u9", &["member", "reader"]),
            Who::Admin => fixtures::admin(),
        }
    }

    /// Its column in the tables.
    pub fn column(self) -> usize {
        ACTORS.iter().position(|w| *w == self).unwrap_or(0)
    }

    /// A short name for reports.
    pub fn name(self) -> &'static str {
        match self {
            Who::Owner => "owner",
            Who::Colleague => "colleague",
            Who::Reader => "reader",
            Who::Stranger => "stranger",
            Who::Pending => "pending",
            Who::Accepted => "accepted",
            Who::Rejected => "rejected",
            Who::Admin => "admin",
        }
    }

    /// Whether it sees every member of `p1`'s images (the owning project and admins);
    /// a member project sees only its own entry (SPEC 4, Glance's member repository).
    pub fn sees_all_members(self) -> bool {
        matches!(self, Who::Owner | Who::Colleague | Who::Reader | Who::Admin)
    }
}

/// Its row in the tables.
pub fn row(visibility: Visibility) -> usize {
    VISIBILITIES
        .iter()
        .position(|v| *v == visibility)
        .unwrap_or(0)
}
