//! Queue function `EraseDocumentsData` (on `erase-documents`): when a citizen
//! erases their account, deletes everything Documents holds for them.
//!
//! The content is already unreadable (identity shredded the citizen's key
//! before publishing [`portal_events::kinds::ERASED`]); this removes the plain
//! metadata too: every document of the citizen's partition of [`COLLECTION`]
//! (documents, usage, filed markers, share records) and the blobs under
//! `documents/<owner-folder>/`. Each share record names the SHA-256 of its
//! token, which is the id of the link lookup in [`LINKS_PARTITION`]; the
//! lookup is deleted before the record, so no lookup outlives what points to
//! it. Blobs Documents adopted from another capability (archived data
//! messages, extracts) lie under that capability's folder and are erased by it.
//!
//! Idempotent and crash-safe: every deletion tolerates "already gone", so a
//! replay or a redelivery after a crash deletes what is left and succeeds. A
//! very large partition is deleted [`erasure::MAX_PAGES`] pages per run; the
//! rest is left to the next delivery (a retryable error). The access log is
//! kept by design (identity keeps it through erasure).
//!
//! Deleting the `filed-<id>` markers means a producer replaying an old filing
//! event after the erasure could file it again; its content was sealed with
//! the shredded key, so Documents refuses it (it cannot be opened).

use std::sync::Arc;

use portal_events::ERASE_DOCUMENTS_QUEUE;
use portal_events::erasure::{self, Pointer};
use portal_events::{Event, kinds};
use portal_host::{Function, InvocationError, Outcome, QueueInvocation};
use portal_security::SubjectId;
use portal_store::Document;
use serde_json::json;

use crate::shares::LINKS_PARTITION;
use crate::{COLLECTION, Documents, owner_folder};

/// The function's name.
pub const FUNCTION: &str = "EraseDocumentsData";

/// `EraseDocumentsData` on queue `erase-documents`.
pub fn function(documents: Arc<Documents>) -> Function {
    Function::queue(FUNCTION, ERASE_DOCUMENTS_QUEUE, move |invocation: QueueInvocation<Event>| {
        let documents = documents.clone();
        async move { erase(&documents, &invocation.message).await }
    })
}

/// One delivery of an `account.erased` event.
pub async fn erase(documents: &Documents, event: &Event) -> Result<Outcome, InvocationError> {
    if event.kind != kinds::ERASED {
        return Err(InvocationError::permanent(format!("not an erasure event: {}", event.kind)));
    }
    let subject = SubjectId::parse(&event.subject)
        .map_err(|_| InvocationError::permanent("the event's subject is not a subject id"))?;
    // Only a citizen whose key was shredded is erased: a forged event deletes nothing.
    documents.sealer.keys().require_erased(subject.as_str()).await?;
    let owner = subject.as_str();
    let blobs = erasure::delete_blobs(documents.blobs.as_ref(), &format!("documents/{}/", owner_folder(owner))).await?;
    let deleted =
        erasure::delete_partition(documents.documents.as_ref(), COLLECTION, owner, erasure::MAX_PAGES, &share_lookup)
            .await?;
    let Some(deleted) = deleted else {
        return Err(InvocationError::retryable("the partition is large; the next delivery continues"));
    };
    tracing::info!(deleted, blobs, "a citizen's documents erased");
    Ok(Outcome::done().returning(json!({"deletedDocuments": deleted, "deletedBlobs": blobs})))
}

/// A share record's link lookup (its id is the token hash).
fn share_lookup(doc: &Document) -> Vec<Pointer> {
    let is_share = doc.id.starts_with("share-");
    let hash = doc.body.get("tokenHash").and_then(|v| v.as_str()).filter(|_| is_share);
    hash.map(|hash| Pointer::new(COLLECTION, LINKS_PARTITION, hash)).into_iter().collect()
}
