//! `GET /api/documents/{id}`: a document's metadata, with its `ETag`.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::header::{ETAG, HeaderName};
use portal_host::Problem;
use portal_security::delegation::scope::DocumentsRead;
use portal_security::{AccessEntry, ActingFor, Action, Actor};

use super::{Shared, not_found};
use crate::document::{DocumentView, etag_header};

/// The operation id: this function's name and its `operationId`.
pub const OPERATION: &str = "ShowDocument";

/// One of the citizen's documents; its `ETag` guards a later change.
#[utoipa::path(
    get,
    path = "/api/documents/{id}",
    operation_id = OPERATION,
    tag = "documents",
    params(("id" = String, Path, description = "The document's id."), ("X-Acting-For" = Option<String>, Header, description = "A grant id (`GET /api/delegations`) to read the documents of the person who authorised you, or whom you represent (scope `documents-read`)."),),
    security(("session" = []), ("bearer" = [])),
    responses(
        (status = 200, description = "Údaje o dokumentu.", body = DocumentView,
            headers(("ETag" = String, description = "Verze dokumentu pro If-Match při úpravě či smazání."))),
        (status = 404, description = "Takový dokument mezi vašimi není.", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn handler(
    State(documents): State<Shared>,
    acting: ActingFor<DocumentsRead>,
    Path(id): Path<String>,
) -> Result<([(HeaderName, String); 1], Json<DocumentView>), Problem> {
    let owner = acting.owner().as_str();
    let (stored, etag) = documents.load(owner, &id).await?.ok_or_else(not_found)?;
    let view = documents.view(owner, &stored).await?;
    let entry = AccessEntry::new(Actor::Citizen, Action::Read, "document", &stored.id, "zobrazení dokumentu");
    acting.record(&documents.access_log, entry).await?;
    Ok(([(ETAG, etag_header(&etag))], Json(view)))
}
