//! `DELETE /api/documents/{id}`; `If-Match` optional.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use portal_host::Problem;
use portal_security::delegation::scope::DocumentsWrite;
use portal_security::{AccessEntry, ActingFor, Action, Actor};

use super::{Shared, if_match};

/// The operation id: this function's name and its `operationId`.
pub const OPERATION: &str = "DeleteDocument";

/// Deletes a document with its share links; an upload gives its space back.
/// Under a grant with `documents-write`, one of the principal's documents.
#[utoipa::path(
    delete,
    path = "/api/documents/{id}",
    operation_id = OPERATION,
    tag = "documents",
    params(
        ("id" = String, Path, description = "The document's id."),
        ("If-Match" = Option<String>, Header, description = "The ETag read; the deletion is refused (412) if the document has changed since."),
        ("X-Acting-For" = Option<String>, Header, description = "A grant id (`GET /api/delegations`) to manage the documents of the person who authorised you, or whom you represent (scope `documents-write`)."),
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
    acting: ActingFor<DocumentsWrite>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<StatusCode, Problem> {
    let if_match = if_match(&headers);
    documents.delete(acting.owner().as_str(), &id, if_match.as_deref()).await?;
    let entry = AccessEntry::new(Actor::Citizen, Action::Delete, "document", &id, "smazání dokumentu");
    acting.record(&documents.access_log, entry).await?;
    Ok(StatusCode::NO_CONTENT)
}
