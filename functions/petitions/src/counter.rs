//! The counter shards of a published petition (`counter-NN` in its
//! partition): the exact count of standing signatures is their sum, and each
//! carries the `open` flag that signing checks in the same batch (see the
//! crate documentation, "Exact counts").

use std::collections::BTreeMap;

use portal_store::{DocumentStore, ETag, NewDocument};
use serde::{Deserialize, Serialize};
use time::Date;

use crate::model::{COLLECTION, PetitionId, format_date};
use crate::{ServiceError, corrupt};

/// Per-day signature figures kept on each counter shard (for statistics).
const DAYS_KEPT: i64 = 35;

const COUNTER_TYPE: &str = "counter";

/// One counter shard (`counter-NN` in the petition's partition).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Counter {
    #[serde(rename = "type")]
    pub kind: String,
    pub shard: u32,
    /// Signatures standing now.
    pub count: u64,
    /// Whether signing is open (published and not blocked or closed).
    pub open: bool,
    /// Signatures given per Prague day (`YYYY-MM-DD`), the last 35 days.
    #[serde(default)]
    pub days: BTreeMap<String, u64>,
}

pub fn counter_id(shard: u32) -> String {
    format!("counter-{shard:02}")
}

impl Counter {
    pub(crate) fn new(shard: u32, open: bool) -> Self {
        Self { kind: COUNTER_TYPE.into(), shard, count: 0, open, days: BTreeMap::new() }
    }

    /// One more signature given on `today`.
    pub(crate) fn signed(&self, today: Date) -> Self {
        let mut next = self.clone();
        next.count += 1;
        *next.days.entry(format_date(today)).or_insert(0) += 1;
        let oldest = format_date(today - time::Duration::days(DAYS_KEPT));
        next.days.retain(|day, _| *day > oldest);
        next
    }

    pub(crate) fn withdrawn(&self) -> Self {
        let mut next = self.clone();
        next.count = next.count.saturating_sub(1);
        next
    }

    pub(crate) fn document(&self, partition: &str) -> Result<NewDocument, ServiceError> {
        Ok(NewDocument::new(partition, counter_id(self.shard), serde_json::to_value(self).map_err(corrupt)?))
    }
}

/// The counter shards of a published petition (`shards` of them), with
/// their ETags. Point reads, side by side: a query would have to pass over
/// the partition's signatures on a store that does not index the type (the
/// embedded one).
pub async fn counters(
    documents: &dyn DocumentStore,
    id: &PetitionId,
    shards: u32,
) -> Result<Vec<(Counter, ETag)>, ServiceError> {
    let partition = id.partition();
    let reads = (0..shards).map(|shard| {
        let partition = partition.clone();
        async move { documents.get(COLLECTION, &partition, &counter_id(shard)).await }
    });
    let docs = futures::future::try_join_all(reads).await?;
    docs.into_iter().flatten().map(|doc| Ok((serde_json::from_value(doc.body).map_err(corrupt)?, doc.etag))).collect()
}

/// The exact number of standing signatures.
pub async fn count(documents: &dyn DocumentStore, id: &PetitionId, shards: u32) -> Result<u64, ServiceError> {
    Ok(counters(documents, id, shards).await?.iter().map(|(c, _)| c.count).sum())
}
