//! The capability's state and the operations every route and job shares:
//! loading a petition, changing its state together with its counter shards in
//! one batch, and counting signatures.

use std::collections::BTreeMap;

use portal_crypto::CryptoError;
use portal_security::RateLimiter;
use portal_store::{BatchOp, ETag, NewDocument, StoreError};
use serde::{Deserialize, Serialize};
use time::Date;

use crate::Petitions;
use crate::catalogue;
use crate::model::{COLLECTION, PETITION_DOC, Petition, PetitionId, State, format_date, prague_date};
use crate::signing::BurstDetector;

/// How often a read-modify-write is tried when other writers keep winning.
pub(crate) const MAX_ATTEMPTS: usize = 50;
/// Per-day signature figures kept on each counter shard (for statistics).
const DAYS_KEPT: i64 = 35;

#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Crypto(#[from] CryptoError),
    #[error("a stored petition document is not readable: {0}")]
    Corrupt(String),
    #[error("concurrent writers kept changing the petition")]
    Contended,
    #[error(transparent)]
    Details(#[from] crate::SignerDetailsError),
}

impl ServiceError {
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Store(error) => error.is_retryable(),
            Self::Crypto(error) => error.is_retryable(),
            Self::Contended | Self::Details(_) => true,
            Self::Corrupt(_) => false,
        }
    }
}

pub(crate) fn corrupt(error: impl std::fmt::Display) -> ServiceError {
    ServiceError::Corrupt(error.to_string())
}

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

pub(crate) const COUNTER_TYPE: &str = "counter";

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

/// What the routes and jobs share. Built once by [`crate::functions`].
#[derive(Debug)]
pub struct PetitionService {
    pub petitions: Petitions,
    /// Signatures per citizen (in memory, per instance).
    pub(crate) sign_limiter: RateLimiter,
    pub(crate) burst: BurstDetector,
}

impl PetitionService {
    pub fn new(petitions: Petitions) -> Self {
        let settings = &petitions.settings;
        let sign_limiter =
            RateLimiter::new(settings.sign_burst, settings.sign_refill_per_minute, petitions.clock.clone());
        let burst = BurstDetector::new(settings.burst_per_minute);
        Self { petitions, sign_limiter, burst }
    }

    /// Today in Prague: the day end dates and statistics are counted in.
    pub fn today(&self) -> Date {
        prague_date(self.petitions.clock.now())
    }

    pub async fn load(&self, id: &PetitionId) -> Result<Option<(Petition, ETag)>, ServiceError> {
        let Some(doc) = self.petitions.documents.get(COLLECTION, &id.partition(), PETITION_DOC).await? else {
            return Ok(None);
        };
        let petition: Petition = serde_json::from_value(doc.body).map_err(corrupt)?;
        Ok(Some((petition, doc.etag)))
    }

    /// The counter shards of a published petition (`shards` of them), with
    /// their ETags. Point reads, side by side: a query would have to pass
    /// over the partition's signatures on a store that does not index the
    /// type (the embedded one).
    pub async fn counters(&self, id: &PetitionId, shards: u32) -> Result<Vec<(Counter, ETag)>, ServiceError> {
        let partition = id.partition();
        let reads = (0..shards).map(|shard| {
            let partition = partition.clone();
            async move { self.petitions.documents.get(COLLECTION, &partition, &counter_id(shard)).await }
        });
        let docs = futures::future::try_join_all(reads).await?;
        docs.into_iter()
            .flatten()
            .map(|doc| Ok((serde_json::from_value(doc.body).map_err(corrupt)?, doc.etag)))
            .collect()
    }

    /// The exact number of standing signatures.
    pub async fn count(&self, id: &PetitionId, shards: u32) -> Result<u64, ServiceError> {
        Ok(self.counters(id, shards).await?.iter().map(|(c, _)| c.count).sum())
    }

    /// Applies `change` to the petition and writes it, with its counter
    /// shards' `open` flag when the state changes, in one batch under the
    /// ETags read (retried when another writer won). Publishing creates the
    /// shards. Then the catalogue follows. `Ok(Err(refusal))` when `change`
    /// refuses; `Ok(Ok(None))` when there is no such petition.
    pub async fn update<E>(
        &self,
        id: &PetitionId,
        mut change: impl FnMut(&mut Petition) -> Result<(), E>,
    ) -> Result<Result<Option<Petition>, E>, ServiceError> {
        let partition = id.partition();
        for _ in 0..MAX_ATTEMPTS {
            let Some((before, etag)) = self.load(id).await? else { return Ok(Ok(None)) };
            let mut after = before.clone();
            if let Err(refusal) = change(&mut after) {
                return Ok(Err(refusal));
            }
            if after == before {
                // Nothing to write; make sure the catalogue agrees (a crash
                // between the petition and the catalogue is repaired here).
                if after.state != State::Draft {
                    catalogue::sync(self, &after).await?;
                }
                return Ok(Ok(Some(after)));
            }
            let mut ops = vec![BatchOp::Replace {
                doc: NewDocument::new(&partition, PETITION_DOC, serde_json::to_value(&after).map_err(corrupt)?),
                if_match: etag,
            }];
            let open = after.state == State::Published;
            if before.state == State::Draft && after.state == State::Published {
                // The publishing change sets the number of shards.
                for shard in 0..after.shards.max(1) {
                    ops.push(BatchOp::Create(Counter::new(shard, true).document(&partition)?));
                }
            } else if before.state != after.state && before.state != State::Draft {
                for (counter, etag) in self.counters(id, before.shards).await? {
                    if counter.open != open {
                        let next = Counter { open, ..counter };
                        ops.push(BatchOp::Replace { doc: next.document(&partition)?, if_match: etag });
                    }
                }
            }
            match self.petitions.documents.batch(COLLECTION, &partition, ops).await {
                Ok(_) => {
                    if after.state != State::Draft {
                        catalogue::sync(self, &after).await?;
                    }
                    return Ok(Ok(Some(after)));
                }
                Err(StoreError::PreconditionFailed | StoreError::Conflict) => continue,
                Err(error) => return Err(error.into()),
            }
        }
        Err(ServiceError::Contended)
    }
}
