//! `POST /api/calendar/events`: a new own event.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use portal_host::{Body, Problem};
use portal_security::{Action, Citizen};
use portal_store::{BatchOp, NewDocument, StoreError};
use serde_json::{Value, json};

use super::{CalendarItem, EventInput, Shared, settle_quietly};
use crate::item::{self, Item};
use crate::{COLLECTION, COUNTER_ID, CalendarError, reminders, validate};

/// The operation id: this function's name and its `operationId`.
pub const OPERATION: &str = "CreateCalendarEvent";

/// Adds an own event; the calendar keeps at most a set number of them.
#[utoipa::path(
    post,
    path = "/api/calendar/events",
    operation_id = OPERATION,
    tag = "calendar",
    request_body = EventInput,
    security(("session" = []), ("bearer" = [])),
    responses(
        (status = 201, description = "Událost je v kalendáři.", body = CalendarItem),
        (status = 409, description = "Kalendář je plný, nebo jej současně měnil jiný požadavek.", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn handler(
    State(calendar): State<Shared>,
    citizen: Citizen,
    Body(body): Body<Value>,
) -> Result<(StatusCode, Json<CalendarItem>), Problem> {
    let event = validate::own_event(&body).map_err(Problem::validation)?;
    let owner = citizen.subject.as_str();
    let id = item::new_event_id();
    let stored = calendar.stored_event(owner, &id, &event).await?;
    let body = stored.to_body()?;
    // Schedule documents first: without the item they never fire.
    reminders::schedule(&calendar, owner, &id, &stored).await?;
    // The event and the counter in one batch, so the limit holds under
    // concurrent requests.
    let mut created = false;
    for _ in 0..5 {
        let counter = calendar.documents.get(COLLECTION, owner, COUNTER_ID).await?;
        let count = counter.as_ref().and_then(|c| c.body["own"].as_u64()).unwrap_or(0);
        if count >= u64::from(calendar.settings.max_events_per_citizen) {
            let _ = reminders::remove(&calendar, &stored.reminders).await;
            return Err(Problem::new(StatusCode::CONFLICT, "calendar-full", "Your calendar is full").with_detail(
                format!(
                    "you can keep at most {} own events; delete some first",
                    calendar.settings.max_events_per_citizen
                ),
            ));
        }
        let counter_doc = NewDocument::new(owner, COUNTER_ID, json!({"type": "calendar-counter", "own": count + 1}));
        let counter_op = match counter {
            Some(doc) => BatchOp::Replace { doc: counter_doc, if_match: doc.etag },
            None => BatchOp::Create(counter_doc),
        };
        let ops = vec![BatchOp::Create(NewDocument::new(owner, id.clone(), body.clone())), counter_op];
        match calendar.documents.batch(COLLECTION, owner, ops).await {
            Ok(_) => {
                created = true;
                break;
            }
            Err(StoreError::PreconditionFailed | StoreError::Conflict) => continue,
            Err(error) => return Err(error.into()),
        }
    }
    if !created {
        return Err(CalendarError::Contended.into());
    }
    calendar.access_log.record_own(&citizen, Action::Create, "calendar-event", &id, "nová událost v kalendáři").await?;
    settle_quietly(&calendar, &stored, &[]).await;
    Ok((StatusCode::CREATED, Json(CalendarItem::from(Item { id, stored, content: event.content }))))
}
