//! The port's types for data messages, and how a call reaches a box
//! (`BoxContext`); box descriptions, credit and searches are in `box_types`.

use std::fmt;

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;

/// `dbID`: exactly 7 characters, lowercase letters and digits.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ToSchema)]
#[serde(try_from = "String", into = "String")]
#[schema(as = DataBoxId, value_type = String, pattern = "^[a-z0-9]{7}$", example = "simmuhl")]
pub struct BoxId(String);

impl BoxId {
    pub fn parse(value: &str) -> Result<Self, &'static str> {
        if value.len() == 7 && value.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit()) {
            Ok(Self(value.to_owned()))
        } else {
            Err("a data box id is exactly 7 characters: lowercase letters and digits")
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for BoxId {
    type Error = &'static str;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<BoxId> for String {
    fn from(value: BoxId) -> Self {
        value.0
    }
}

impl fmt::Debug for BoxId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BoxId({})", self.0)
    }
}

impl fmt::Display for BoxId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// `dmID`: 1–20 characters (digits in practice).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ToSchema)]
#[serde(try_from = "String", into = "String")]
#[schema(as = DataMessageId, value_type = String, pattern = "^[A-Za-z0-9]{1,20}$", example = "4711")]
pub struct MessageId(String);

impl MessageId {
    pub fn parse(value: &str) -> Result<Self, &'static str> {
        if (1..=20).contains(&value.len()) && value.chars().all(|c| c.is_ascii_alphanumeric()) {
            Ok(Self(value.to_owned()))
        } else {
            Err("a message id is 1-20 letters or digits")
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for MessageId {
    type Error = &'static str;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<MessageId> for String {
    fn from(value: MessageId) -> Self {
        value.0
    }
}

impl fmt::Display for MessageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    Received,
    Sent,
}

/// `dmMessageStatus` 1–10.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "u8", into = "u8")]
pub enum MessageStatus {
    /// 1 podána
    Submitted = 1,
    /// 2 stamped by the time-stamping authority
    Stamped = 2,
    /// 3 a virus was found; the infected document was removed
    Infected = 3,
    /// 4 dodána: in the box (`dmDeliveryTime`)
    Delivered = 4,
    /// 5 doručena fikcí: deemed delivered after 10 days (`dmAcceptanceTime`)
    DeemedDelivered = 5,
    /// 6 doručena přihlášením: delivered by a login (`dmAcceptanceTime`)
    AcceptedByLogin = 6,
    /// 7 přečtena
    Read = 7,
    /// 8 nedoručitelná
    Undeliverable = 8,
    /// 9 content deleted (90 days after delivery); envelope only
    ContentDeleted = 9,
    /// 10 stored in the data vault
    InVault = 10,
}

impl TryFrom<u8> for MessageStatus {
    type Error = String;
    fn try_from(code: u8) -> Result<Self, Self::Error> {
        Ok(match code {
            1 => Self::Submitted,
            2 => Self::Stamped,
            3 => Self::Infected,
            4 => Self::Delivered,
            5 => Self::DeemedDelivered,
            6 => Self::AcceptedByLogin,
            7 => Self::Read,
            8 => Self::Undeliverable,
            9 => Self::ContentDeleted,
            10 => Self::InVault,
            other => return Err(format!("unknown dmMessageStatus {other}")),
        })
    }
}

impl From<MessageStatus> for u8 {
    fn from(status: MessageStatus) -> Self {
        status as u8
    }
}

/// The envelope (`gMessageEnvelope` plus the delivery fields of `tRecord`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = DataMessageEnvelope)]
pub struct MessageEnvelope {
    pub id: MessageId,
    pub sender_box: BoxId,
    pub sender_name: String,
    pub sender_address: Option<String>,
    pub recipient_box: BoxId,
    pub recipient_name: String,
    pub recipient_address: Option<String>,
    /// dmAnnotation (Věc), ≤ 255.
    pub subject: String,
    pub sender_ref_number: Option<String>,
    pub sender_ident: Option<String>,
    pub recipient_ref_number: Option<String>,
    pub recipient_ident: Option<String>,
    pub to_hands: Option<String>,
    pub personal_delivery: bool,
    pub allow_subst_delivery: bool,
    /// `dmMessageStatus` 1–10: 4 dodána, 5 doručena fikcí, 6 doručena
    /// přihlášením, 7 přečtena, 9 obsah smazán, …
    #[schema(value_type = u8, minimum = 1, maximum = 10)]
    pub status: MessageStatus,
    /// `dmType`: `V` public, `K` commercial, …
    pub message_type: Option<String>,
    /// dodání: when it landed in the box.
    #[serde(with = "time::serde::rfc3339::option")]
    pub delivery_time: Option<OffsetDateTime>,
    /// doručení: the legal moment of delivery (login or deemed).
    #[serde(with = "time::serde::rfc3339::option")]
    pub acceptance_time: Option<OffsetDateTime>,
    /// `dmAttachmentSize`, in kB.
    pub attachment_size_kb: u64,
    /// `dmVODZ`: a big message (velkoobjemová datová zpráva, over 20 MB),
    /// which ISDS serves only through its VoDZ services.
    #[serde(default)]
    pub big: bool,
}

/// `dmFileMetaType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FileMetaType {
    Main,
    Enclosure,
    Signature,
    Meta,
}

impl FileMetaType {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Main => "main",
            Self::Enclosure => "enclosure",
            Self::Signature => "signature",
            Self::Meta => "meta",
        }
    }
}

/// One `dmFile`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attachment {
    /// `dmFileDescr`: the file name; ISDS takes the format from its extension.
    pub name: String,
    pub mime_type: String,
    pub meta_type: FileMetaType,
    pub content: Bytes,
}

/// One `dmFile` of a downloaded message, its content in memory or in a
/// sealed blob ([`super::Content`]).
#[derive(Debug, Clone)]
pub struct ReceivedFile {
    /// `dmFileDescr`: the file name.
    pub name: String,
    pub mime_type: String,
    pub meta_type: FileMetaType,
    pub content: super::Content,
}

/// A downloaded message: envelope, attachments and the signed ZFO as ISDS
/// returned it (byte for byte). A big message's ZFO and files are sealed
/// blobs of a [`super::Stash`]; a standard one's are in memory.
#[derive(Debug, Clone)]
pub struct SignedMessage {
    pub envelope: MessageEnvelope,
    pub attachments: Vec<ReceivedFile>,
    pub zfo: super::Content,
}

/// A message to send, already validated by [`crate::validate`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutgoingMessage {
    pub recipient: BoxId,
    pub subject: String,
    pub sender_ref_number: Option<String>,
    pub sender_ident: Option<String>,
    pub recipient_ref_number: Option<String>,
    pub recipient_ident: Option<String>,
    pub to_hands: Option<String>,
    pub personal_delivery: bool,
    /// `K` for a commercial message (paid from credit), else public.
    pub commercial: bool,
    pub attachments: Vec<Attachment>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListQuery {
    pub from: Option<OffsetDateTime>,
    pub to: Option<OffsetDateTime>,
    /// Only these statuses; empty = all.
    pub statuses: Vec<MessageStatus>,
    /// ISDS numbers records from 1.
    pub offset: u32,
    pub limit: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StateChange {
    pub id: MessageId,
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    pub status: MessageStatus,
}

/// Who acts when the portal calls ISDS.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Caller {
    /// The citizen, in their own authenticated session.
    Citizen,
    /// A timer or queue function, running without the citizen.
    Job(&'static str),
}

/// How the portal reaches a citizen's box in ISDS: a reference to the
/// access the box's owner granted, never a secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Access {
    /// The portal's hosted records-system certificate ("hostovaná spisová
    /// služba"), which the box's owner allowed in their box; each call names
    /// the box (`docs/architecture.md`, "Data box: access to each citizen's box").
    HostedRecordsSystem,
    /// SIMULATOR: the ISDS simulator's boxes.
    Simulated,
}

/// The box a call acts on, how the portal reaches it and who acts: a required
/// argument of every operation of the port, so no adapter can call ISDS
/// without naming the citizen's own box.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct BoxContext {
    box_id: BoxId,
    access: Access,
    caller: Caller,
}

impl BoxContext {
    /// A timer or queue function acting on a box. Such a context is refused
    /// by the delivering operations, which take a [`SessionContext`].
    pub fn for_job(box_id: BoxId, access: Access, job: &'static str) -> Self {
        Self { box_id, access, caller: Caller::Job(job) }
    }

    pub fn box_id(&self) -> &BoxId {
        &self.box_id
    }

    pub fn access(&self) -> Access {
        self.access
    }

    pub fn caller(&self) -> Caller {
        self.caller
    }
}

/// A box context inside the citizen's own session: the only one that the
/// operations which deliver a message (`SignedMessageDownload` of a received
/// message, `MarkMessageAsDownloaded`) accept. It is made from the
/// authenticated [`portal_security::Citizen`], which only the session
/// extractor gives, so a timer or queue function has none to pass.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SessionContext(BoxContext);

impl SessionContext {
    pub fn new(box_id: BoxId, access: Access, _citizen: &portal_security::Citizen) -> Self {
        Self(BoxContext { box_id, access, caller: Caller::Citizen })
    }

    /// The same box and caller, for the operations any context may use.
    pub fn as_box(&self) -> &BoxContext {
        &self.0
    }

    pub fn box_id(&self) -> &BoxId {
        &self.0.box_id
    }
}

/// A received message ISDS has already delivered (status 5, 6, 7 or 10, with
/// an acceptance time): downloading it changes no legal deadline, so a job
/// may. Made only from an envelope that says so.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveredMessage(MessageId, bool);

impl DeliveredMessage {
    pub fn of(envelope: &MessageEnvelope) -> Option<Self> {
        let delivered = matches!(
            envelope.status,
            MessageStatus::DeemedDelivered
                | MessageStatus::AcceptedByLogin
                | MessageStatus::Read
                | MessageStatus::InVault
        );
        (delivered && envelope.acceptance_time.is_some()).then(|| Self(envelope.id.clone(), envelope.big))
    }

    pub fn id(&self) -> &MessageId {
        &self.0
    }

    /// The envelope said `dmVODZ`: a big message, downloaded through the
    /// VoDZ services.
    pub fn is_big(&self) -> bool {
        self.1
    }
}

/// A file's content as a stream of chunks, for an upload that must not be
/// held whole in memory by the adapter ([`super::Isds::upload_attachment`]).
pub type ByteStream = futures::stream::BoxStream<'static, Result<Bytes, std::io::Error>>;

/// One file of a big message, to upload (`UploadAttachment`): `dmFileDescr`,
/// `dmMimeType`, the exact size in bytes and the content.
pub struct AttachmentUpload {
    pub name: String,
    pub mime_type: String,
    pub size: u64,
    pub content: ByteStream,
}

impl std::fmt::Debug for AttachmentUpload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AttachmentUpload")
            .field("name", &self.name)
            .field("mime_type", &self.mime_type)
            .field("size", &self.size)
            .finish_non_exhaustive()
    }
}

impl AttachmentUpload {
    /// `attachment`'s bytes as a stream of `chunk`-byte slices of the same
    /// buffer (no copy).
    pub fn of(attachment: &Attachment, chunk: usize) -> Self {
        let content = attachment.content.clone();
        let chunk = chunk.max(1);
        let chunks = (0..content.len()).step_by(chunk).map(move |start| {
            let end = (start + chunk).min(content.len());
            Ok(content.slice(start..end))
        });
        Self {
            name: attachment.name.clone(),
            mime_type: attachment.mime_type.clone(),
            size: attachment.content.len() as u64,
            content: Box::pin(futures::stream::iter(chunks.collect::<Vec<_>>())),
        }
    }
}

/// A hash ISDS computed over an uploaded file (`dmAttHash1`/`dmAttHash2`
/// with `AttHashAlg`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttachmentHash {
    pub value: String,
    pub algorithm: String,
}

/// A file ISDS keeps after `UploadAttachment`: its id (`dmAttID`) and the two
/// hashes, which `CreateBigMessage` repeats in its `dmExtFile`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadedAttachment {
    pub id: String,
    pub hash1: AttachmentHash,
    pub hash2: AttachmentHash,
}

/// One file of a big message for `CreateBigMessage`: an uploaded file and its
/// role (`dmFileMetaType`; the first is the only `main`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BigFile {
    pub meta_type: FileMetaType,
    pub uploaded: UploadedAttachment,
}
