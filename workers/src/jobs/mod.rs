//! Long work, run from the jobs queue. The queue is bound to the events exchange, so a
//! job starts from an event the outbox published in the transaction that asked for it:
//! a job is never lost between a commit and a publish. Which event starts which job is
//! one table, [`run_job`]:
//!
//! | event | task type | job |
//! |---|---|---|
//! | `task.pending` | `api_image_import` | [`import`]: glance-direct and web-download (through the [`plugins`]) into one or more stores; copy-image |
//! | `task.pending` | `location_import` | [`location`]: hashing a location's data |
//! | `task.pending` | `import` | [`legacy_import`]: the tasks API's import |
//! | `image.deleted` | | [`cleanup`]: removing the image's data |
//! | `image.removed_from_store` | | [`store_copy`]: removing one store's copy of the data |
//!
//! A task's job runs under a claim ([`claim`]), one at a time per task. Jobs may run
//! more than once (redelivery after a crash, duplicate events), so every step is
//! idempotent: the commands they send ([`steps`]) have ids derived from the task and
//! the step.

mod claim;
mod cleanup;
mod import;
mod legacy_import;
mod location;
mod plugins;
mod steps;
mod store_copy;

pub use plugins::{ConversionFormat, ImportPlugin, ImportPlugins};

use apply::Repository;
use db::DbError;
use db::document;
use db::pool::PgPooled;
use domain::status::TaskType;
use domain::{Image, ImageId, TaskId};
use fetch::SafeFetcher;
use store::{Stores, WriteError};
use wire::{EventEnvelope, TraceContext};

use crate::outcome::Outcome;
use claim::ClaimedTask;

/// What jobs need besides the repository.
#[derive(Clone)]
pub struct JobContext {
    /// Applies the commands a job sends.
    pub repository: Repository,
    /// Where image data is.
    pub stores: Stores,
    /// Reads web-download and location URLs behind the import filter.
    pub fetcher: SafeFetcher,
    /// Largest image in bytes.
    pub image_size_cap: u64,
    /// Postgres URL, for the session that claims a task while its job runs.
    pub database_url: String,
    /// The trace context of the running job's span, which the commands it applies
    /// carry into their events; None outside a job.
    pub trace: Option<TraceContext>,
    /// Longest one step's command or read may take, the wait for a pooled connection
    /// included (`SessionSettings::transaction_bound`): a database that stopped
    /// answering fails the job retryable instead of parking its permit.
    pub bound: std::time::Duration,
    /// The import plugins imports run.
    pub plugins: std::sync::Arc<ImportPlugins>,
}

/// Why a job stopped without finishing.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    /// Postgres, the store or the broker failed: run the job again later.
    #[error("{0}")]
    Transient(String),
    /// The event cannot start a job (no such task): dead-letter it.
    #[error("{0}")]
    Permanent(String),
}

impl JobContext {
    /// The task as it is now, if it exists.
    pub async fn task(&self, task_id: TaskId) -> Result<Option<domain::Task>, JobError> {
        self.read(async |conn| document::task_by_id(conn, task_id.as_uuid()).await)
            .await
    }

    /// The image as it is now, if it exists.
    pub async fn image(&self, image_id: ImageId) -> Result<Option<Image>, JobError> {
        self.read(async |conn| document::image_by_id(conn, image_id.as_uuid()).await)
            .await
    }

    /// Runs `query` on a pooled connection within [`JobContext::bound`], the wait for
    /// the connection included.
    async fn read<T>(
        &self,
        query: impl AsyncFnOnce(&mut PgPooled) -> Result<T, DbError>,
    ) -> Result<T, JobError> {
        let work = async {
            let mut conn = self.repository.pool().get().await.map_err(DbError::from)?;
            query(&mut conn).await
        };
        match tokio::time::timeout(self.bound, work).await {
            Ok(result) => Ok(result?),
            Err(_) => Err(DbError::TimedOut("reading for a job").into()),
        }
    }
}

impl From<db::DbError> for JobError {
    fn from(error: db::DbError) -> Self {
        JobError::Transient(error.to_string())
    }
}

impl From<store::StoreError> for JobError {
    fn from(error: store::StoreError) -> Self {
        JobError::Transient(error.to_string())
    }
}

/// Runs the job an event asks for, in the trace `trace`; events that ask for none are
/// acked.
pub async fn run(event: &EventEnvelope, trace: TraceContext, ctx: &JobContext) -> Outcome {
    let ctx = &JobContext {
        trace: Some(trace),
        ..ctx.clone()
    };
    match run_job(event, ctx).await {
        Ok(()) => Outcome::Done,
        Err(JobError::Transient(reason)) => Outcome::Retryable { reason },
        // The event names no job the database agrees with (a forged or stale event):
        // the operator's to look at.
        Err(JobError::Permanent(message)) => Outcome::unreadable(None, message),
    }
}

/// The table of events to jobs: which job an event starts (the module doc lists them).
async fn run_job(event: &EventEnvelope, ctx: &JobContext) -> Result<(), JobError> {
    match (event.aggregate.as_str(), event.to_status.as_str()) {
        ("image", "deleted") => cleanup::remove_data(ImageId::from_uuid(event.id), ctx).await,
        ("image", _) if event.event_type == store_copy::REMOVED_FROM_STORE => {
            store_copy::remove_copies(event, ctx).await
        }
        ("task", "pending") => {
            let Some(claimed) = ClaimedTask::claim(TaskId::from_uuid(event.id), ctx).await? else {
                return Ok(());
            };
            let task = &claimed.task;
            tracing::info!(task.id = %task.id, task.r#type = %task.task_type, "running task");
            match task.task_type {
                TaskType::ApiImageImport => import::run(task, ctx).await,
                TaskType::LocationImport => location::run(task, ctx).await,
                TaskType::Import => legacy_import::run(task, ctx).await,
            }
            // The claim ends here, with the job.
        }
        // Every other event starts no job.
        _ => Ok(()),
    }
}

/// A URL as a task message may show it: without user info, query or fragment, which
/// may hold credentials (task messages go out in notifications, SPEC 10).
fn shown_url(raw: &str) -> String {
    match url::Url::parse(raw) {
        Ok(mut url) => {
            let _ = url.set_username("");
            let _ = url.set_password(None);
            url.set_query(None);
            url.set_fragment(None);
            url.to_string()
        }
        Err(_) => "the given URL".to_owned(),
    }
}

/// What a failed data pass tells the task's owner; store failures are transient.
fn describe<E: std::fmt::Display>(error: WriteError<E>) -> Result<String, JobError> {
    match error {
        WriteError::Store(e) => Err(e.into()),
        WriteError::Source(e) => Ok(format!("reading the image data failed: {e}")),
        WriteError::TooLarge { limit } => Ok(format!(
            "the image data exceeds the image size cap of {limit} bytes"
        )),
        WriteError::Refused(refused) => Ok(format!("the image data was refused: {refused}")),
    }
}
