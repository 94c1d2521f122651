//! Queue function `EraseRegistersData` (on `erase-registers`): when a citizen
//! erases their account, deletes everything the registers capability holds
//! for them.
//!
//! Sealed data (register answers in the cache, filings' kind-specific data,
//! extract PDFs, photos) is already unreadable (identity shredded the
//! citizen's key before publishing [`portal_events::kinds::ERASED`]); this
//! removes the plain rest:
//! - the blobs under `registers/<citizen folder>/` (extract PDFs, filings'
//!   attachments and reminders);
//! - for each filing with a legal deadline, its entry in the day index
//!   (`filing-deadlines-<date>`, id derived from subject and filing): found
//!   from the filing, so it is deleted before the filing. An entry of an
//!   earlier deadline date the filing no longer names would not be found, but
//!   index entries name no person, expire by TTL (400 days), and the deadline
//!   timer skips an entry whose filing is gone;
//! - every document of the citizen's partition of [`COLLECTION`] (extract
//!   jobs, filings with kinds, status and agency, the register cache).
//!
//! Idempotent and crash-safe: every deletion tolerates "already gone", so a
//! replay or a redelivery after a crash deletes what is left and succeeds. A
//! very large partition is deleted [`erasure::MAX_PAGES`] pages per run; the
//! rest is left to the next delivery (a retryable error). An extract job still
//! on the `fetch-extract` queue finds its job gone and does nothing.

use std::sync::Arc;

use portal_events::erasure::{self, Pointer};
use portal_events::{Event, kinds};
use portal_host::{Function, InvocationError, Outcome, QueueInvocation};
use portal_security::SubjectId;
use portal_store::Document;
use serde_json::json;

use crate::filings::deadline_entries::{index_id, index_partition};
use crate::{COLLECTION, Registers, citizen_folder};

/// The function's name.
pub const FUNCTION: &str = "EraseRegistersData";
/// The queue it consumes.
pub const QUEUE: &str = portal_events::ERASE_REGISTERS_QUEUE;

/// `EraseRegistersData` on queue [`QUEUE`].
pub fn function(registers: Arc<Registers>) -> Function {
    Function::queue(FUNCTION, QUEUE, move |invocation: QueueInvocation<Event>| {
        let registers = registers.clone();
        async move { erase(&registers, &invocation.message).await }
    })
}

/// One delivery of an `account.erased` event.
pub async fn erase(registers: &Registers, event: &Event) -> Result<Outcome, InvocationError> {
    if event.kind != kinds::ERASED {
        return Err(InvocationError::permanent(format!("not an erasure event: {}", event.kind)));
    }
    let subject = SubjectId::parse(&event.subject)
        .map_err(|_| InvocationError::permanent("the event's subject is not a subject id"))?;
    // Only a citizen whose key was shredded is erased: a forged event deletes nothing.
    registers.sealer.keys().require_erased(subject.as_str()).await?;
    let owner = subject.as_str();
    let blobs =
        erasure::delete_blobs(registers.blobs.as_ref(), &format!("registers/{}/", citizen_folder(owner))).await?;
    let pointers = |doc: &Document| deadline_index(owner, doc);
    let deleted =
        erasure::delete_partition(registers.documents.as_ref(), COLLECTION, owner, erasure::MAX_PAGES, &pointers)
            .await?;
    let Some(deleted) = deleted else {
        return Err(InvocationError::retryable("the partition is large; the next delivery continues"));
    };
    tracing::info!(deleted, blobs, "a citizen's register data erased");
    Ok(Outcome::done().returning(json!({"deletedDocuments": deleted, "deletedBlobs": blobs})))
}

/// A filing's entry in the deadline day index.
fn deadline_index(subject: &str, doc: &Document) -> Vec<Pointer> {
    let is_filing = doc.body.get("type").and_then(|v| v.as_str()) == Some("filing");
    let filing_id = doc.body.get("id").and_then(|v| v.as_str()).filter(|_| is_filing);
    let deadline = doc
        .body
        .get("legalDeadline")
        .and_then(|v| v.as_str())
        .and_then(|text| time::Date::parse(text, &time::format_description::well_known::Iso8601::DATE).ok());
    match (filing_id, deadline) {
        (Some(filing_id), Some(day)) => {
            vec![Pointer::new(COLLECTION, index_partition(day), index_id(subject, filing_id))]
        }
        _ => Vec::new(),
    }
}
