//! `GET /api/databox/messages/{folder}/{id}`: one message, with the list of
//! its attachments and whether its ZFO's signature verified.

use axum::Json;
use axum::extract::{Path, State};
use portal_host::Problem;
use portal_security::delegation::scope::DataboxRead;
use portal_security::{ActingFor, Action};
use serde::Serialize;
use utoipa::ToSchema;

use super::{Folder, MessageItem, Shared, Simulation, open, parse_path, record_acting};
use crate::isds::zfo_verify::{self, SignatureCheck};

/// One attachment of a message (its content is downloaded separately).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = DataMessageAttachment)]
pub struct AttachmentInfo {
    /// The attachment's number, for `…/attachments/{index}`.
    pub index: usize,
    pub name: String,
    pub mime_type: String,
    /// Bytes.
    pub size: usize,
}

/// A message with its envelope, folder and attachments.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = DataMessageDetail)]
pub struct MessageDetail {
    #[serde(flatten)]
    pub message: MessageItem,
    pub attachments: Vec<AttachmentInfo>,
    pub folder: Folder,
    /// Whether the message's ZFO is genuinely ISDS's: its CMS signature,
    /// time stamp and certificates, checked each time the message is opened
    /// (against the simulator's own CA in local mode).
    pub signature: SignatureCheck,
    #[serde(flatten)]
    pub simulation: Simulation,
}

/// The operation id: this function's name and its `operationId`.
pub const OPERATION: &str = "ShowDataMessage";

/// Opens one of the citizen's messages: envelope and attachment list.
#[utoipa::path(
    get,
    path = "/api/databox/messages/{folder}/{id}",
    operation_id = OPERATION,
    tag = "databox",
    params(
        ("folder" = Folder, Path, description = "The folder: received, sent or archived."),
        ("id" = String, Path, description = "The message id (dmID)."),
        ("X-Acting-For" = Option<String>, Header, description = "A grant id (`GET /api/delegations`) to read the data box of the person who authorised you, or whom you represent (scope `databox-read`)."),
    ),
    security(("session" = []), ("bearer" = [])),
    responses(
        (status = 200, description = "Zpráva s přehledem příloh.", body = MessageDetail),
        (status = 404, description = "Taková zpráva ve vaší schránce (nebo archivu) není, nebo nemáte připojenou schránku.", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "ISDS požadavek odmítl.", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn handler(
    State(databox): State<Shared>,
    acting: ActingFor<DataboxRead>,
    Path((folder, id)): Path<(String, String)>,
) -> Result<Json<MessageDetail>, Problem> {
    let (folder, id) = parse_path(&folder, &id)?;
    let opened = open(&databox, acting.owner(), &acting.citizen, folder, &id).await;
    let purpose = "open a data message";
    record_acting(&databox, &acting, Action::Read, "data-message", id.as_str(), purpose, opened.is_ok()).await?;
    let opened = opened?;
    let attachments = opened
        .files
        .iter()
        .enumerate()
        .map(|(index, (name, mime, content))| AttachmentInfo {
            index,
            name: name.clone(),
            mime_type: mime.clone(),
            size: usize::try_from(content.len()).unwrap_or(usize::MAX),
        })
        .collect();
    // Read as a stream: a big message's ZFO (over 100 MB) is hashed as it
    // passes, never held.
    let signature = zfo_verify::verify_content(&opened.zfo, &databox.isds.zfo_trust(), databox.clock.now()).await;
    Ok(Json(MessageDetail {
        message: MessageItem::from(opened.envelope),
        attachments,
        folder,
        signature,
        simulation: Simulation::of(&databox),
    }))
}
