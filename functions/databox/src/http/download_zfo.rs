//! `GET /api/databox/messages/{folder}/{id}/zfo`: the message as ISDS signed
//! it (ZFO), the form that proves what was delivered.

use axum::extract::{Path, State};
use axum::response::Response;
use portal_host::Problem;
use portal_security::delegation::scope::DataboxRead;
use portal_security::{ActingFor, Action};

use super::{FileBytes, Folder, Shared, download, open, parse_path, record_acting};

/// The ZFO's media type.
pub const ZFO_MEDIA_TYPE: &str = "application/vnd.software602.filler.form-xml-zip";

/// The operation id: this function's name and its `operationId`.
pub const OPERATION: &str = "DownloadZfo";

/// Downloads the signed message (ZFO) of one of the citizen's messages.
#[utoipa::path(
    get,
    path = "/api/databox/messages/{folder}/{id}/zfo",
    operation_id = OPERATION,
    tag = "databox",
    params(
        ("folder" = Folder, Path, description = "The folder: received, sent or archived."),
        ("id" = String, Path, description = "The message id (dmID)."),
        ("X-Acting-For" = Option<String>, Header, description = "A grant id (`GET /api/delegations`) to read the data box of the person who authorised you, or whom you represent (scope `databox-read`)."),
    ),
    security(("session" = []), ("bearer" = [])),
    responses(
        (status = 200, description = "Podepsaná datová zpráva (ZFO).", content_type = "application/vnd.software602.filler.form-xml-zip", body = FileBytes),
        (status = 404, description = "Taková zpráva ve vaší schránce (nebo archivu) není, nebo nemáte připojenou schránku.", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "ISDS požadavek odmítl.", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn handler(
    State(databox): State<Shared>,
    acting: ActingFor<DataboxRead>,
    Path((folder, id)): Path<(String, String)>,
) -> Result<Response, Problem> {
    let (folder, id) = parse_path(&folder, &id)?;
    let opened = open(&databox, acting.owner(), &acting.citizen, folder, &id).await;
    let (kind, purpose) = ("data-message-zfo", "download the signed message (ZFO)");
    record_acting(&databox, &acting, Action::Read, kind, id.as_str(), purpose, opened.is_ok()).await?;
    download(&opened?.zfo, ZFO_MEDIA_TYPE, &format!("{id}.zfo")).await
}
