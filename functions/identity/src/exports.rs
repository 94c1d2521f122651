//! The citizen's export as a queued job: everything every capability holds
//! about them, as one ZIP (JSON per capability and the citizen's files).
//!
//! 1. `POST /api/me/exports` stores a job (collection [`COLLECTION`],
//!    partition = the citizen, id `export-<id>`, state `queued`, one progress
//!    line per [`ExportSource`]) and queues `{subject, export, step: build}`
//!    on [`QUEUE`]; 202 with the status URL.
//! 2. `BuildExport` asks each source in turn, recording each one's progress,
//!    writes the parts into a ZIP under the source's name (entries sorted,
//!    every time stamp the job's request time, deflate), seals it under the
//!    citizen's key (owner, `export-<id>`, field `archive`) and stores it at
//!    `exports/<owner folder>/<id>.zip.sealed` (overwriting), then marks the
//!    job `ready` until [`EXPIRES_AFTER`] and queues `step: expire` with that
//!    delay. A crash anywhere reruns the build from the start and writes the
//!    same archive for the same data; a job already ready is not rebuilt.
//! 3. `GET /api/me/exports/{export}` shows the state and progress, and when
//!    ready the download link and when it expires;
//!    `GET /api/me/exports/{export}/download` opens the seal and answers the
//!    ZIP. Both read only the caller's partition, so another citizen's job is
//!    never reached (404).
//! 4. `step: expire` (and erasure, in `DELETE /api/me`) deletes the blob,
//!    then the job; both tolerate "already gone". The job record also carries
//!    a store TTL a day past its expiry, in case the expire message is lost.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::TryStreamExt as _;
use portal_crypto::Sealer;
use portal_security::SubjectId;
use portal_security::export::{ExportError, ExportPart, ExportSource};
use portal_store::{BlobPath, BlobStore, DocumentStore, ETag, FilterOp, NewDocument, PutMode, Query, StoreError};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// Where the jobs are kept: identity's collection, in the citizen's partition.
pub const COLLECTION: &str = crate::profile::COLLECTION;
/// The queue of `BuildExport`.
pub const QUEUE: &str = "build-export";
/// How long a built export can be downloaded.
pub const EXPIRES_AFTER: Duration = Duration::from_secs(24 * 60 * 60);
/// The record type of a job.
const RECORD: &str = "export";

/// Where a job stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub enum ExportState {
    Queued,
    Building,
    Ready,
    Failed,
    /// Ready once, past its expiry: the archive is deleted.
    Expired,
}

/// One capability's progress.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PartProgress {
    /// The capability (`documents`, `calendar`, …): its folder in the ZIP.
    #[schema(example = "documents")]
    pub capability: String,
    /// `pending`, `done` or `failed`.
    #[schema(example = "done")]
    pub state: String,
    /// Files it put in the archive.
    pub files: u32,
}

/// A job as stored.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExportJob {
    #[serde(rename = "type")]
    pub record: String,
    pub id: String,
    pub state: ExportState,
    #[serde(with = "time::serde::rfc3339")]
    pub requested_at: OffsetDateTime,
    #[serde(default, with = "time::serde::rfc3339::option", skip_serializing_if = "Option::is_none")]
    pub ready_at: Option<OffsetDateTime>,
    #[serde(default, with = "time::serde::rfc3339::option", skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<OffsetDateTime>,
    pub progress: Vec<PartProgress>,
    /// Size of the ZIP in bytes, once ready.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl ExportJob {
    /// The state as of `now`: a ready job past its expiry is expired.
    pub fn state_at(&self, now: OffsetDateTime) -> ExportState {
        match (self.state, self.expires_at) {
            (ExportState::Ready, Some(expires)) if now >= expires => ExportState::Expired,
            (state, _) => state,
        }
    }
}

/// What `BuildExport` is asked to do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExportMessage {
    pub subject: String,
    pub export: String,
    pub step: ExportStep,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ExportStep {
    Build,
    Expire,
}

/// What the export functions need.
#[derive(Debug, Clone)]
pub struct Exports {
    pub documents: Arc<dyn DocumentStore>,
    pub blobs: Arc<dyn BlobStore>,
    pub queues: Arc<dyn portal_store::QueueStore>,
    pub sealer: Sealer,
    pub clock: Arc<dyn portal_store::Clock>,
    /// Every capability's part, identity's first; composed by the app.
    pub sources: Vec<Arc<dyn ExportSource>>,
}

#[derive(Debug, thiserror::Error)]
pub enum ExportJobError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Crypto(#[from] portal_crypto::CryptoError),
    #[error("{capability}: {error}")]
    Source { capability: &'static str, error: ExportError },
    #[error("the archive could not be written: {0}")]
    Zip(String),
    #[error("the stored export is unreadable: {0}")]
    Corrupt(String),
}

impl portal_host::Failure for ExportJobError {
    fn is_retryable(&self) -> bool {
        match self {
            Self::Store(error) => error.is_retryable(),
            Self::Crypto(error) => error.is_retryable(),
            Self::Source { error, .. } => error.retryable,
            Self::Zip(_) | Self::Corrupt(_) => false,
        }
    }
}

/// A job's store id.
fn job_id(export: &str) -> String {
    format!("export-{export}")
}

/// An export id from a path: what [`create`] makes (base64url, 22 characters).
pub fn parse_export_id(value: &str) -> Option<&str> {
    let ok =
        (16..=64).contains(&value.len()) && value.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    ok.then_some(value)
}

/// The blob of a job's sealed archive.
fn blob_path(subject: &SubjectId, export: &str) -> Result<BlobPath, StoreError> {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, subject.as_str().as_bytes());
    let folder: String = portal_store::lower_hex(&digest.as_ref()[..16]);
    BlobPath::parse(format!("exports/{folder}/{export}.zip.sealed"))
}

impl Exports {
    /// Exports with identity's own part only; the app adds the others'.
    pub fn new(
        documents: Arc<dyn DocumentStore>,
        blobs: Arc<dyn BlobStore>,
        queues: Arc<dyn portal_store::QueueStore>,
        sealer: Sealer,
        clock: Arc<dyn portal_store::Clock>,
        access_log: portal_security::AccessLog,
    ) -> Self {
        let identity =
            crate::export::IdentityExport { documents: documents.clone(), sealer: sealer.clone(), access_log };
        Self { documents, blobs, queues, sealer, clock, sources: vec![Arc::new(identity)] }
    }

    /// A new job for `subject`, queued.
    pub async fn create(&self, subject: &SubjectId) -> Result<ExportJob, ExportJobError> {
        let id = {
            use aws_lc_rs::rand::SecureRandom as _;
            use base64::Engine as _;
            let mut bytes = [0_u8; 16];
            aws_lc_rs::rand::SystemRandom::new()
                .fill(&mut bytes)
                .map_err(|_| ExportJobError::Zip("the random number generator failed".into()))?;
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
        };
        let job = ExportJob {
            record: RECORD.into(),
            id: id.clone(),
            state: ExportState::Queued,
            requested_at: self.clock.now(),
            ready_at: None,
            expires_at: None,
            progress: self
                .sources
                .iter()
                .map(|source| PartProgress { capability: source.name().into(), state: "pending".into(), files: 0 })
                .collect(),
            size: None,
            error: None,
        };
        self.documents.create(COLLECTION, document(subject, &job, None)?).await?;
        self.send(&ExportMessage { subject: subject.as_str().into(), export: id, step: ExportStep::Build }, None)
            .await?;
        Ok(job)
    }

    async fn send(&self, message: &ExportMessage, delay: Option<Duration>) -> Result<(), StoreError> {
        let queue = portal_store::QueueName::parse(QUEUE)?;
        let text = serde_json::to_string(message).map_err(|error| StoreError::Invalid(error.to_string()))?;
        match self.queues.send(&queue, &text, delay).await {
            Err(StoreError::NotFound) => {
                self.queues.ensure(&queue).await?;
                self.queues.send(&queue, &text, delay).await.map(drop)
            }
            other => other.map(drop),
        }
    }

    /// The citizen's job `export`, if they have one.
    pub async fn load(&self, subject: &SubjectId, export: &str) -> Result<Option<(ExportJob, ETag)>, ExportJobError> {
        let Some(doc) = self.documents.get(COLLECTION, subject.as_str(), &job_id(export)).await? else {
            return Ok(None);
        };
        let job = serde_json::from_value(doc.body).map_err(|error| ExportJobError::Corrupt(error.to_string()))?;
        Ok(Some((job, doc.etag)))
    }

    async fn save(&self, subject: &SubjectId, job: &ExportJob, etag: &ETag) -> Result<ETag, ExportJobError> {
        let ttl = job.expires_at.map(|expires| {
            let left = (expires - self.clock.now()).max(time::Duration::ZERO);
            Duration::try_from(left).unwrap_or(EXPIRES_AFTER) + EXPIRES_AFTER
        });
        Ok(self.documents.replace(COLLECTION, document(subject, job, ttl)?, etag).await?)
    }

    /// `BuildExport`'s build step: every source's parts into one sealed ZIP.
    /// Idempotent: a job that is ready (or gone) is left alone; anything
    /// else is built from the start.
    pub async fn build(&self, subject: &SubjectId, export: &str) -> Result<Option<ExportJob>, ExportJobError> {
        let Some((mut job, mut etag)) = self.load(subject, export).await? else { return Ok(None) };
        if matches!(job.state, ExportState::Ready | ExportState::Expired) {
            return Ok(Some(job));
        }
        job.state = ExportState::Building;
        job.error = None;
        etag = self.save(subject, &job, &etag).await?;
        let mut parts: Vec<(String, Vec<u8>)> = Vec::new();
        for (index, source) in self.sources.iter().enumerate() {
            let exported = match source.export(subject).await {
                Ok(exported) => exported,
                Err(error) => {
                    let failure = ExportJobError::Source { capability: source.name(), error };
                    if !portal_host::Failure::is_retryable(&failure) {
                        job.state = ExportState::Failed;
                        job.error = Some(format!("{} could not be exported", source.name()));
                        if let Some(line) = job.progress.get_mut(index) {
                            line.state = "failed".into();
                        }
                        self.save(subject, &job, &etag).await?;
                    }
                    return Err(failure);
                }
            };
            let files = u32::try_from(exported.len()).unwrap_or(u32::MAX);
            for ExportPart { path, content } in exported {
                parts.push((format!("{}/{}", source.name(), safe_path(&path)), content));
            }
            if let Some(line) = job.progress.get_mut(index) {
                line.state = "done".into();
                line.files = files;
            }
            etag = self.save(subject, &job, &etag).await?;
        }
        let manifest = Manifest {
            subject: subject.as_str().into(),
            requested_at: job.requested_at,
            parts: parts
                .iter()
                .map(|(path, content)| ManifestEntry { path: path.clone(), bytes: content.len() })
                .collect(),
        };
        parts.push((
            "manifest.json".into(),
            serde_json::to_vec_pretty(&manifest).map_err(|e| ExportJobError::Zip(e.to_string()))?,
        ));
        let archive = zip_archive(parts, job.requested_at)?;
        let sealed = self.sealer.encrypt(subject.as_str(), &job_id(export), "archive", &archive).await?;
        self.blobs
            .put(
                &blob_path(subject, export)?,
                Bytes::from(sealed),
                "application/octet-stream",
                BTreeMap::new(),
                PutMode::Overwrite,
            )
            .await?;
        let now = self.clock.now();
        job.state = ExportState::Ready;
        job.ready_at = Some(now);
        job.expires_at = Some(now + EXPIRES_AFTER);
        job.size = Some(archive.len() as u64);
        self.save(subject, &job, &etag).await?;
        let expire =
            ExportMessage { subject: subject.as_str().into(), export: export.into(), step: ExportStep::Expire };
        self.send(&expire, Some(EXPIRES_AFTER + Duration::from_secs(60))).await?;
        Ok(Some(job))
    }

    /// The opened archive of a ready, unexpired job.
    pub async fn archive(&self, subject: &SubjectId, export: &str) -> Result<Vec<u8>, ExportJobError> {
        let (_, stream) = self.blobs.get(&blob_path(subject, export)?).await?;
        let chunks: Vec<Bytes> = stream.try_collect().await?;
        let sealed = chunks.concat();
        Ok(self.sealer.decrypt(subject.as_str(), &job_id(export), "archive", &sealed).await?)
    }

    /// Deletes job `export`'s archive, then the job ("already gone" is fine).
    pub async fn remove(&self, subject: &SubjectId, export: &str) -> Result<(), ExportJobError> {
        match self.blobs.delete(&blob_path(subject, export)?).await {
            Ok(()) | Err(StoreError::NotFound) => {}
            Err(error) => return Err(error.into()),
        }
        match self.documents.delete(COLLECTION, subject.as_str(), &job_id(export), None).await {
            Ok(()) | Err(StoreError::NotFound) => Ok(()),
            Err(error) => Err(error.into()),
        }
    }

    /// Erasure: every job of `subject` and its archive.
    pub async fn remove_all(&self, subject: &SubjectId) -> Result<u32, ExportJobError> {
        let mut removed = 0;
        loop {
            let query = Query::default().filter("type", FilterOp::Eq, RECORD).page_size(100);
            let page = self.documents.query(COLLECTION, subject.as_str(), query).await?;
            let exports: Vec<&str> = page.items.iter().filter_map(|doc| doc.id.strip_prefix("export-")).collect();
            if exports.is_empty() {
                return Ok(removed);
            }
            for export in exports {
                self.remove(subject, export).await?;
                removed += 1;
            }
        }
    }
}

fn document(subject: &SubjectId, job: &ExportJob, ttl: Option<Duration>) -> Result<NewDocument, ExportJobError> {
    let body = serde_json::to_value(job).map_err(|error| ExportJobError::Corrupt(error.to_string()))?;
    let doc = NewDocument::new(subject.as_str(), job_id(&job.id), body);
    Ok(match ttl {
        Some(ttl) => doc.with_ttl(ttl),
        None => doc,
    })
}

/// A part's path inside its folder: segments of safe characters only (a
/// source names files after the citizen's own file names).
fn safe_path(path: &str) -> String {
    let segments: Vec<String> = path
        .split('/')
        .filter(|segment| !segment.is_empty() && *segment != "." && *segment != "..")
        .map(|segment| {
            segment.chars().map(|c| if c.is_alphanumeric() || matches!(c, '.' | '-' | '_') { c } else { '_' }).collect()
        })
        .collect();
    if segments.is_empty() { "part".into() } else { segments.join("/") }
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Manifest {
    subject: String,
    #[serde(with = "time::serde::rfc3339")]
    requested_at: OffsetDateTime,
    parts: Vec<ManifestEntry>,
}

#[derive(Debug, Serialize)]
struct ManifestEntry {
    path: String,
    bytes: usize,
}

/// The ZIP of `parts`: sorted by path, every entry stamped `at` (so the
/// same parts make the same bytes), deflated.
fn zip_archive(mut parts: Vec<(String, Vec<u8>)>, at: OffsetDateTime) -> Result<Vec<u8>, ExportJobError> {
    use zip::write::SimpleFileOptions;
    parts.sort_by(|a, b| a.0.cmp(&b.0));
    parts.dedup_by(|a, b| a.0 == b.0);
    let at = at.to_offset(time::UtcOffset::UTC);
    let stamp = zip::DateTime::from_date_and_time(
        u16::try_from(at.year()).unwrap_or(1980).clamp(1980, 2107),
        u8::from(at.month()),
        at.day(),
        at.hour(),
        at.minute(),
        at.second(),
    )
    .map_err(|error| ExportJobError::Zip(error.to_string()))?;
    let options = SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .last_modified_time(stamp)
        .unix_permissions(0o644);
    let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (path, content) in parts {
        writer.start_file(path, options).map_err(|error| ExportJobError::Zip(error.to_string()))?;
        writer.write_all(&content).map_err(|error| ExportJobError::Zip(error.to_string()))?;
    }
    Ok(writer.finish().map_err(|error| ExportJobError::Zip(error.to_string()))?.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn part_paths_stay_inside_their_folder() {
        assert_eq!(safe_path("../../etc/passwd"), "etc/passwd");
        assert_eq!(safe_path("files/Smlouva o dílo.pdf"), "files/Smlouva_o_dílo.pdf");
        assert_eq!(safe_path("/"), "part");
    }

    #[test]
    fn the_same_parts_make_the_same_archive() {
        let at = time::macros::datetime!(2026-11-23 08:00 UTC);
        let parts = vec![("b.json".to_owned(), b"{}".to_vec()), ("a/x.pdf".to_owned(), b"%PDF".to_vec())];
        let one = zip_archive(parts.clone(), at).expect("zip");
        let two = zip_archive(parts.into_iter().rev().collect(), at).expect("zip");
        assert_eq!(one, two);
        assert!(parse_export_id("abcdefghijklmnopqrstuv").is_some());
        assert!(parse_export_id("../x").is_none());
    }
}
