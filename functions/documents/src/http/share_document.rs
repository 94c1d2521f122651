//! `POST /api/documents/{id}/shares` with `{"expiresInHours": 1..=max}` (24
//! when the body is empty).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use bytes::Bytes;
use portal_host::Problem;
use portal_security::{Action, Citizen};
use serde::Deserialize;
use utoipa::ToSchema;

use super::{Shared, invalid_field, json_object, owned};
use crate::shares::NewShare;

const DEFAULT_SHARE_HOURS: u32 = 24;

/// How long the link lives; the whole body may be left out.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(example = json!({"expiresInHours": 24}))]
#[allow(dead_code)] // documents the body that the handler checks
pub struct ShareRequest {
    /// Whole hours, 1 to the portal's limit (168 = a week); default 24.
    #[schema(minimum = 1, maximum = 168, nullable = false)]
    expires_in_hours: Option<u32>,
}

/// The operation id: this function's name and its `operationId`.
pub const OPERATION: &str = "ShareDocument";

/// Makes a secret link through which anyone holding it can download the document until it expires.
#[utoipa::path(
    post,
    path = "/api/documents/{id}/shares",
    operation_id = OPERATION,
    tag = "documents",
    params(("id" = String, Path, description = "The document's id.")),
    request_body(content = ShareRequest, description = "May be left out: without a body the link lives 24 hours."),
    security(("session" = []), ("bearer" = [])),
    responses(
        (status = 201, description = "Odkaz je vytvořen; jeho adresa se ukazuje jen teď.", body = NewShare),
        (status = 400, description = "Neplatná doba platnosti nebo tělo; `errors` jmenuje pole.", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Takový dokument mezi vašimi není.", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn handler(
    State(documents): State<Shared>,
    citizen: Citizen,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<(StatusCode, Json<NewShare>), Problem> {
    let hours = hours(&body, documents.settings.share_max_hours)?;
    let stored = owned(&documents, &citizen, &id).await?;
    let share = documents.create_share(citizen.subject.as_str(), &stored, hours).await?;
    documents
        .access_log
        .record_own(&citizen, Action::Create, "document-share", &share.id, "sdílení dokumentu odkazem")
        .await?;
    Ok((StatusCode::CREATED, Json(share)))
}

/// The link's lifetime the body asks for: whole hours, 1 to `max`.
fn hours(body: &[u8], max: u32) -> Result<u32, Problem> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(DEFAULT_SHARE_HOURS.min(max));
    }
    let body = json_object(body, "a JSON object such as {\"expiresInHours\": 24}")?;
    if let Some(other) = body.keys().find(|key| *key != "expiresInHours") {
        return Err(invalid_field(other, "unknown field; send expiresInHours"));
    }
    match body.get("expiresInHours") {
        None => Ok(DEFAULT_SHARE_HOURS.min(max)),
        Some(value) => match value.as_u64().and_then(|h| u32::try_from(h).ok()) {
            Some(hours) if (1..=max).contains(&hours) => Ok(hours),
            _ => Err(invalid_field("expiresInHours", format!("a whole number of hours, 1-{max}"))),
        },
    }
}
