//! `GET /api/auth/session`: the current session, with its CSRF token.

use axum::Json;
use portal_security::Citizen;
use serde::Serialize;
use utoipa::ToSchema;

use super::{LevelOfAssurance, rfc3339};

/// The session the request came with.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SessionInfo {
    pub loa: LevelOfAssurance,
    /// `nia` or `development`.
    #[schema(example = "nia")]
    pub provider: String,
    /// Send it in `X-CSRF-Token` with every state-changing request.
    pub csrf_token: String,
    /// When the session ends at the latest, RFC 3339.
    #[schema(example = "2026-11-23T16:00:00Z")]
    pub expires_at: String,
}

/// The operation id: this function's name and its `operationId`.
pub const OPERATION: &str = "CurrentSession";

/// The level of assurance, provider, CSRF token and end of the session.
#[utoipa::path(
    get,
    path = "/api/auth/session",
    operation_id = OPERATION,
    tag = "identity",
    security(("session" = []), ("bearer" = [])),
    responses(
        (status = 200, description = "Aktuální relace.", body = SessionInfo),
    )
)]
pub async fn handler(citizen: Citizen) -> Json<SessionInfo> {
    Json(SessionInfo {
        loa: citizen.loa.into(),
        provider: citizen.session.provider,
        csrf_token: citizen.session.csrf_token,
        expires_at: rfc3339(citizen.session.expires_at),
    })
}
