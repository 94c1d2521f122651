//! `GET /api/documents/{id}/content`: the document itself.

use axum::body::Body;
use axum::extract::{Path, State};
use axum::response::Response;
use portal_host::Problem;
use portal_security::delegation::scope::DocumentsRead;
use portal_security::{AccessEntry, ActingFor, Action, Actor};

use super::{Shared, not_found, stream_response};

/// The operation id: this function's name and its `operationId`.
pub const OPERATION: &str = "DownloadDocument";

/// Downloads the document, byte for byte as it was uploaded or filed.
#[utoipa::path(
    get,
    path = "/api/documents/{id}/content",
    operation_id = OPERATION,
    tag = "documents",
    params(("id" = String, Path, description = "The document's id."), ("X-Acting-For" = Option<String>, Header, description = "A grant id (`GET /api/delegations`) to read the documents of the person who authorised you, or whom you represent (scope `documents-read`)."),),
    security(("session" = []), ("bearer" = [])),
    responses(
        (status = 200, description = "Obsah dokumentu v jeho typu (Content-Type), ke stažení (Content-Disposition).", content(
            (String = "application/pdf"),
            (String = "image/jpeg"),
            (String = "image/png"),
            (String = "text/plain"),
            (String = "*/*"),
        )),
        (status = 404, description = "Takový dokument mezi vašimi není.", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Nahraný dokument je v karanténě: kontrola na malware ještě neskončila (`document-scan-pending`, zkuste to za minutu), nebo v něm byl nalezen malware (`document-infected`) a nikdy se nevydá.", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn handler(
    State(documents): State<Shared>,
    acting: ActingFor<DocumentsRead>,
    Path(id): Path<String>,
) -> Result<Response, Problem> {
    let owner = acting.owner().as_str();
    let (stored, _) = documents.load(owner, &id).await?.ok_or_else(not_found)?;
    let content = documents.content_stream(owner, &stored).await?;
    let meta = documents.open_meta(owner, &stored).await?;
    let entry = AccessEntry::new(Actor::Citizen, Action::Read, "document", &stored.id, "stažení dokumentu");
    acting.record(&documents.access_log, entry).await?;
    Ok(stream_response(Body::from_stream(content), stored.size, &stored.media_type, &meta.file_name))
}
