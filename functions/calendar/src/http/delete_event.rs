//! `DELETE /api/calendar/events/{id}`: removes an own event.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use portal_host::Problem;
use portal_security::{Action, Citizen};
use portal_store::{BatchOp, NewDocument, StoreError};
use serde_json::json;

use super::{Shared, load, own_only};
use crate::{COLLECTION, COUNTER_ID, CalendarError, reminders};

/// The operation id: this function's name and its `operationId`.
pub const OPERATION: &str = "DeleteCalendarEvent";

/// Deletes an own event and its reminders.
#[utoipa::path(
    delete,
    path = "/api/calendar/events/{id}",
    operation_id = OPERATION,
    tag = "calendar",
    params(("id" = String, Path, description = "The event's id.")),
    security(("session" = []), ("bearer" = [])),
    responses(
        (status = 204, description = "Událost je smazána."),
        (status = 404, description = "Taková položka ve vašem kalendáři není.", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Položku vložila jiná služba, nebo ji současně měnil jiný požadavek.", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn handler(
    State(calendar): State<Shared>,
    citizen: Citizen,
    Path(id): Path<String>,
) -> Result<StatusCode, Problem> {
    let (old, _) = load(&calendar, &citizen, &id).await?;
    own_only(&old)?;
    let owner = citizen.subject.as_str();
    reminders::remove(&calendar, &old.stored.reminders).await?;
    let mut deleted = false;
    for _ in 0..5 {
        let counter = calendar.documents.get(COLLECTION, owner, COUNTER_ID).await?;
        let mut ops = vec![BatchOp::Delete { id: id.clone(), if_match: None }];
        if let Some(counter) = counter {
            let count = counter.body["own"].as_u64().unwrap_or(0).saturating_sub(1);
            ops.push(BatchOp::Replace {
                doc: NewDocument::new(owner, COUNTER_ID, json!({"type": "calendar-counter", "own": count})),
                if_match: counter.etag,
            });
        }
        match calendar.documents.batch(COLLECTION, owner, ops).await {
            Ok(_) => {
                deleted = true;
                break;
            }
            // Deleted by a concurrent request: the end state is the same.
            Err(StoreError::NotFound) => return Ok(StatusCode::NO_CONTENT),
            Err(StoreError::PreconditionFailed | StoreError::Conflict) => continue,
            Err(error) => return Err(error.into()),
        }
    }
    if !deleted {
        return Err(CalendarError::Contended.into());
    }
    calendar.access_log.record_own(&citizen, Action::Delete, "calendar-event", &id, "smazání události").await?;
    Ok(StatusCode::NO_CONTENT)
}
