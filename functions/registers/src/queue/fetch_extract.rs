//! Queue function `FetchExtract` (on [`QUEUE`]): one extract job, idempotent.
//!
//! `POST /api/registers/extracts` records a job (`job-<id>` in the citizen's
//! partition, status `queued`) and sends `{jobId, subject}` to the queue
//! [`QUEUE`]. The queue function `FetchExtract` ([`fetch_extract`]):
//!
//! 1. loads the job; a job already `done` or `failed` only publishes its
//!    events again (a replay or a redelivery after a crash) and returns;
//! 2. counts the attempt on the job (ETag-conditional, so two deliveries
//!    never work on one job at once) and marks it `running`;
//! 3. asks the gateway for the register's own extract, with the job id as
//!    `X-Request-Id` (the gateway answers a repeated request alike): a PDF
//!    with the issuing authority's electronic seal, which is filed byte for
//!    byte as received (the portal typesets nothing here: only the SIMULATOR
//!    behind the gateway contract typesets its data, marked as simulated);
//! 4. seals the PDF with the citizen's key for Documents
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
//! message. "Not found", a refusal and an answer outside the contract (a
//! document that is no PDF included) fail the job at once (asking again
//! cannot help). A person who is not in the trade register gets the
//! register's extract saying so rather than a failure: the answer itself is
//! the information.

use std::sync::Arc;

use base64::Engine as _;
use bytes::Bytes;
use portal_events::{Event, ExtractFailed, ExtractReady, FiledDocument, Notice, SealedContent};
use portal_host::{Function, InvocationError, Outcome, QueueInvocation};
use portal_security::{AccessEntry, AccessOutcome, Action, Actor, SubjectId};
use portal_store::{BlobPath, PutMode, StoreError};

use crate::Registers;
use crate::extracts::{
    EXTRACT_FILED, ExtractError, ExtractJob, FetchMessage, JobStatus, QUEUE, blob_path, document_id, load,
    parse_job_id, save,
};
use crate::gateway::{GatewayError, RequestId, SealedExtract};

/// The function's name.
pub const FUNCTION: &str = "FetchExtract";

/// `FetchExtract` on queue [`QUEUE`].
pub fn function(registers: Arc<Registers>) -> Function {
    Function::queue(FUNCTION, QUEUE, move |invocation: QueueInvocation<FetchMessage>| {
        let registers = registers.clone();
        async move {
            // Erasure is final: a late event for an erased citizen is dropped and recorded.
            registers.sealer.keys().refuse_erased(&invocation.message.subject).await?;
            fetch_extract(&registers, &invocation.message).await
        }
    })
}

/// One delivery of a job's message: one job, idempotent.
pub async fn fetch_extract(registers: &Registers, message: &FetchMessage) -> Result<Outcome, InvocationError> {
    Ok(run(registers, message).await?)
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

    let simulated = registers.settings.simulated || data.simulated;
    let pdf = data.pdf().ok_or_else(|| ExtractError::Corrupt("checked as a PDF on arrival".into()))?;
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

/// Asks the gateway for the register's own document of the job's kind.
async fn fetch(registers: &Registers, subject: &SubjectId, job: &ExtractJob) -> Result<SealedExtract, GatewayError> {
    let request = RequestId::parse(&job.id)?;
    let extract = registers.gateway.sealed_extract(&request, subject, job.kind.as_str()).await?;
    if extract.pdf().is_none() {
        return Err(GatewayError::Invalid("the register's document is not a PDF".into()));
    }
    Ok(extract)
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
            let notice = Notice::ExtractReady(ExtractReady {
                job_id: job.id.clone(),
                kind: job.kind.as_str().to_owned(),
                title: job.kind.title().to_owned(),
                document_id: filed.document_id.clone(),
                simulated: job.simulated,
            });
            portal_events::publish_notice(queues, &notice, &job.id, subject.as_str(), at).await?;
        }
        (JobStatus::Failed, _) => {
            let notice = Notice::ExtractFailed(ExtractFailed {
                job_id: job.id.clone(),
                kind: job.kind.as_str().to_owned(),
                title: job.kind.title().to_owned(),
                reason: job.reason.clone(),
                simulated: job.simulated,
            });
            portal_events::publish_notice(queues, &notice, &job.id, subject.as_str(), at).await?;
        }
        _ => {}
    }
    Ok(())
}
