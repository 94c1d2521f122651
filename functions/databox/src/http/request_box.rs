//! `POST /api/databox/box-requests`: a request to create a data box for a
//! natural person, which the citizen can follow at
//! `GET /api/databox/box-requests/{id}` ([`crate::box_requests`]).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use portal_host::Problem;
use portal_security::{Action, Citizen};
use portal_store::{NewDocument, StoreError};

use super::Shared;
use crate::COLLECTION;
use crate::box_requests::{self, BoxRequest};

/// The operation id: this function's name and its `operationId`.
pub const OPERATION: &str = "RequestDataBox";

/// Asks for a data box for the citizen (only one without a box can).
#[utoipa::path(
    post,
    path = "/api/databox/box-requests",
    operation_id = OPERATION,
    tag = "databox",
    security(("session" = []), ("bearer" = [])),
    responses(
        (status = 202, description = "Žádost je podána; její stav uvidíte na adrese žádosti.", body = BoxRequest),
        (status = 409, description = "Datovou schránku už máte.", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn handler(
    State(databox): State<Shared>,
    citizen: Citizen,
) -> Result<(StatusCode, Json<BoxRequest>), Problem> {
    if let Ok(id) = databox.box_of(&citizen.subject).await {
        return Err(Problem::new(StatusCode::CONFLICT, "box-exists", "You already have a data box")
            .with_detail(format!("your data box is {id}")));
    }
    let id = uuid::Uuid::new_v4().simple().to_string();
    let now = databox.clock.now();
    let request = BoxRequest {
        kind: "box-request".into(),
        id: id.clone(),
        box_type: Some(40),
        state: Some("submitted".into()),
        box_id: None,
        refusal_reason: None,
        first_login_by: None,
        submitted_at: Some(now.format(&time::format_description::well_known::Rfc3339).unwrap_or_default()),
        simulated: Some(databox.settings.simulated),
    };
    let body = serde_json::to_value(&request).map_err(|e| StoreError::Invalid(e.to_string()))?;
    let doc = NewDocument::new(citizen.subject.as_str(), box_requests::document_id(&id), body);
    // The timer's marker first: a crash before the request leaves a marker
    // the timer drops, never a request nobody follows.
    box_requests::mark_pending(&databox, citizen.subject.as_str(), &id).await?;
    databox.documents.create(COLLECTION, doc).await?;
    databox.access_log.record_own(&citizen, Action::Create, "data-box-request", &id, "request a data box").await?;
    if let Err(error) = box_requests::record_filing(&databox, citizen.subject.as_str(), &id, now).await {
        // The request stands; showing it publishes the filing again (the event id is fixed).
        tracing::warn!(error = %error, "the data box request could not be recorded as a filing");
    }
    // Hand it to ISDS now, in the citizen's session; if that fails, the
    // timer does it (the request is submitted either way).
    let mut request = request;
    if box_requests::advance_one(&databox, citizen.subject.as_str(), &id).await
        && let Some(doc) =
            databox.documents.get(COLLECTION, citizen.subject.as_str(), &box_requests::document_id(&id)).await?
    {
        request = serde_json::from_value(doc.body).map_err(|e| StoreError::Invalid(e.to_string()))?;
    }
    Ok((StatusCode::ACCEPTED, Json(request)))
}
