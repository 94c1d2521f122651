//! Queue function `EraseTilesData` (on `erase-tiles`): when a citizen erases
//! their account, deletes everything the tiles hold for them: the cached
//! summaries (already unreadable: identity shredded the key before
//! publishing [`portal_events::kinds::ERASED`]) and the choice of tiles,
//! i.e. the citizen's whole partition of [`COLLECTION`]. Nothing outside the
//! partition points at the citizen (the modeller's records and audit name
//! officials, not citizens), so there are no pointers to follow.
//!
//! Idempotent and crash-safe like the other erasure consumers: deleting what
//! is gone succeeds, and a very large partition continues on redelivery.
//! Summary fetches still running when the erasure lands cannot write again:
//! sealing for an erased citizen fails (`CryptoError::Erased`).

use std::sync::Arc;

use portal_events::ERASE_TILES_QUEUE;
use portal_events::erasure;
use portal_events::{Event, kinds};
use portal_host::{Function, InvocationError, Outcome, QueueInvocation};
use portal_security::SubjectId;
use serde_json::json;

use crate::{COLLECTION, Tiles};

/// The function's name.
pub const FUNCTION: &str = "EraseTilesData";

/// `EraseTilesData` on queue `erase-tiles`.
pub fn function(tiles: Arc<Tiles>) -> Function {
    Function::queue(FUNCTION, ERASE_TILES_QUEUE, move |invocation: QueueInvocation<Event>| {
        let tiles = tiles.clone();
        async move { erase(&tiles, &invocation.message).await }
    })
}

/// One delivery of an `account.erased` event.
pub async fn erase(tiles: &Tiles, event: &Event) -> Result<Outcome, InvocationError> {
    if event.kind != kinds::ERASED {
        return Err(InvocationError::permanent(format!("not an erasure event: {}", event.kind)));
    }
    let subject = SubjectId::parse(&event.subject)
        .map_err(|_| InvocationError::permanent("the event's subject is not a subject id"))?;
    // Only a citizen whose key was shredded is erased: a forged event deletes nothing.
    tiles.sealer.keys().require_erased(subject.as_str()).await?;
    let deleted = erasure::delete_partition(
        tiles.documents.as_ref(),
        COLLECTION,
        subject.as_str(),
        erasure::MAX_PAGES,
        &erasure::no_pointers,
    )
    .await
    .map_err(|error| {
        if error.is_retryable() { InvocationError::retryable(error) } else { InvocationError::permanent(error) }
    })?;
    let Some(deleted) = deleted else {
        return Err(InvocationError::retryable("the partition is large; the next delivery continues"));
    };
    tracing::info!(deleted, "a citizen's tiles erased");
    Ok(Outcome::done().returning(json!({"deletedDocuments": deleted})))
}
