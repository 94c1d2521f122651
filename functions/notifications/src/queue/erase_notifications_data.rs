//! Queue function `EraseNotificationsData` (on `erase-notifications`): when a
//! citizen erases their account, deletes everything notifications hold for
//! them: every document of the citizen's partition of [`COLLECTION`] (the
//! inbox with its delivery statuses, contacts and their verification codes,
//! preferences, counters). Contacts and texts are already unreadable (identity
//! shredded the citizen's key before publishing
//! [`portal_events::kinds::ERASED`]); this removes the plain rest. Nothing of
//! this capability lies outside the partition.
//!
//! A retry message still waiting on the retry queue finds its notification
//! gone (or, had it been recreated, cannot open the sealed contact), so it
//! sends nothing.
//!
//! Idempotent and crash-safe: every deletion tolerates "already gone", so a
//! replay or a redelivery after a crash deletes what is left and succeeds. A
//! very large partition is deleted [`erasure::MAX_PAGES`] pages per run; the
//! rest is left to the next delivery (a retryable error).

use std::sync::Arc;

use portal_events::erasure;
use portal_events::{ERASE_NOTIFICATIONS_QUEUE, Event, kinds};
use portal_host::{Function, InvocationError, Outcome, QueueInvocation};
use portal_security::SubjectId;
use serde_json::json;

use crate::{COLLECTION, Notifications};

/// The function's name.
pub const FUNCTION: &str = "EraseNotificationsData";

/// `EraseNotificationsData` on queue `erase-notifications`.
pub fn function(notifications: Arc<Notifications>) -> Function {
    Function::queue(FUNCTION, ERASE_NOTIFICATIONS_QUEUE, move |invocation: QueueInvocation<Event>| {
        let notifications = notifications.clone();
        async move { erase(&notifications, &invocation.message).await }
    })
}

/// One delivery of an `account.erased` event.
pub async fn erase(n: &Notifications, event: &Event) -> Result<Outcome, InvocationError> {
    if event.kind != kinds::ERASED {
        return Err(InvocationError::permanent(format!("not an erasure event: {}", event.kind)));
    }
    let subject = SubjectId::parse(&event.subject)
        .map_err(|_| InvocationError::permanent("the event's subject is not a subject id"))?;
    // Only a citizen whose key was shredded is erased: a forged event deletes nothing.
    n.sealer.keys().require_erased(subject.as_str()).await?;
    let deleted = erasure::delete_partition(
        n.documents.as_ref(),
        COLLECTION,
        subject.as_str(),
        erasure::MAX_PAGES,
        &erasure::no_pointers,
    )
    .await?;
    let Some(deleted) = deleted else {
        return Err(InvocationError::retryable("the partition is large; the next delivery continues"));
    };
    tracing::info!(deleted, "a citizen's notifications erased");
    Ok(Outcome::done().returning(json!({"deletedDocuments": deleted})))
}
