//! Queue function `EraseFeesData` (on `erase-fees`): when a citizen erases
//! their account, deletes every payment record of theirs, the lock documents
//! and, before each record, its lookup in [`payment::INDEX_PARTITION`]. The
//! sealed details are already unreadable (the key was shredded first). The
//! municipality keeps its own records of fees paid, as the law makes it.
//!
//! Idempotent and crash-safe like the other erasures: every deletion
//! tolerates "already gone"; a very large partition goes over several
//! deliveries.

use std::sync::Arc;

use portal_events::erasure::{self, Pointer};
use portal_events::{ERASE_FEES_QUEUE, Event, kinds};
use portal_host::{Function, InvocationError, Outcome, QueueInvocation};
use portal_security::SubjectId;
use portal_store::{Document, StoreError};
use serde_json::json;

use crate::{COLLECTION, Fees, payment};

/// The function's name.
pub const FUNCTION: &str = "EraseFeesData";

/// `EraseFeesData` on queue `erase-fees`.
pub fn function(fees: Arc<Fees>) -> Function {
    Function::queue(FUNCTION, ERASE_FEES_QUEUE, move |invocation: QueueInvocation<Event>| {
        let fees = fees.clone();
        async move { erase(&fees, &invocation.message).await }
    })
}

/// One delivery of an `account.erased` event.
pub async fn erase(fees: &Fees, event: &Event) -> Result<Outcome, InvocationError> {
    if event.kind != kinds::ERASED {
        return Err(InvocationError::permanent(format!("not an erasure event: {}", event.kind)));
    }
    let subject = SubjectId::parse(&event.subject)
        .map_err(|_| InvocationError::permanent("the event's subject is not a subject id"))?;
    // Only a citizen whose key was shredded is erased: a forged event deletes nothing.
    fees.sealer.keys().require_erased(subject.as_str()).await?;
    let deleted =
        erasure::delete_partition(fees.documents.as_ref(), COLLECTION, subject.as_str(), erasure::MAX_PAGES, &pointers)
            .await
            .map_err(failure)?;
    let Some(deleted) = deleted else {
        return Err(InvocationError::retryable("the partition is large; the next delivery continues"));
    };
    tracing::info!(deleted, "a citizen's fee payments erased");
    Ok(Outcome::done().returning(json!({"deletedDocuments": deleted})))
}

/// A payment record's lookup.
fn pointers(doc: &Document) -> Vec<Pointer> {
    match (doc.body.get("type").and_then(|v| v.as_str()), doc.body.get("id").and_then(|v| v.as_str())) {
        (Some("fee-payment"), Some(id)) => vec![Pointer::new(COLLECTION, payment::INDEX_PARTITION, id)],
        _ => Vec::new(),
    }
}

fn failure(error: StoreError) -> InvocationError {
    if error.is_retryable() { InvocationError::retryable(error) } else { InvocationError::permanent(error) }
}
