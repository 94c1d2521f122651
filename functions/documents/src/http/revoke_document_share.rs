//! `DELETE /api/documents/{id}/shares/{shareId}`: the link stops at once.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use portal_host::Problem;
use portal_security::{Action, Citizen};

use super::{Shared, owned};
use crate::DocumentsError;

/// The operation id: this function's name and its `operationId`.
pub const OPERATION: &str = "RevokeDocumentShare";

/// Revokes a share link; revoking it again is fine.
#[utoipa::path(
    delete,
    path = "/api/documents/{id}/shares/{shareId}",
    operation_id = OPERATION,
    tag = "documents",
    params(
        ("id" = String, Path, description = "The document's id."),
        ("shareId" = String, Path, description = "The share's id."),
    ),
    security(("session" = []), ("bearer" = [])),
    responses(
        (status = 204, description = "Odkaz přestal platit."),
        (status = 404, description = "Takový dokument nebo takové sdílení mezi vašimi není.", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn handler(
    State(documents): State<Shared>,
    citizen: Citizen,
    Path((id, share_id)): Path<(String, String)>,
) -> Result<StatusCode, Problem> {
    let stored = owned(&documents, &citizen, &id).await?;
    match documents.revoke_share(citizen.subject.as_str(), &stored.id, &share_id).await {
        Err(DocumentsError::NotFound) => return Err(Problem::not_found("no such share of this document")),
        revoked => revoked?,
    };
    documents
        .access_log
        .record_own(&citizen, Action::Delete, "document-share", &share_id, "zrušení sdíleného odkazu")
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
