//! `GET /api/calendar/events`: the citizen's calendar between two days.

use axum::Json;
use axum::extract::State;
use portal_host::{FieldViolation, Params, Problem};
use portal_security::{Action, Citizen};
use serde::{Deserialize, Serialize};
use time::Duration;
use utoipa::{IntoParams, ToSchema};

use super::{CalendarItem, Shared};
use crate::item::{format_date, parse_date};

/// The longest range one list request may ask for.
const MAX_RANGE_DAYS: i64 = 731;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct Range {
    /// The first day, YYYY-MM-DD (default: 30 days ago).
    from: Option<String>,
    /// The last day, YYYY-MM-DD, at most 731 days after `from` (default: in 365 days).
    to: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CalendarPage {
    pub from: String,
    pub to: String,
    pub items: Vec<CalendarItem>,
}

/// The operation id: this function's name and its `operationId`.
pub const OPERATION: &str = "ListCalendarEvents";

/// The citizen's own events and the entries of other services, by day.
#[utoipa::path(
    get,
    path = "/api/calendar/events",
    operation_id = OPERATION,
    tag = "calendar",
    params(Range),
    security(("session" = []), ("bearer" = [])),
    responses(
        (status = 200, description = "Položky kalendáře v daném rozmezí.", body = CalendarPage),
        (status = 422, description = "Neplatné datum nebo příliš dlouhé rozmezí.", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn handler(
    State(calendar): State<Shared>,
    citizen: Citizen,
    Params(range): Params<Range>,
) -> Result<Json<CalendarPage>, Problem> {
    let today = calendar.today();
    let mut errors = Vec::new();
    let mut day = |field: &'static str, value: Option<String>, default: i64| match value {
        None => today.checked_add(Duration::days(default)),
        Some(text) => {
            let parsed = parse_date(&text);
            if parsed.is_none() {
                errors.push(FieldViolation::new(field, "a date YYYY-MM-DD"));
            }
            parsed
        }
    };
    let (from, to) = (day("from", range.from, -30), day("to", range.to, 365));
    let (Some(from), Some(to)) = (from, to) else { return Err(Problem::validation(errors)) };
    if to < from {
        return Err(Problem::validation(vec![FieldViolation::new("to", "must not be before from")]));
    }
    if to - from > Duration::days(MAX_RANGE_DAYS) {
        return Err(Problem::validation(vec![FieldViolation::new(
            "to",
            format!("at most {MAX_RANGE_DAYS} days after from"),
        )]));
    }
    let items = calendar.items_between(citizen.subject.as_str(), from, to).await?;
    let (from, to) = (format_date(from), format_date(to));
    let range = format!("{from}..{to}");
    calendar.access_log.record_own(&citizen, Action::Read, "calendar-events", &range, "zobrazení kalendáře").await?;
    Ok(Json(CalendarPage { from, to, items: items.into_iter().map(CalendarItem::from).collect() }))
}
