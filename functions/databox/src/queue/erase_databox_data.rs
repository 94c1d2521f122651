//! Queue function `EraseDataboxData` (on `erase-databox`): when a citizen
//! erases their account, deletes everything the data box capability holds for
//! them. The messages themselves stay in ISDS (the box is the citizen's, not
//! the portal's); only the portal's own records go.
//!
//! Archived content is already unreadable (identity shredded the citizen's
//! key before publishing [`portal_events::kinds::ERASED`]); this removes the
//! plain rest, in this order:
//! 1. the citizen's entry in the box index (`box-index-NN`), so the archive
//!    and warning timers stop visiting them at once;
//! 2. the archive blobs under `databox/<citizen folder>/`, and any files a
//!    send put aside under `databox-spool/<citizen folder>/` ([`crate::spool`]);
//! 3. every document of the citizen's partition of [`COLLECTION`] (the box
//!    link, settings, warning and announcement markers, purchases, ledger
//!    entries and receipts, archive metadata, box requests, sending markers).
//!
//! Idempotent and crash-safe: every deletion tolerates "already gone", so a
//! replay or a redelivery after a crash deletes what is left and succeeds. A
//! very large partition is deleted [`erasure::MAX_PAGES`] pages per run; the
//! rest is left to the next delivery (a retryable error).

use std::sync::Arc;

use portal_events::erasure;
use portal_events::{ERASE_DATABOX_QUEUE, Event, kinds};
use portal_host::{Function, InvocationError, Outcome, QueueInvocation};
use portal_security::SubjectId;
use serde_json::json;

use crate::archive::citizen_folder;
use crate::{COLLECTION, Databox, index};

/// The function's name.
pub const FUNCTION: &str = "EraseDataboxData";

/// `EraseDataboxData` on queue `erase-databox`.
pub fn function(databox: Arc<Databox>) -> Function {
    Function::queue(FUNCTION, ERASE_DATABOX_QUEUE, move |invocation: QueueInvocation<Event>| {
        let databox = databox.clone();
        async move { erase(&databox, &invocation.message).await }
    })
}

/// One delivery of an `account.erased` event.
pub async fn erase(databox: &Databox, event: &Event) -> Result<Outcome, InvocationError> {
    if event.kind != kinds::ERASED {
        return Err(InvocationError::permanent(format!("not an erasure event: {}", event.kind)));
    }
    let subject = SubjectId::parse(&event.subject)
        .map_err(|_| InvocationError::permanent("the event's subject is not a subject id"))?;
    // Only a citizen whose key was shredded is erased: a forged event deletes nothing.
    databox.sealer.keys().require_erased(subject.as_str()).await?;
    let owner = subject.as_str();
    index::unregister(databox.documents.as_ref(), owner).await?;
    let folder = citizen_folder(owner);
    let blobs = erasure::delete_blobs(databox.blobs.as_ref(), &format!("databox/{folder}/")).await?
        + erasure::delete_blobs(databox.blobs.as_ref(), &format!("{}{folder}/", crate::spool::PREFIX)).await?;
    let deleted = erasure::delete_partition(
        databox.documents.as_ref(),
        COLLECTION,
        owner,
        erasure::MAX_PAGES,
        &erasure::no_pointers,
    )
    .await?;
    let Some(deleted) = deleted else {
        return Err(InvocationError::retryable("the partition is large; the next delivery continues"));
    };
    tracing::info!(deleted, blobs, "a citizen's data box records erased");
    Ok(Outcome::done().returning(json!({"deletedDocuments": deleted, "deletedBlobs": blobs})))
}
