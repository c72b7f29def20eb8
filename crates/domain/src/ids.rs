//! Identifiers as newtypes, so an image id is never passed where a task id is meant.
//! Image ids are UUIDv4 as in Glance (clients may supply their own); ids the service
//! mints for commands and events are UUIDv7 so they sort by time.

use serde::{Deserialize, Serialize};
use std::fmt;
use uuid::Uuid;

macro_rules! uuid_id {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, schemars::JsonSchema)]
        #[serde(transparent)]
        pub struct $name(Uuid);

        impl $name {
            /// Wraps an existing UUID.
            pub const fn from_uuid(id: Uuid) -> Self {
                Self(id)
            }

            /// The UUID inside.
            pub const fn as_uuid(&self) -> Uuid {
                self.0
            }

            /// Parses the hyphenated (or any uuid-crate accepted) text form.
            pub fn parse(text: &str) -> Result<Self, uuid::Error> {
                Uuid::parse_str(text).map(Self)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.hyphenated().fmt(f)
            }
        }

        impl From<Uuid> for $name {
            fn from(id: Uuid) -> Self {
                Self(id)
            }
        }
    };
}

uuid_id!(
    /// An image's id (UUIDv4 when generated).
    ImageId
);
uuid_id!(
    /// A task's id.
    TaskId
);
uuid_id!(
    /// A command's id: the key of exactly-once processing.
    CommandId
);

impl ImageId {
    /// A fresh random image id, as Glance generates them.
    pub fn generate() -> Self {
        Self(Uuid::new_v4())
    }
}

impl TaskId {
    /// A fresh task id.
    pub fn generate() -> Self {
        Self(Uuid::new_v4())
    }
}

impl CommandId {
    /// A fresh, time-ordered command id.
    pub fn generate() -> Self {
        Self(Uuid::now_v7())
    }
}
