//! The payloads of the task commands: `create_task` (`POST /v2/tasks`) and the steps a
//! worker takes (`start_task`, `succeed_task`, `fail_task`, `expire_task`).

use crate::ids::TaskId;
use crate::status::TaskType;
use serde::{Deserialize, Serialize};

/// `POST /v2/tasks`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateTask {
    /// The new task's id.
    pub task_id: TaskId,
    /// Only `import` through the tasks API.
    pub task_type: TaskType,
    /// `{import_from, import_from_format, image_properties}` for `import`.
    pub input: serde_json::Value,
    /// The request that asked for it.
    #[serde(default)]
    pub request_id: Option<String>,
}

/// A command that names only its task.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TaskRef {
    /// The task.
    pub task_id: TaskId,
}

/// A task's success.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SucceedTask {
    /// The task.
    pub task_id: TaskId,
    /// Details, e.g. `{"image_id": ...}`.
    pub result: serde_json::Value,
}

/// A task's failure.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FailTask {
    /// The task.
    pub task_id: TaskId,
    /// Why.
    pub message: String,
}
