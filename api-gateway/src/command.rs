//! Turning a request into a command and the worker's reply into an answer: the one path
//! by which the gateway changes anything. The command id comes from the client's
//! `Idempotency-Key` when given (extension), so a retried request replays the first
//! outcome instead of applying twice. The command carries the request id as its
//! correlation id and the request span's W3C trace context in its `traceparent` header,
//! and a deadline past which no worker applies it: the gateway's 503 comes after that
//! deadline, behind the command's fence (`db::fence`), so it means the command
//! was not applied.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use bus::client::ClientError;
use db::document::Answer;
use db::fence;
use domain::command::CreateTask;
use domain::status::TaskType;
use domain::{Actor, Command, CommandId, Image, Rejection, RejectionKind, TaskId};
use tokio::time::Instant;
use tower_http::request_id::RequestId;
use uuid::Uuid;
use wire::{CommandEnvelope, CommandReply, CommandResult, TraceContext};

use crate::error::ApiError;
use crate::state::AppState;

/// Names the command ids derived from idempotency keys.
const IDEMPOTENCY_NAMESPACE: Uuid = Uuid::from_u128(0x6d1f_3b2a_8c4e_4f0a_9b7d_2e5c_1a3f_8e60);

/// The request's id and idempotency key.
#[derive(Debug, Clone)]
pub struct RequestContext {
    /// `X-Openstack-Request-Id`, carried as the command's correlation id.
    pub request_id: String,
    /// The client's `Idempotency-Key`, scoped by method and path.
    idempotency: Option<String>,
    /// The request span's trace context, sent with the command (`traceparent`).
    trace: Option<TraceContext>,
}

impl<S: Send + Sync> FromRequestParts<S> for RequestContext {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let request_id = parts
            .extensions
            .get::<RequestId>()
            .and_then(|id| id.header_value().to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let idempotency = parts
            .headers
            .get("idempotency-key")
            .map(|key| {
                key.to_str()
                    .map_err(|_| ApiError::bad_request("Idempotency-Key must be visible ASCII."))
                    .map(|key| format!("{} {} {key}", parts.method, parts.uri.path()))
            })
            .transpose()?;
        let trace = parts.extensions.get::<TraceContext>().copied();
        Ok(Self {
            request_id,
            idempotency,
            trace,
        })
    }
}

impl RequestContext {
    /// The request id a new task records, if the request had one.
    pub fn recorded_request_id(&self) -> Option<String> {
        Some(self.request_id.clone()).filter(|id| !id.is_empty())
    }

    /// The command that creates a new task of `task_type` with `input`, recording this
    /// request's id: `POST /v2/tasks` and the location import both start tasks so.
    pub fn create_task(&self, task_type: TaskType, input: serde_json::Value) -> Command {
        Command::CreateTask(CreateTask {
            task_id: TaskId::generate(),
            task_type,
            input,
            request_id: self.recorded_request_id(),
        })
    }

    /// The command id: derived from the idempotency key and the caller, or fresh.
    fn command_id(&self, actor: &Actor) -> CommandId {
        match &self.idempotency {
            Some(key) => {
                let name = format!("{}\n{}\n{key}", actor.project_id, actor.user_id);
                CommandId::from_uuid(Uuid::new_v5(&IDEMPOTENCY_NAMESPACE, name.as_bytes()))
            }
            None => CommandId::generate(),
        }
    }
}

/// Sends `command` as `actor` with a deadline `command_timeout` from now, and waits
/// for the worker's answer. A 503 comes only once the deadline and the commit margin
/// have passed and the command's fence (see [`db::fence`]) shows no worker
/// applied it or can any more (or at once when nothing could be sent): the 503 means
/// "not applied", and a client may send the request again without applying it twice.
/// When even the fence cannot be read, the 503 says the outcome is unknown.
pub async fn execute(
    state: &AppState,
    request: &RequestContext,
    actor: Actor,
    command: Command,
) -> Result<CommandResult, ApiError> {
    let settings = &state.settings;
    let answer_by = Instant::now() + settings.command_timeout + settings.commit_margin;
    let mut envelope = CommandEnvelope::new(actor, command);
    envelope.command_id = request.command_id(&envelope.actor);
    envelope.deadline = Some(envelope.issued_at + settings.command_timeout);
    if !request.request_id.is_empty() {
        envelope.correlation_id = Some(request.request_id.clone());
    }
    envelope.trace = request.trace;
    let wait = settings.command_timeout + settings.commit_margin;
    match state.commands.send(&envelope, wait).await {
        Ok(reply) => answer(reply),
        Err(error) if !error.is_retryable() => Err(ApiError::internal(error)),
        // Nothing was sent: the broker could not be reached, or it blocks publishers
        // (flow control), or too many commands await confirms. No worker has it.
        Err(
            error @ (ClientError::Connection(_) | ClientError::Blocked | ClientError::Backlog(_)),
        ) => Err(not_applied(&error, &envelope)),
        Err(error) => {
            // The command may be queued, or applied with its reply lost (a dropped
            // connection), or its commit under way: once its deadline has passed, the
            // fence waits out any worker still holding it, and its record, if any, is
            // its answer.
            tokio::time::sleep_until(answer_by).await;
            match settled(state, &envelope).await {
                Ok(Some(Answer::Applied(result))) => Ok(*result),
                Ok(Some(Answer::Refused(rejection))) => answer(CommandReply::Rejected {
                    command_id: Some(envelope.command_id),
                    kind: rejection.kind,
                    message: rejection.message,
                }),
                Ok(None) => Err(not_applied(&error, &envelope)),
                Err(unknown) => {
                    tracing::warn!(%error, %unknown, command.id = %envelope.command_id,
                        "command unanswered and its outcome unknown");
                    Err(ApiError::unavailable(
                        "The image service could not complete the request in time and cannot \
                         tell whether it was applied; retrying it with the same Idempotency-Key \
                         is safe.",
                    ))
                }
            }
        }
    }
}

/// [`execute`] for a command about an image, answered with the image it left behind;
/// an answer without it is a worker's defect (500).
pub async fn execute_for_image(
    state: &AppState,
    request: &RequestContext,
    actor: Actor,
    command: Command,
) -> Result<Image, ApiError> {
    execute(state, request, actor, command)
        .await?
        .image
        .ok_or_else(|| ApiError::internal("an image command was answered without the image"))
}

/// The gateway's answer to a worker's reply.
fn answer(reply: CommandReply) -> Result<CommandResult, ApiError> {
    match reply {
        CommandReply::Accepted { result, .. } => Ok(*result),
        // Past its deadline: the worker recorded it as never to be applied.
        CommandReply::Rejected {
            kind: RejectionKind::Expired,
            ..
        } => Err(unavailable()),
        CommandReply::Rejected { kind, message, .. } => Err(Rejection::new(kind, message).into()),
    }
}

/// The final answer for `envelope` past its deadline (none: never applied), read
/// behind its fence within the fence timeout; an error when it cannot be known.
async fn settled(state: &AppState, envelope: &CommandEnvelope) -> Result<Option<Answer>, String> {
    let Some(deadline) = envelope.deadline else {
        return Err("the command has no deadline".to_owned());
    };
    let bound = state.settings.fence_timeout;
    let read = async {
        let mut conn = state.reads.get().await.map_err(|e| e.to_string())?;
        fence::settled_answer(&mut conn, envelope.command_id, deadline, bound)
            .await
            .map_err(|e| e.to_string())
    };
    // The server ends the wait at `bound`; the margin covers the round trips, and a
    // database that answers nothing at all.
    match tokio::time::timeout(bound + state.settings.commit_margin, read).await {
        Ok(answer) => answer,
        Err(_) => Err("no answer from the database".to_owned()),
    }
}

fn not_applied(error: &ClientError, envelope: &CommandEnvelope) -> ApiError {
    tracing::warn!(%error, command.id = %envelope.command_id, "command not applied in time");
    unavailable()
}

fn unavailable() -> ApiError {
    ApiError::unavailable(
        "The image service could not complete the request in time and did not apply it; retry it.",
    )
}
