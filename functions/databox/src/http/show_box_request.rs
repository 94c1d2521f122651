//! `GET /api/databox/box-requests/{id}`: one of the citizen's requests for a
//! data box.

use axum::Json;
use axum::extract::{Path, State};
use portal_host::Problem;
use portal_security::Citizen;
use portal_store::StoreError;
use time::OffsetDateTime;

use super::Shared;
use crate::COLLECTION;
use crate::box_requests::{self, BoxRequest};

/// The operation id: this function's name and its `operationId`.
pub const OPERATION: &str = "ShowDataBoxRequest";

/// Shows a request for a data box, and makes sure it is in the citizen's filings.
#[utoipa::path(
    get,
    path = "/api/databox/box-requests/{id}",
    operation_id = OPERATION,
    tag = "databox",
    params(("id" = String, Path, description = "The request's id.")),
    security(("session" = []), ("bearer" = [])),
    responses(
        (status = 200, description = "Žádost o zřízení datové schránky.", body = BoxRequest),
        (status = 404, description = "Takovou žádost jste nepodali.", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn handler(
    State(databox): State<Shared>,
    citizen: Citizen,
    Path(id): Path<String>,
) -> Result<Json<BoxRequest>, Problem> {
    let not_found = || Problem::not_found("no such request");
    if id.len() > 64 || !id.chars().all(|c| c.is_ascii_alphanumeric()) {
        return Err(not_found());
    }
    let document = box_requests::document_id(&id);
    let load = || databox.documents.get(COLLECTION, citizen.subject.as_str(), &document);
    let mut doc = load().await?.ok_or_else(not_found)?;
    // Still with ISDS: ask it now, in the citizen's session, not only hourly.
    if matches!(doc.body["state"].as_str(), Some("submitted" | "in-progress"))
        && box_requests::advance_one(&databox, citizen.subject.as_str(), &id).await
    {
        doc = load().await?.ok_or_else(not_found)?;
    }
    let request: BoxRequest = serde_json::from_value(doc.body).map_err(|e| StoreError::Invalid(e.to_string()))?;
    let submitted_at = request
        .submitted_at
        .as_deref()
        .and_then(|t| OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339).ok());
    if let Some(at) = submitted_at
        && let Err(error) = box_requests::record_filing(&databox, citizen.subject.as_str(), &id, at).await
    {
        tracing::warn!(error = %error, "the data box request could not be recorded as a filing");
    }
    Ok(Json(request))
}
