//! `GET /api/databox/messages/{folder}/{id}/attachments/{index}`: one
//! attachment's content.

use axum::extract::{Path, State};
use axum::response::Response;
use portal_host::Problem;
use portal_security::delegation::scope::DataboxRead;
use portal_security::{ActingFor, Action};

use super::{FileBytes, Folder, Shared, download, open, parse_path, record_acting};

/// The operation id: this function's name and its `operationId`.
pub const OPERATION: &str = "DownloadAttachment";

/// Downloads one attachment of one of the citizen's messages.
#[utoipa::path(
    get,
    path = "/api/databox/messages/{folder}/{id}/attachments/{index}",
    operation_id = OPERATION,
    tag = "databox",
    params(
        ("folder" = Folder, Path, description = "The folder: received, sent or archived."),
        ("id" = String, Path, description = "The message id (dmID)."),
        ("index" = u32, Path, description = "The attachment's number, from 0."),
        ("X-Acting-For" = Option<String>, Header, description = "A grant id (`GET /api/delegations`) to read the data box of the person who authorised you, or whom you represent (scope `databox-read`)."),
    ),
    security(("session" = []), ("bearer" = [])),
    responses(
        (status = 200, description = "Obsah přílohy, v typu, jaký mu dal odesílatel.", content_type = "*/*", body = FileBytes),
        (status = 404, description = "Taková zpráva nebo příloha ve vaší schránce není, nebo nemáte připojenou schránku.", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "ISDS požadavek odmítl.", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn handler(
    State(databox): State<Shared>,
    acting: ActingFor<DataboxRead>,
    Path((folder, id, index)): Path<(String, String, String)>,
) -> Result<Response, Problem> {
    let (folder, id) = parse_path(&folder, &id)?;
    let opened = open(&databox, acting.owner(), &acting.citizen, folder, &id).await;
    let (kind, purpose) = ("data-message-attachment", "download an attachment");
    record_acting(&databox, &acting, Action::Read, kind, id.as_str(), purpose, opened.is_ok()).await?;
    let opened = opened?;
    let (name, mime, content) = index
        .parse::<usize>()
        .ok()
        .and_then(|i| opened.files.get(i))
        .ok_or_else(|| Problem::not_found("no attachment with this index"))?;
    download(content, mime, name).await
}
