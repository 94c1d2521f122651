//! `GET /api/documents/{id}/shares`: the document's share links.

use axum::Json;
use axum::extract::{Path, State};
use portal_host::Problem;
use portal_security::{Action, Citizen};
use serde::Serialize;
use utoipa::ToSchema;

use super::{Shared, owned};
use crate::shares::ShareView;

/// The share links of one document, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct ShareList {
    pub items: Vec<ShareView>,
}

/// The operation id: this function's name and its `operationId`.
pub const OPERATION: &str = "ListDocumentShares";

/// The document's share links, active or not, with their download counts.
#[utoipa::path(
    get,
    path = "/api/documents/{id}/shares",
    operation_id = OPERATION,
    tag = "documents",
    params(("id" = String, Path, description = "The document's id.")),
    security(("session" = []), ("bearer" = [])),
    responses(
        (status = 200, description = "Sdílené odkazy dokumentu, od nejnovějšího.", body = ShareList),
        (status = 404, description = "Takový dokument mezi vašimi není.", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn handler(
    State(documents): State<Shared>,
    citizen: Citizen,
    Path(id): Path<String>,
) -> Result<Json<ShareList>, Problem> {
    let stored = owned(&documents, &citizen, &id).await?;
    let items = documents.list_shares(citizen.subject.as_str(), &stored.id).await?;
    documents
        .access_log
        .record_own(&citizen, Action::Read, "document-share", &stored.id, "přehled sdílení dokumentu")
        .await?;
    Ok(Json(ShareList { items }))
}
