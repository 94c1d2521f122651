//! `GET /api/calendar/feed`: whether the citizen has a feed address.

use axum::Json;
use axum::extract::State;
use portal_host::Problem;
use portal_security::{Action, Citizen};
use serde::Serialize;
use utoipa::ToSchema;

use super::Shared;

/// Whether a feed address exists (the address itself is shown only once,
/// when it is made).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct FeedStatus {
    pub exists: bool,
    /// When the current address was made, RFC 3339.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created_at: Option<String>,
}

/// The operation id: this function's name and its `operationId`.
pub const OPERATION: &str = "ShowCalendarFeed";

#[utoipa::path(
    get,
    path = "/api/calendar/feed",
    operation_id = OPERATION,
    tag = "calendar",
    security(("session" = []), ("bearer" = [])),
    responses((status = 200, description = "Stav odběru kalendáře.", body = FeedStatus))
)]
pub async fn handler(State(calendar): State<Shared>, citizen: Citizen) -> Result<Json<FeedStatus>, Problem> {
    let state = calendar.feed_state(&citizen.subject).await?;
    calendar.access_log.record_own(&citizen, Action::Read, "calendar-feed", "feed", "stav odběru kalendáře").await?;
    Ok(Json(match state {
        Some(state) => FeedStatus {
            exists: true,
            created_at: Some(
                state.created_at.format(&time::format_description::well_known::Rfc3339).unwrap_or_default(),
            ),
        },
        None => FeedStatus { exists: false, created_at: None },
    }))
}
