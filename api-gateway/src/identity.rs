//! Who is calling, without Keystone: trusted headers set by an authenticating proxy
//! (`X-Project-Id` or `X-Tenant-Id`, `X-User-Id`, `X-Roles`), or a static token file
//! (`X-Auth-Token` -> project, user, roles). A request with no identity acts as the
//! configured default identity if there is one (development), else gets 401.

use std::collections::HashMap;
use std::path::Path;

use axum::extract::FromRequestParts;
use axum::http::HeaderMap;
use axum::http::request::Parts;
use domain::Actor;
use serde::Deserialize;

use crate::error::ApiError;
use crate::state::AppState;

/// How callers prove who they are.
#[derive(Debug, Clone)]
pub enum AuthMode {
    /// Trust the identity headers (deploy behind a proxy that sets and strips them).
    Headers,
    /// Look `X-Auth-Token` up in a static table.
    Tokens(HashMap<String, Actor>),
}

/// The identity settings of a gateway.
#[derive(Debug, Clone)]
pub struct Identity {
    /// The mode.
    pub mode: AuthMode,
    /// Who a request with no identity acts as; none means 401.
    pub default_actor: Option<Actor>,
}

/// The token file: `{"tokens": {"<token>": {"project_id", "user_id", "roles": [...]}}}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TokenFile {
    tokens: HashMap<String, Actor>,
}

/// Why the token file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum TokenFileError {
    /// It cannot be read.
    #[error("cannot read the token file {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// It is not the expected JSON.
    #[error("the token file {path} is not valid: {source}")]
    Parse {
        /// The file.
        path: String,
        /// Why.
        source: serde_json::Error,
    },
}

impl AuthMode {
    /// Reads a token file.
    pub fn from_token_file(path: &Path) -> Result<Self, TokenFileError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| TokenFileError::Read {
            path: shown.clone(),
            source,
        })?;
        let file: TokenFile =
            serde_json::from_str(&text).map_err(|source| TokenFileError::Parse {
                path: shown,
                source,
            })?;
        Ok(AuthMode::Tokens(file.tokens))
    }
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
}

impl Identity {
    /// The caller of a request with these headers.
    pub fn resolve(&self, headers: &HeaderMap) -> Result<Actor, ApiError> {
        let found = match &self.mode {
            AuthMode::Headers => header(headers, "x-project-id")
                .or_else(|| header(headers, "x-tenant-id"))
                .map(|project| Actor {
                    project_id: project.to_owned(),
                    user_id: header(headers, "x-user-id").unwrap_or(project).to_owned(),
                    roles: header(headers, "x-roles")
                        .map(|roles| {
                            roles
                                .split(',')
                                .map(|r| r.trim().to_owned())
                                .filter(|r| !r.is_empty())
                                .collect()
                        })
                        .unwrap_or_default(),
                }),
            AuthMode::Tokens(tokens) => match header(headers, "x-auth-token") {
                Some(token) => Some(
                    tokens
                        .get(token)
                        .cloned()
                        .ok_or_else(|| ApiError::unauthorized("The X-Auth-Token is not valid."))?,
                ),
                None => None,
            },
        };
        found
            .or_else(|| self.default_actor.clone())
            .ok_or_else(|| ApiError::unauthorized("This request carries no identity: send X-Project-Id, X-User-Id and X-Roles (or X-Auth-Token in token mode)."))
    }
}

/// The calling actor, as an extractor.
pub struct Caller(pub Actor);

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        state.identity.resolve(&parts.headers).map(Caller)
    }
}
