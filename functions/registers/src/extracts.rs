//! Extracts as jobs (výpisy).
//!
//! `POST /api/registers/extracts` records a job (`job-<id>` in the citizen's
//! partition, status `queued`) and sends `{jobId, subject}` to the queue
//! [`QUEUE`]. The queue function `FetchExtract` ([`fetch_extract`]):
//!
//! 1. loads the job; a job already `done` or `failed` only publishes its
//!    events again (a replay or a redelivery after a crash) and returns;
//! 2. counts the attempt on the job (ETag-conditional, so two deliveries
//!    never work on one job at once) and marks it `running`;
//! 3. asks the gateway, with the job id as `X-Request-Id` (the gateway
//!    answers a repeated request alike);
//! 4. renders the PDF and seals it with the citizen's key for Documents
//!    (document id `extract-<jobId>`, field `content`); a sealed PDF larger
//!    than the inline limit is written create-only to
//!    `registers/<citizen folder>/<jobId>.pdf` (an earlier attempt's blob is
//!    reused, never replaced);
//! 5. marks the job `done` with the event it will publish (ETag-conditional);
//! 6. publishes the `FiledDocument` to Documents and the "extract ready"
//!    notification, both with ids fixed by the job id.
//!
//! Every id is fixed by the job id, so a crash anywhere followed by a
//! redelivery, or any number of replays, files exactly one document: at
//! most one blob exists, and Documents drops a repeated document id.
//!
//! **Failures.** A gateway outage is a retryable error: the host delivers
//! the message again after its visibility timeout (its backoff). After
//! `max_attempts` attempts the job is marked `failed` with a reason the
//! citizen can read and a notification, before the host would poison the
//! message. "Not found", a refusal and an answer outside the contract fail
//! the job at once (asking again cannot help). A person who is not in the
//! trade register gets a PDF saying so rather than a failure: the answer
//! itself is the information.

use base64::Engine as _;
use bytes::Bytes;
use portal_events::{Event, FiledDocument, SealedContent};
use portal_host::{InvocationError, Outcome};
use portal_security::{AccessEntry, AccessOutcome, Action, Actor, SubjectId};
use portal_store::{BlobPath, ETag, NewDocument, PutMode, QueueName, StoreError};
use serde::{Deserialize, Serialize};
use serde_json::json;
use time::OffsetDateTime;

use crate::gateway::{GatewayError, RequestId};
use crate::render::{self, ExtractData};
use crate::{COLLECTION, Registers, citizen_folder};

/// The queue `FetchExtract` consumes.
pub const QUEUE: &str = "fetch-extract";
pub const FUNCTION: &str = "FetchExtract";
/// Event kinds this capability publishes.
pub const EXTRACT_READY: &str = "registers.extract-ready";
pub const EXTRACT_FAILED: &str = "registers.extract-failed";
pub const EXTRACT_FILED: &str = "document.register-extract";

/// What a citizen can ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
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
    fn file_stem(self) -> &'static str {
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

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
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

impl ExtractJob {
    /// What the citizen sees.
    pub fn view(&self) -> serde_json::Value {
        let mut view = json!({
            "id": self.id,
            "kind": self.kind,
            "title": self.kind.title(),
            "status": self.status,
            "createdAt": rfc3339(self.created_at),
            "updatedAt": rfc3339(self.updated_at),
        });
        if let Some(id) = &self.document_id {
            view["documentId"] = json!(id);
        }
        if let Some(reason) = &self.reason {
            view["reason"] = json!(reason);
        }
        if self.simulated {
            view["simulated"] = json!(true);
        }
        view
    }
}

pub(crate) fn rfc3339(at: OffsetDateTime) -> String {
    at.format(&time::format_description::well_known::Rfc3339).unwrap_or_default()
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
}

impl ExtractError {
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Store(e) => e.is_retryable() || matches!(e, StoreError::PreconditionFailed),
            Self::Crypto(e) => e.is_retryable(),
            Self::Gateway(e) => e.is_retryable(),
            Self::Contended => true,
            Self::UnknownJob | Self::Corrupt(_) => false,
        }
    }

    fn into_invocation(self) -> InvocationError {
        if self.is_retryable() { InvocationError::retryable(self) } else { InvocationError::permanent(self) }
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

/// The queue function `FetchExtract`: one job, idempotent.
pub async fn fetch_extract(registers: &Registers, message: &FetchMessage) -> Result<Outcome, InvocationError> {
    run(registers, message).await.map_err(ExtractError::into_invocation)
}

async fn save(registers: &Registers, subject: &str, job: &ExtractJob, etag: &ETag) -> Result<ETag, ExtractError> {
    let body = serde_json::to_value(job).map_err(|e| ExtractError::Corrupt(e.to_string()))?;
    match registers.documents.replace(COLLECTION, NewDocument::new(subject, job_doc_id(&job.id), body), etag).await {
        Ok(etag) => Ok(etag),
        Err(StoreError::PreconditionFailed) => Err(ExtractError::Contended),
        Err(error) => Err(error.into()),
    }
}

async fn run(registers: &Registers, message: &FetchMessage) -> Result<Outcome, ExtractError> {
    let subject = SubjectId::parse(message.subject.clone()).map_err(|_| ExtractError::UnknownJob)?;
    let job_id = parse_job_id(&message.job_id).ok_or(ExtractError::UnknownJob)?;
    let (mut job, etag) = load(registers, subject.as_str(), &job_id).await?.ok_or(ExtractError::UnknownJob)?;
    match job.status {
        JobStatus::Done => {
            announce(registers, &subject, &job).await?;
            return Ok(Outcome::done().log("extract already done; events published again"));
        }
        JobStatus::Failed => {
            announce(registers, &subject, &job).await?;
            return Ok(Outcome::done().log("extract already failed; notification published again"));
        }
        JobStatus::Queued | JobStatus::Running => {}
    }
    job.attempts += 1;
    job.status = JobStatus::Running;
    job.updated_at = registers.clock.now();
    let etag = save(registers, subject.as_str(), &job, &etag).await?;

    let fetched = fetch(registers, &subject, &job).await;
    let outcome = if fetched.is_ok() { AccessOutcome::Success } else { AccessOutcome::Failed };
    let entry = AccessEntry::new(
        Actor::System { job: FUNCTION.into() },
        Action::Read,
        &format!("register-{}", job.kind.as_str()),
        &job.id,
        &format!("{} na vaši žádost", job.kind.title()),
    )
    .with_outcome(outcome);
    registers.access_log.record(&subject, entry).await?;

    let data = match fetched {
        Ok(data) => data,
        Err(error) if error.is_retryable() && job.attempts < registers.settings.max_attempts => {
            tracing::warn!(attempt = job.attempts, error = %error, "the registers gateway is unavailable; the job will be tried again");
            return Err(error.into());
        }
        Err(error) => {
            let reason = failure_reason(&error);
            tracing::warn!(attempts = job.attempts, error = %error, "an extract job failed");
            job.status = JobStatus::Failed;
            job.reason = Some(reason.to_owned());
            job.updated_at = registers.clock.now();
            save(registers, subject.as_str(), &job, &etag).await?;
            announce(registers, &subject, &job).await?;
            return Ok(Outcome::done().log(format!("extract failed: {error}")));
        }
    };

    let simulated = registers.settings.simulated || data.simulated();
    let pdf = render::extract_pdf(job.kind, &data, &job.id, job.created_at, simulated);
    let filed = file(registers, &subject, &job, &pdf, simulated).await?;
    job.status = JobStatus::Done;
    job.document_id = Some(filed.document_id.clone());
    job.filed = Some(filed);
    job.simulated = simulated;
    job.updated_at = registers.clock.now();
    save(registers, subject.as_str(), &job, &etag).await?;
    announce(registers, &subject, &job).await?;
    Ok(Outcome::done().log(format!("extract {} filed", job.kind.as_str())))
}

/// Asks the gateway for the job's data.
async fn fetch(registers: &Registers, subject: &SubjectId, job: &ExtractJob) -> Result<ExtractData, GatewayError> {
    let request = RequestId::parse(&job.id)?;
    let gateway = registers.gateway.as_ref();
    Ok(match job.kind {
        ExtractKind::Person => ExtractData::Person(gateway.person(&request, subject).await?),
        ExtractKind::CriminalRecord => ExtractData::CriminalRecord(gateway.criminal_record(&request, subject).await?),
        ExtractKind::TradeRegister => match gateway.trade_register(&request, subject).await {
            Ok(extract) => ExtractData::TradeRegister(Some(extract)),
            Err(GatewayError::NotFound) => ExtractData::TradeRegister(None),
            Err(error) => return Err(error),
        },
        ExtractKind::DriverPoints => ExtractData::DriverPoints(gateway.driver_points(&request, subject).await?),
        ExtractKind::Vehicles => ExtractData::Vehicles(gateway.vehicles(&request, subject).await?),
        ExtractKind::Properties => ExtractData::Properties(gateway.properties(&request, subject).await?),
    })
}

fn failure_reason(error: &GatewayError) -> &'static str {
    match error {
        GatewayError::Unavailable(_) => {
            "Registr byl opakovaně nedostupný, výpis se nepodařilo získat. Zkuste o výpis požádat znovu později."
        }
        GatewayError::NotFound => "Registr o vás nevede žádný záznam, ze kterého by bylo možné výpis vyhotovit.",
        GatewayError::Refused { .. } => {
            "Registr žádost o výpis odmítl. Obraťte se prosím na kontaktní místo Czech POINT."
        }
        GatewayError::Invalid(_) => {
            "Výpis se nepodařilo vyhotovit kvůli chybě na straně portálu. Chyba byla zaznamenána."
        }
    }
}

/// Seals the PDF for Documents: inline, or in a blob written once.
async fn file(
    registers: &Registers,
    subject: &SubjectId,
    job: &ExtractJob,
    pdf: &[u8],
    simulated: bool,
) -> Result<FiledDocument, ExtractError> {
    let document_id = document_id(&job.id);
    let sealed = registers.sealer.encrypt(subject.as_str(), &document_id, "content", pdf).await?;
    let mut size = pdf.len() as u64;
    let content = if sealed.len() <= registers.settings.inline_limit {
        SealedContent::Inline { sealed: base64::engine::general_purpose::STANDARD.encode(&sealed) }
    } else {
        let path = BlobPath::parse(blob_path(subject.as_str(), &job.id))?;
        let metadata = [("plainsize".to_owned(), size.to_string())].into_iter().collect();
        match registers
            .blobs
            .put(&path, Bytes::from(sealed), "application/octet-stream", metadata, PutMode::CreateOnly)
            .await
        {
            Ok(_) => {}
            // An earlier attempt wrote it: that blob is the content (a put is
            // all or nothing), with its own plain size.
            Err(StoreError::Conflict) => {
                let (info, _) = registers.blobs.get(&path).await?;
                size = info.metadata.get("plainsize").and_then(|s| s.parse().ok()).unwrap_or(size);
            }
            Err(error) => return Err(error.into()),
        }
        SealedContent::Blob { path: path.as_str().to_owned() }
    };
    Ok(FiledDocument {
        document_id,
        title: job.kind.title().to_owned(),
        kind: "extract".into(),
        source: "registers".into(),
        source_ref: job.id.clone(),
        media_type: "application/pdf".into(),
        file_name: format!("{}-{}.pdf", job.kind.file_stem(), job.created_at.date()),
        size,
        content,
        simulated,
    })
}

/// Publishes what a finished job announces: the document and "ready", or
/// "failed". Ids are fixed by the job, so repeating this is harmless.
async fn announce(registers: &Registers, subject: &SubjectId, job: &ExtractJob) -> Result<(), ExtractError> {
    let queues = registers.queues.as_ref();
    let at = job.updated_at;
    match (job.status, &job.filed) {
        (JobStatus::Done, Some(filed)) => {
            let data = serde_json::to_value(filed).map_err(|e| ExtractError::Corrupt(e.to_string()))?;
            let event = Event::new(EXTRACT_FILED, &job.id, subject.as_str(), at, data);
            portal_events::publish(queues, portal_events::DOCUMENTS_QUEUE, &event).await?;
            let data = json!({"jobId": job.id, "kind": job.kind, "title": job.kind.title(),
                              "documentId": filed.document_id, "simulated": job.simulated});
            let event = Event::new(EXTRACT_READY, &job.id, subject.as_str(), at, data);
            portal_events::publish(queues, portal_events::NOTIFICATIONS_QUEUE, &event).await?;
        }
        (JobStatus::Failed, _) => {
            let data = json!({"jobId": job.id, "kind": job.kind, "title": job.kind.title(),
                              "reason": job.reason, "simulated": job.simulated});
            let event = Event::new(EXTRACT_FAILED, &job.id, subject.as_str(), at, data);
            portal_events::publish(queues, portal_events::NOTIFICATIONS_QUEUE, &event).await?;
        }
        _ => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
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
