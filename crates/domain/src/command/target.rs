//! [`Target`]: the aggregates a command reads and may change.

use crate::ids::{ImageId, TaskId};

/// The aggregates a command reads and may change; the repository loads exactly these.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// One image.
    Image(ImageId),
    /// One task.
    Task(TaskId),
    /// An image and its import task, changed together.
    ImageAndTask(ImageId, TaskId),
}

impl Target {
    /// The image, if the command is about one.
    pub fn image(self) -> Option<ImageId> {
        match self {
            Target::Image(id) | Target::ImageAndTask(id, _) => Some(id),
            Target::Task(_) => None,
        }
    }

    /// The task, if the command is about one.
    pub fn task(self) -> Option<TaskId> {
        match self {
            Target::Task(id) | Target::ImageAndTask(_, id) => Some(id),
            Target::Image(_) => None,
        }
    }

    /// The id `processed_commands` files the command under: the image if there is one.
    pub fn primary(self) -> uuid::Uuid {
        match self {
            Target::Image(id) | Target::ImageAndTask(id, _) => id.as_uuid(),
            Target::Task(id) => id.as_uuid(),
        }
    }
}
