//! The `documents` capability (Dokumenty): the documents the state gave a
//! citizen and the citizen's own uploads, kept encrypted.
//!
//! - **Uploads** (`POST /api/documents`): PDF, JPEG, PNG or plain text, checked
//!   by size, declared type and content (magic bytes / UTF-8), counted against a
//!   per-citizen quota.
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

mod content;
pub mod erasure;
pub mod filing;
mod library;
mod routes;
pub mod shares;

use std::sync::Arc;

use portal_crypto::Sealer;
use portal_host::Function;
use portal_security::AccessLog;
use portal_store::{BlobStore, Clock, DocumentStore, QueueStore};

pub use content::{content_disposition, content_matches};
pub use library::{DocumentId, LibraryError};

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
}

impl Default for DocumentsSettings {
    fn default() -> Self {
        Self {
            max_upload_bytes: 20 * 1024 * 1024,
            allowed_types: content::UPLOAD_TYPES.iter().map(|t| (*t).to_owned()).collect(),
            quota_bytes: 200 * 1024 * 1024,
            share_max_hours: 168,
            public_base_url: "http://localhost:7071".into(),
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

/// Every function of the capability: the HTTP routes under `/api/documents`,
/// the public `/api/shared/{token}`, and the queue function `FileDocument`.
pub fn functions(documents: Documents) -> Vec<Function> {
    routes::functions(Arc::new(documents))
}

/// The blob folder of a citizen: 16 bytes of the SHA-256 of the subject id, in
/// hex (the same scheme as the data box archive), so blob names carry no
/// pseudonym and fit blob-path rules.
pub fn owner_folder(subject: &str) -> String {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, subject.as_bytes());
    digest.as_ref().iter().take(16).map(|b| format!("{b:02x}")).collect()
}
