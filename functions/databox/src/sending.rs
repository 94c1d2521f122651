//! Sending a citizen's message exactly once: `POST /api/databox/messages`
//! carries an `Idempotency-Key`, and the same key returns the first result.
//!
//! ISDS may take a message and the answer never reach us (a timeout after
//! acceptance). So before ISDS is asked, a `sending` record is written
//! (create-only: a second request with the key in flight gets 409); after
//! ISDS answered, the record becomes `sent` with the id. A request that finds
//! a `sending` record older than the longest ISDS call first looks for the
//! message in ISDS (`GetListOfSentMessages` from the record's time, matched on
//! recipient, subject, references and size, and not claimed by another key)
//! and only if it is not there sends again. A definite refusal deletes the
//! record, so nothing was sent and the key may be used again.
//!
//! A message over [`STANDARD_MESSAGE_BYTES`] is a big message (VoDZ): its
//! files are uploaded one by one and then the message is created
//! ([`deliver`]). The whole sequence runs within [`BIG_SEND_TAKES`], and its
//! record is in flight for [`IN_FLIGHT_BIG`], so a retry never overlaps a send
//! still uploading. Files uploaded by an attempt that did not create the
//! message are never referred to; ISDS discards them. A message from the
//! form is sent from its spool ([`crate::spool`], [`deliver_spooled`]): the
//! fingerprint is taken from each file's name, size and SHA-256, computed as
//! the file arrived, and a retry after a crash brings its form again (a spool
//! of its own; the crashed one's is collected later).
//!
//! The records (`send-<SHA-256 of the key>`) sit in the citizen's partition,
//! hold no content (a fingerprint, the time, the message id) and expire after
//! 30 days; erasure deletes them with the partition.

use portal_host::{Failure, Problem};
use portal_store::{NewDocument, StoreError};
use serde_json::json;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::isds::{
    AttachmentUpload, BigFile, BoxContext, Direction, Isds, IsdsError, IsdsResult, ListQuery, MessageId,
    OutgoingMessage,
};
use crate::spool::{Spool, SpoolError, SpooledFile};
use crate::validate::CheckedFile;
use crate::{COLLECTION, Databox, STANDARD_MESSAGE_BYTES};

/// The header's name.
pub const HEADER: &str = "Idempotency-Key";
/// Longest key accepted.
pub const MAX_KEY_CHARS: usize = 100;
/// How long a `sending` record may be in flight before another request with
/// the key looks into ISDS itself: longer than the longest ISDS call (the
/// adapter's transfer timeout, 5 minutes).
pub const IN_FLIGHT: time::Duration = time::Duration::minutes(6);
/// The longest a big message's sending (every upload and the creation) may
/// take before it is abandoned as unavailable.
pub const BIG_SEND_TAKES: std::time::Duration = std::time::Duration::from_secs(30 * 60);
/// [`IN_FLIGHT`] for a big message: longer than [`BIG_SEND_TAKES`].
pub const IN_FLIGHT_BIG: time::Duration = time::Duration::minutes(31);
/// The slices a big message's file is streamed in.
const UPLOAD_CHUNK: usize = 64 * 1024;
/// How long a key is remembered.
const KEPT: std::time::Duration = std::time::Duration::from_secs(30 * 24 * 3600);
/// ISDS's and our clocks may differ; the search starts this much earlier.
const CLOCK_SLACK: time::Duration = time::Duration::minutes(5);

/// The key from the header, checked: 1–100 printable ASCII characters.
pub fn key(headers: &axum::http::HeaderMap) -> Result<String, Problem> {
    let missing = || {
        Problem::bad_request(format!(
            "the {HEADER} header is required: 1-{MAX_KEY_CHARS} printable ASCII characters, new for each message; \
             a retry with the same key returns the first result instead of sending again"
        ))
    };
    let value = headers.get(HEADER).ok_or_else(missing)?.to_str().map_err(|_| missing())?.trim();
    if value.is_empty() || value.len() > MAX_KEY_CHARS || !value.chars().all(|c| c.is_ascii_graphic()) {
        return Err(missing());
    }
    Ok(value.to_owned())
}

fn record_id(key: &str) -> String {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, key.as_bytes());
    let hex: String = portal_store::lower_hex(digest.as_ref());
    format!("send-{hex}")
}

/// A message from the form, to send: the envelope (its `attachments`
/// empty) and its files, put aside as they arrived ([`crate::spool`]).
#[derive(Debug, Clone, Copy)]
pub struct Outgoing<'a> {
    pub message: &'a OutgoingMessage,
    pub files: &'a [CheckedFile<SpooledFile>],
    pub spool: &'a Spool,
}

impl Outgoing<'_> {
    /// The files' sizes together.
    fn size(&self) -> u64 {
        self.files.iter().map(|file| file.content.size).sum()
    }
}

/// What makes two requests the same message: the envelope's fields and each
/// file's name, size and SHA-256.
fn fingerprint(outgoing: &Outgoing<'_>) -> String {
    let message = outgoing.message;
    let mut context = aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256);
    let fields = json!([
        message.recipient.as_str(),
        message.subject,
        message.sender_ref_number,
        message.sender_ident,
        message.recipient_ref_number,
        message.recipient_ident,
        message.to_hands,
        message.personal_delivery,
        message.commercial,
    ]);
    context.update(fields.to_string().as_bytes());
    for file in outgoing.files {
        context.update(file.name.as_bytes());
        context.update(&[0]);
        context.update(&file.content.size.to_be_bytes());
        context.update(&file.content.sha256);
    }
    portal_store::lower_hex(context.finish().as_ref())
}

/// Why a send could not be answered.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    #[error(transparent)]
    Isds(#[from] IsdsError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the Idempotency-Key was used for another message")]
    KeyReused,
    #[error("a request with this Idempotency-Key is still being sent")]
    InFlight,
    #[error("a file put aside for sending could not be read back")]
    Spool(#[from] SpoolError),
}

impl Failure for SendError {
    fn is_retryable(&self) -> bool {
        match self {
            Self::Isds(error) => error.is_retryable(),
            Self::Store(error) => error.is_retryable(),
            Self::KeyReused => false,
            Self::InFlight => true,
            Self::Spool(_) => true,
        }
    }

    fn problem(&self) -> Problem {
        match self {
            Self::Isds(error) => error.problem(),
            Self::Store(error) => error.problem(),
            Self::KeyReused => Problem::validation(vec![portal_host::FieldViolation::new(
                HEADER,
                "this key was used for another message; use a new key for a new message",
            )]),
            Self::InFlight => {
                Problem::new(axum::http::StatusCode::CONFLICT, "in-progress", "This message is still being sent")
                    .with_detail(format!("a request with this {HEADER} is in progress; retry in a few minutes"))
            }
            Self::Spool(_) => Problem::unavailable("the portal's storage"),
        }
    }
}

/// Sends `outgoing` from the box of `ctx` once per `key`: the id ISDS gave it.
pub async fn send_once(
    databox: &Databox,
    owner: &str,
    ctx: &BoxContext,
    key: &str,
    outgoing: Outgoing<'_>,
) -> Result<MessageId, SendError> {
    let id = record_id(key);
    let print = fingerprint(&outgoing);
    let size = outgoing.size();
    let now = databox.clock.now();
    let existing = databox.documents.get(COLLECTION, owner, &id).await?;
    if let Some(doc) = &existing {
        if doc.body["fingerprint"].as_str() != Some(print.as_str()) {
            return Err(SendError::KeyReused);
        }
        if let Some(sent) = doc.body["messageId"].as_str().and_then(|m| MessageId::parse(m).ok()) {
            return Ok(sent);
        }
        let started = doc.body["at"].as_str().and_then(|t| OffsetDateTime::parse(t, &Rfc3339).ok()).unwrap_or(now);
        let in_flight = if size > STANDARD_MESSAGE_BYTES { IN_FLIGHT_BIG } else { IN_FLIGHT };
        if now - started < in_flight {
            return Err(SendError::InFlight);
        }
        // An earlier attempt got as far as ISDS: did ISDS take the message?
        if let Some(found) = find_sent(databox, owner, ctx, outgoing.message, size, started).await? {
            record_sent(databox, owner, &id, &print, started, &found).await?;
            tracing::info!("a message ISDS took before its answer was lost is recorded, not sent again");
            return Ok(found);
        }
        // Not there: take the record over (ETag) and send.
        let record = sending_record(owner, &id, &print, now);
        databox.documents.upsert(COLLECTION, record, Some(&doc.etag)).await?;
    } else {
        match databox.documents.create(COLLECTION, sending_record(owner, &id, &print, now)).await {
            Ok(_) => {}
            Err(StoreError::Conflict) => return Err(SendError::InFlight),
            Err(error) => return Err(error.into()),
        }
    }
    match deliver_spooled(databox, ctx, outgoing).await {
        Ok(sent) => {
            record_sent(databox, owner, &id, &print, now, &sent).await?;
            Ok(sent)
        }
        // Possibly taken by ISDS: the record stays `sending`; a retry looks first.
        // (A file that could not be read back: nothing was created.)
        Err(error) if error.is_retryable() && !matches!(error, SendError::Spool(_)) => Err(error),
        // A definite answer: nothing was sent, the key is free again.
        Err(error) => {
            match databox.documents.delete(COLLECTION, owner, &id, None).await {
                Ok(()) | Err(StoreError::NotFound) => {}
                Err(store) => tracing::warn!(error = %store, "a refused send's record could not be deleted"),
            }
            Err(error)
        }
    }
}

/// [`deliver`] of a message from the form: its files read back from the
/// spool, a big message's streamed to ISDS chunk by chunk as they are opened
/// (never whole), a standard message's (at most 20 MB) read whole for
/// `CreateMessage`. A spooled file that cannot be read back is
/// [`SendError::Spool`], before anything is created.
pub async fn deliver_spooled(
    databox: &Databox,
    ctx: &BoxContext,
    outgoing: Outgoing<'_>,
) -> Result<MessageId, SendError> {
    let isds = databox.isds.as_ref();
    if outgoing.size() <= STANDARD_MESSAGE_BYTES {
        let mut message = outgoing.message.clone();
        for file in outgoing.files {
            let content = outgoing.spool.read(databox, &file.content).await?;
            message.attachments.push(crate::isds::Attachment {
                name: file.name.clone(),
                mime_type: file.mime_type.clone(),
                meta_type: file.meta_type,
                content,
            });
        }
        return Ok(isds.send_message(ctx, &message).await?);
    }
    let send = async {
        let mut uploaded_files = Vec::with_capacity(outgoing.files.len());
        for file in outgoing.files {
            let content = outgoing.spool.open(databox, &file.content).await?;
            let upload = AttachmentUpload {
                name: file.name.clone(),
                mime_type: file.mime_type.clone(),
                size: file.content.size,
                content,
            };
            let uploaded = isds.upload_attachment(ctx, upload).await?;
            uploaded_files.push(BigFile { meta_type: file.meta_type, uploaded });
        }
        Ok::<_, SendError>(isds.create_big_message(ctx, outgoing.message, &uploaded_files).await?)
    };
    match tokio::time::timeout(BIG_SEND_TAKES, send).await {
        Ok(result) => result,
        Err(elapsed) => Err(IsdsError::Unavailable(Box::new(elapsed)).into()),
    }
}

/// Whether `message` is a big message (VoDZ): its files together over
/// ISDS's standard message.
pub fn is_big(message: &OutgoingMessage) -> bool {
    message.attachments.iter().map(|a| a.content.len() as u64).sum::<u64>() > STANDARD_MESSAGE_BYTES
}

/// Sends `message` from the box of `ctx`: by `CreateMessage` up to
/// [`STANDARD_MESSAGE_BYTES`]; above, as a big message (VoDZ), each file by
/// `UploadAttachment` (streamed from the message's buffer in 64 KiB slices,
/// not copied), then `CreateBigMessage` naming them. The VoDZ sequence is
/// abandoned after [`BIG_SEND_TAKES`] ([`IsdsError::Unavailable`]: the
/// message may or may not have been created).
pub async fn deliver(isds: &dyn Isds, ctx: &BoxContext, message: &OutgoingMessage) -> IsdsResult<MessageId> {
    if !is_big(message) {
        return isds.send_message(ctx, message).await;
    }
    let send = async {
        let mut files = Vec::with_capacity(message.attachments.len());
        for attachment in &message.attachments {
            let uploaded = isds.upload_attachment(ctx, AttachmentUpload::of(attachment, UPLOAD_CHUNK)).await?;
            files.push(BigFile { meta_type: attachment.meta_type, uploaded });
        }
        isds.create_big_message(ctx, message, &files).await
    };
    match tokio::time::timeout(BIG_SEND_TAKES, send).await {
        Ok(result) => result,
        Err(elapsed) => Err(IsdsError::Unavailable(Box::new(elapsed))),
    }
}

fn sending_record(owner: &str, id: &str, print: &str, at: OffsetDateTime) -> NewDocument {
    let at = at.format(&Rfc3339).unwrap_or_default();
    NewDocument::new(owner, id, json!({"type": "send-idempotency", "state": "sending", "fingerprint": print, "at": at}))
        .with_ttl(KEPT)
}

async fn record_sent(
    databox: &Databox,
    owner: &str,
    id: &str,
    print: &str,
    at: OffsetDateTime,
    sent: &MessageId,
) -> Result<(), StoreError> {
    let at = at.format(&Rfc3339).unwrap_or_default();
    let body = json!({"type": "send-idempotency", "state": "sent", "fingerprint": print, "at": at,
                      "messageId": sent.as_str()});
    databox.documents.upsert(COLLECTION, NewDocument::new(owner, id, body).with_ttl(KEPT), None).await.map(drop)
}

/// The message in the box's sent list since `since` that matches `message`
/// and no other key has claimed.
async fn find_sent(
    databox: &Databox,
    owner: &str,
    ctx: &BoxContext,
    message: &OutgoingMessage,
    size: u64,
    since: OffsetDateTime,
) -> Result<Option<MessageId>, SendError> {
    let size_kb = size.div_ceil(1024);
    let claimed = claimed_ids(databox, owner).await?;
    let mut offset = 1;
    loop {
        let query = ListQuery { from: Some(since - CLOCK_SLACK), to: None, statuses: Vec::new(), offset, limit: 100 };
        let page = databox.isds.list_messages(ctx, Direction::Sent, &query).await?;
        let count = page.len() as u32;
        if let Some(found) = page.into_iter().find(|m| {
            m.recipient_box == message.recipient
                && m.subject == message.subject
                && m.sender_ref_number == message.sender_ref_number
                && m.sender_ident == message.sender_ident
                && m.recipient_ref_number == message.recipient_ref_number
                && m.recipient_ident == message.recipient_ident
                && m.attachment_size_kb == size_kb
                && !claimed.contains(m.id.as_str())
        }) {
            return Ok(Some(found.id));
        }
        if count < 100 {
            return Ok(None);
        }
        offset += count;
    }
}

/// Message ids other keys already recorded as theirs.
async fn claimed_ids(databox: &Databox, owner: &str) -> Result<std::collections::HashSet<String>, StoreError> {
    let query = portal_store::Query::default()
        .filter("type", portal_store::FilterOp::Eq, "send-idempotency")
        .filter("state", portal_store::FilterOp::Eq, "sent")
        .page_size(1000);
    let page = databox.documents.query(COLLECTION, owner, query).await?;
    Ok(page.items.into_iter().filter_map(|d| d.body["messageId"].as_str().map(str::to_owned)).collect())
}
