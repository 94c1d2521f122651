//! The `documents` capability (Dokumenty): the documents the state gave a
//! citizen and the citizen's own uploads, kept encrypted.
//!
//! - **Uploads** (`POST /api/documents`): PDF, JPEG, PNG or plain text, checked
//!   by size, declared type and content (the whole structure, by maintained
//!   parsers; UTF-8 for text), a name whose extension fits the type and never
//!   names a program, counted against a per-citizen quota; an
//!   `Idempotency-Key` makes a repeat answer with the same document. Uploads
//!   are checked, sealed in 64 KiB chunks and stored as they arrive (streaming
//!   sealing and a streamed blob put, so neither an upload nor a download holds
//!   the file; a PDF or PNG is held only for its structure check) and stay
//!   quarantined until the malware scan ([`scan`]) clears them.
//! - **Filed documents** (queue `document-filed`, function `FileDocument`):
//!   what other capabilities hand over (archived data messages, receipts,
//!   register extracts), already sealed by the producer. They never count
//!   toward the quota: a document from the state must never be refused.
//! - **Library**: list (newest first, by kind or tag), show, download, rename,
//!   tag, delete.
//! - **Erasure** (queue `erase-documents`, function `EraseDocumentsData`):
//!   when the citizen erases their account, everything below goes.
//! - **Share links**: a secret link to one document, valid for at most a week,
//!   revocable at once, every download written into the owner's access log.
//!
//! # What is stored where
//!
//! Everything lives in collection [`COLLECTION`]. In the citizen's partition
//! (their subject id):
//! - `doc-<id>`: a document's metadata. `title` and `fileName` are personal
//!   (a title such as "Lékařská zpráva" says more than the file), so both are
//!   sealed together as field `meta`; `kind`, `mediaType`, `size`, `tags` and
//!   dates stay plain so the store can filter and sort by them. Tags are
//!   indexed as `tagIndex.t<hash>` because the store filters on scalar fields.
//! - `usage`: bytes and count of the citizen's uploads, changed only in the
//!   same batch as an upload's create or delete, under its ETag: it never
//!   drifts from the documents it counts.
//! - `filed-<id>`: the marker of a filed document, written in the same batch
//!   as the document and kept when the citizen deletes it, so a replayed event
//!   never files twice nor brings a deleted document back.
//! - `share-<shareId>`: a share link as its owner sees it (expiry, revocation,
//!   download count), kept 30 days past its expiry.
//!
//! In partition [`shares::LINKS_PARTITION`]: one lookup document per link,
//! whose id is the SHA-256 of the link's token (the token itself is never
//! stored), expiring with the link.
//!
//! Content is sealed with the owner's key (owner, document id, field
//! `content`) in blob `documents/<owner-folder>/<id>`; the owner folder is a
//! hash of the subject id, so blob names carry no pseudonym. Filed documents
//! that arrive as a blob keep that blob (adopted, not copied). Its producer
//! may still use it (the data box archive shows the same ZFO), so deleting
//! such a document removes Documents' reference and leaves the blob to its
//! producer; blobs Documents wrote itself are deleted with the document.
//!
//! # Layout
//!
//! [`http`] has one file per HTTP action and [`queue`] one file per queue
//! function; [`functions`] below is the list the app serves. Below them:
//! `document` (a stored document and the reads everything shares),
//! `library` (upload, list, change, delete under the quota), [`shares`] (share
//! links) and `content` (what a file is and how it leaves).

mod content;
mod document;
pub mod export;
pub mod http;
mod library;
pub mod queue;
pub mod scan;
pub mod shares;

use std::sync::Arc;

use axum::http::StatusCode;
use portal_crypto::{CryptoError, Sealer};
use portal_host::{Failure, FieldViolation, Function, Problem, op};
use portal_security::AccessLog;
use portal_store::{BlobStore, Clock, DocumentStore, QueueStore, StoreError};

pub use content::{check_content, content_disposition, content_matches};
pub use document::{DocumentId, DocumentView};

/// The collection holding every document of this capability.
pub const COLLECTION: &str = "documents";

/// Settings of the capability.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocumentsSettings {
    /// The largest upload, in bytes (20 MiB).
    pub max_upload_bytes: u64,
    /// Media types a citizen may upload; each is checked against the content.
    pub allowed_types: Vec<String>,
    /// How many bytes of uploads one citizen may keep (200 MiB). Filed
    /// documents do not count.
    pub quota_bytes: u64,
    /// The longest a share link may live, in hours (168 = 7 days).
    pub share_max_hours: u32,
    /// Where the portal is reachable from outside; share-link URLs start here.
    pub public_base_url: String,
    /// Which malware scanner clears uploads ([`scan`]).
    pub malware_scan: scan::ScanMode,
}

impl Default for DocumentsSettings {
    fn default() -> Self {
        Self {
            max_upload_bytes: 20 * 1024 * 1024,
            allowed_types: content::UPLOAD_TYPES.iter().map(|t| (*t).to_owned()).collect(),
            quota_bytes: 200 * 1024 * 1024,
            share_max_hours: 168,
            public_base_url: "http://localhost:7071".into(),
            malware_scan: scan::ScanMode::Simulator,
        }
    }
}

/// The capability's dependencies.
#[derive(Debug, Clone)]
pub struct Documents {
    pub documents: Arc<dyn DocumentStore>,
    pub blobs: Arc<dyn BlobStore>,
    pub queues: Arc<dyn QueueStore>,
    pub sealer: Sealer,
    pub access_log: AccessLog,
    pub clock: Arc<dyn Clock>,
    pub settings: DocumentsSettings,
}

/// What can go wrong inside the capability, below the HTTP edge.
#[derive(Debug, thiserror::Error)]
pub enum DocumentsError {
    #[error("no such document")]
    NotFound,
    #[error("the upload quota is exhausted: {used} of {limit} bytes used, {size} more asked")]
    QuotaExceeded { used: u64, limit: u64, size: u64 },
    /// The client's `If-Match` names an older version.
    #[error("the document changed since the client read it")]
    Changed,
    /// An `Idempotency-Key` already used for a different upload.
    #[error("the idempotency key was used for another upload")]
    IdempotencyKeyReused,
    /// The upload is quarantined until the malware scan clears it.
    #[error("the document is still being scanned for malware")]
    ScanPending,
    /// The malware scan found something: the document is never served.
    #[error("malware was found in the document")]
    Infected,
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Crypto(#[from] CryptoError),
    #[error("a stored record is corrupt: {0}")]
    Corrupt(String),
    #[error("the system random number generator failed")]
    Random,
}

impl Failure for DocumentsError {
    /// Whether trying again later may help; a write that kept losing ETag
    /// races to other writers may pass later too.
    fn is_retryable(&self) -> bool {
        match self {
            Self::Store(error) => error.is_retryable() || matches!(error, StoreError::PreconditionFailed),
            Self::Crypto(error) => error.is_retryable(),
            _ => false,
        }
    }

    fn problem(&self) -> Problem {
        match self {
            Self::NotFound => Problem::not_found("no such document"),
            Self::QuotaExceeded { used, limit, size } => {
                let mut problem = Problem::new(StatusCode::CONFLICT, "quota-exceeded", "Your document storage is full")
                    .with_detail(format!(
                        "{used} of {limit} bytes are used; this file needs {size} more. Delete some uploads first."
                    ));
                problem.errors =
                    vec![FieldViolation::new("file", format!("fits in the remaining {} bytes", limit - used))];
                problem
            }
            Self::Changed => Problem::new(
                StatusCode::PRECONDITION_FAILED,
                "precondition-failed",
                "The document changed since you read it",
            )
            .with_detail("read it again and repeat the change with its new ETag"),
            Self::ScanPending => Problem::new(
                StatusCode::CONFLICT,
                "document-scan-pending",
                "The document is still being checked for malware",
            )
            .with_detail("uploads are quarantined until the malware scan clears them; try again in a minute"),
            Self::Infected => {
                Problem::new(StatusCode::CONFLICT, "document-infected", "Malware was found in this document")
                    .with_detail("it is never downloaded or shared; delete it")
            }
            Self::IdempotencyKeyReused => {
                let mut problem = Problem::new(
                    StatusCode::CONFLICT,
                    "idempotency-key-reused",
                    "This Idempotency-Key belongs to another upload",
                )
                .with_detail("a repeat must send the same file, type and name; a new upload needs a new key");
                problem.errors = vec![FieldViolation::new("Idempotency-Key", "one key per upload")];
                problem
            }
            error if error.is_retryable() => Problem::unavailable("document storage"),
            _ => Problem::internal(),
        }
    }
}

/// Every function of the capability: the HTTP routes under `/api/documents`,
/// the public `/api/shared/{token}`, and the queue functions `FileDocument`
/// and `EraseDocumentsData`.
pub fn functions(documents: Documents) -> Vec<Function> {
    let upload_limit = http::upload_document::body_limit(&documents.settings);
    let s = Arc::new(documents);
    vec![
        Function::api(op!(http::upload_document)).with_body_limit(upload_limit).with_state(s.clone()).build(),
        Function::api(op!(http::list_documents)).with_state(s.clone()).build(),
        Function::api(op!(http::show_document)).with_state(s.clone()).build(),
        Function::api(op!(http::change_document)).with_state(s.clone()).build(),
        Function::api(op!(http::delete_document)).with_state(s.clone()).build(),
        Function::api(op!(http::download_document)).with_state(s.clone()).build(),
        Function::api(op!(http::share_document)).with_state(s.clone()).build(),
        Function::api(op!(http::list_document_shares)).with_state(s.clone()).build(),
        Function::api(op!(http::revoke_document_share)).with_state(s.clone()).build(),
        Function::api(op!(http::open_shared_document)).with_state(s.clone()).build(),
        queue::file_document::function(s.clone()),
        queue::erase_documents_data::function(s),
    ]
}

impl Documents {
    /// The malware scanner of this deployment ([`DocumentsSettings::malware_scan`]).
    pub fn scanner(&self) -> scan::Scanner {
        scan::Scanner::new(self.settings.malware_scan, self.blobs.clone())
    }
}

/// The blob folder of a citizen: 16 bytes of the SHA-256 of the subject id, in
/// hex (the same scheme as the data box archive), so blob names carry no
/// pseudonym and fit blob-path rules.
pub fn owner_folder(subject: &str) -> String {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, subject.as_bytes());
    portal_store::lower_hex(&digest.as_ref()[..16])
}
