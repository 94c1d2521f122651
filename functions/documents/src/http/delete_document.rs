//! `DELETE /api/documents/{id}`; `If-Match` optional.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use portal_host::Problem;
use portal_security::{Action, Citizen};

use super::{Shared, if_match};

/// Deletes a document with its share links; an upload gives its space back.
#[utoipa::path(
    delete,
    path = "/api/documents/{id}",
    operation_id = "DeleteDocument",
    tag = "documents",
    params(
        ("id" = String, Path, description = "The document's id."),
        ("If-Match" = Option<String>, Header, description = "The ETag read; the deletion is refused (412) if the document has changed since."),
    ),
    security(("session" = []), ("bearer" = [])),
    responses(
        (status = 204, description = "Dokument je smazán."),
        (status = 404, description = "Takový dokument mezi vašimi není.", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "Dokument se mezitím změnil; načtěte jej znovu.", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn handler(
    State(documents): State<Shared>,
    citizen: Citizen,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<StatusCode, Problem> {
    let if_match = if_match(&headers);
    documents.delete(citizen.subject.as_str(), &id, if_match.as_deref()).await?;
    documents.access_log.record_own(&citizen, Action::Delete, "document", &id, "smazání dokumentu").await?;
    Ok(StatusCode::NO_CONTENT)
}
