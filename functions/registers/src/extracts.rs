//! Extracts as jobs (výpisy).
//!
//! `POST /api/registers/extracts` records a job (`job-<id>` in the citizen's
//! partition, status `queued`) and sends `{jobId, subject}` to the queue
//! [`QUEUE`]. The queue function `FetchExtract`
//! ([`crate::queue::fetch_extract`]) asks the gateway, renders the PDF, seals
//! it and hands it to Documents with a notification, exactly once per job.
//! Every id is fixed by the job id, so a crash anywhere followed by a
//! redelivery, or any number of replays, files exactly one document.
//!
//! A job left `queued` too long (a crash between recording it and queueing
//! it) is queued again when the citizen looks at it ([`show`]).

use portal_events::FiledDocument;
use portal_host::{Failure, Problem};
use portal_security::SubjectId;
use portal_store::{ETag, NewDocument, QueueName, StoreError};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;

use crate::gateway::GatewayError;
use crate::{COLLECTION, Registers, citizen_folder};
/// The queue `FetchExtract` consumes.
pub const QUEUE: &str = "fetch-extract";
/// Event kinds this capability publishes.
pub const EXTRACT_READY: &str = portal_events::kinds::EXTRACT_READY;
pub const EXTRACT_FAILED: &str = portal_events::kinds::EXTRACT_FAILED;
pub const EXTRACT_FILED: &str = "document.register-extract";

/// What a citizen can ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum ExtractKind {
    CriminalRecord,
    TradeRegister,
    DriverPoints,
    Vehicles,
    /// The population register (ROB).
    Person,
    Properties,
}

impl ExtractKind {
    pub const ALL: [Self; 6] =
        [Self::CriminalRecord, Self::TradeRegister, Self::DriverPoints, Self::Vehicles, Self::Person, Self::Properties];
    pub const RULE: &'static str =
        "one of criminal-record, trade-register, driver-points, vehicles, person, properties";

    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == value)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::CriminalRecord => "criminal-record",
            Self::TradeRegister => "trade-register",
            Self::DriverPoints => "driver-points",
            Self::Vehicles => "vehicles",
            Self::Person => "person",
            Self::Properties => "properties",
        }
    }

    /// The document's title.
    pub fn title(self) -> &'static str {
        match self {
            Self::CriminalRecord => "Výpis z evidence Rejstříku trestů",
            Self::TradeRegister => "Výpis ze živnostenského rejstříku",
            Self::DriverPoints => "Výpis z bodového hodnocení řidiče",
            Self::Vehicles => "Výpis vozidel z registru silničních vozidel",
            Self::Person => "Výpis údajů z registru obyvatel",
            Self::Properties => "Přehled nemovitostí z katastru nemovitostí",
        }
    }

    /// The file name stem in Documents.
    pub fn file_stem(self) -> &'static str {
        match self {
            Self::CriminalRecord => "vypis-rejstrik-trestu",
            Self::TradeRegister => "vypis-zivnostensky-rejstrik",
            Self::DriverPoints => "vypis-bodove-hodnoceni",
            Self::Vehicles => "vypis-vozidla",
            Self::Person => "vypis-registr-obyvatel",
            Self::Properties => "prehled-nemovitosti",
        }
    }
}

/// Where an extract job stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[schema(as = ExtractJobStatus)]
#[serde(rename_all = "lowercase")]
pub enum JobStatus {
    Queued,
    Running,
    Done,
    Failed,
}

/// A job as stored (collection [`COLLECTION`], partition = the citizen, id
/// `job-<id>`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExtractJob {
    #[serde(rename = "type")]
    pub doc_type: String,
    pub id: String,
    pub kind: ExtractKind,
    pub status: JobStatus,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// The sort key of the citizen's list.
    pub created_at_nanos: i64,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
    /// When the message was last sent.
    #[serde(with = "time::serde::rfc3339")]
    pub queued_at: OffsetDateTime,
    pub attempts: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub document_id: Option<String>,
    /// Why it failed, for the citizen (Czech).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The event to Documents, kept so a replay publishes the same one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filed: Option<FiledDocument>,
    #[serde(default)]
    pub simulated: bool,
}

pub fn job_doc_id(job_id: &str) -> String {
    format!("job-{job_id}")
}

/// The document id in Documents, fixed by the job.
pub fn document_id(job_id: &str) -> String {
    format!("extract-{job_id}")
}

/// The blob of a sealed PDF too large to travel inline.
pub fn blob_path(subject: &str, job_id: &str) -> String {
    format!("registers/{}/{job_id}.pdf", citizen_folder(subject))
}

/// The queue message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FetchMessage {
    pub job_id: String,
    pub subject: String,
}

/// A job id as the API takes it: a UUID (hyphenated, lower case).
pub fn parse_job_id(value: &str) -> Option<String> {
    uuid::Uuid::parse_str(value).ok().map(|id| id.hyphenated().to_string()).filter(|id| id == value)
}

#[derive(Debug, thiserror::Error)]
pub enum ExtractError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Crypto(#[from] portal_crypto::CryptoError),
    #[error(transparent)]
    Gateway(#[from] GatewayError),
    #[error("another delivery is working on the job")]
    Contended,
    #[error("the message names no job of this citizen")]
    UnknownJob,
    #[error("the stored job is not readable: {0}")]
    Corrupt(String),
    #[error(transparent)]
    Pdf(#[from] portal_pdf::PdfError),
}

impl Failure for ExtractError {
    fn is_retryable(&self) -> bool {
        match self {
            Self::Store(e) => e.is_retryable() || matches!(e, StoreError::PreconditionFailed),
            Self::Crypto(e) => e.is_retryable(),
            Self::Gateway(e) => e.is_retryable(),
            Self::Contended => true,
            Self::UnknownJob | Self::Corrupt(_) | Self::Pdf(_) => false,
        }
    }

    /// Whatever fails in storage answers 503 `storage`; a key service that
    /// may come back, 503; anything else is ours, 500.
    fn problem(&self) -> Problem {
        match self {
            Self::Store(_) | Self::Contended => Problem::unavailable("storage"),
            Self::Crypto(e) if e.is_retryable() => Problem::unavailable("the key service"),
            _ => Problem::internal(),
        }
    }
}

/// Records a new job and queues it. Returns the job.
pub async fn create(registers: &Registers, subject: &SubjectId, kind: ExtractKind) -> Result<ExtractJob, ExtractError> {
    let now = registers.clock.now();
    let id = uuid::Uuid::new_v4().hyphenated().to_string();
    let job = ExtractJob {
        doc_type: "extract-job".into(),
        id: id.clone(),
        kind,
        status: JobStatus::Queued,
        created_at: now,
        created_at_nanos: i64::try_from(now.unix_timestamp_nanos()).unwrap_or(i64::MAX),
        updated_at: now,
        queued_at: now,
        attempts: 0,
        document_id: None,
        reason: None,
        filed: None,
        simulated: registers.settings.simulated,
    };
    let body = serde_json::to_value(&job).map_err(|e| ExtractError::Corrupt(e.to_string()))?;
    registers.documents.create(COLLECTION, NewDocument::new(subject.as_str(), job_doc_id(&id), body)).await?;
    if let Err(error) = enqueue(registers, subject, &id).await {
        // Without its message the job would wait forever: take it back.
        let _ = registers.documents.delete(COLLECTION, subject.as_str(), &job_doc_id(&id), None).await;
        return Err(error.into());
    }
    Ok(job)
}

async fn enqueue(registers: &Registers, subject: &SubjectId, job_id: &str) -> Result<(), StoreError> {
    let queue = QueueName::parse(QUEUE)?;
    let message = FetchMessage { job_id: job_id.to_owned(), subject: subject.as_str().to_owned() };
    let text = serde_json::to_string(&message).map_err(|e| StoreError::Invalid(e.to_string()))?;
    match registers.queues.send(&queue, &text, None).await {
        Err(StoreError::NotFound) => {
            registers.queues.ensure(&queue).await?;
            registers.queues.send(&queue, &text, None).await.map(drop)
        }
        other => other.map(drop),
    }
}

/// The citizen's job, or `None` (also for another citizen's id).
pub async fn load(
    registers: &Registers,
    subject: &str,
    job_id: &str,
) -> Result<Option<(ExtractJob, ETag)>, ExtractError> {
    let Some(doc) = registers.documents.get(COLLECTION, subject, &job_doc_id(job_id)).await? else {
        return Ok(None);
    };
    let job = serde_json::from_value(doc.body).map_err(|e| ExtractError::Corrupt(e.to_string()))?;
    Ok(Some((job, doc.etag)))
}

/// The job for the citizen; a job left `queued` longer than
/// `requeue_after` since its message was sent is queued again (idempotent:
/// `FetchExtract` does a job once however often it is delivered).
pub async fn show(
    registers: &Registers,
    subject: &SubjectId,
    job_id: &str,
) -> Result<Option<ExtractJob>, ExtractError> {
    let Some((mut job, etag)) = load(registers, subject.as_str(), job_id).await? else {
        return Ok(None);
    };
    let now = registers.clock.now();
    let stale = job.status == JobStatus::Queued && now - job.queued_at >= registers.settings.requeue_after;
    if stale {
        job.queued_at = now;
        let body = serde_json::to_value(&job).map_err(|e| ExtractError::Corrupt(e.to_string()))?;
        match registers
            .documents
            .replace(COLLECTION, NewDocument::new(subject.as_str(), job_doc_id(job_id), body), &etag)
            .await
        {
            Ok(_) => {
                tracing::warn!("an extract job waited too long in the queue; queued again");
                enqueue(registers, subject, job_id).await?;
            }
            Err(StoreError::PreconditionFailed) => {}
            Err(error) => return Err(error.into()),
        }
    }
    Ok(Some(job))
}

/// The citizen's jobs, newest first (the last 100).
pub async fn list(registers: &Registers, subject: &SubjectId) -> Result<Vec<ExtractJob>, ExtractError> {
    let query = portal_store::Query::default()
        .filter("type", portal_store::FilterOp::Eq, "extract-job")
        .order_by("createdAtNanos", portal_store::Order::Descending)
        .page_size(100);
    let page = registers.documents.query(COLLECTION, subject.as_str(), query).await?;
    Ok(page.items.into_iter().filter_map(|doc| serde_json::from_value(doc.body).ok()).collect())
}

/// Replaces the job if it is still the version `etag` names.
pub(crate) async fn save(
    registers: &Registers,
    subject: &str,
    job: &ExtractJob,
    etag: &ETag,
) -> Result<ETag, ExtractError> {
    let body = serde_json::to_value(job).map_err(|e| ExtractError::Corrupt(e.to_string()))?;
    match registers.documents.replace(COLLECTION, NewDocument::new(subject, job_doc_id(&job.id), body), etag).await {
        Ok(etag) => Ok(etag),
        Err(StoreError::PreconditionFailed) => Err(ExtractError::Contended),
        Err(error) => Err(error.into()),
    }
}
#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn kinds_and_ids_parse_strictly() {
        for kind in ExtractKind::ALL {
            assert_eq!(ExtractKind::parse(kind.as_str()), Some(kind));
            assert_eq!(serde_json::to_value(kind).ok(), Some(json!(kind.as_str())));
        }
        assert_eq!(ExtractKind::parse("Criminal-Record"), None);
        let id = "2f1c6a52-6d0b-4f3e-9d55-0d6f2b9b8e11";
        assert_eq!(parse_job_id(id).as_deref(), Some(id));
        assert_eq!(parse_job_id("2F1C6A52-6D0B-4F3E-9D55-0D6F2B9B8E11"), None, "one spelling per job");
        assert_eq!(parse_job_id("../x"), None);
    }
}
