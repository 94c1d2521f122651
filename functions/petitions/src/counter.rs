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

/// Which counter shards this instance's signers are writing at the moment, per
/// petition: a signer leases a shard no other signer here holds, reads it and
/// writes its batch, then gives it back. Two signers of one instance never
/// race for one shard's ETag (in the signature bench, with 64 signers on 16
/// shards, half of all batches lost that race and came back after a pause:
/// half of a signature's time). Signers of other instances still can; the
/// ETag settles that, as before.
#[derive(Debug, Default)]
pub struct ShardLeases {
    petitions: crate::service::PerPetition<ShardPool>,
}

impl ShardLeases {
    /// A shard of petition `id` (which has `shards` of them) that no other
    /// signer of this instance holds: `preferred` when it is free, else the
    /// next free one after it; waits while every shard is held.
    pub async fn lease(&self, id: &PetitionId, shards: u32, preferred: u32) -> ShardLease {
        // Shards are fixed when a petition is published; a pool of another
        // count was made for the petition read before that.
        let fits = |pool: &ShardPool| {
            pool.held.lock().unwrap_or_else(std::sync::PoisonError::into_inner).len() == shards.max(1) as usize
        };
        self.petitions.get(id, fits, || ShardPool::new(shards)).lease(preferred).await
    }
}

#[derive(Debug)]
struct ShardPool {
    /// Whether each shard is leased.
    held: std::sync::Mutex<Vec<bool>>,
    /// One permit per shard not leased.
    free: std::sync::Arc<tokio::sync::Semaphore>,
}

impl ShardPool {
    fn new(shards: u32) -> Self {
        let shards = shards.max(1) as usize;
        Self {
            held: std::sync::Mutex::new(vec![false; shards]),
            free: std::sync::Arc::new(tokio::sync::Semaphore::new(shards)),
        }
    }

    async fn lease(self: std::sync::Arc<Self>, preferred: u32) -> ShardLease {
        let permit =
            std::sync::Arc::clone(&self.free).acquire_owned().await.expect("the pool's semaphore is never closed");
        let shard = {
            let mut held = self.held.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            let count = held.len();
            // A permit means at least one shard is not held.
            let shard = (0..count).map(|step| (preferred as usize + step) % count).find(|&s| !held[s]).unwrap_or(0);
            held[shard] = true;
            shard
        };
        ShardLease { pool: self, shard: u32::try_from(shard).unwrap_or(0), _permit: permit }
    }
}

/// A counter shard held by one signer of this instance until dropped.
#[derive(Debug)]
pub struct ShardLease {
    pool: std::sync::Arc<ShardPool>,
    shard: u32,
    _permit: tokio::sync::OwnedSemaphorePermit,
}

impl ShardLease {
    pub fn shard(&self) -> u32 {
        self.shard
    }
}

impl Drop for ShardLease {
    fn drop(&mut self) {
        // Released before the permit (a field, dropped after this body), so
        // the signer the permit wakes finds the shard free.
        let mut held = self.pool.held.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(slot) = held.get_mut(self.shard as usize) {
            *slot = false;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn no_two_signers_of_an_instance_hold_one_shard_and_a_returned_shard_is_leased_again() {
        let leases = ShardLeases::default();
        let id = PetitionId::new();
        let mut held = Vec::new();
        for _ in 0..4 {
            held.push(leases.lease(&id, 4, 1).await);
        }
        let mut shards: Vec<u32> = held.iter().map(ShardLease::shard).collect();
        assert_eq!(shards[0], 1, "the preferred shard while it is free");
        shards.sort_unstable();
        assert_eq!(shards, [0, 1, 2, 3], "each shard once");

        let waiting = tokio::spawn(async move {
            let leases = leases;
            leases.lease(&id, 4, 0).await.shard()
        });
        tokio::task::yield_now().await;
        assert!(!waiting.is_finished(), "every shard is held: the fifth signer waits");
        let returned = held.remove(2);
        let shard = returned.shard();
        drop(returned);
        assert_eq!(waiting.await.expect("lease"), shard, "the shard given back");
    }
}
