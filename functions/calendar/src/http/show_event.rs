//! `GET /api/calendar/events/{id}`: one item of the citizen's calendar.

use axum::Json;
use axum::extract::{Path, State};
use portal_host::Problem;
use portal_security::{Action, Citizen};

use super::{CalendarItem, Shared, load};

/// The operation id: this function's name and its `operationId`.
pub const OPERATION: &str = "ShowCalendarEvent";

/// One own event or entry.
#[utoipa::path(
    get,
    path = "/api/calendar/events/{id}",
    operation_id = OPERATION,
    tag = "calendar",
    params(("id" = String, Path, description = "The item's id.")),
    security(("session" = []), ("bearer" = [])),
    responses(
        (status = 200, description = "Položka kalendáře.", body = CalendarItem),
        (status = 404, description = "Taková položka ve vašem kalendáři není.", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn handler(
    State(calendar): State<Shared>,
    citizen: Citizen,
    Path(id): Path<String>,
) -> Result<Json<CalendarItem>, Problem> {
    let (item, _) = load(&calendar, &citizen, &id).await?;
    calendar.access_log.record_own(&citizen, Action::Read, "calendar-event", &id, "zobrazení události").await?;
    Ok(Json(CalendarItem::from(item)))
}
