//! Turning a request into a command and the worker's reply into an answer: the one path
//! by which the gateway changes anything. The command id comes from the client's
//! `Idempotency-Key` when given (extension), so a retried request replays the first
//! outcome instead of applying twice. The command carries the request id as its
//! correlation id and the request span's W3C trace context in its `traceparent` header.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use shared::domain::{Actor, Command, CommandId};
use shared::messaging::{CommandEnvelope, CommandReply, CommandResult, TraceContext};
use tower_http::request_id::RequestId;
use uuid::Uuid;

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

/// Sends `command` as `actor` and waits for the worker's answer.
pub async fn execute(
    state: &AppState,
    request: &RequestContext,
    actor: Actor,
    command: Command,
) -> Result<CommandResult, ApiError> {
    let mut envelope = CommandEnvelope::new(actor, command);
    envelope.command_id = request.command_id(&envelope.actor);
    if !request.request_id.is_empty() {
        envelope.correlation_id = Some(request.request_id.clone());
    }
    envelope.trace = request.trace;
    match state
        .commands
        .send(&envelope, state.settings.command_timeout)
        .await
    {
        Ok(CommandReply::Accepted { result, .. }) => Ok(*result),
        Ok(CommandReply::Rejected { kind, message, .. }) => {
            Err(shared::domain::Rejection::new(kind, message).into())
        }
        Err(error) if !error.is_retryable() => Err(ApiError::internal(error)),
        Err(error) => {
            tracing::warn!(%error, command.id = %envelope.command_id, "command not answered");
            Err(ApiError::unavailable(
                "The image service could not complete the request in time; retry it (with the same Idempotency-Key to be safe).",
            ))
        }
    }
}
