//! Queue function `EraseNoticeBoardsData` (on `erase-noticeboards`): when a
//! citizen erases their account, deletes their watches and the index entries
//! pointing at them. The watches are already unreadable (identity shredded
//! the key before publishing [`kinds::ERASED`]); this removes the rest.
//!
//! Idempotent and crash-safe like the other erasures: every deletion
//! tolerates "already gone", and an index entry goes before its watch.

use std::sync::Arc;

use portal_events::erasure::{self, Pointer};
use portal_events::{ERASE_NOTICEBOARDS_QUEUE, Event, kinds};
use portal_host::{Function, InvocationError, Outcome, QueueInvocation};
use portal_security::SubjectId;
use portal_store::{Document, StoreError};
use serde_json::json;

use crate::{COLLECTION, NoticeBoards, WATCH_INDEX_PARTITION};

/// The function's name.
pub const FUNCTION: &str = "EraseNoticeBoardsData";

/// `EraseNoticeBoardsData` on queue `erase-noticeboards`.
pub fn function(nb: Arc<NoticeBoards>) -> Function {
    Function::queue(FUNCTION, ERASE_NOTICEBOARDS_QUEUE, move |invocation: QueueInvocation<Event>| {
        let nb = nb.clone();
        async move { erase(&nb, &invocation.message).await }
    })
}

/// One delivery of an `account.erased` event.
pub async fn erase(nb: &NoticeBoards, event: &Event) -> Result<Outcome, InvocationError> {
    if event.kind != kinds::ERASED {
        return Err(InvocationError::permanent(format!("not an erasure event: {}", event.kind)));
    }
    let subject = SubjectId::parse(&event.subject)
        .map_err(|_| InvocationError::permanent("the event's subject is not a subject id"))?;
    // Only a citizen whose key was shredded is erased: a forged event deletes nothing.
    nb.sealer.keys().require_erased(subject.as_str()).await?;
    let deleted =
        erasure::delete_partition(nb.documents.as_ref(), COLLECTION, subject.as_str(), erasure::MAX_PAGES, &pointers)
            .await
            .map_err(failure)?;
    let Some(deleted) = deleted else {
        return Err(InvocationError::retryable("the partition is large; the next delivery continues"));
    };
    tracing::info!(deleted, "a citizen's notice-board watches erased");
    Ok(Outcome::done().returning(json!({"deletedDocuments": deleted})))
}

/// A watch's index entry.
fn pointers(doc: &Document) -> Vec<Pointer> {
    if doc.body.get("type").and_then(|v| v.as_str()) == Some(crate::watches::WATCH_TYPE) {
        return vec![Pointer::new(COLLECTION, WATCH_INDEX_PARTITION, doc.id.clone())];
    }
    Vec::new()
}

fn failure(error: StoreError) -> InvocationError {
    if error.is_retryable() { InvocationError::retryable(error) } else { InvocationError::permanent(error) }
}
