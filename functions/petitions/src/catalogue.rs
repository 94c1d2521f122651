//! The catalogue: one entry per petition that was ever published, in one
//! partition, so the public list, the officials' list, the statistics and the
//! `ClosePetitions` timer each read one partition instead of scanning all.
//!
//! The petition document is the truth; its entry follows every state change
//! (written after it, and repaired by the next change or by any operation
//! that finds the petition already in the state it wants). The entry's
//! `signatures` is a snapshot that orders the list by count; it is refreshed
//! after every signature and withdrawal under the entry's ETag, reading the
//! counters after the entry, so when signing pauses the snapshot equals the
//! exact count. The counts shown anywhere are always read from the counters.

use portal_store::{Document, FilterOp, NewDocument, Order, Page, Query, StoreError};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::model::{Addressee, COLLECTION, Petition, PetitionId, State, format_date, rfc3339};
use crate::{MAX_ATTEMPTS, Petitions, ServiceError, corrupt, counter};

pub const PARTITION: &str = "catalogue";
pub const ENTRY_TYPE: &str = "catalogue-entry";

fn nanos(at: Option<time::OffsetDateTime>) -> i64 {
    at.and_then(|at| i64::try_from(at.unix_timestamp_nanos()).ok()).unwrap_or(0)
}

/// A catalogue entry as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Entry {
    /// Always [`ENTRY_TYPE`].
    #[serde(rename = "type")]
    pub kind: String,
    pub id: String,
    pub state: State,
    /// Shown in the public list.
    pub public: bool,
    pub title: String,
    pub summary: String,
    pub addressee: Addressee,
    /// RFC 3339.
    pub published_at: Option<String>,
    /// For ordering by publication.
    pub published_at_nanos: i64,
    /// `YYYY-MM-DD`, the last day of signing (Prague).
    pub ends_on: String,
    /// The Julian day of `ends_on`, for the timer's range query.
    pub ends_on_day: i32,
    pub closed_at: Option<String>,
    pub handed_over_at: Option<String>,
    pub senate: bool,
    pub senate_threshold_reached: bool,
    pub flagged: bool,
    /// The snapshot count that orders the list; counts shown are read from
    /// the counters.
    pub signatures: u64,
    pub shards: u32,
}

impl Entry {
    /// The entry for `petition`, with the snapshot `signatures`.
    pub fn of(petition: &Petition, signatures: u64) -> Self {
        Self {
            kind: ENTRY_TYPE.into(),
            id: petition.id.clone(),
            state: petition.state,
            public: petition.state.is_public(),
            title: petition.title.clone(),
            summary: petition.summary.clone(),
            addressee: petition.addressee.clone(),
            published_at: petition.published_at.map(rfc3339),
            published_at_nanos: nanos(petition.published_at),
            ends_on: format_date(petition.ends_on),
            ends_on_day: petition.ends_on.to_julian_day(),
            closed_at: petition.closed_at.map(rfc3339),
            handed_over_at: petition.handed_over_at.map(rfc3339),
            senate: petition.senate,
            senate_threshold_reached: petition.senate_threshold_reached_at.is_some(),
            flagged: petition.flagged_at.is_some(),
            signatures,
            shards: petition.shards,
        }
    }

    /// An entry read back from the store.
    pub fn from_document(doc: &Document) -> Result<Self, ServiceError> {
        serde_json::from_value(doc.body.clone()).map_err(corrupt)
    }
}

/// The entry for `petition` as a stored body, with the snapshot `signatures`.
pub fn entry_body(petition: &Petition, signatures: u64) -> Result<Value, ServiceError> {
    serde_json::to_value(Entry::of(petition, signatures)).map_err(corrupt)
}

/// Writes the entry from the petition, keeping the signature snapshot.
pub async fn sync(petitions: &Petitions, petition: &Petition) -> Result<(), ServiceError> {
    let documents = &petitions.documents;
    for _ in 0..MAX_ATTEMPTS {
        let existing = documents.get(COLLECTION, PARTITION, &petition.id).await?;
        let signatures = existing.as_ref().and_then(|d| d.body["signatures"].as_u64()).unwrap_or(0);
        let body = entry_body(petition, signatures)?;
        if existing.as_ref().is_some_and(|d| d.body == body) {
            return Ok(());
        }
        let doc = NewDocument::new(PARTITION, &petition.id, body);
        let written = match &existing {
            Some(existing) => documents.replace(COLLECTION, doc, &existing.etag).await,
            None => documents.create(COLLECTION, doc).await,
        };
        match written {
            Ok(_) => return Ok(()),
            Err(StoreError::PreconditionFailed | StoreError::Conflict | StoreError::NotFound) => continue,
            Err(error) => return Err(error.into()),
        }
    }
    Err(ServiceError::Contended)
}

/// Refreshes the signature snapshot and returns the exact count read.
pub async fn refresh_count(petitions: &Petitions, id: &PetitionId, shards: u32) -> Result<u64, ServiceError> {
    let documents = &petitions.documents;
    let mut count = 0;
    for _ in 0..10 {
        // The entry first, then the counters: a write under this ETag then
        // carries a count no older than the entry it replaces.
        let existing = documents.get(COLLECTION, PARTITION, id.as_str()).await?;
        count = counter::count(documents.as_ref(), id, shards).await?;
        let Some(existing) = existing else { return Ok(count) };
        if existing.body["signatures"].as_u64() == Some(count) {
            return Ok(count);
        }
        let mut body = existing.body.clone();
        body["signatures"] = Value::from(count);
        match documents.replace(COLLECTION, NewDocument::new(PARTITION, id.as_str(), body), &existing.etag).await {
            Ok(_) => return Ok(count),
            Err(StoreError::PreconditionFailed | StoreError::NotFound) => continue,
            Err(error) => return Err(error.into()),
        }
    }
    // Other signers kept refreshing it; the last of them leaves it exact.
    Ok(count)
}

/// Coalesces the snapshot refreshes of this instance, per petition: a
/// signer whose signature is already covered by a refresh that began after it
/// committed takes that refresh's count instead of refreshing again.
///
/// Each request takes a ticket after its own write committed; a refresh
/// records the highest ticket issued before it read the counters, so every
/// ticket up to that one is covered (its write was committed before the
/// counters were read). Requests queue on the petition's lock and most of
/// them find their ticket covered, so a burst of 64 concurrent signers costs
/// a handful of refreshes instead of 64 that fight over the entry's ETag.
/// Across instances the entry's ETag still orders the writes, and the last
/// refresh on any instance leaves the snapshot exact.
#[derive(Debug, Default)]
pub struct Refreshes {
    petitions: crate::service::PerPetition<Refresh>,
}

#[derive(Debug, Default)]
struct Refresh {
    issued: std::sync::atomic::AtomicU64,
    /// The highest ticket covered and the count that refresh read.
    covered: tokio::sync::Mutex<(u64, u64)>,
}

impl Refreshes {
    /// Refreshes petition `id`'s snapshot (or finds it refreshed since the
    /// caller's write) and answers the exact count as of after that write.
    pub async fn refresh(&self, petitions: &Petitions, id: &PetitionId, shards: u32) -> Result<u64, ServiceError> {
        use std::sync::atomic::Ordering;
        let refresh = self.petitions.get(id, |_| true, Refresh::default);
        let ticket = refresh.issued.fetch_add(1, Ordering::SeqCst) + 1;
        let mut covered = refresh.covered.lock().await;
        if covered.0 >= ticket {
            return Ok(covered.1);
        }
        let upto = refresh.issued.load(Ordering::SeqCst);
        let count = refresh_count(petitions, id, shards).await?;
        *covered = (upto, count);
        Ok(count)
    }
}

/// How a list is ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sort {
    Newest,
    Signatures,
}

/// A page of entries.
pub async fn page(
    petitions: &Petitions,
    filters: Vec<(&str, Value)>,
    sort: Sort,
    page_size: u32,
    continuation: Option<String>,
) -> Result<Page, StoreError> {
    let mut query = Query::default().filter("type", FilterOp::Eq, ENTRY_TYPE).page_size(page_size).after(continuation);
    for (field, value) in filters {
        query = query.filter(field, FilterOp::Eq, value);
    }
    query = match sort {
        Sort::Newest => query.order_by("publishedAtNanos", Order::Descending),
        Sort::Signatures => query.order_by("signatures", Order::Descending),
    };
    petitions.documents.query(COLLECTION, PARTITION, query).await
}

/// Every entry (for statistics), page by page.
pub async fn all(petitions: &Petitions) -> Result<Vec<Document>, StoreError> {
    let mut out = Vec::new();
    let mut continuation = None;
    loop {
        let page = page(petitions, Vec::new(), Sort::Newest, 1000, continuation.take()).await?;
        out.extend(page.items);
        match page.continuation {
            Some(next) => continuation = Some(next),
            None => return Ok(out),
        }
    }
}

/// Published petitions whose end date (Prague) is before `today_julian`.
pub async fn due_for_closing(petitions: &Petitions, today_julian: i32) -> Result<Vec<PetitionId>, ServiceError> {
    let mut out = Vec::new();
    let mut continuation = None;
    loop {
        let query = Query::default()
            .filter("type", FilterOp::Eq, ENTRY_TYPE)
            .filter("state", FilterOp::Eq, State::Published.as_str())
            .filter("endsOnDay", FilterOp::Lt, today_julian)
            .page_size(500)
            .after(continuation.take());
        let page = petitions.documents.query(COLLECTION, PARTITION, query).await?;
        for doc in &page.items {
            out.push(PetitionId::parse(&doc.id).ok_or_else(|| corrupt("a catalogue entry with a bad id"))?);
        }
        match page.continuation {
            Some(next) => continuation = Some(next),
            None => return Ok(out),
        }
    }
}
