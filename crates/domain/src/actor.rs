//! Who issues a command: a project, a user and roles, as an authenticating proxy or the
//! token file reports them, or the service itself for internal steps.

use serde::{Deserialize, Serialize};

/// The caller of a command.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Actor {
    /// The caller's project (Glance's owner for images it creates).
    pub project_id: String,
    /// The caller's user id.
    pub user_id: String,
    /// Roles, taken literally: `admin`, `member`, `reader`, `service`; others are ignored.
    pub roles: Vec<String>,
}

/// The project and user that internal steps (completing uploads, running tasks, the
/// janitor and scrubber) are recorded under.
pub const SERVICE_PROJECT: &str = "imagefleet";

impl Actor {
    /// An actor with the given roles.
    pub fn new(project_id: impl Into<String>, user_id: impl Into<String>, roles: &[&str]) -> Self {
        Self {
            project_id: project_id.into(),
            user_id: user_id.into(),
            roles: roles.iter().map(|r| (*r).to_owned()).collect(),
        }
    }

    /// The service itself, for steps no user triggers directly.
    pub fn service() -> Self {
        Self::new(SERVICE_PROJECT, SERVICE_PROJECT, &["service"])
    }

    fn has_role(&self, role: &str) -> bool {
        self.roles.iter().any(|r| r.eq_ignore_ascii_case(role))
    }

    /// Holds the admin role.
    pub fn is_admin(&self) -> bool {
        self.has_role("admin")
    }

    /// Holds the service role: may complete uploads, run tasks and scrub.
    pub fn is_service(&self) -> bool {
        self.has_role("service")
    }

    /// May change what its project owns (member role; admin implies it).
    pub fn is_member(&self) -> bool {
        self.has_role("member") || self.is_admin()
    }

    /// May read what its project owns (any of reader, member, admin).
    pub fn is_reader(&self) -> bool {
        self.has_role("reader") || self.is_member()
    }
}
