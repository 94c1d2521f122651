//! The data box's HTTP functions, one file per action, and what they share:
//! the folders and how a message in one is opened, the simulator notice, the
//! access-log entry of an attempt, and file downloads.

pub mod archive_now;
pub mod archive_status;
pub mod box_info;
pub mod buy_credit;
pub mod change_settings;
pub mod download_attachment;
pub mod download_zfo;
pub mod find_boxes;
pub mod list_messages;
pub mod mark_read;
pub mod request_box;
pub mod send_message;
pub mod settle_simulated_payment;
pub mod show_box_request;
pub mod show_message;
pub mod show_purchase;

use std::sync::Arc;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use portal_host::Problem;
use portal_security::delegation::ScopeMarker;
use portal_security::{AccessEntry, AccessOutcome, ActingFor, Action, Actor, Citizen, SubjectId};
use portal_store::StoreError;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::isds::{Content, Direction, IsdsError, MessageEnvelope, MessageId, MessageStatus};
use crate::{Databox, archive};

pub(crate) type Shared = Arc<Databox>;

/// Said in every answer that carries data of the simulators (local mode):
/// `simulated: true` and a notice. Absent when the data are real.
#[derive(Debug, Default, Serialize, ToSchema)]
#[schema(as = DataboxSimulation)]
pub struct Simulation {
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub simulated: bool,
    #[serde(skip_serializing_if = "str::is_empty")]
    #[schema(example = "SIMULATOR: these data come from the ISDS simulator, not from ISDS")]
    pub notice: &'static str,
}

impl Simulation {
    pub fn of(databox: &Databox) -> Self {
        if !databox.settings.simulated {
            return Self::default();
        }
        Self { simulated: true, notice: "SIMULATOR: these data come from the ISDS simulator, not from ISDS" }
    }
}

/// A file's content, as downloaded (the schema of binary responses).
#[derive(Debug, ToSchema)]
#[schema(as = DataboxFile, value_type = String, format = Binary)]
pub struct FileBytes(pub Vec<u8>);

/// The folders of the mailbox: received and sent in ISDS, archived in the portal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
#[schema(as = DataMessageFolder)]
pub enum Folder {
    Received,
    Sent,
    Archived,
}

impl Folder {
    fn parse(text: &str) -> Option<Self> {
        match text {
            "received" => Some(Self::Received),
            "sent" => Some(Self::Sent),
            "archived" => Some(Self::Archived),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Received => "received",
            Self::Sent => "sent",
            Self::Archived => "archived",
        }
    }

    /// Which ISDS list an ISDS folder is (the archive is the portal's).
    fn direction(self) -> Direction {
        if self == Self::Sent { Direction::Sent } else { Direction::Received }
    }
}

/// A message in a folder: its envelope, and whether it waits to be read.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = DataMessage)]
pub struct MessageItem {
    #[serde(flatten)]
    pub envelope: MessageEnvelope,
    /// Delivered and not yet opened (statuses 4–6).
    pub unread: bool,
}

impl From<MessageEnvelope> for MessageItem {
    fn from(envelope: MessageEnvelope) -> Self {
        let unread = matches!(
            envelope.status,
            MessageStatus::Delivered | MessageStatus::DeemedDelivered | MessageStatus::AcceptedByLogin
        );
        Self { envelope, unread }
    }
}

/// The folder and message id of a path; anything else is a 404.
pub(crate) fn parse_path(folder: &str, id: &str) -> Result<(Folder, MessageId), Problem> {
    let folder = Folder::parse(folder).ok_or_else(|| Problem::not_found("folders are received, sent and archived"))?;
    let id = MessageId::parse(id).map_err(|_| Problem::not_found("no such data message in your box"))?;
    Ok((folder, id))
}

/// A message as the folder holds it: from ISDS (received, sent) or from the
/// archive. Attachments and the ZFO come back as [`Content`]: in memory (a
/// standard message), or sealed blobs read as streams (a big message's, in
/// the download's stash, deleted once the answer is done with them; an
/// archived message's, in the archive).
pub(crate) struct Opened {
    pub envelope: MessageEnvelope,
    /// (file name, MIME type, content)
    pub files: Vec<(String, String, Content)>,
    pub zfo: Content,
}

/// Opens the citizen's message `id` in `folder`.
pub(crate) async fn open(
    databox: &Databox,
    owner: &SubjectId,
    citizen: &Citizen,
    folder: Folder,
    id: &MessageId,
) -> Result<Opened, Problem> {
    if folder == Folder::Archived {
        let (envelope, files, zfo) = archive::load_contents(databox, owner, id.as_str())
            .await?
            .ok_or_else(|| Problem::not_found("no such data message in your archive"))?;
        return Ok(Opened { envelope, files, zfo });
    }
    // The citizen opens it in their own session (for themselves, or for the
    // owner under a grant of `databox-read`): this is the download that
    // delivers a message still in status 4, as a login of a person the
    // owner authorised to read the box would.
    let session = databox.session_context_of(owner, citizen).await?;
    let message = match databox.isds.download_message(&session, folder.direction(), id).await {
        Ok(message) => message,
        // ISDS refuses a big message (VoDZ) on the standard download, and
        // the id alone does not say which it is: then the big download,
        // its ZFO and files sealed into a stash of the owner's.
        Err(refused @ IsdsError::Refused { .. }) => {
            let stash = databox.stash(owner.as_str());
            match databox.isds.download_big_message(&session, folder.direction(), id, &stash).await {
                Ok(message) => message,
                Err(_) => return Err(refused.into()),
            }
        }
        Err(error) => return Err(error.into()),
    };
    Ok(Opened {
        envelope: message.envelope,
        files: message.attachments.into_iter().map(|a| (a.name, a.mime_type, a.content)).collect(),
        zfo: message.zfo,
    })
}

/// The citizen's own action in their access log, marked failed when it did
/// not succeed (a failed attempt to open a message is worth seeing too).
pub(crate) async fn record_attempt(
    databox: &Databox,
    citizen: &Citizen,
    action: Action,
    kind: &str,
    id: &str,
    purpose: &str,
    succeeded: bool,
) -> Result<(), StoreError> {
    if succeeded {
        return databox.access_log.record_own(citizen, action, kind, id, purpose).await;
    }
    let entry = AccessEntry::new(Actor::Citizen, action, kind, id, purpose).with_outcome(AccessOutcome::Failed);
    databox.access_log.record(&citizen.subject, entry).await
}

/// [`record_attempt`] for a request that may act for another person: in the
/// owner's log (naming the delegate) and, under a grant, in the delegate's own.
pub(crate) async fn record_acting<S: ScopeMarker>(
    databox: &Databox,
    acting: &ActingFor<S>,
    action: Action,
    kind: &str,
    id: &str,
    purpose: &str,
    succeeded: bool,
) -> Result<(), StoreError> {
    let outcome = if succeeded { AccessOutcome::Success } else { AccessOutcome::Failed };
    let entry = AccessEntry::new(Actor::Citizen, action, kind, id, purpose).with_outcome(outcome);
    acting.record(&databox.access_log, entry).await
}

/// A file to download: its type, a safe ASCII file name and the UTF-8 one
/// (RFC 6266), never sniffed. The body streams from the content (a sealed
/// blob chunk by chunk, opened as it goes): a chunk that fails to open cuts
/// the answer short of its Content-Length, so the client sees it broken.
pub(crate) async fn download(content: &Content, mime: &str, name: &str) -> Result<Response, Problem> {
    let body = axum::body::Body::from_stream(content.stream().await?);
    let mut response = (StatusCode::OK, body).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(content.len()));
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_str(mime).unwrap_or(HeaderValue::from_static("application/octet-stream")),
    );
    let ascii: String = name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || c == '.' || c == '-' || c == '_' { c } else { '_' })
        .collect();
    let encoded = url_encode(name);
    if let Ok(value) = HeaderValue::from_str(&format!("attachment; filename=\"{ascii}\"; filename*=UTF-8''{encoded}")) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    Ok(response)
}

fn url_encode(text: &str) -> String {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_') {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}
