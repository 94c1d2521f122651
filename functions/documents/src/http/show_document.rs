//! `GET /api/documents/{id}`: a document's metadata, with its `ETag`.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::header::{ETAG, HeaderName};
use portal_host::Problem;
use portal_security::{Action, Citizen};

use super::{Shared, not_found};
use crate::document::{DocumentView, etag_header};

/// One of the citizen's documents; its `ETag` guards a later change.
#[utoipa::path(
    get,
    path = "/api/documents/{id}",
    operation_id = "ShowDocument",
    tag = "documents",
    params(("id" = String, Path, description = "The document's id.")),
    security(("session" = []), ("bearer" = [])),
    responses(
        (status = 200, description = "Údaje o dokumentu.", body = DocumentView,
            headers(("ETag" = String, description = "Verze dokumentu pro If-Match při úpravě či smazání."))),
        (status = 404, description = "Takový dokument mezi vašimi není.", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn handler(
    State(documents): State<Shared>,
    citizen: Citizen,
    Path(id): Path<String>,
) -> Result<([(HeaderName, String); 1], Json<DocumentView>), Problem> {
    let owner = citizen.subject.as_str();
    let (stored, etag) = documents.load(owner, &id).await?.ok_or_else(not_found)?;
    let view = documents.view(owner, &stored).await?;
    documents.access_log.record_own(&citizen, Action::Read, "document", &stored.id, "zobrazení dokumentu").await?;
    Ok(([(ETAG, etag_header(&etag))], Json(view)))
}
