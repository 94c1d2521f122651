//! `POST /api/auth/logout`: ends the session.

use axum::Json;
use axum::extract::State;
use portal_security::{Action, Citizen};
use serde::Serialize;
use utoipa::ToSchema;

use super::{SetCookie, Shared, clear_cookie};
use crate::{IdentityError, LoginProvider};

/// The session has ended.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LoggedOut {
    /// Always `true`.
    pub logged_out: bool,
    /// Where the browser ends the login at NIA too, when the session came
    /// from NIA; `null` otherwise.
    pub end_session_url: Option<String>,
}

/// The operation id: this function's name and its `operationId`.
pub const OPERATION: &str = "Logout";

/// Ends the session and clears its cookie; for a NIA login, also says where
/// to end the login at NIA.
#[utoipa::path(
    post,
    path = "/api/auth/logout",
    operation_id = OPERATION,
    tag = "identity",
    security(("session" = []), ("bearer" = [])),
    responses(
        (status = 200, description = "Odhlášeno.", body = LoggedOut,
            headers(("Set-Cookie" = String, description = "Smaže cookie relace."))),
    )
)]
pub async fn handler(
    State(id): State<Shared>,
    citizen: Citizen,
) -> Result<(SetCookie, Json<LoggedOut>), IdentityError> {
    id.sessions.revoke(&citizen.session).await?;
    id.access_log.record_own(&citizen, Action::Logout, "session", "logout", "logout").await?;
    let end_session_url = match &id.provider {
        LoginProvider::Oidc(provider) if citizen.session.provider == "nia" => provider.end_session_url().await,
        _ => None,
    };
    Ok((clear_cookie(), Json(LoggedOut { logged_out: true, end_session_url })))
}
