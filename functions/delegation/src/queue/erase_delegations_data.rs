//! Queue function `EraseDelegationsData` (on `erase-delegations`): when a
//! citizen erases their account, every authorisation they gave or received
//! ends and goes. Their index partition is deleted and, before each entry, the
//! grant it names (the grant holds both subject ids and the two sealed names),
//! so the other side's list no longer shows it and nobody acts under it again.
//! Representation by law is not stored, so nothing of it is left to delete.
//!
//! Idempotent and crash-safe: every deletion tolerates "already gone"; a
//! forged event deletes nothing (the citizen's key must be shredded).

use std::sync::Arc;

use portal_events::erasure::{self, Pointer};
use portal_events::{ERASE_DELEGATIONS_QUEUE, Event, kinds};
use portal_host::{Function, InvocationError, Outcome, QueueInvocation};
use portal_security::SubjectId;
use portal_store::Document;
use serde_json::json;

use crate::grant::subject_partition;
use crate::{COLLECTION, Delegations};

pub const FUNCTION: &str = "EraseDelegationsData";

pub fn function(d: Arc<Delegations>) -> Function {
    Function::queue(FUNCTION, ERASE_DELEGATIONS_QUEUE, move |invocation: QueueInvocation<Event>| {
        let d = d.clone();
        async move { erase(&d, &invocation.message).await }
    })
}

pub async fn erase(d: &Delegations, event: &Event) -> Result<Outcome, InvocationError> {
    if event.kind != kinds::ERASED {
        return Err(InvocationError::permanent(format!("not an erasure event: {}", event.kind)));
    }
    let subject = SubjectId::parse(&event.subject)
        .map_err(|_| InvocationError::permanent("the event's subject is not a subject id"))?;
    d.sealer.keys().require_erased(subject.as_str()).await?;
    let partition = subject_partition(&subject);
    let deleted = erasure::delete_partition(d.documents.as_ref(), COLLECTION, &partition, erasure::MAX_PAGES, &grant)
        .await
        .map_err(|error| {
            if error.is_retryable() { InvocationError::retryable(error) } else { InvocationError::permanent(error) }
        })?;
    let Some(deleted) = deleted else {
        return Err(InvocationError::retryable("the partition is large; the next delivery continues"));
    };
    tracing::info!(deleted, "a citizen's delegations erased");
    Ok(Outcome::done().returning(json!({"deletedDocuments": deleted})))
}

/// An index entry points at its grant's document.
fn grant(entry: &Document) -> Vec<Pointer> {
    vec![Pointer::new(COLLECTION, entry.id.clone(), "grant")]
}
