//! Queue function `ErasePetitionsData` (on `erase-petitions`): when a citizen
//! erases their account, deletes what petitions hold about them as a creator
//! and unlinks them from what the law keeps public.
//!
//! For each `mine-<id>` entry in the creator's partition of [`COLLECTION`]:
//! - a **draft** (never public) goes completely: its attachment blobs
//!   (`petitions/<id>/…`, sealed with the creator's key), then every document
//!   of its partition `petition-<id>`;
//! - a petition that was **published** (also closed, handed over or blocked)
//!   stays: it is public by law (zákon 85/1990 Sb.) and its signatures belong
//!   to the signers. Its `creator` field, the only link to the citizen, is
//!   replaced by the tombstone [`ERASED_CREATOR`], which is no subject id: the
//!   petition stays public, nobody can act as its creator any more, no event
//!   is published for it to anyone ([`crate::events`] skips it), and nobody
//!   can link it back. The committee, sealed with the creator's key, is
//!   unreadable since the shred.
//!
//! Then the entry itself goes, and the rest of the partition (the daily
//! creation limit's `created-<date>`). Signatures are not touched: they are
//! unlinkable by design (HMAC signer ids; details sealed per petition). The
//! access log is kept by design.
//!
//! Idempotent and crash-safe: the entry is deleted only after its petition was
//! handled, every deletion tolerates "already gone", and the tombstone write is
//! a no-op once done, so a replay or a redelivery after a crash finishes the
//! job. A very large partition is handled [`erasure::MAX_PAGES`] pages per run;
//! the rest is left to the next delivery (a retryable error).

use std::sync::Arc;

use portal_events::erasure::{self, PAGE_SIZE};
use portal_events::{ERASE_PETITIONS_QUEUE, Event, kinds};
use portal_host::{Function, InvocationError, Outcome, QueueInvocation};
use portal_security::SubjectId;
use portal_store::{Document, NewDocument, Query, StoreError};
use serde_json::{Value, json};

use crate::Petitions;
pub use crate::model::ERASED_CREATOR;
use crate::model::{COLLECTION, PETITION_DOC, PetitionId};
use crate::service::PetitionService;

/// The function's name.
pub const FUNCTION: &str = "ErasePetitionsData";

/// `ErasePetitionsData` on queue `erase-petitions`.
pub fn function(service: Arc<PetitionService>) -> Function {
    Function::queue(FUNCTION, ERASE_PETITIONS_QUEUE, move |invocation: QueueInvocation<Event>| {
        let service = service.clone();
        async move { erase(&service.petitions, &invocation.message).await }
    })
}
/// How often the tombstone write is retried when the petition changed meanwhile.
const ATTEMPTS: usize = 8;

/// One delivery of an `account.erased` event.
pub async fn erase(petitions: &Petitions, event: &Event) -> Result<Outcome, InvocationError> {
    if event.kind != kinds::ERASED {
        return Err(InvocationError::permanent(format!("not an erasure event: {}", event.kind)));
    }
    let subject = SubjectId::parse(&event.subject)
        .map_err(|_| InvocationError::permanent("the event's subject is not a subject id"))?;
    // Only a citizen whose key was shredded is erased: a forged event deletes nothing.
    petitions.sealer.keys().require_erased(subject.as_str()).await?;
    let owner = subject.as_str();
    let store = petitions.documents.as_ref();
    let (mut drafts, mut unlinked, mut deleted) = (0_u64, 0_u64, 0_u64);
    for _ in 0..erasure::MAX_PAGES {
        let page = store.query(COLLECTION, owner, Query::default().page_size(PAGE_SIZE)).await?;
        if page.items.is_empty() {
            tracing::info!(drafts, unlinked, deleted, "a creator's petitions erased or unlinked");
            return Ok(Outcome::done().returning(json!({
                "deletedDrafts": drafts, "unlinkedPetitions": unlinked, "deletedDocuments": deleted
            })));
        }
        for doc in page.items {
            if let Some(id) = petition_of(&doc) {
                match erase_petition(petitions, owner, &id).await? {
                    Handled::DraftDeleted => drafts += 1,
                    Handled::Unlinked => unlinked += 1,
                    Handled::Nothing => {}
                }
            }
            erasure::delete_document(store, COLLECTION, owner, &doc.id).await?;
            deleted += 1;
        }
    }
    Err(InvocationError::retryable("the partition is large; the next delivery continues"))
}

enum Handled {
    DraftDeleted,
    Unlinked,
    Nothing,
}

/// The petition a `mine-<id>` entry names.
fn petition_of(doc: &Document) -> Option<PetitionId> {
    if doc.body.get("type").and_then(Value::as_str) != Some("my-petition") {
        return None;
    }
    doc.body.get("petitionId").and_then(Value::as_str).and_then(PetitionId::parse)
}

async fn erase_petition(petitions: &Petitions, owner: &str, id: &PetitionId) -> Result<Handled, StoreError> {
    let store = petitions.documents.as_ref();
    let partition = id.partition();
    for _ in 0..ATTEMPTS {
        let Some(doc) = store.get(COLLECTION, &partition, PETITION_DOC).await? else {
            // Gone already (an earlier run deleted the draft), or never
            // written (a crash between the entry and the petition).
            erasure::delete_blobs(petitions.blobs.as_ref(), &format!("petitions/{}/", id.as_str())).await?;
            return Ok(Handled::Nothing);
        };
        if doc.body.get("creator").and_then(Value::as_str) != Some(owner) {
            // Unlinked already, or not this citizen's: leave it.
            return Ok(Handled::Nothing);
        }
        if doc.body.get("state").and_then(Value::as_str) == Some("draft") {
            erasure::delete_blobs(petitions.blobs.as_ref(), &format!("petitions/{}/", id.as_str())).await?;
            // The petition document last, so a crash leaves it to find again.
            let rest = |d: &Document| d.id != PETITION_DOC;
            loop {
                let page = store.query(COLLECTION, &partition, Query::default().page_size(PAGE_SIZE)).await?;
                let others: Vec<_> = page.items.into_iter().filter(rest).collect();
                if others.is_empty() {
                    break;
                }
                for other in others {
                    erasure::delete_document(store, COLLECTION, &partition, &other.id).await?;
                }
            }
            erasure::delete_document(store, COLLECTION, &partition, PETITION_DOC).await?;
            return Ok(Handled::DraftDeleted);
        }
        let mut body = doc.body.clone();
        body["creator"] = Value::from(ERASED_CREATOR);
        match store.replace(COLLECTION, NewDocument::new(partition.as_str(), PETITION_DOC, body), &doc.etag).await {
            Ok(_) => return Ok(Handled::Unlinked),
            Err(StoreError::PreconditionFailed) => continue,
            Err(error) => return Err(error),
        }
    }
    Err(StoreError::Throttled { retry_after: None })
}
