//! Timer `ArchiveExpiringMessages`: before ISDS deletes a message's content
//! (90 days after delivery), copy it into the citizen's portal archive:
//! envelope, ZFO and attachments, sealed with the citizen's key, in blob
//! storage, with metadata in the document store.
//!
//! Only messages ISDS has already delivered are taken (status 5 doručena
//! fikcí, 6 doručena přihlášením or 7 přečtena, with an acceptance time,
//! [`DeliveredMessage`]): downloading a message still in status 4 would
//! deliver it and start the citizen's deadlines, and this runs without them
//! (`docs/architecture.md`, "Data box: delivery and background jobs"). A
//! message that never gets delivered (a court's, without substitute
//! delivery) waits for the citizen's own login; ISDS keeps it until then.
//!
//! One message that fails does not stop the rest: its failure is kept
//! (`archive-failure-<id>`, with the attempts), the next run retries it, and a
//! message within [`AT_RISK_DAYS`] days of its deletion that is still not
//! archived is logged as `data message at risk of deletion` (the alert rule
//! `alert-…-archive-at-risk` counts them).
//!
//! Idempotent and resumable without bookkeeping: a message is archived when
//! its metadata document `archived-<id>` exists, and that document is written
//! last (create-only), after the blobs (written to fixed paths, so a retry
//! overwrites rather than duplicates) and after the event to Documents (whose
//! id is fixed, so consumers drop a repeat). A run killed anywhere leaves at
//! most orphaned blobs that the next run overwrites: no duplicate, no gap.

use base64::Engine as _;
use bytes::Bytes;
use futures::{StreamExt as _, TryStreamExt as _};
use portal_events::{ArchiveFinished, Notice};
use portal_host::{Failure, Problem};
use portal_security::{AccessEntry, Action, Actor, SubjectId};
use portal_store::{BlobPath, NewDocument, PutMode, StoreError};
use serde::{Deserialize, Serialize};
use serde_json::json;
use time::OffsetDateTime;
use utoipa::ToSchema;

use crate::events::{self, Event};
use crate::isds::{
    BoxContext, Content, DeliveredMessage, Direction, IsdsError, ListQuery, MessageEnvelope, MessageStatus,
    SignedMessage,
};
use crate::{COLLECTION, Databox, index};

pub const JOB: &str = "ArchiveExpiringMessages";
/// Daily at 02:00 UTC.
pub const SCHEDULE: &str = "0 0 2 * * *";
const JOBS_COLLECTION: &str = "jobs";
/// ISDS deletes a delivered message's content this many days after delivery
/// (vyhláška 194/2009 Sb. § 6).
pub const CONTENT_KEPT_DAYS: i64 = 90;
/// A message still not archived this many days before its deletion raises an alert.
pub const AT_RISK_DAYS: i64 = 10;
/// The log message the alert rule counts.
pub const AT_RISK_LOG: &str = "data message at risk of deletion";
/// Envelopes asked of ISDS at a time.
const PAGE: u32 = 100;
/// Citizens archived at the same time. Each citizen's messages go one after
/// another, so this is also the most calls in flight to ISDS (each in its own
/// citizen's context) and the most writes one run offers the store at once,
/// where the embedded store's group commit turns them into shared fsyncs.
pub const CITIZENS_AT_ONCE: usize = 32;
/// One citizen's messages archived at the same time (so at most
/// `CITIZENS_AT_ONCE × MESSAGES_AT_ONCE` messages are in flight).
pub const MESSAGES_AT_ONCE: usize = 4;
const STATUS_PARTITION: &str = "archive";

/// What an archived message's metadata document holds (the envelope sealed).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ArchivedFile {
    pub name: String,
    pub mime_type: String,
    pub size: u64,
    pub blob: String,
}

/// Progress of one run, readable at the job status endpoint.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = DataMessageArchiveReport)]
pub struct ArchiveReport {
    pub citizens_done: u64,
    pub citizens_failed: u64,
    pub messages_archived: u64,
    pub messages_already_archived: u64,
    /// Messages that could not be archived this run (kept, retried next run).
    #[serde(default)]
    pub messages_failed: u64,
    /// Of those, how many ISDS deletes within 10 days (each raised an alert).
    #[serde(default)]
    pub messages_at_risk: u64,
    pub bytes: u64,
    /// Which citizens failed (fingerprints, not ids) and why; retried next run.
    pub failures: Vec<String>,
    #[serde(with = "time::serde::rfc3339::option", default)]
    pub started_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option", default)]
    pub finished_at: Option<OffsetDateTime>,
}

impl ArchiveReport {
    /// Adds one citizen's counts (run concurrently, each with its own report).
    fn add(&mut self, citizen: ArchiveReport) {
        self.messages_archived += citizen.messages_archived;
        self.messages_already_archived += citizen.messages_already_archived;
        self.messages_failed += citizen.messages_failed;
        self.messages_at_risk += citizen.messages_at_risk;
        self.bytes += citizen.bytes;
        self.failures.extend(citizen.failures);
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Isds(#[from] IsdsError),
    #[error(transparent)]
    Crypto(#[from] portal_crypto::CryptoError),
    #[error(transparent)]
    Link(#[from] crate::LinkError),
}

impl Failure for ArchiveError {
    fn is_retryable(&self) -> bool {
        match self {
            Self::Store(e) => e.is_retryable(),
            Self::Isds(e) => e.is_retryable(),
            Self::Crypto(e) => e.is_retryable(),
            Self::Link(_) => false,
        }
    }

    /// A citizen without a box is told so; anything else names only the archive.
    fn problem(&self) -> Problem {
        match self {
            Self::Link(error) => error.problem(),
            _ if self.is_retryable() => Problem::unavailable("archiving"),
            _ => Problem::internal(),
        }
    }
}

/// A folder per citizen that names no one: the SHA-256 of the subject.
pub fn citizen_folder(subject: &str) -> String {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, subject.as_bytes());
    portal_store::lower_hex(&digest.as_ref()[..16])
}

/// The field the ZFO is sealed under. It is `content` because Documents opens
/// the same blob as the filed document's content (`portal_events::FiledDocument`).
pub const ZFO_FIELD: &str = "content";

fn archived_id(message: &str) -> String {
    format!("archived-{message}")
}

/// One run over every citizen with a linked box and archiving on.
pub async fn run(databox: &Databox) -> Result<ArchiveReport, ArchiveError> {
    let started = databox.clock.now();
    let mut report = ArchiveReport { started_at: Some(started), ..ArchiveReport::default() };
    save_report(databox, &report).await?;
    let subjects = index::all(databox.documents.as_ref()).await?;
    let mut citizens = futures::stream::iter(subjects)
        .map(|subject| async move {
            let mut own = ArchiveReport::default();
            let result = archive_citizen(databox, &subject, &mut own).await;
            (subject, own, result)
        })
        .buffer_unordered(CITIZENS_AT_ONCE);
    while let Some((subject, own, result)) = citizens.next().await {
        report.add(own);
        match result {
            Ok(()) => report.citizens_done += 1,
            Err(error) => {
                report.citizens_failed += 1;
                let who = &citizen_folder(&subject)[..12];
                tracing::warn!(citizen = who, error = %error, "archiving failed for one citizen; retried next run");
                report.failures.push(format!("{who}: {error}"));
            }
        }
        if (report.citizens_done + report.citizens_failed).is_multiple_of(100) {
            save_report(databox, &report).await?;
        }
    }
    report.finished_at = Some(databox.clock.now());
    save_report(databox, &report).await?;
    tracing::info!(
        citizens = report.citizens_done,
        failed = report.citizens_failed,
        archived = report.messages_archived,
        bytes = report.bytes,
        "archive run finished"
    );
    Ok(report)
}

/// Archives one citizen's due messages now (on their request), the same way
/// the timer does: only messages already delivered.
pub async fn run_for(databox: &Databox, citizen: &portal_security::Citizen) -> Result<ArchiveReport, ArchiveError> {
    let session = databox.session_context(citizen).await?;
    let mut report = ArchiveReport { started_at: Some(databox.clock.now()), ..ArchiveReport::default() };
    archive_box(databox, &citizen.subject, session.as_box(), &mut report).await?;
    report.citizens_done = 1;
    report.finished_at = Some(databox.clock.now());
    Ok(report)
}

async fn save_report(databox: &Databox, report: &ArchiveReport) -> Result<(), StoreError> {
    let body = serde_json::to_value(report).map_err(|e| StoreError::Invalid(e.to_string()))?;
    databox.documents.upsert(JOBS_COLLECTION, NewDocument::new(STATUS_PARTITION, "latest", body), None).await.map(drop)
}

/// The latest run's progress.
pub async fn latest(databox: &Databox) -> Result<Option<ArchiveReport>, StoreError> {
    let doc = databox.documents.get(JOBS_COLLECTION, STATUS_PARTITION, "latest").await?;
    Ok(doc.and_then(|doc| serde_json::from_value(doc.body).ok()))
}

async fn archive_citizen(databox: &Databox, subject: &str, report: &mut ArchiveReport) -> Result<(), ArchiveError> {
    if !databox.auto_archive(subject).await? {
        return Ok(());
    }
    let subject_id = SubjectId::parse(subject).map_err(|_| StoreError::Invalid("bad subject in the index".into()))?;
    let ctx = databox.job_context(&subject_id, JOB).await?;
    archive_box(databox, &subject_id, &ctx, report).await
}

/// Archives the due, delivered messages of the box `ctx` names. A failing
/// message is kept and skipped; only a failure to list stops the citizen.
async fn archive_box(
    databox: &Databox,
    subject_id: &SubjectId,
    ctx: &BoxContext,
    report: &mut ArchiveReport,
) -> Result<(), ArchiveError> {
    let subject = subject_id.as_str();
    let now = databox.clock.now();
    let due_before = now - time::Duration::days(i64::from(databox.settings.archive_after_days));
    // Status 4 is never asked for: only what ISDS has delivered.
    let statuses = vec![MessageStatus::DeemedDelivered, MessageStatus::AcceptedByLogin, MessageStatus::Read];
    // The messages that failed before: only their failure records need
    // clearing once archived (one read instead of a delete per message).
    let mut failed_before: std::collections::HashSet<String> = failures(databox, subject_id)
        .await?
        .into_iter()
        .filter_map(|failure| failure["messageId"].as_str().map(str::to_owned))
        .collect();
    let mut offset = 1;
    let mut archived_now = 0;
    loop {
        // Delivery into the box (the list's time) precedes acceptance, so
        // every message accepted before `due_before` is in this range.
        let query = ListQuery { from: None, to: Some(due_before), statuses: statuses.clone(), offset, limit: PAGE };
        let page = databox.isds.list_messages(ctx, Direction::Received, &query).await?;
        let count = page.len() as u32;
        let due = page.into_iter().filter_map(|envelope| {
            let delivered = DeliveredMessage::of(&envelope)?;
            envelope.acceptance_time.is_some_and(|accepted| accepted <= due_before).then_some((envelope, delivered))
        });
        // A few of the citizen's messages at a time: each waits for its own
        // writes, and the waits overlap.
        let outcomes: Vec<_> = futures::stream::iter(due)
            .map(|(envelope, delivered)| async move {
                let outcome = archive_due(databox, subject_id, ctx, &delivered).await;
                (envelope, outcome)
            })
            .buffer_unordered(MESSAGES_AT_ONCE)
            .collect()
            .await;
        for (envelope, outcome) in outcomes {
            match outcome {
                Ok(Due::AlreadyArchived) => report.messages_already_archived += 1,
                Ok(Due::Gone) => {}
                Ok(Due::Archived(bytes)) => {
                    report.bytes += bytes;
                    report.messages_archived += 1;
                    archived_now += 1;
                    if failed_before.remove(envelope.id.as_str()) {
                        clear_failure(databox, subject, envelope.id.as_str()).await?;
                    }
                }
                Err(error) => {
                    report.messages_failed += 1;
                    if keep_failure(databox, subject, &envelope, &error, now).await? {
                        report.messages_at_risk += 1;
                    }
                }
            }
        }
        if count < PAGE {
            break;
        }
        offset += count;
    }
    if archived_now > 0 {
        let notice = Notice::ArchiveFinished(ArchiveFinished { archived: archived_now });
        let key = format!("{subject}:{}", now.date());
        portal_events::publish_notice(databox.queues.as_ref(), &notice, &key, subject, now).await?;
    }
    Ok(())
}

/// What became of one due message.
enum Due {
    AlreadyArchived,
    /// Deleted by ISDS meanwhile: nothing left to archive.
    Gone,
    /// Archived now; the sealed bytes stored.
    Archived(u64),
}

async fn archive_due(
    databox: &Databox,
    subject: &SubjectId,
    ctx: &BoxContext,
    delivered: &DeliveredMessage,
) -> Result<Due, ArchiveError> {
    if databox.documents.get(COLLECTION, subject.as_str(), &archived_id(delivered.id().as_str())).await?.is_some() {
        return Ok(Due::AlreadyArchived);
    }
    // A big message's ZFO and files come as blobs of a stash, deleted once
    // the message is dropped below (a run killed first leaves them to
    // `spool::collect`, which this job runs).
    let stash = databox.stash(subject.as_str());
    match databox.isds.download_delivered(ctx, delivered, &stash).await {
        Ok(message) => Ok(Due::Archived(archive_message(databox, subject, &message).await?)),
        Err(IsdsError::NotFound) => Ok(Due::Gone),
        Err(error) => Err(error.into()),
    }
}

fn failure_id(message: &str) -> String {
    format!("archive-failure-{message}")
}

/// Keeps why `envelope` could not be archived (attempts counted) and, when
/// ISDS deletes it within [`AT_RISK_DAYS`] days, raises the alert. Whether it
/// is at risk.
async fn keep_failure(
    databox: &Databox,
    subject: &str,
    envelope: &MessageEnvelope,
    error: &ArchiveError,
    now: OffsetDateTime,
) -> Result<bool, StoreError> {
    let id = envelope.id.as_str();
    let who = &citizen_folder(subject)[..12];
    let previous = databox.documents.get(COLLECTION, subject, &failure_id(id)).await?;
    let attempts = previous.as_ref().and_then(|doc| doc.body["attempts"].as_u64()).unwrap_or(0) + 1;
    let deleted_at = envelope.acceptance_time.map(|accepted| accepted + time::Duration::days(CONTENT_KEPT_DAYS));
    let at_risk = deleted_at.is_some_and(|at| at - now <= time::Duration::days(AT_RISK_DAYS));
    let body = json!({
        "type": "archive-failure",
        "messageId": id,
        "attempts": attempts,
        "retryable": error.is_retryable(),
        "error": error.to_string(),
        "deletedAt": deleted_at.map(|t| t.unix_timestamp()),
    });
    databox.documents.upsert(COLLECTION, NewDocument::new(subject, failure_id(id), body), None).await?;
    tracing::warn!(citizen = who, message = id, attempts, error = %error, "one message could not be archived; retried next run");
    if at_risk {
        let days_left = deleted_at.map_or(0, |at| (at - now).whole_days());
        tracing::error!(
            metric = "databox_archive_at_risk",
            citizen = who,
            message = id,
            attempts,
            days_left,
            "{AT_RISK_LOG}"
        );
    }
    Ok(at_risk)
}

async fn clear_failure(databox: &Databox, subject: &str, message: &str) -> Result<(), StoreError> {
    match databox.documents.delete(COLLECTION, subject, &failure_id(message), None).await {
        Ok(_) | Err(StoreError::NotFound) => Ok(()),
        Err(error) => Err(error),
    }
}

/// The messages whose archiving failed and is retried, as kept.
pub async fn failures(databox: &Databox, subject: &SubjectId) -> Result<Vec<serde_json::Value>, StoreError> {
    let query = portal_store::Query::default().filter("type", portal_store::FilterOp::Eq, "archive-failure");
    Ok(databox.documents.query(COLLECTION, subject.as_str(), query).await?.items.into_iter().map(|d| d.body).collect())
}

/// Stores one message in the archive; returns the bytes stored. Safe to call
/// again for the same message until its metadata document exists.
pub async fn archive_message(
    databox: &Databox,
    subject: &SubjectId,
    message: &SignedMessage,
) -> Result<u64, ArchiveError> {
    let owner = subject.as_str();
    let id = message.envelope.id.as_str();
    let folder = format!("databox/{}/{id}", citizen_folder(owner));
    let document = archived_id(id);
    let zfo_path = format!("{folder}/message.zfo");
    // The ZFO and every attachment are independent writes: sealed and stored
    // side by side, each waiting for its own commit.
    let zfo = put_sealed(
        databox,
        owner,
        &document,
        ZFO_FIELD.to_owned(),
        zfo_path.clone(),
        &message.zfo,
        "application/vnd.software602.filler.form-xml-zip",
    );
    let attachments = message.attachments.iter().enumerate().map(|(i, attachment)| {
        put_sealed(
            databox,
            owner,
            &document,
            format!("attachment-{i}"),
            format!("{folder}/attachment-{i}"),
            &attachment.content,
            &attachment.mime_type,
        )
    });
    let (zfo, attachments) = futures::future::try_join(zfo, futures::future::try_join_all(attachments)).await?;
    let bytes = zfo + attachments.iter().sum::<u64>();
    let files: Vec<ArchivedFile> = message
        .attachments
        .iter()
        .enumerate()
        .map(|(i, attachment)| ArchivedFile {
            name: attachment.name.clone(),
            mime_type: attachment.mime_type.clone(),
            size: attachment.content.len(),
            blob: format!("{folder}/attachment-{i}"),
        })
        .collect();
    let envelope = serde_json::to_vec(&message.envelope).map_err(|e| StoreError::Invalid(e.to_string()))?;
    let sealed_envelope = databox.sealer.encrypt(owner, &document, "envelope", &envelope).await?;
    let sealed_files = databox
        .sealer
        .encrypt(
            owner,
            &document,
            "files",
            &serde_json::to_vec(&files).map_err(|e| StoreError::Invalid(e.to_string()))?,
        )
        .await?;
    let now = databox.clock.now();
    let filed = portal_events::FiledDocument {
        document_id: document.clone(),
        title: format!("Datová zpráva: {} (od {})", message.envelope.subject, message.envelope.sender_name),
        kind: "data-message".into(),
        source: "databox".into(),
        source_ref: id.to_owned(),
        media_type: "application/vnd.software602.filler.form-xml-zip".into(),
        file_name: format!("datova-zprava-{id}.zfo"),
        size: message.zfo.len(),
        content: portal_events::SealedContent::Blob { path: zfo_path.clone() },
        simulated: databox.settings.simulated,
    };
    let event = Event::new(
        events::MESSAGE_ARCHIVED,
        &format!("{owner}:{id}"),
        owner,
        now,
        serde_json::to_value(&filed).map_err(|e| StoreError::Invalid(e.to_string()))?,
    );
    // The event and the access-log line before the document that marks the
    // message archived: a run killed in between repeats them (the event's id
    // is fixed, so Documents drops the repeat) rather than leave a message
    // archived without its line.
    let entry = AccessEntry::new(
        Actor::System { job: JOB.into() },
        Action::Create,
        "data-message",
        id,
        "archived before ISDS deletes it",
    );
    let (published, logged) = futures::future::join(
        events::publish(databox.queues.as_ref(), events::DOCUMENTS_QUEUE, &event),
        databox.access_log.record(subject, entry),
    )
    .await;
    published?;
    logged?;
    let b64 = base64::engine::general_purpose::STANDARD;
    let body = json!({
        "type": "archived-message",
        "schemaVersion": 1,
        "messageId": id,
        "archivedAtNanos": i64::try_from(now.unix_timestamp_nanos()).unwrap_or(i64::MAX),
        "deliveredAt": message.envelope.delivery_time.map(|t| t.unix_timestamp()),
        "zfo": zfo_path,
        "zfoSize": message.zfo.len(),
        "envelope": b64.encode(sealed_envelope),
        "files": b64.encode(sealed_files),
    });
    match databox.documents.create(COLLECTION, NewDocument::new(owner, document.clone(), body)).await {
        Ok(_) | Err(StoreError::Conflict) => {}
        Err(error) => return Err(error.into()),
    }
    Ok(bytes)
}

async fn put_sealed(
    databox: &Databox,
    owner: &str,
    document: &str,
    field: String,
    path: String,
    content: &Content,
    content_type: &str,
) -> Result<u64, ArchiveError> {
    // Sealed in chunks (format 2) as the content streams (a big message's
    // file from its stash's blob, opened chunk by chunk), never whole:
    // Documents, which files the ZFO as the citizen's document, then streams
    // its download chunk by chunk too. Overwritten by a retry.
    let sealer = databox.sealer.stream_sealer(owner, document, &field).await?;
    let path = BlobPath::parse(path)?;
    let plain = content.stream().await?.map_err(|e| IsdsError::Unavailable(Box::new(e))).boxed();
    let (_, size) =
        crate::isds::seal_into(databox.blobs.as_ref(), sealer, &path, content_type, PutMode::Overwrite, plain).await?;
    Ok(size)
}

/// An archived message's envelope, files (name, MIME type, content) and ZFO,
/// each content a blob of the archive read as a stream.
pub type ArchivedContents = (MessageEnvelope, Vec<(String, String, Content)>, Content);

/// [`load`] with each file and the ZFO as a [`Content`] that opens its blob
/// as a stream (a ZFO archived before its size was kept is read whole).
pub async fn load_contents(
    databox: &Databox,
    subject: &SubjectId,
    id: &str,
) -> Result<Option<ArchivedContents>, ArchiveError> {
    let Some((envelope, files, zfo_path)) = load(databox, subject, id).await? else { return Ok(None) };
    let owner = subject.as_str();
    let document = archived_id(id);
    let blob = |field: &str, path: &str, size: u64| -> Result<Content, ArchiveError> {
        let path = BlobPath::parse(path.to_owned())?;
        Ok(Content::sealed_blob(databox.blobs.clone(), databox.sealer.clone(), owner, &document, field, path, size))
    };
    let mut contents = Vec::with_capacity(files.len());
    for (i, file) in files.into_iter().enumerate() {
        let content = blob(&format!("attachment-{i}"), &file.blob, file.size)?;
        contents.push((file.name, file.mime_type, content));
    }
    let doc = databox.documents.get(COLLECTION, owner, &document).await?;
    let zfo = match doc.and_then(|doc| doc.body["zfoSize"].as_u64()) {
        Some(size) => blob(ZFO_FIELD, &zfo_path, size)?,
        None => Content::from(open_blob(databox, subject, id, ZFO_FIELD, &zfo_path).await?),
    };
    Ok(Some((envelope, contents, zfo)))
}

/// An archived message: envelope and file list, opened with the owner's key.
pub async fn load(
    databox: &Databox,
    subject: &SubjectId,
    id: &str,
) -> Result<Option<(MessageEnvelope, Vec<ArchivedFile>, String)>, ArchiveError> {
    let document = archived_id(id);
    let Some(doc) = databox.documents.get(COLLECTION, subject.as_str(), &document).await? else { return Ok(None) };
    let b64 = base64::engine::general_purpose::STANDARD;
    let field = |name: &str| {
        b64.decode(doc.body[name].as_str().unwrap_or_default()).map_err(|e| StoreError::Invalid(e.to_string()))
    };
    let envelope = databox.sealer.decrypt(subject.as_str(), &document, "envelope", &field("envelope")?).await?;
    let files = databox.sealer.decrypt(subject.as_str(), &document, "files", &field("files")?).await?;
    let envelope = serde_json::from_slice(&envelope).map_err(|e| StoreError::Invalid(e.to_string()))?;
    let files = serde_json::from_slice(&files).map_err(|e| StoreError::Invalid(e.to_string()))?;
    Ok(Some((envelope, files, doc.body["zfo"].as_str().unwrap_or_default().to_owned())))
}

/// The content of an archived blob, opened.
pub async fn open_blob(
    databox: &Databox,
    subject: &SubjectId,
    id: &str,
    field: &str,
    path: &str,
) -> Result<Vec<u8>, ArchiveError> {
    use futures::TryStreamExt as _;
    let (_, stream) = databox.blobs.get(&BlobPath::parse(path)?).await?;
    let chunks: Vec<Bytes> = stream.try_collect().await?;
    Ok(databox.sealer.decrypt(subject.as_str(), &archived_id(id), field, &chunks.concat()).await?)
}
