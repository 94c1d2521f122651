//! The capability's state and the operations every route and job shares:
//! loading a petition, changing its state together with its counter shards in
//! one batch, and counting signatures.

use portal_security::RateLimiter;
use portal_store::{BatchOp, ETag, NewDocument, StoreError};
use time::Date;

use crate::burst::BurstDetector;
use crate::counter::{self, Counter};
use crate::model::{COLLECTION, PETITION_DOC, Petition, PetitionId, State, prague_date};
use crate::{MAX_ATTEMPTS, Petitions, ServiceError, catalogue, corrupt};

/// What the routes and jobs share. Built once by [`crate::functions`].
#[derive(Debug)]
pub struct PetitionService {
    pub petitions: Petitions,
    /// Signatures per citizen (in memory, per instance).
    pub(crate) sign_limiter: RateLimiter,
    pub(crate) burst: BurstDetector,
    /// Coalesced refreshes of the catalogue's signature snapshots.
    pub(crate) refreshes: catalogue::Refreshes,
    /// The counter shards this instance's signers hold.
    pub(crate) shard_leases: counter::ShardLeases,
}

impl PetitionService {
    pub fn new(petitions: Petitions) -> Self {
        let settings = &petitions.settings;
        let sign_limiter =
            RateLimiter::new(settings.sign_burst, settings.sign_refill_per_minute, petitions.clock.clone());
        let burst = BurstDetector::new(settings.burst_per_minute);
        Self {
            petitions,
            sign_limiter,
            burst,
            refreshes: catalogue::Refreshes::default(),
            shard_leases: counter::ShardLeases::default(),
        }
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
    /// their ETags.
    pub async fn counters(&self, id: &PetitionId, shards: u32) -> Result<Vec<(Counter, ETag)>, ServiceError> {
        counter::counters(self.petitions.documents.as_ref(), id, shards).await
    }

    /// The exact number of standing signatures.
    pub async fn count(&self, id: &PetitionId, shards: u32) -> Result<u64, ServiceError> {
        counter::count(self.petitions.documents.as_ref(), id, shards).await
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
                    catalogue::sync(&self.petitions, &after).await?;
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
                        catalogue::sync(&self.petitions, &after).await?;
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

/// What this instance keeps per petition (a refresh's state, the counter
/// shards its signers hold), for at most [`PETITIONS_KEPT`] petitions: past
/// that, the entries no request holds at the moment are dropped.
#[derive(Debug)]
pub(crate) struct PerPetition<T> {
    petitions: std::sync::Mutex<std::collections::HashMap<String, std::sync::Arc<T>>>,
}

/// Petitions whose state an instance keeps before it drops the idle ones.
const PETITIONS_KEPT: usize = 1024;

impl<T> Default for PerPetition<T> {
    fn default() -> Self {
        Self { petitions: std::sync::Mutex::default() }
    }
}

impl<T> PerPetition<T> {
    /// Petition `id`'s entry: the kept one when `fits` it, else a new one
    /// `make` makes.
    pub(crate) fn get(
        &self,
        id: &PetitionId,
        fits: impl FnOnce(&T) -> bool,
        make: impl FnOnce() -> T,
    ) -> std::sync::Arc<T> {
        let mut all = self.petitions.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if all.len() >= PETITIONS_KEPT {
            all.retain(|_, entry| std::sync::Arc::strong_count(entry) > 1);
        }
        match all.get(id.as_str()) {
            Some(entry) if fits(entry) => std::sync::Arc::clone(entry),
            _ => {
                let entry = std::sync::Arc::new(make());
                all.insert(id.as_str().to_owned(), std::sync::Arc::clone(&entry));
                entry
            }
        }
    }
}

#[cfg(test)]
mod per_petition_tests {
    use super::*;

    #[test]
    fn an_entry_is_kept_while_it_fits_and_idle_ones_go_past_the_limit() {
        let kept: PerPetition<u32> = PerPetition::default();
        let id = PetitionId::new();
        let first = kept.get(&id, |_| true, || 1);
        assert!(std::sync::Arc::ptr_eq(&first, &kept.get(&id, |_| true, || 2)), "kept while it fits");
        assert_eq!(*kept.get(&id, |n| *n == 3, || 3), 3, "replaced when it does not");
        let held = kept.get(&id, |_| true, || 4);
        for _ in 0..PETITIONS_KEPT {
            kept.get(&PetitionId::new(), |_| true, || 0);
        }
        let size = kept.petitions.lock().expect("lock").len();
        assert!(size < PETITIONS_KEPT, "the idle entries were dropped: {size} left");
        assert!(std::sync::Arc::ptr_eq(&held, &kept.get(&id, |_| true, || 5)), "the held one stays");
    }
}
