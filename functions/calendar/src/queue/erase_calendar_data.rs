//! Queue function `EraseCalendarData` (on `erase-calendar`): when a citizen
//! erases their account, deletes everything the calendar holds for them.
//!
//! Titles, descriptions and places are already unreadable (identity shredded
//! the citizen's key before publishing [`portal_events::kinds::ERASED`]); this
//! removes the plain rest: every document of the citizen's partition of
//! [`COLLECTION`] (own events, system entries with their dates, the counter,
//! the feed record). Before a document goes, what it points at outside the
//! partition goes first, so nothing is left that cannot be found again:
//! - an item's reminder schedule documents (in the `reminders-<day>`
//!   partitions), which the item lists in `reminders`;
//! - the feed record's current token lookup (`feed-tokens/<hash>`). Older
//!   lookups were deleted on rotation (a failed deletion leaves an orphan that
//!   never resolves, since the feed record no longer names it).
//!
//! Idempotent and crash-safe: every deletion tolerates "already gone", so a
//! replay or a redelivery after a crash deletes what is left and succeeds. A
//! very large partition is deleted [`erasure::MAX_PAGES`] pages per run; the
//! rest is left to the next delivery (a retryable error).

use std::sync::Arc;

use portal_events::ERASE_CALENDAR_QUEUE;
use portal_events::erasure::{self, Pointer};
use portal_events::{Event, kinds};
use portal_host::{Function, InvocationError, Outcome, QueueInvocation};
use portal_security::SubjectId;
use portal_store::{Document, StoreError};
use serde_json::json;

use crate::feed::TOKENS_PARTITION;
use crate::{COLLECTION, Calendar};

/// The function's name.
pub const FUNCTION: &str = "EraseCalendarData";

/// `EraseCalendarData` on queue `erase-calendar`.
pub fn function(calendar: Arc<Calendar>) -> Function {
    Function::queue(FUNCTION, ERASE_CALENDAR_QUEUE, move |invocation: QueueInvocation<Event>| {
        let calendar = calendar.clone();
        async move { erase(&calendar, &invocation.message).await }
    })
}

/// One delivery of an `account.erased` event.
pub async fn erase(calendar: &Calendar, event: &Event) -> Result<Outcome, InvocationError> {
    if event.kind != kinds::ERASED {
        return Err(InvocationError::permanent(format!("not an erasure event: {}", event.kind)));
    }
    let subject = SubjectId::parse(&event.subject)
        .map_err(|_| InvocationError::permanent("the event's subject is not a subject id"))?;
    // Only a citizen whose key was shredded is erased: a forged event deletes nothing.
    calendar.sealer.keys().require_erased(subject.as_str()).await?;
    let deleted = erasure::delete_partition(
        calendar.documents.as_ref(),
        COLLECTION,
        subject.as_str(),
        erasure::MAX_PAGES,
        &pointers,
    )
    .await
    .map_err(failure)?;
    let Some(deleted) = deleted else {
        return Err(InvocationError::retryable("the partition is large; the next delivery continues"));
    };
    tracing::info!(deleted, "a citizen's calendar erased");
    Ok(Outcome::done().returning(json!({"deletedDocuments": deleted})))
}

/// The reminder schedule documents of an item; the token lookup of the feed.
fn pointers(doc: &Document) -> Vec<Pointer> {
    let mut found = Vec::new();
    if let Some(reminders) = doc.body.get("reminders").and_then(|v| v.as_array()) {
        for reminder in reminders {
            let partition = reminder.get("partition").and_then(|v| v.as_str());
            let id = reminder.get("id").and_then(|v| v.as_str());
            if let (Some(partition), Some(id)) = (partition, id)
                && partition.starts_with("reminders-")
            {
                found.push(Pointer::new(COLLECTION, partition, id));
            }
        }
    }
    if doc.body.get("type").and_then(|v| v.as_str()) == Some("calendar-feed")
        && let Some(hash) = doc.body.get("hash").and_then(|v| v.as_str())
    {
        found.push(Pointer::new(COLLECTION, TOKENS_PARTITION, hash));
    }
    found
}

fn failure(error: StoreError) -> InvocationError {
    if error.is_retryable() { InvocationError::retryable(error) } else { InvocationError::permanent(error) }
}
