//! `PUT /api/calendar/events/{id}`: changes an own event.

use axum::Json;
use axum::extract::{Path, State};
use portal_host::{Body, Problem};
use portal_security::{Action, Citizen};
use portal_store::{NewDocument, StoreError};
use serde_json::Value;

use super::{CalendarItem, EventInput, Shared, load, own_only, settle_quietly};
use crate::item::Item;
use crate::{COLLECTION, CalendarError, reminders, validate};

/// The operation id: this function's name and its `operationId`.
pub const OPERATION: &str = "UpdateCalendarEvent";

/// Replaces an own event; entries of other services cannot be changed (409).
#[utoipa::path(
    put,
    path = "/api/calendar/events/{id}",
    operation_id = OPERATION,
    tag = "calendar",
    params(("id" = String, Path, description = "The event's id.")),
    request_body = EventInput,
    security(("session" = []), ("bearer" = [])),
    responses(
        (status = 200, description = "Událost je změněna.", body = CalendarItem),
        (status = 404, description = "Taková položka ve vašem kalendáři není.", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Položku vložila jiná služba, nebo ji současně měnil jiný požadavek.", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn handler(
    State(calendar): State<Shared>,
    citizen: Citizen,
    Path(id): Path<String>,
    Body(body): Body<Value>,
) -> Result<Json<CalendarItem>, Problem> {
    let (old, etag) = load(&calendar, &citizen, &id).await?;
    own_only(&old)?;
    let event = validate::own_event(&body).map_err(Problem::validation)?;
    let owner = citizen.subject.as_str();
    let stored = calendar.stored_event(owner, &id, &event).await?;
    let body = stored.to_body()?;
    reminders::schedule(&calendar, owner, &id, &stored).await?;
    match calendar.documents.replace(COLLECTION, NewDocument::new(owner, id.clone(), body), &etag).await {
        Ok(_) => {}
        Err(StoreError::PreconditionFailed | StoreError::NotFound) => return Err(CalendarError::Contended.into()),
        Err(error) => return Err(error.into()),
    }
    calendar.access_log.record_own(&citizen, Action::Update, "calendar-event", &id, "úprava události").await?;
    settle_quietly(&calendar, &stored, &old.stored.reminders).await;
    Ok(Json(CalendarItem::from(Item { id, stored, content: event.content })))
}
