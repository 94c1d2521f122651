//! `DELETE /api/calendar/feed`: ends the feed address.

use axum::extract::State;
use axum::http::StatusCode;
use portal_host::Problem;
use portal_security::{Action, Citizen};

use super::Shared;

/// The operation id: this function's name and its `operationId`.
pub const OPERATION: &str = "DeleteCalendarFeed";

/// Ends the feed: its address answers 404 from now on.
#[utoipa::path(
    delete,
    path = "/api/calendar/feed",
    operation_id = OPERATION,
    tag = "calendar",
    security(("session" = []), ("bearer" = [])),
    responses((status = 204, description = "Odběr je zrušen (nebo žádný nebyl)."))
)]
pub async fn handler(State(calendar): State<Shared>, citizen: Citizen) -> Result<StatusCode, Problem> {
    if calendar.delete_feed(&citizen.subject).await? {
        calendar
            .access_log
            .record_own(&citizen, Action::Delete, "calendar-feed", "feed", "zrušení odběru kalendáře")
            .await?;
    }
    Ok(StatusCode::NO_CONTENT)
}
