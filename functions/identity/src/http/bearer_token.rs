//! `POST /api/auth/token`: a short-lived bearer token for the mobile apps.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use portal_security::Citizen;
use serde::Serialize;
use utoipa::ToSchema;

use super::{Shared, rfc3339};
use crate::IdentityError;

/// A bearer token, shown once.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct IssuedBearerToken {
    /// Send it as `Authorization: Bearer <token>`.
    pub token: String,
    /// When it stops working (never after the session ends), RFC 3339.
    #[schema(example = "2026-11-23T08:10:00Z")]
    pub expires_at: String,
}

/// The operation id: this function's name and its `operationId`.
pub const OPERATION: &str = "BearerToken";

/// Issues a bearer token bound to the current session.
#[utoipa::path(
    post,
    path = "/api/auth/token",
    operation_id = OPERATION,
    tag = "identity",
    security(("session" = []), ("bearer" = [])),
    responses(
        (status = 201, description = "Token je vydán.", body = IssuedBearerToken),
    )
)]
pub async fn handler(
    State(id): State<Shared>,
    citizen: Citizen,
) -> Result<(StatusCode, Json<IssuedBearerToken>), IdentityError> {
    let issued = id.sessions.issue_bearer(&citizen.session).await?;
    Ok((StatusCode::CREATED, Json(IssuedBearerToken { token: issued.token, expires_at: rfc3339(issued.expires_at) })))
}
