//! `POST /api/calendar/feed`: a new secret address of the citizen's
//! iCalendar feed; the previous one stops working.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use portal_host::Problem;
use portal_security::{Action, Citizen};
use serde::Serialize;
use utoipa::ToSchema;

use super::Shared;

/// The feed's secret address: whoever has it can read the calendar.
#[derive(Debug, Serialize, ToSchema)]
pub struct FeedAddress {
    #[schema(example = "http://127.0.0.1:7071/api/calendar/feed/3q2+7w.ics")]
    pub url: String,
}

/// The operation id: this function's name and its `operationId`.
pub const OPERATION: &str = "CreateCalendarFeed";

/// Makes (or replaces) the secret feed address for a calendar app.
#[utoipa::path(
    post,
    path = "/api/calendar/feed",
    operation_id = OPERATION,
    tag = "calendar",
    security(("session" = []), ("bearer" = [])),
    responses((status = 201, description = "Nová adresa odběru; předchozí přestala platit.", body = FeedAddress))
)]
pub async fn handler(State(calendar): State<Shared>, citizen: Citizen) -> Result<Response, Problem> {
    let token = calendar.rotate_feed(&citizen.subject).await?;
    calendar
        .access_log
        .record_own(&citizen, Action::Create, "calendar-feed", "feed", "nová adresa odběru kalendáře")
        .await?;
    let base = calendar.settings.public_base_url.trim_end_matches('/');
    let url = format!("{base}/api/calendar/feed/{token}.ics");
    let mut response = (StatusCode::CREATED, Json(FeedAddress { url })).into_response();
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}
